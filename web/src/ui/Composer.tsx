// The composer: a new message (or a reply), or a new text for one of the
// user's messages. Up in an empty composer edits the user's last message;
// `:sho` offers the shortcodes that start so, and `:shortcode:`s become
// emoji when sent. Files (attached, pasted, or dropped on the room) upload
// at once and go with the next message.

import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";

import type { ChatClient } from "../client";
import { expandShortcodes, loadEmoji, searchEmoji } from "../emoji";
import type { Gemoji } from "../emoji";
import type { ChatMessage } from "../state";
import { UploadTray } from "./Files";
import type { Upload } from "./Files";
import { useAction } from "./hooks";

/** How many shortcodes the completion offers. */
const OFFERED = 6;
/** How often "typing" is said again while the user types (the server
 * forgets it 6 s after it was last said). */
const TYPING_RENEW_MS = 3000;
/** A shortcode being typed, right before the caret. */
const TYPING_SHORTCODE = /(?:^|\s):([a-z0-9_+-]{2,})$/;

export function Composer({
  client,
  room,
  muted,
  replyTo,
  editing,
  dropped,
  onEdit,
  onDone,
}: {
  client: ChatClient;
  room: string;
  muted: boolean;
  replyTo: ChatMessage | null;
  editing: ChatMessage | null;
  /** Files dropped on the room, to upload. */
  dropped: File[];
  onEdit: (message: ChatMessage) => void;
  onDone: () => void;
}) {
  const [text, setText] = useState("");
  const [error, act] = useAction();
  const { uploads, add, remove, clear } = useUploads(client);
  const picker = useRef<HTMLInputElement>(null);
  useEffect(() => add(dropped), [dropped]);
  useEffect(() => clear(), [room]);
  const ready = uploads.flatMap((upload) => upload.file ?? []);
  const uploading = uploads.some((upload) => !upload.file && !upload.error);
  const composing = useRef(false);
  const input = useRef<HTMLTextAreaElement>(null);
  const completion = useShortcodes(text);
  const typed = useRef(0);
  const onText = (value: string) => {
    setText(value);
    const now = Date.now();
    if (value.trim() && !editing && now - typed.current > TYPING_RENEW_MS) {
      typed.current = now;
      client.setTyping(room, true);
    } else if (!value.trim() && typed.current) {
      typed.current = 0;
      client.setTyping(room, false);
    }
  };

  useLayoutEffect(() => {
    input.current?.focus();
  }, [room, replyTo, editing]);
  // Editing starts from the message's text; stopping, from nothing.
  useEffect(() => setText(editing?.text ?? ""), [editing]);

  const send = async () => {
    if (editing) {
      if (!text.trim()) return;
      const { seq } = editing;
      const expanded = await expandShortcodes(text);
      act(() => client.edit(room, seq, expanded), onDone);
      return;
    }
    if (uploading || (!text.trim() && ready.length === 0)) return;
    const expanded = text.trim() ? await expandShortcodes(text) : "";
    client.send(room, expanded, replyTo?.seq ?? 0, ready);
    // The server ends the typing when the message comes.
    typed.current = 0;
    setText("");
    clear();
    onDone();
  };
  const complete = (emoji: Gemoji) => {
    const [typed] = TYPING_SHORTCODE.exec(text) ?? [""];
    const kept = text.slice(0, text.length - typed.length);
    const space = typed.startsWith(":") ? "" : typed[0];
    setText(`${kept}${space}${emoji.emoji} `);
    input.current?.focus();
  };

  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key === "Escape" && (editing || replyTo)) {
      e.preventDefault();
      onDone();
      return;
    }
    if (
      completion.offered.length > 0 &&
      (e.key === "Tab" || e.key === "Enter")
    ) {
      e.preventDefault();
      complete(completion.offered[0]);
      return;
    }
    if (e.key === "ArrowUp" && !text && !editing) {
      const last = client.state.lastOwnMessage();
      if (last) {
        e.preventDefault();
        onEdit(last);
      }
      return;
    }
    // Enter that ends an IME composition (Korean, Japanese, ...) picks
    // the text; it does not send.
    if (e.key !== "Enter" || e.shiftKey) return;
    if (e.isComposing || composing.current || e.keyCode === 229) return;
    e.preventDefault();
    void send();
  };

  return (
    <form
      class="composer"
      onSubmit={(e) => {
        e.preventDefault();
        void send();
      }}
    >
      {replyTo && (
        <Mode
          says={`↪ ${replyTo.sender}: ${replyTo.text.split("\n")[0]}`}
          drop="Not a reply"
          onDrop={onDone}
        />
      )}
      {editing && (
        <Mode
          says="Editing your message · Esc cancels"
          drop="Stop editing"
          onDrop={onDone}
        />
      )}
      {completion.offered.length > 0 && (
        <ul class="shortcodes" role="listbox" aria-label="Emoji">
          {completion.offered.map((emoji, at) => (
            <li key={emoji.names[0]} role="option" aria-selected={at === 0}>
              <button
                type="button"
                class="link"
                onClick={() => complete(emoji)}
              >
                {emoji.emoji} :{emoji.names[0]}:
              </button>
            </li>
          ))}
        </ul>
      )}
      <UploadTray uploads={uploads} onRemove={remove} />
      {!editing && (
        <>
          <input
            ref={picker}
            type="file"
            multiple
            hidden
            aria-label="Files to attach"
            onChange={(e) => {
              add([...(e.currentTarget.files ?? [])]);
              e.currentTarget.value = "";
            }}
          />
          <button
            type="button"
            class="secondary attach"
            disabled={muted}
            aria-label="Attach files"
            title="Attach files (or paste, or drop them on the room)"
            onClick={() => picker.current?.click()}
          >
            +
          </button>
        </>
      )}
      <textarea
        ref={input}
        name="message"
        rows={1}
        value={text}
        disabled={muted}
        aria-label={`Message ${client.state.title(room)}`}
        placeholder={
          muted
            ? "You are muted in this room"
            : `Message ${client.state.title(room)}`
        }
        onInput={(e) => onText(e.currentTarget.value)}
        onPaste={(e) => {
          const files = [...(e.clipboardData?.files ?? [])];
          if (files.length === 0 || editing) return;
          e.preventDefault();
          add(files);
        }}
        onCompositionStart={() => (composing.current = true)}
        onCompositionEnd={() => (composing.current = false)}
        onKeyDown={onKeyDown}
      />
      <button
        type="submit"
        disabled={
          muted || uploading || (!text.trim() && (!!editing || !ready.length))
        }
      >
        {editing ? "Save" : uploading ? "Uploading…" : "Send"}
      </button>
      {error && <p class="error">{error}</p>}
    </form>
  );
}

/** What the composer is doing besides a new message (answering one,
 * editing one), and ✕ to stop. */
function Mode({
  says,
  drop,
  onDrop,
}: {
  says: string;
  drop: string;
  onDrop: () => void;
}) {
  return (
    <p class="replying">
      <span>{says}</span>
      <button type="button" class="link" aria-label={drop} onClick={onDrop}>
        ✕
      </button>
    </p>
  );
}

/** The files the composer uploads: each starts at once, and shows its
 * progress, or why the server refused it. */
function useUploads(client: ChatClient) {
  const [uploads, setUploads] = useState<Upload[]>([]);
  const next = useRef(0);
  const change = (key: number, update: Partial<Upload>) =>
    setUploads((all) =>
      all.map((upload) =>
        upload.key === key ? { ...upload, ...update } : upload,
      ),
    );
  const add = (files: File[]) => {
    for (const file of files) {
      const key = next.current++;
      const name = file.name || "pasted";
      setUploads((all) => [
        ...all,
        { key, name, done: 0, file: null, error: null },
      ]);
      client
        .upload(file, name, (done) => change(key, { done }))
        .then((shared) => change(key, { file: shared }))
        .catch((error: Error) => change(key, { error: error.message }));
    }
  };
  const remove = (key: number) =>
    setUploads((all) => all.filter((upload) => upload.key !== key));
  const clear = () => setUploads([]);
  return { uploads, add, remove, clear };
}

/** The shortcodes that complete the one being typed at the end of
 * `text`; the list loads once one is typed. */
function useShortcodes(text: string): { offered: Gemoji[] } {
  const [emoji, setEmoji] = useState<Gemoji[] | null>(null);
  const typed = TYPING_SHORTCODE.exec(text)?.[1] ?? "";
  useEffect(() => {
    if (typed && !emoji) void loadEmoji().then(setEmoji);
  }, [typed, emoji]);
  if (!typed || !emoji) return { offered: [] };
  const offered = searchEmoji(emoji, typed, OFFERED).filter((e) =>
    e.names.some((name) => name.startsWith(typed)),
  );
  return { offered };
}
