// One message of a room's log: its quote if it is a reply, sender, text
// (Markdown), "(edited)", its reactions, and its actions: reply, react,
// and edit or delete for its sender (delete for moderators too).

import { useState } from "preact/hooks";

import type { ChatClient } from "../client";
import { noteUsed } from "../emoji";
import { Origin, isOwn, mentionsMe } from "../state";
import type { ChatMessage, Reaction, RoomLog } from "../state";
import { markdown, timeOf } from "../text";
import { EmojiPicker } from "./EmojiPicker";
import { FileList } from "./Files";
import { useAction } from "./hooks";

/** A message of `log`, as a reply shows it: `ann: its first line`. */
export function quoteOf(log: RoomLog, seq: number): string {
  const found = log.entries.find(
    (entry) => entry.kind === "message" && entry.message.seq === seq,
  );
  if (!found || found.kind !== "message") return `message ${seq}`;
  if (found.message.deleted) return `${found.message.sender}: message deleted`;
  const first = found.message.text.split("\n")[0];
  return `${found.message.sender}: ${first}`;
}

export function MessageLine({
  client,
  message,
  log,
  moderates,
  onReply,
  onEdit,
}: {
  client: ChatClient;
  message: ChatMessage;
  log: RoomLog;
  /** The user moderates the room: it may delete anyone's message. */
  moderates: boolean;
  onReply: (message: ChatMessage) => void;
  onEdit: (message: ChatMessage) => void;
}) {
  const me = client.state.me;
  const mine = isOwn(message, me);
  const [picking, setPicking] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const [error, act] = useAction();
  const { room, seq } = message;
  const react = (emoji: string, remove: boolean) => {
    setPicking(false);
    if (!remove) noteUsed(emoji);
    act(() => client.react(room, seq, emoji, remove));
  };
  const jump = () => void client.jumpTo(room, message.replyTo);
  const focused = log.focus?.seq === seq ? " focused" : "";
  return (
    <div class={lineClass(message, me) + focused} data-seq={seq}>
      {message.replyTo > 0 && (
        <button class="quote link" onClick={jump}>
          ↪ {quoteOf(log, message.replyTo)}
        </button>
      )}
      <time
        class="time"
        dateTime={message.sentAt.toISOString()}
        title={message.sentAt.toLocaleString()}
      >
        {timeOf(message.sentAt)}
      </time>
      <span class={`sender c${colorOf(message.sender)}${mine ? " mine" : ""}`}>
        {message.sender}
        {message.origin === Origin.CLASSIC && (
          <span class="origin"> (classic)</span>
        )}
        {message.origin === Origin.LOBBY && (
          <span class="origin"> (lobby)</span>
        )}
      </span>
      {message.deleted ? (
        <span class="text tombstone">
          message deleted{message.deletedBy && ` by ${message.deletedBy}`}
        </span>
      ) : (
        <span
          class="text"
          // The text is escaped by the Markdown renderer, raw HTML off.
          dangerouslySetInnerHTML={{ __html: markdown(message.text) }}
        />
      )}
      {!message.deleted && message.files.length > 0 && (
        <FileList
          files={message.files}
          onStale={() => client.refreshLinks(room, seq)}
        />
      )}
      {message.editedAt && !message.deleted && (
        <span
          class="edited"
          title={`edited ${message.editedAt.toLocaleString()}`}
        >
          (edited)
        </span>
      )}
      {!message.deleted && (
        <span class="acts">
          <button
            class="act link"
            aria-label={`Reply to ${message.sender}`}
            onClick={() => onReply(message)}
          >
            Reply
          </button>
          <button
            class="act link"
            aria-label={`React to ${message.sender}`}
            aria-expanded={picking}
            onClick={() => setPicking(!picking)}
          >
            React
          </button>
          {mine && (
            <button
              class="act link"
              aria-label="Edit your message"
              onClick={() => onEdit(message)}
            >
              Edit
            </button>
          )}
          {(mine || moderates) && (
            <button
              class="act link"
              aria-label={`Delete ${mine ? "your" : `${message.sender}'s`} message`}
              onClick={() => setConfirming(true)}
            >
              Delete
            </button>
          )}
        </span>
      )}
      {message.reactions.length > 0 && (
        <Reactions reactions={message.reactions} me={me} onToggle={react} />
      )}
      {picking && (
        <EmojiPicker
          onPick={(emoji) => react(emoji, false)}
          onClose={() => setPicking(false)}
        />
      )}
      {confirming && (
        <p class="confirm" role="alertdialog" aria-label="Delete the message?">
          Delete this message for everyone?{" "}
          <button
            class="danger"
            onClick={() => {
              setConfirming(false);
              act(() => client.deleteMessage(room, seq));
            }}
          >
            Delete
          </button>{" "}
          <button class="secondary" onClick={() => setConfirming(false)}>
            Cancel
          </button>
        </p>
      )}
      {error && <span class="error">{error}</span>}
    </div>
  );
}

/** A message's reactions as chips; one's own are pressed, and clicking
 * one puts the emoji there too, or takes one's own away. */
function Reactions({
  reactions,
  me,
  onToggle,
}: {
  reactions: Reaction[];
  me: string;
  onToggle: (emoji: string, remove: boolean) => void;
}) {
  return (
    <div class="reactions">
      {reactions.map((reaction) => {
        const mine = reaction.names.includes(me);
        const more = reaction.count - reaction.names.length;
        const who =
          reaction.names.join(", ") + (more > 0 ? ` and ${more} more` : "");
        return (
          <button
            key={reaction.emoji}
            class={mine ? "reaction mine" : "reaction"}
            aria-pressed={mine}
            title={who}
            aria-label={`${reaction.emoji} ${reaction.count}: ${who}`}
            onClick={() => onToggle(reaction.emoji, mine)}
          >
            {reaction.emoji} {reaction.count}
          </button>
        );
      })}
    </div>
  );
}

/** A message line's classes: a tombstone, or one that mentions the
 * reader, stand out. */
function lineClass(message: ChatMessage, me: string): string {
  if (message.deleted) return "message deleted";
  return mentionsMe(message, me) ? "message mentioned" : "message";
}

/** One of eight colours, the same for a name everywhere. */
function colorOf(name: string): number {
  let hash = 0;
  for (const char of name) hash = (hash * 31 + char.codePointAt(0)!) >>> 0;
  return hash % 8;
}
