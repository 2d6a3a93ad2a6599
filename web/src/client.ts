// The connection to chatd: the session, its event stream kept open with
// back-off and resumed by per-room cursors, sends retried under their
// client message ids until the server takes them, and the calls the
// page makes. It changes what the user sees only by handing `ChatEvent`s
// to the state's reducer (`dispatch`). The behaviour follows
// chat-client's `session.rs`.

import { Code, ConnectError } from "@connectrpc/connect";

import type {
  Message as WireMessage,
  Room as WireRoom,
} from "./gen/chat/v1/chat_pb";
import { uploadFile } from "./files";
import type { Servers } from "./servers";
import {
  forgetSession,
  loadSession,
  saveSession,
  type Session,
  type SessionStore,
} from "./session";
import { ChatState } from "./state";
import type {
  ChatEvent,
  ChatMessage,
  HistoryRequest,
  NotifyLevel,
  RoomAction,
  SharedFile,
} from "./state";
import {
  UNREACHED,
  authorization,
  friendly,
  isTransient,
  reason,
  toDetails,
  toEvent,
  toMessage,
} from "./wire";

export type { SessionStore };

/** The first wait before reconnecting, and the longest. */
export const FIRST_WAIT_MS = 200;
export const LONGEST_WAIT_MS = 5000;
/** The wait before a send the server could not take is tried again. */
const SEND_RETRY_MS = 500;
/** The room every client joins at login. */
export const FIRST_ROOM = "general";
const HISTORY_PAGE = 50;
/** How often a search the server paces is asked again, and after how
 * long. */
const SEARCH_TRIES = 3;
const SEARCH_RETRY_MS = 600;
/** How long a guest moving to another node keeps asking for its name
 * while it is held: the node it left holds it until its lease ends. */
const NAME_HELD_MS = 15_000;

/** A page of search results. */
export interface SearchPage {
  /** Newest first. */
  hits: ChatMessage[];
  /** Where the next page starts; empty when there is none. */
  nextPageToken: string;
  /** The words looked for, as the server read them (to mark them). */
  terms: string[];
}

/** A room as listed by the server. */
export interface ListedRoom {
  name: string;
  members: number;
  private: boolean;
  topic: string;
}

export class ChatClient {
  readonly state = new ChatState();
  /** Set when the session ended and the user must log in again. */
  loggedOut: string | null = null;
  private session: Session | null = null;
  private cursors = new Map<string, number>();
  private listeners = new Set<() => void>();
  /** Bumped at each login and logout: older loops stop. */
  private generation = 0;
  private stream: AbortController | null = null;
  private wait = FIRST_WAIT_MS;
  private wakeUp: (() => void) | null = null;
  private sending = false;
  private notifying = false;
  /** When logging in again first found the guest's name held. */
  private nameHeldSince: number | null = null;
  /** Called with each message from the stream that calls for the user
   * by its room's level (the page shows a notification if it is not
   * looked at). */
  onAlert: ((message: ChatMessage) => void) | null = null;

  constructor(
    private readonly servers: Servers,
    private readonly store: SessionStore,
  ) {}

  /** The calls, to the node in use. */
  private get rpc() {
    return this.servers.rpc;
  }

  /** Calls `listener` after every change of state. */
  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get loggedIn(): boolean {
    return this.session !== null;
  }

  /** Picks up the session saved by an earlier page load, if any. */
  resume(): boolean {
    const session = loadSession(this.store);
    if (session) this.start(session);
    return session !== null;
  }

  /** Makes the change `event` says, and what follows from it. */
  dispatch(event: ChatEvent) {
    const request = this.state.apply(event);
    if (request) void this.loadHistory(request);
    this.changed();
  }

  /** Logs in (a guest without a password) or registers; throws an Error
   * whose message says why not. */
  async login(name: string, password: string, register: boolean) {
    const request = { name, password };
    const reply = await friendly<{ name: string; sessionToken: string }>(
      register ? this.rpc.register(request) : this.rpc.login(request),
    );
    this.start({
      name: reply.name,
      token: reply.sessionToken,
      registered: register || password !== "",
    });
    // Like `chat`, start in the first room (a no-op if already in it).
    this.join(FIRST_ROOM).catch(() => {});
  }

  /** Whether the server lets guests in; `true` if it cannot be asked
   * (the login then says what the server answers). */
  async admitsGuests(): Promise<boolean> {
    try {
      return (await this.rpc.getServerInfo({})).guests;
    } catch {
      return true;
    }
  }

  async logout() {
    const session = this.session;
    this.stop(null);
    if (session) {
      await this.rpc
        .logout({}, { headers: authorization(session.token) })
        .catch(() => {});
    }
  }

  /** Queues `text` for `room`; it is posted once, retried through lost
   * connections until the server takes or refuses it. */
  send(room: string, text: string, replyTo = 0, files: SharedFile[] = []) {
    this.dispatch({
      type: "queued",
      send: { room, text, clientId: newClientId(), replyTo, files },
    });
    void this.flushOutbox();
  }

  /** Uploads `file` for the user to send (accounts only, by default),
   * telling `onProgress` how much of it has gone (0 to 1). */
  upload(
    file: Blob,
    name: string,
    onProgress: (done: number) => void,
  ): Promise<SharedFile> {
    const session = this.session;
    if (!session) return Promise.reject(new Error("not logged in"));
    // The page's own node, as its links are: a moved page's calls may go
    // elsewhere, but a file goes where the page is shown from.
    return uploadFile(
      new URL("/files", this.servers.all[0]),
      session.token,
      { file, name },
      onProgress,
    );
  }

  /** A new text for the user's message `seq` of `room`. */
  async edit(room: string, seq: number, text: string) {
    const reply = await this.call((headers) =>
      this.rpc.editMessage({ room, seq: BigInt(seq), text }, { headers }),
    );
    this.updated(reply.message);
  }

  /** Deletes message `seq` of `room` (the user's, or any as moderator). */
  async deleteMessage(room: string, seq: number) {
    await this.call((headers) =>
      this.rpc.deleteMessage({ room, seq: BigInt(seq) }, { headers }),
    );
  }

  /** Puts `emoji` on message `seq` of `room`, or takes the user's away. */
  async react(room: string, seq: number, emoji: string, remove: boolean) {
    const reply = await this.call((headers) =>
      this.rpc.react({ room, seq: BigInt(seq), emoji, remove }, { headers }),
    );
    this.updated(reply.message);
  }

  /** Tells the server the user has read the room in view to its newest
   * message, if it has not been told yet. Best effort: the next read
   * moves the marker again. */
  markRead() {
    const due = this.state.dueMarkRead();
    if (!due) return;
    const { room, seq } = due;
    this.call((headers) =>
      this.rpc.markRead({ room, seq: BigInt(seq) }, { headers }),
    ).catch(() => {});
    this.changed();
  }

  /** What `room` tells the user about, from now on. */
  async setNotify(room: string, level: NotifyLevel) {
    await this.call((headers) =>
      this.rpc.setNotify({ room, level }, { headers }),
    );
    this.dispatch({ type: "notifySet", room, level });
  }

  /** Says the user is typing in `room` (again), or stopped. Best effort:
   * a lost signal ends by itself. */
  setTyping(room: string, typing: boolean) {
    this.call((headers) =>
      this.rpc.setTyping({ room, typing }, { headers }),
    ).catch(() => {});
  }

  /** Message `seq` of `room` again, with fresh links to its files (they
   * expire a day or so after they are given). */
  async refreshLinks(room: string, seq: number) {
    const reply = await this.call((headers) =>
      this.rpc.getHistory(
        {
          room,
          position: { case: "afterSeq", value: BigInt(seq - 1) },
          limit: 1,
        },
        { headers },
      ),
    );
    const [message] = reply.messages;
    if (message && Number(message.seq) === seq) this.updated(message);
  }

  /** Shows a call's answer at once; the stream's event follows. */
  private updated(message: WireMessage | undefined) {
    if (message) {
      this.dispatch({ type: "messageUpdated", message: toMessage(message) });
    }
  }

  /** Forgets a send the server refused. */
  dismiss(clientId: string) {
    this.dispatch({ type: "dismissed", clientId });
  }

  async join(room: string) {
    const reply = await this.call((headers) =>
      this.rpc.joinRoom({ room }, { headers }),
    );
    this.entered(reply.room);
  }

  async create(room: string, isPrivate: boolean) {
    const reply = await this.call((headers) =>
      this.rpc.createRoom({ room, private: isPrivate }, { headers }),
    );
    this.entered(reply.room);
  }

  async leave(room: string) {
    await this.call((headers) => this.rpc.leaveRoom({ room }, { headers }));
    this.cursors.delete(room);
    this.dispatch({ type: "left", room });
  }

  async openDirect(name: string) {
    const reply = await this.call((headers) =>
      this.rpc.openDirect({ name }, { headers }),
    );
    this.entered(reply.room);
  }

  /** Sets the account's password; its other sessions end. */
  async changePassword(oldPassword: string, newPassword: string) {
    await this.call((headers) =>
      this.rpc.changePassword({ oldPassword, newPassword }, { headers }),
    );
  }

  /** Deletes the account for good; back to the login, saying so. */
  async deleteAccount(password: string) {
    const name = this.state.me;
    await this.call((headers) =>
      this.rpc.deleteAccount({ password }, { headers }),
    );
    this.stop(`The account ${name} is deleted.`);
  }

  async moderate(room: string, action: RoomAction) {
    await this.call((headers) =>
      this.rpc.moderateRoom({ room, action: { action } }, { headers }),
    );
  }

  async listBans(room: string): Promise<string[]> {
    const reply = await this.call((headers) =>
      this.rpc.listBans({ room }, { headers }),
    );
    return reply.names;
  }

  async listRooms(): Promise<ListedRoom[]> {
    const reply = await this.call((headers) =>
      this.rpc.listRooms({ pageSize: 1000 }, { headers }),
    );
    return reply.rooms.map((room) => ({
      name: room.name,
      members: room.memberCount,
      private: room.private,
      topic: room.topic,
    }));
  }

  /** Shows `room` and marks it read. */
  switchTo(room: string) {
    this.dispatch({ type: "switchTo", room });
  }

  cycle(step: number) {
    this.dispatch({ type: "cycle", step });
  }

  setVisible(visible: boolean) {
    this.dispatch({ type: "visible", visible });
  }

  /** Loads older history of the room in view, if there may be some.
   * Views ask on every draw of a short log, so this tells the listeners
   * only through the history it loads (telling them here would draw, and
   * ask, again without end). */
  loadOlder() {
    const request = this.state.apply({ type: "olderWanted" });
    if (request) void this.loadHistory(request);
  }

  /** Shows message `seq` of `room`, joining the room first if the user
   * is not in it (a search finds messages of public rooms it may join). */
  async jumpTo(room: string, seq: number) {
    if (!this.state.rooms.has(room)) await this.join(room);
    this.dispatch({ type: "jumpTo", room, seq });
  }

  /** Loads the messages a jump left out after `after` in `room`, a page
   * at a time. */
  fillGap(room: string, after: number) {
    this.dispatch({ type: "gapWanted", room, after });
  }

  /** A page of the messages holding every word of `query`, newest first,
   * in `room` or (empty) every room the user may read; `pageToken` goes
   * on from an earlier page. */
  async search(
    query: string,
    room: string,
    pageToken = "",
  ): Promise<SearchPage> {
    // The server paces searches (two a second): one asked too soon waits
    // its turn rather than failing.
    const reply = await this.call(async (headers) => {
      for (let tries = 1; ; tries += 1) {
        try {
          return await this.rpc.searchMessages(
            { query, room, pageToken },
            { headers },
          );
        } catch (error) {
          const paced =
            error instanceof ConnectError &&
            error.code === Code.ResourceExhausted;
          if (!paced || tries === SEARCH_TRIES) throw error;
          await sleep(SEARCH_RETRY_MS);
        }
      }
    });
    return {
      hits: reply.hits.flatMap((hit) =>
        hit.message ? [toMessage(hit.message)] : [],
      ),
      nextPageToken: reply.nextPageToken,
      terms: reply.terms,
    };
  }

  /** Reconnects now rather than at the end of the back-off wait. */
  retryNow() {
    this.wait = FIRST_WAIT_MS;
    this.wakeUp?.();
  }

  private start(session: Session) {
    this.stop(null);
    this.session = session;
    this.loggedOut = null;
    saveSession(this.store, session);
    this.cursors.clear();
    this.dispatch({
      type: "sessionStarted",
      me: session.name,
      registered: session.registered,
    });
    void this.follow(this.generation);
  }

  /** Ends the session here; `why`, if given, is shown at the login. */
  private stop(why: string | null) {
    this.generation += 1;
    this.stream?.abort();
    this.stream = null;
    this.wakeUp?.();
    this.session = null;
    this.loggedOut = why;
    forgetSession(this.store);
    this.dispatch({ type: "sessionEnded" });
  }

  /** Keeps the event stream open until the session ends. */
  private async follow(generation: number) {
    while (generation === this.generation) {
      this.setConnection({ state: "connecting" });
      const reason = await this.followOnce(generation);
      if (reason === null || generation !== this.generation) return;
      // Logged in again: subscribe at once.
      if (reason === "") continue;
      this.setConnection({
        state: "offline",
        reason,
        retryAt: Date.now() + this.wait,
      });
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.wait);
        this.wakeUp = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wakeUp = null;
      this.wait = Math.min(this.wait * 2, LONGEST_WAIT_MS);
    }
  }

  /** One stream's worth of following; the reason it ended (empty to
   * follow again at once), or null when the session is over. */
  private async followOnce(generation: number): Promise<string | null> {
    const session = this.session;
    if (!session) return null;
    const controller = new AbortController();
    this.stream = controller;
    const cursors = [...this.cursors].map(([room, seq]) => ({
      room,
      lastSeq: BigInt(seq),
    }));
    try {
      const events = this.rpc.subscribe(
        { cursors },
        {
          headers: authorization(session.token),
          signal: controller.signal,
          onHeader: (headers) => {
            // A failure comes as headers alone, with its status.
            if (headers.has("grpc-status")) return;
            this.wait = FIRST_WAIT_MS;
            this.setConnection({ state: "online" });
            void this.flushOutbox();
            // In a cluster: the nodes to move to if this one goes.
            void this.servers.discover();
          },
        },
      );
      for await (const event of events) {
        if (generation !== this.generation) return null;
        this.apply(toEvent(event));
      }
      return "the server ended the stream";
    } catch (error) {
      if (generation !== this.generation) return null;
      const failure = ConnectError.from(error);
      if (failure.code === Code.Unauthenticated) {
        return this.sessionLost(session, generation);
      }
      const why = reason(failure);
      // Another node, if there is one, next time.
      if (why === UNREACHED) this.servers.next();
      return why;
    }
  }

  /** The server no longer knows the session (a guest's outlived its
   * grace period, or the server forgot it): a guest logs in again under
   * its name; an account's user is asked to. */
  private async sessionLost(
    session: Session,
    generation: number,
  ): Promise<string | null> {
    if (session.registered) {
      this.stop("Your session ended: log in again.");
      return null;
    }
    try {
      const reply = await this.rpc.login({ name: session.name, password: "" });
      if (generation !== this.generation) return null;
      this.nameHeldSince = null;
      this.session = { ...session, token: reply.sessionToken };
      saveSession(this.store, this.session);
      await this.join(FIRST_ROOM).catch(() => {});
      return "";
    } catch (error) {
      const failure = ConnectError.from(error);
      if (isTransient(failure)) return reason(failure);
      if (failure.code === Code.AlreadyExists) {
        // Moved to another node: the one left may hold the name a while.
        this.nameHeldSince ??= Date.now();
        if (Date.now() - this.nameHeldSince < NAME_HELD_MS) {
          return "your name is still held by the server you left; trying again";
        }
      }
      this.nameHeldSince = null;
      this.stop(
        `Your session ended and you could not log in again: ${failure.rawMessage}`,
      );
      return null;
    }
  }

  /** A stream event: the cursors move on, then the state. */
  private apply(event: ChatEvent | null) {
    if (!event) return;
    switch (event.type) {
      case "message":
      case "messageUpdated": {
        // A change has a number of its own; a message's is its seq.
        const room = event.message.room;
        const seq = event.type === "message" ? event.message.seq : event.seq;
        if (seq === undefined || seq <= (this.cursors.get(room) ?? 0)) return;
        this.cursors.set(room, seq);
        if (event.type === "message" && this.state.notifies(event.message)) {
          this.onAlert?.(event.message);
        }
        break;
      }
      case "roomJoined": {
        const room = event.details.name;
        const cursor = this.cursors.get(room);
        // Absent, the room starts live; past the server's newest, the
        // server restarted without its history.
        if (cursor === undefined || cursor > event.lastSeq) {
          this.cursors.set(room, event.lastSeq);
        }
        break;
      }
      case "roomLeft":
        this.cursors.delete(event.room);
        break;
      case "fellBehind":
        this.cursors.set(event.room, event.resumedAt - 1);
        break;
    }
    this.dispatch(event);
  }

  /** Posts queued sends, oldest first, while the stream is up. */
  private async flushOutbox() {
    if (this.sending) return;
    this.sending = true;
    try {
      for (;;) {
        const session = this.session;
        const next = this.state.outbox.find((send) => !send.error);
        if (!session || !next || this.state.connection.state !== "online") {
          return;
        }
        try {
          const reply = await this.rpc.sendMessage(
            {
              room: next.room,
              text: next.text,
              clientMessageId: next.clientId,
              replyTo: BigInt(next.replyTo ?? 0),
              attachments: (next.files ?? []).map((file) => file.id),
            },
            { headers: authorization(session.token) },
          );
          if (session !== this.session) return;
          if (reply.message) {
            this.dispatch({
              type: "message",
              message: toMessage(reply.message),
            });
          }
          this.dispatch({ type: "sent", clientId: next.clientId });
        } catch (error) {
          const failure = ConnectError.from(error);
          if (isTransient(failure) || failure.code === Code.ResourceExhausted) {
            await sleep(SEND_RETRY_MS);
          } else {
            this.dispatch({
              type: "refused",
              clientId: next.clientId,
              error: failure.rawMessage,
            });
          }
        }
      }
    } finally {
      this.sending = false;
    }
  }

  private async loadHistory(request: HistoryRequest) {
    const position =
      "before" in request
        ? { case: "beforeSeq" as const, value: BigInt(request.before) }
        : { case: "afterSeq" as const, value: BigInt(request.after) };
    try {
      const reply = await this.call((headers) =>
        this.rpc.getHistory(
          { room: request.room, position, limit: HISTORY_PAGE },
          { headers },
        ),
      );
      this.dispatch({
        type: "historyLoaded",
        request,
        page: {
          messages: reply.messages.map(toMessage),
          hasMore: reply.hasMore,
        },
      });
    } catch {
      this.dispatch({ type: "historyLoaded", request, page: null });
    }
  }

  /** The user is in `room` now, before its RoomJoined arrives. */
  private entered(room: WireRoom | undefined) {
    if (!room) return;
    this.dispatch({
      type: "entered",
      details: toDetails(room, room.name),
      hasOlder: room.lastSeq > 0n,
    });
  }

  /** A call with the session's token; its failure as an Error saying why. */
  private async call<T>(attempt: (headers: Headers) => Promise<T>): Promise<T> {
    const session = this.session;
    if (!session) throw new Error("not logged in");
    return friendly(attempt(authorization(session.token)));
  }

  private setConnection(connection: ChatState["connection"]) {
    this.dispatch({ type: "connection", connection });
  }

  /** Tells the listeners, once for all the changes made in one turn. */
  private changed() {
    if (this.notifying) return;
    this.notifying = true;
    queueMicrotask(() => {
      this.notifying = false;
      for (const listener of this.listeners) listener();
    });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function newClientId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
