// What the user sees, apart from how it is drawn: rooms, their logs and
// members, unread counts, invitations, sends on their way, and the
// connection. Every change is a `ChatEvent` (from the server, the
// connection or the user) given to `ChatState.apply`, the one reducer;
// the methods it calls are public only for tests. So it can be tested
// without a server or a browser. The semantics follow chat-client's
// `rooms.rs`.

import { NotifyLevel, Origin, Role } from "./gen/chat/v1/chat_pb";

export { NotifyLevel, Origin, Role };

/** Entries a room keeps while it is not in view: older ones are dropped
 * (and loaded again from history if the user scrolls back), so a tab left
 * open in busy rooms stays small. */
export const MOST_ENTRIES = 1000;
/** How many messages after one jumped to are loaded with it. */
const JUMP_CONTEXT = 25;

export interface ChatMessage {
  room: string;
  seq: number;
  sender: string;
  text: string;
  sentAt: Date;
  origin: Origin;
  clientId: string;
  /** The earlier message of the room this one answers; 0 if none. */
  replyTo: number;
  /** When the text was last edited; null if never. */
  editedAt: Date | null;
  /** A tombstone: no text, no reactions. */
  deleted: boolean;
  /** Who deleted it, when not its sender (a moderator); else empty. */
  deletedBy: string;
  reactions: Reaction[];
  /** The members its `@name`s mean (the server's reading). */
  mentions: string[];
  /** `@room` from a moderator: everyone. */
  mentionsRoom: boolean;
  /** The files sent with it. */
  files: SharedFile[];
}

/** A file sent with a message, or just uploaded. */
export interface SharedFile {
  id: string;
  name: string;
  /** Taken from its content by the server. */
  mimeType: string;
  size: number;
  /** An image's size in pixels; 0 for other files. */
  width: number;
  height: number;
  /** Its link on this server, for this user (a path, signed; it expires
   * in a day or so, and history gives fresh ones). */
  url: string;
  /** An image's thumbnail's link; empty for other files. */
  thumbnailUrl: string;
}

/** An emoji on a message: how many put it there, and (the first of) who. */
export interface Reaction {
  emoji: string;
  count: number;
  names: string[];
}

export interface Member {
  name: string;
  online: boolean;
  role: Role;
  muted: boolean;
  /** Has no account: not messaged directly, promoted or given the room. */
  guest: boolean;
}

export interface RoomDetails {
  name: string;
  private: boolean;
  direct: boolean;
  topic: string;
  owner: string;
  peer: string;
  /** What the room tells the user about (UNSPECIFIED until the server
   * says). */
  notify: NotifyLevel;
}

/** Where the user has read a room to, as the server keeps it: the entry,
 * and how many messages after it are unread, and of them mention it. */
export interface ReadState {
  seq: number;
  unread: number;
  mentions: number;
}

/** One change to a room, as the server's RoomAction says it. */
export type RoomAction =
  | { case: "setTopic"; value: string }
  | { case: "invite"; value: string }
  | { case: "kick"; value: string }
  | { case: "ban"; value: string }
  | { case: "unban"; value: string }
  | { case: "mute"; value: string }
  | { case: "unmute"; value: string }
  | { case: "promote"; value: string }
  | { case: "demote"; value: string }
  | { case: "transferOwnership"; value: string }
  | { case: "delete"; value: boolean };

/** A line of a room's log: a message, or a notice placed right after the
 * message that preceded it. */
export type Entry =
  | { kind: "message"; key: string; message: ChatMessage }
  | { kind: "notice"; key: string; text: string; after: number }
  /** Messages numbered between `after` and `before` are not loaded: a
   * jump to an older message left them out. */
  | { kind: "gap"; key: string; after: number; before: number };

export interface RoomLog {
  details: RoomDetails;
  members: Map<string, Member>;
  /** Oldest first. */
  entries: Entry[];
  /** Messages of others after the read marker, and those of them that
   * mention the user. */
  unread: number;
  mentions: number;
  /** The entry the user has read the room to (or the server was last
   * asked to move the marker to). */
  readSeq: number;
  /** Where the "new messages" line goes: after this entry. Set when the
   * room comes into view with unread messages; gone when it leaves. */
  divider: number | null;
  /** Older history may exist before the oldest message shown. */
  hasOlder: boolean;
  /** A history request is on its way. */
  loading: boolean;
  /** The newest sequence number known in the room, shown or not. */
  newest: number;
  /** Who is typing there now (the server says when each stops). */
  typing: Set<string>;
  /** The message jumped to (from a search or a reply's quote), and which
   * jump of the page's that was: the view scrolls to it once per jump
   * and marks it. */
  focus: { seq: number; jump: number } | null;
}

export type Connection =
  | { state: "connecting" }
  | { state: "online" }
  | { state: "offline"; reason: string; retryAt: number };

/** A message the user sent that the server has not yet taken. */
export interface PendingSend {
  room: string;
  text: string;
  /** Sent with every try, so a retry is never posted twice. */
  clientId: string;
  /** The message of the room this one answers, if any. */
  replyTo?: number;
  /** The files sent with it (uploaded already). */
  files?: SharedFile[];
  /** Why the server refused it for good; it is not tried again. */
  error?: string;
}

/** A page of a room's history to ask for: messages before `before`. */
/** A page of a room's history to load: the newest messages before a
 * number, or the oldest after one. */
export type HistoryRequest =
  | { room: string; before: number; jump?: boolean }
  | { room: string; after: number };

/** One change to what the user sees. */
export type ChatEvent =
  // From the server.
  | { type: "message"; message: ChatMessage }
  /** A message edited, deleted or reacted to: this is it now. `seq` is
   * the change's own number in the room (absent for a call's answer). */
  | { type: "messageUpdated"; message: ChatMessage; seq?: number }
  | { type: "typing"; room: string; name: string; typing: boolean }
  | {
      type: "roomJoined";
      details: RoomDetails;
      members: Member[];
      lastSeq: number;
      read?: ReadState;
    }
  /** The user's read marker moved (on this device or another). */
  | { type: "readMarker"; room: string; seq: number }
  | { type: "roomLeft"; room: string; reason: string }
  | { type: "roomChanged"; room: string; actor: string; action: RoomAction }
  | { type: "invited"; room: string; by: string }
  | {
      type: "memberJoined";
      room: string;
      name: string;
      online: boolean;
      guest: boolean;
    }
  | { type: "memberLeft"; room: string; name: string }
  | { type: "presence"; name: string; online: boolean }
  | { type: "fellBehind"; room: string; firstMissed: number; resumedAt: number }
  | {
      type: "historyLoaded";
      request: HistoryRequest;
      page: { messages: ChatMessage[]; hasMore: boolean } | null;
    }
  // From the connection and the calls.
  | { type: "connection"; connection: Connection }
  | { type: "sessionStarted"; me: string; registered: boolean }
  | { type: "sessionEnded" }
  | { type: "entered"; details: RoomDetails; hasOlder: boolean }
  | { type: "left"; room: string }
  | { type: "queued"; send: PendingSend }
  | { type: "sent"; clientId: string }
  | { type: "refused"; clientId: string; error: string }
  | { type: "notifySet"; room: string; level: NotifyLevel }
  // From the user.
  | { type: "dismissed"; clientId: string }
  | { type: "switchTo"; room: string }
  | { type: "noticeRead" }
  | { type: "cycle"; step: number }
  | { type: "visible"; visible: boolean }
  | { type: "olderWanted" }
  | { type: "jumpTo"; room: string; seq: number }
  | { type: "gapWanted"; room: string; after: number };

export class ChatState {
  me = "";
  registered = false;
  connection: Connection = { state: "connecting" };
  rooms = new Map<string, RoomLog>();
  current: string | null = null;
  /** Private rooms the user is invited to and not in, to who invited
   * (empty if not known). */
  invitations = new Map<string, string>();
  /** The latest thing to tell the user that belongs to no room in view. */
  notice: string | null = null;
  outbox: PendingSend[] = [];
  /** Whether the user looks at the page (it is shown and has the focus):
   * messages arriving otherwise count as unread even in the room in
   * view. */
  visible = true;
  private notices = 0;
  private jumps = 0;

  constructor(me = "", registered = false) {
    this.me = me;
    this.registered = registered;
  }

  /** Makes the change `event` says; returns the page of history to ask
   * for, if it needs one. */
  apply(event: ChatEvent): HistoryRequest | null {
    switch (event.type) {
      case "message":
        this.addMessage(event.message);
        this.sent(event.message.clientId);
        return null;
      case "messageUpdated":
        this.updateMessage(event.message, event.seq ?? 0);
        return null;
      case "typing": {
        const typing = this.rooms.get(event.room)?.typing;
        if (event.typing) typing?.add(event.name);
        else typing?.delete(event.name);
        return null;
      }
      case "roomJoined":
        return this.roomJoined(
          event.details,
          event.members,
          event.lastSeq,
          event.read,
        );
      case "readMarker":
        this.readMarker(event.room, event.seq);
        return null;
      case "roomLeft":
        this.roomLeft(event.room, event.reason);
        return null;
      case "roomChanged":
        this.roomChanged(event.room, event.actor, event.action);
        return null;
      case "invited":
        this.invited(event.room, event.by);
        return null;
      case "memberJoined":
        this.memberJoined(event.room, event.name, event.online, event.guest);
        return null;
      case "memberLeft":
        this.memberLeft(event.room, event.name);
        return null;
      case "presence":
        this.presence(event.name, event.online);
        return null;
      case "fellBehind":
        this.fellBehind(event.room, event.firstMissed, event.resumedAt);
        return null;
      case "historyLoaded":
        this.historyLoaded(event.request, event.page);
        return null;
      default:
        return this.applyLocal(event);
    }
  }

  /** The changes that come from the connection, the calls and the user. */
  private applyLocal(event: ChatEvent): HistoryRequest | null {
    switch (event.type) {
      case "connection":
        this.connection = event.connection;
        break;
      case "sessionStarted":
        this.reset(event.me, event.registered);
        break;
      case "sessionEnded":
        this.reset();
        break;
      case "entered":
        this.entered(event.details, event.hasOlder);
        break;
      case "left":
        this.forget(event.room);
        break;
      case "queued":
        this.outbox.push(event.send);
        break;
      case "sent":
      case "dismissed":
        this.sent(event.clientId);
        break;
      case "notifySet": {
        const log = this.rooms.get(event.room);
        if (log) log.details = { ...log.details, notify: event.level };
        break;
      }
      case "refused": {
        const send = this.outbox.find((s) => s.clientId === event.clientId);
        if (send) send.error = event.error;
        break;
      }
      case "switchTo":
        this.switchTo(event.room);
        break;
      case "noticeRead":
        this.notice = null;
        break;
      case "cycle":
        this.cycle(event.step);
        break;
      case "visible":
        this.setVisible(event.visible);
        break;
      case "olderWanted":
        return this.requestOlder();
      case "jumpTo":
        return this.jumpTo(event.room, event.seq);
      case "gapWanted":
        return { room: event.room, after: event.after };
    }
    return null;
  }

  /** The rooms in the order shown: rooms by name, then direct
   * conversations by the other's name. */
  ordered(): string[] {
    return [...this.rooms.keys()].sort((a, b) => {
      const da = this.rooms.get(a)!.details.direct;
      const db = this.rooms.get(b)!.details.direct;
      if (da !== db) return da ? 1 : -1;
      return this.title(a).localeCompare(this.title(b));
    });
  }

  /** How to show `room`: `@peer` for a direct conversation. */
  title(room: string): string {
    const details = this.rooms.get(room)?.details;
    return details?.direct && details.peer ? `@${details.peer}` : room;
  }

  currentLog(): RoomLog | undefined {
    return this.current === null ? undefined : this.rooms.get(this.current);
  }

  myRole(room: string): Role {
    return this.rooms.get(room)?.members.get(this.me)?.role ?? Role.MEMBER;
  }

  totalUnread(): number {
    let total = 0;
    for (const log of this.rooms.values()) total += log.unread;
    return total;
  }

  totalMentions(): number {
    let total = 0;
    for (const log of this.rooms.values()) total += log.mentions;
    return total;
  }

  /** The page's title: the unread count first, when there is one, and
   * the mentions among them. */
  pageTitle(): string {
    const unread = this.totalUnread();
    const mentions = this.totalMentions();
    if (mentions > 0) return `(${unread}, @${mentions}) chat`;
    return unread > 0 ? `(${unread}) chat` : "chat";
  }

  /** Whether `message`, just come, is one to tell the user of while it
   * looks elsewhere, by its room's level: every message of others, only
   * those that mention the user, or none. */
  notifies(message: ChatMessage): boolean {
    if (isOwn(message, this.me)) return false;
    const level = this.rooms.get(message.room)?.details.notify;
    if (level === NotifyLevel.NONE) return false;
    if (level === NotifyLevel.ALL) return true;
    return mentionsMe(message, this.me);
  }

  /** The newest message of the room in view, when the user looks at it
   * and the server has not yet been told it was read; from then on it is
   * taken as told. */
  dueMarkRead(): { room: string; seq: number } | null {
    const log = this.currentLog();
    if (!log || this.current === null || !this.visible) return null;
    const newest = newestSeq(log);
    if (newest <= log.readSeq) return null;
    log.readSeq = newest;
    readAll(log);
    return { room: this.current, seq: newest };
  }

  /** The user's marker in `room` moved to `seq`, here or elsewhere. */
  readMarker(room: string, seq: number): void {
    const log = this.rooms.get(room);
    if (!log || seq <= log.readSeq) return;
    log.readSeq = seq;
    if (seq >= newestSeq(log)) readAll(log);
    else this.recount(log);
  }

  /** A message from the event stream or a send's reply. Returns false
   * for one already shown. */
  addMessage(message: ChatMessage): boolean {
    const log = this.logOf(message.room);
    if (!insertMessage(log, message)) return false;
    const inView = this.current === message.room && this.visible;
    if (!inView && !isOwn(message, this.me)) {
      log.unread += 1;
      if (mentionsMe(message, this.me)) log.mentions += 1;
    }
    if (this.current !== message.room) trim(log);
    return true;
  }

  /** A message as it is now, replacing what is shown of it; one not
   * loaded is read as it is now when it is. `seq`, the change's number,
   * is the room's newest. */
  updateMessage(message: ChatMessage, seq: number) {
    const log = this.rooms.get(message.room);
    if (!log) return;
    log.newest = Math.max(log.newest, seq);
    const at = log.entries.findIndex(
      (entry) => entry.kind === "message" && entry.message.seq === message.seq,
    );
    if (at >= 0) {
      log.entries[at] = { kind: "message", key: `m${message.seq}`, message };
    }
  }

  /** The user's newest message in the room in view that may still be
   * edited (Up in an empty composer edits it). */
  lastOwnMessage(): ChatMessage | null {
    const log = this.currentLog();
    for (let at = (log?.entries.length ?? 0) - 1; at >= 0; at -= 1) {
      const entry = log!.entries[at];
      if (entry.kind !== "message") continue;
      const message = entry.message;
      if (isOwn(message, this.me) && !message.deleted) return message;
    }
    return null;
  }

  /** The user is in `room` with these members; messages after `lastSeq`
   * follow. May ask for the newest history. */
  roomJoined(
    details: RoomDetails,
    members: Member[],
    lastSeq: number,
    read?: ReadState,
  ): HistoryRequest | null {
    const room = details.name;
    this.invitations.delete(room);
    const log = this.logOf(room);
    log.details = details;
    if (read) {
      log.readSeq = read.seq;
      log.unread = read.unread;
      log.mentions = read.mentions;
    }
    log.members = new Map(members.map((m) => [m.name, m]));
    if (newestSeq(log) > lastSeq) {
      // The server's numbering started over (it restarted without its
      // history): so does the log.
      log.entries = [];
      log.hasOlder = true;
      log.newest = lastSeq;
      this.addNotice(room, "! the server restarted without its history");
    }
    log.newest = Math.max(log.newest, lastSeq);
    // An empty room has nothing older to load.
    if (lastSeq === 0 && oldestSeq(log) === null) log.hasOlder = false;
    if (this.current === null) this.current = room;
    if (this.current === room && this.visible) cameIntoView(log);
    if (oldestSeq(log) === null && lastSeq > 0 && !log.loading) {
      log.loading = true;
      return { room, before: lastSeq + 1 };
    }
    return null;
  }

  /** The user is in `room` now, by its own call, before the server's
   * RoomJoined arrives; it is shown. */
  entered(details: RoomDetails, hasOlder: boolean): void {
    if (!this.rooms.has(details.name)) {
      this.roomJoined(details, [], 0);
      this.rooms.get(details.name)!.hasOlder = hasOlder;
    }
    this.switchTo(details.name);
  }

  /** The send with `clientId` reached the server, or the user gave it
   * up. */
  sent(clientId: string): void {
    if (!clientId) return;
    this.outbox = this.outbox.filter((send) => send.clientId !== clientId);
  }

  /** The user is out of `room`; `reason` says why when someone else made
   * it leave. */
  roomLeft(room: string, reason: string): void {
    if (reason) this.notice = `you left ${this.title(room)}: ${reason}`;
    this.forget(room);
  }

  roomChanged(room: string, actor: string, action: RoomAction): void {
    if (action.case === "delete") {
      this.notice = `${actor} deleted ${this.title(room)}`;
    }
    const log = this.rooms.get(room);
    if (!log) return;
    const member = (name: string) => log.members.get(name);
    switch (action.case) {
      case "setTopic":
        log.details = { ...log.details, topic: action.value };
        break;
      case "mute":
      case "unmute": {
        const m = member(action.value);
        if (m) m.muted = action.case === "mute";
        break;
      }
      case "promote":
      case "demote": {
        const m = member(action.value);
        if (m)
          m.role = action.case === "promote" ? Role.MODERATOR : Role.MEMBER;
        break;
      }
      case "transferOwnership": {
        const old = member(actor);
        if (old) old.role = Role.MODERATOR;
        const m = member(action.value);
        if (m) m.role = Role.OWNER;
        log.details = { ...log.details, owner: action.value };
        break;
      }
    }
    this.addNotice(room, `* ${describe(actor, action)}`);
  }

  invited(room: string, by: string): void {
    if (this.rooms.has(room)) return;
    this.invitations.set(room, by);
    if (by) this.notice = `${by} invited you to ${room}`;
  }

  memberJoined(
    room: string,
    name: string,
    online: boolean,
    guest = false,
  ): void {
    const log = this.rooms.get(room);
    if (!log) return;
    const member = { name, online, role: Role.MEMBER, muted: false, guest };
    log.members.set(name, member);
    this.addNotice(room, `→ ${name} joined`);
  }

  memberLeft(room: string, name: string): void {
    const log = this.rooms.get(room);
    if (!log) return;
    log.members.delete(name);
    this.addNotice(room, `← ${name} left`);
  }

  presence(name: string, online: boolean): void {
    for (const log of this.rooms.values()) {
      const member = log.members.get(name);
      if (member) member.online = online;
    }
  }

  fellBehind(room: string, firstMissed: number, resumedAt: number): void {
    if (!this.rooms.has(room)) return;
    this.addNotice(
      room,
      `! messages #${firstMissed} to #${resumedAt - 1} were lost while the connection lagged`,
    );
  }

  /** The page `request` asked for arrived (or failed: null). A page
   * before a number holds every message below it (the newest of them),
   * so what it leaves out lies above it; a page after a number fills a
   * gap from its start. */
  historyLoaded(
    request: HistoryRequest,
    page: { messages: ChatMessage[]; hasMore: boolean } | null,
  ): void {
    const log = this.rooms.get(request.room);
    if (!log) return;
    if ("before" in request) {
      log.loading = false;
      if (!page) return;
      for (const message of page.messages) insertMessage(log, message);
      log.hasOlder = page.hasMore;
      // A jump's page may end short of what is loaded; pages of older
      // history end where it starts.
      const next = firstLoadedFrom(log, request.before);
      if (request.jump && next !== null && next > request.before) {
        insertGap(log, request.before - 1, next);
      }
      return;
    }
    if (!page) return;
    const at = log.entries.findIndex(
      (entry) => entry.kind === "gap" && entry.after === request.after,
    );
    if (at < 0) return;
    const gap = log.entries.splice(at, 1)[0] as Extract<Entry, { kind: "gap" }>;
    for (const message of page.messages) insertMessage(log, message);
    const reached = page.messages.at(-1)?.seq ?? gap.before;
    if (page.hasMore && reached + 1 < gap.before) {
      insertGap(log, reached, gap.before);
    }
  }

  /** Shows message `seq` of `room`, loading the history around it if it
   * is not loaded. */
  jumpTo(room: string, seq: number): HistoryRequest | null {
    const log = this.rooms.get(room);
    if (!log) return null;
    this.switchTo(room);
    this.jumps += 1;
    log.focus = { seq, jump: this.jumps };
    const loaded = log.entries.some(
      (entry) => entry.kind === "message" && entry.message.seq === seq,
    );
    if (loaded) return null;
    log.loading = true;
    // The page ends some messages after it, to read it in its place.
    return { room, before: seq + JUMP_CONTEXT, jump: true };
  }

  /** The page before the oldest message of the room in view, if there may
   * be one and none is on its way. */
  requestOlder(): HistoryRequest | null {
    const log = this.currentLog();
    if (!log || !log.hasOlder || log.loading || this.current === null) {
      return null;
    }
    const oldest = oldestSeq(log);
    if (oldest === null || oldest <= 1) {
      log.hasOlder = false;
      return null;
    }
    log.loading = true;
    return { room: this.current, before: oldest };
  }

  /** Shows `room` and marks it read. */
  switchTo(room: string): void {
    if (!this.rooms.has(room)) return;
    const left = this.currentLog();
    if (left && this.current !== room) {
      trim(left);
      left.divider = null;
      // Looking elsewhere: the bar's news (a kick, a deletion) is old.
      this.notice = null;
    }
    this.current = room;
    cameIntoView(this.rooms.get(room)!);
  }

  /** Shows the room `step` places after the one in view, going round. */
  cycle(step: number): void {
    const names = this.ordered();
    if (names.length === 0) return;
    const at = Math.max(0, names.indexOf(this.current ?? ""));
    const next = (((at + step) % names.length) + names.length) % names.length;
    this.switchTo(names[next]);
  }

  setVisible(visible: boolean): void {
    this.visible = visible;
    const log = this.currentLog();
    if (visible && log) cameIntoView(log);
  }

  /** Drops `room`, showing another if it was in view. */
  forget(room: string): void {
    this.rooms.delete(room);
    this.outbox = this.outbox.filter((send) => send.room !== room);
    if (this.current === room) {
      this.current = this.ordered()[0] ?? null;
      const log = this.currentLog();
      if (log) cameIntoView(log);
    }
  }

  /** The user logged out, or its session ended: nothing of it stays. */
  reset(me = "", registered = false): void {
    Object.assign(this, new ChatState(me, registered));
  }

  private logOf(room: string): RoomLog {
    let log = this.rooms.get(room);
    if (!log) {
      log = {
        details: {
          name: room,
          private: false,
          direct: false,
          topic: "",
          owner: "",
          peer: "",
          notify: NotifyLevel.UNSPECIFIED,
        },
        members: new Map(),
        entries: [],
        unread: 0,
        mentions: 0,
        readSeq: 0,
        divider: null,
        hasOlder: true,
        loading: false,
        newest: 0,
        typing: new Set(),
        focus: null,
      };
      this.rooms.set(room, log);
    }
    return log;
  }

  /** Counts the messages after `log`'s read marker again, from those
   * loaded (when they reach back to it). */
  private recount(log: RoomLog): void {
    const oldest = oldestSeq(log);
    if (oldest === null || oldest > log.readSeq + 1) return;
    const unloaded = log.entries.some(
      (entry) => entry.kind === "gap" && entry.before > log.readSeq + 1,
    );
    if (unloaded) return;
    let unread = 0;
    let mentions = 0;
    for (const entry of log.entries) {
      if (entry.kind !== "message" || entry.message.seq <= log.readSeq) {
        continue;
      }
      if (isOwn(entry.message, this.me)) continue;
      unread += 1;
      if (mentionsMe(entry.message, this.me)) mentions += 1;
    }
    log.unread = unread;
    log.mentions = mentions;
  }

  private addNotice(room: string, text: string): void {
    const log = this.rooms.get(room);
    if (!log) return;
    this.notices += 1;
    const key = `n${this.notices}`;
    log.entries.push({ kind: "notice", key, text, after: log.newest });
  }
}

/** `log` is in view now: what was not read is below a line. It counts as
 * read once the marker moves (a room shown for a moment, as rooms arrive
 * at login, is not read). */
function cameIntoView(log: RoomLog): void {
  if (log.unread > 0) log.divider = log.readSeq;
}

function readAll(log: RoomLog): void {
  log.unread = 0;
  log.mentions = 0;
}

/** Drops the oldest entries past [`MOST_ENTRIES`], and any gap then
 * first (older history loads from the oldest message), and forgets the
 * message jumped to. */
function trim(log: RoomLog): void {
  const extra = log.entries.length - MOST_ENTRIES;
  if (extra > 0) {
    log.entries.splice(0, extra);
    log.hasOlder = true;
  }
  while (log.entries[0]?.kind === "gap") log.entries.shift();
  log.focus = null;
}

/** The number of the first message loaded from `seq` on, if any. */
function firstLoadedFrom(log: RoomLog, seq: number): number | null {
  for (const entry of log.entries) {
    if (entry.kind === "message" && entry.message.seq >= seq) {
      return entry.message.seq;
    }
  }
  return null;
}

/** Marks the messages between `after` and `before` as not loaded. */
function insertGap(log: RoomLog, after: number, before: number): void {
  const at = log.entries.findIndex(
    (entry) => entry.kind === "message" && entry.message.seq >= before,
  );
  log.entries.splice(at, 0, { kind: "gap", key: `g${after}`, after, before });
}

function newestSeq(log: RoomLog): number {
  for (let i = log.entries.length - 1; i >= 0; i--) {
    const entry = log.entries[i];
    if (entry.kind === "message") return entry.message.seq;
  }
  return 0;
}

function oldestSeq(log: RoomLog): number | null {
  for (const entry of log.entries) {
    if (entry.kind === "message") return entry.message.seq;
  }
  return null;
}

/** Puts `message` in its place by sequence number; false if it is there
 * already. A notice stays right after the newest message there was when
 * it was given. */
function insertMessage(log: RoomLog, message: ChatMessage): boolean {
  const entries = log.entries;
  const seq = message.seq;
  // Most messages are the newest: look from the end.
  let at = entries.length;
  while (at > 0) {
    const entry = entries[at - 1];
    if (entry.kind === "message") {
      if (entry.message.seq === seq) return false;
      if (entry.message.seq < seq) break;
    } else if (entry.after < seq) {
      break;
    }
    at -= 1;
  }
  entries.splice(at, 0, { kind: "message", key: `m${seq}`, message });
  log.newest = Math.max(log.newest, seq);
  return true;
}

/** Whether `message` calls for `me`'s attention: it mentions `me` (or
 * the room), and someone else sent it. */
export function mentionsMe(message: ChatMessage, me: string): boolean {
  return (
    !isOwn(message, me) &&
    (message.mentionsRoom || message.mentions.includes(me))
  );
}

/** Whether native user `me` sent `message` (not someone of another
 * protocol under the name). */
export function isOwn(message: ChatMessage, me: string): boolean {
  return message.sender === me && message.origin === Origin.NATIVE;
}

/** What `actor` did, in words: `ann kicked bob`. */
export function describe(actor: string, action: RoomAction): string {
  switch (action.case) {
    case "setTopic":
      return action.value
        ? `${actor} set the topic: ${action.value}`
        : `${actor} cleared the topic`;
    case "invite":
      return `${actor} invited ${action.value}`;
    case "kick":
      return `${actor} kicked ${action.value}`;
    case "ban":
      return `${actor} banned ${action.value}`;
    case "unban":
      return `${actor} unbanned ${action.value}`;
    case "mute":
      return `${actor} muted ${action.value}`;
    case "unmute":
      return `${actor} unmuted ${action.value}`;
    case "promote":
      return `${actor} made ${action.value} a moderator`;
    case "demote":
      return `${actor} took ${action.value}'s moderator rights`;
    case "transferOwnership":
      return `${actor} handed the room to ${action.value}`;
    case "delete":
      return `${actor} deleted the room`;
  }
}
