// The room in view: its header and settings, its log, and the composer.

import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";

import type { ChatClient } from "../client";
import { NotifyLevel, Role } from "../state";
import type { ChatMessage, Entry, PendingSend, RoomLog } from "../state";
import { dayLabel, dayOf } from "../text";
import { Composer } from "./Composer";
import { ErrorLine, FieldForm } from "./forms";
import { useAction } from "./hooks";
import { MessageLine } from "./Message";

export function Room({ client }: { client: ChatClient }) {
  const state = client.state;
  const log = state.currentLog();
  const room = state.current;
  // The message the composer answers, picked with its Reply button, or
  // the user's message it edits.
  const [replyTo, setReplyTo] = useState<ChatMessage | null>(null);
  const [editing, setEditing] = useState<ChatMessage | null>(null);
  // Files dropped on the room, for the composer to upload; and whether
  // some are being dragged over it.
  const [dropped, setDropped] = useState<File[]>([]);
  const [dragging, setDragging] = useState(false);
  useEffect(() => {
    setReplyTo(null);
    setEditing(null);
  }, [room]);
  if (!log || room === null) {
    return (
      <section class="room-view empty">
        <p>Join a room to start chatting.</p>
      </section>
    );
  }
  const me = log.members.get(state.me);
  return (
    <section
      class="room-view"
      aria-label={state.title(room)}
      onDragOver={(e) => {
        if (!e.dataTransfer?.types.includes("Files")) return;
        e.preventDefault();
        setDragging(true);
      }}
      onDragLeave={(e) => {
        const into = e.relatedTarget as Node | null;
        if (!into || !e.currentTarget.contains(into)) setDragging(false);
      }}
      onDrop={(e) => {
        e.preventDefault();
        setDragging(false);
        setDropped([...(e.dataTransfer?.files ?? [])]);
      }}
    >
      {dragging && (
        <div class="drop-hint" aria-hidden="true">
          Drop to send to {state.title(room)}
        </div>
      )}
      <RoomHeader client={client} room={room} log={log} />
      <Log
        client={client}
        room={room}
        log={log}
        pending={state.outbox.filter((send) => send.room === room)}
        onReply={(message) => {
          setEditing(null);
          setReplyTo(message);
        }}
        onEdit={(message) => {
          setReplyTo(null);
          setEditing(message);
        }}
      />
      <Typing names={[...log.typing]} />
      <Composer
        client={client}
        room={room}
        muted={me?.muted ?? false}
        replyTo={replyTo}
        editing={editing}
        dropped={dropped}
        onEdit={setEditing}
        onDone={() => {
          setReplyTo(null);
          setEditing(null);
        }}
      />
    </section>
  );
}

function RoomHeader({
  client,
  room,
  log,
}: {
  client: ChatClient;
  room: string;
  log: RoomLog;
}) {
  const state = client.state;
  const role = state.myRole(room);
  const [open, setOpen] = useState(false);
  const details = log.details;
  const kind = details.direct
    ? "direct conversation"
    : details.private
      ? "private room"
      : "public room";
  return (
    <header class="room-header">
      <div class="room-title">
        <h2>{state.title(room)}</h2>
        <span class="hint">
          {kind}
          {details.owner && ` · owner ${details.owner}`}
          {role === Role.OWNER
            ? " · you own it"
            : role === Role.MODERATOR
              ? " · you moderate it"
              : ""}
        </span>
        {details.topic && <p class="topic">{details.topic}</p>}
      </div>
      <NotifyChoice client={client} room={room} level={details.notify} />
      <button
        class="secondary"
        aria-expanded={open}
        onClick={() => setOpen(!open)}
        title="Room settings"
      >
        {open ? "Close" : "Room…"}
      </button>
      {open && (
        <RoomSettings
          client={client}
          room={room}
          log={log}
          role={role}
          onClose={() => setOpen(false)}
        />
      )}
    </header>
  );
}

const LEVELS: [NotifyLevel, string][] = [
  [NotifyLevel.ALL, "every message"],
  [NotifyLevel.MENTIONS, "mentions"],
  [NotifyLevel.NONE, "nothing"],
];

/** What the room tells the user about, to choose in its header. */
function NotifyChoice({
  client,
  room,
  level,
}: {
  client: ChatClient;
  room: string;
  level: NotifyLevel;
}) {
  const [error, act] = useAction();
  return (
    <label class="notify" title="What this room tells you about">
      <span>Notify</span>
      <select
        name="notify"
        value={String(level)}
        onChange={(e) =>
          act(() =>
            client.setNotify(
              room,
              Number(e.currentTarget.value) as NotifyLevel,
            ),
          )
        }
      >
        {level === NotifyLevel.UNSPECIFIED && <option value="0">…</option>}
        {LEVELS.map(([value, text]) => (
          <option key={value} value={String(value)}>
            {text}
          </option>
        ))}
      </select>
      <ErrorLine error={error} />
    </label>
  );
}

function RoomSettings({
  client,
  room,
  log,
  role,
  onClose,
}: {
  client: ChatClient;
  room: string;
  log: RoomLog;
  role: Role;
  onClose: () => void;
}) {
  const [bans, setBans] = useState<string[] | null>(null);
  const [error, act] = useAction();
  const moderator = role >= Role.MODERATOR && !log.details.direct;
  return (
    <div
      class="room-settings"
      onKeyDown={(e) => {
        if (e.key === "Escape") onClose();
      }}
    >
      {moderator && (
        <FieldForm
          label="Topic"
          name="topic"
          button="Set topic"
          initial={log.details.topic}
          keep
          maxLength={256}
          action={(topic) =>
            client.moderate(room, { case: "setTopic", value: topic })
          }
        />
      )}
      {moderator && (
        <FieldForm
          label="Invite"
          name="invite"
          placeholder="name"
          button="Invite"
          action={(name) =>
            client.moderate(room, { case: "invite", value: name })
          }
        />
      )}
      {moderator && (
        <div>
          <button
            class="secondary"
            onClick={() => act(() => client.listBans(room), setBans)}
          >
            Show bans
          </button>
          {bans && (
            <ul class="bans">
              {bans.length === 0 && <li class="hint">nobody is banned</li>}
              {bans.map((name) => (
                <li key={name}>
                  {name}{" "}
                  <button
                    class="link"
                    onClick={() =>
                      act(
                        () =>
                          client.moderate(room, { case: "unban", value: name }),
                        () => setBans(bans.filter((b) => b !== name)),
                      )
                    }
                  >
                    unban
                  </button>
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
      <div class="buttons">
        <button class="secondary" onClick={() => act(() => client.leave(room))}>
          Leave room
        </button>
        {role === Role.OWNER && (
          <button
            class="danger"
            onClick={() => {
              if (confirm(`Delete ${room} and its history for everyone?`)) {
                act(() =>
                  client.moderate(room, { case: "delete", value: true }),
                );
              }
            }}
          >
            Delete room
          </button>
        )}
      </div>
      <ErrorLine error={error} />
    </div>
  );
}

/** How close to the bottom (px) counts as reading the newest messages. */
const STICKY = 40;
/** How long the newest messages are in view before they count as read. */
const READ_AFTER_MS = 500;
/** How close to the top (px) scrolling loads older messages. */
const LOAD_OLDER_AT = 80;

function Log({
  client,
  room,
  log,
  pending,
  onReply,
  onEdit,
}: {
  client: ChatClient;
  room: string;
  log: RoomLog;
  pending: PendingSend[];
  onReply: (message: ChatMessage) => void;
  onEdit: (message: ChatMessage) => void;
}) {
  const moderates =
    client.state.myRole(room) >= Role.MODERATOR && !log.details.direct;
  const list = useRef<HTMLDivElement>(null);
  const seen = useRef({
    room: "",
    first: "",
    last: "",
    height: 0,
    atBottom: true,
  });
  // Newer messages came while the reader was scrolled up.
  const [newerBelow, setNewerBelow] = useState(false);
  // The last jump the view was moved for.
  const shownJump = useRef(0);

  // Keep the view where the reader is: at the bottom if it was there,
  // else on the same messages when older ones are added above.
  useLayoutEffect(() => {
    const element = list.current;
    if (!element) return;
    const before = seen.current;
    const first = log.entries[0]?.key ?? "";
    const last = log.entries.at(-1)?.key ?? "";
    const focus = log.focus;
    if (focus !== null && focus.jump !== shownJump.current) {
      // A jump: to the message, once it is loaded.
      const line = element.querySelector(`.message[data-seq="${focus.seq}"]`);
      if (line) {
        line.scrollIntoView({ block: "center" });
        shownJump.current = focus.jump;
      }
    } else if (before.room !== room || before.atBottom) {
      element.scrollTop = element.scrollHeight;
    } else {
      if (first !== before.first) {
        element.scrollTop += element.scrollHeight - before.height;
      }
      if (last !== before.last && !newerBelow) setNewerBelow(true);
    }
    if (before.room !== room && newerBelow) setNewerBelow(false);
    seen.current = {
      room,
      first,
      last,
      height: element.scrollHeight,
      atBottom:
        element.scrollHeight - element.scrollTop - element.clientHeight <
        STICKY,
    };
    // Too few messages to scroll: load older ones to fill the view.
    if (element.scrollHeight <= element.clientHeight) client.loadOlder();
  });

  // The newest messages are read once they have been in view a moment:
  // not a room shown in passing.
  const reading = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const readSoon = () => {
    clearTimeout(reading.current);
    reading.current = setTimeout(() => {
      if (seen.current.atBottom) client.markRead();
    }, READ_AFTER_MS);
  };
  const newest = log.entries.at(-1)?.key;
  const looking = client.state.visible;
  useEffect(() => {
    readSoon();
    return () => clearTimeout(reading.current);
  }, [room, newest, looking]);

  const onScroll = () => {
    const element = list.current!;
    seen.current.atBottom =
      element.scrollHeight - element.scrollTop - element.clientHeight < STICKY;
    seen.current.height = element.scrollHeight;
    if (seen.current.atBottom && newerBelow) setNewerBelow(false);
    if (seen.current.atBottom) readSoon();
    if (element.scrollTop < LOAD_OLDER_AT) client.loadOlder();
  };
  const toLatest = () => {
    const element = list.current!;
    element.scrollTop = element.scrollHeight;
    setNewerBelow(false);
  };

  return (
    <div class="log-frame">
      {newerBelow && (
        <button class="to-latest" onClick={toLatest}>
          ↓ New messages
        </button>
      )}
      <div
        class="log"
        ref={list}
        onScroll={onScroll}
        role="log"
        aria-live="polite"
        tabIndex={0}
      >
        {log.hasOlder ? (
          <button
            class="link older"
            onClick={() => client.loadOlder()}
            disabled={log.loading}
          >
            {log.loading ? "Loading older messages…" : "Load older messages"}
          </button>
        ) : (
          <p class="hint start">The start of {client.state.title(room)}.</p>
        )}
        {withMarks(log.entries, log.divider).map((item) =>
          "day" in item ? (
            <div class="day" key={`d${item.day}`} role="separator">
              <span>{item.label}</span>
            </div>
          ) : "divider" in item ? (
            <div class="new-messages" key="new" role="separator">
              <span>new messages</span>
            </div>
          ) : item.kind === "message" ? (
            <MessageLine
              key={item.key}
              client={client}
              message={item.message}
              log={log}
              moderates={moderates}
              onReply={onReply}
              onEdit={onEdit}
            />
          ) : item.kind === "gap" ? (
            <button
              class="link gap"
              key={item.key}
              onClick={() => client.fillGap(room, item.after)}
            >
              ⋯ Load the messages after these
            </button>
          ) : (
            <p class="notice" key={item.key}>
              {item.text}
            </p>
          ),
        )}
        {pending.map((send) => (
          <div
            class={send.error ? "message pending failed" : "message pending"}
            key={send.clientId}
          >
            <span class="time">{send.error ? "not sent" : "sending…"}</span>
            <span class="sender mine">{client.state.me}</span>
            <span class="text">
              {[send.text, ...(send.files ?? []).map((f) => `[${f.name}]`)]
                .filter(Boolean)
                .join(" ")}
            </span>
            {send.error && (
              <span class="error">
                {send.error}{" "}
                <button
                  class="link"
                  onClick={() => client.dismiss(send.clientId)}
                >
                  dismiss
                </button>
              </span>
            )}
          </div>
        ))}
      </div>
    </div>
  );
}

type DayMark = { day: string; label: string };
type Divider = { divider: true };

/** The entries with a day separator before the first message of each day,
 * and the "new messages" line before the first message after `divider`. */
function withMarks(
  entries: Entry[],
  divider: number | null,
): (Entry | DayMark | Divider)[] {
  const out: (Entry | DayMark | Divider)[] = [];
  let day = "";
  let unplaced = divider;
  for (const entry of entries) {
    if (entry.kind === "message") {
      if (unplaced !== null && entry.message.seq > unplaced) {
        unplaced = null;
        out.push({ divider: true });
      }
      const today = dayOf(entry.message.sentAt);
      if (today !== day) {
        day = today;
        out.push({ day, label: dayLabel(entry.message.sentAt) });
      }
    }
    out.push(entry);
  }
  return out;
}

/** Who is typing in the room in view. */
function Typing({ names }: { names: string[] }) {
  const said =
    names.length === 0
      ? ""
      : names.length === 1
        ? `${names[0]} is typing…`
        : names.length === 2
          ? `${names[0]} and ${names[1]} are typing…`
          : `${names[0]} and ${names.length - 1} others are typing…`;
  return (
    <p class="typing" aria-live="polite">
      {said}
    </p>
  );
}
