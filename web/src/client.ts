// The connection to chatd: the session, its event stream kept open with
// back-off and resumed by per-room cursors, sends retried under their
// client message ids until the server takes them, and the calls the
// page makes. The behaviour follows chat-client's `session.rs`.

import { Code, ConnectError } from "@connectrpc/connect";
import { timestampDate } from "@bufbuild/protobuf/wkt";

import type {
  Event as WireEvent,
  Member as WireMember,
  Message as WireMessage,
  Room as WireRoom,
} from "./gen/chat/v1/chat_pb";
import type { Servers } from "./servers";
import { ChatState } from "./state";
import type {
  ChatMessage,
  HistoryRequest,
  Member,
  RoomAction,
  RoomDetails,
} from "./state";

/** The first wait before reconnecting, and the longest. */
export const FIRST_WAIT_MS = 200;
export const LONGEST_WAIT_MS = 5000;
/** The wait before a send the server could not take is tried again. */
const SEND_RETRY_MS = 500;
/** The room every client joins at login. */
export const FIRST_ROOM = "general";
const HISTORY_PAGE = 50;
/** How long a guest moving to another node keeps asking for its name
 * while it is held: the node it left holds it until its lease ends. */
const NAME_HELD_MS = 15_000;

/** Where the session is kept between page loads. */
export interface SessionStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

interface Session {
  name: string;
  token: string;
  registered: boolean;
}

const SESSION_KEY = "chat.session";

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
    const saved = this.store.getItem(SESSION_KEY);
    if (!saved) return false;
    try {
      const session = JSON.parse(saved) as Session;
      if (!session.token || !session.name) throw new Error("incomplete");
      this.start(session);
      return true;
    } catch {
      this.store.removeItem(SESSION_KEY);
      return false;
    }
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
  send(room: string, text: string) {
    this.state.outbox.push({ room, text, clientId: newClientId() });
    this.changed();
    void this.flushOutbox();
  }

  /** Forgets a send the server refused. */
  dismiss(clientId: string) {
    this.state.outbox = this.state.outbox.filter(
      (s) => s.clientId !== clientId,
    );
    this.changed();
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
    this.state.forget(room);
    this.changed();
  }

  async openDirect(name: string) {
    const reply = await this.call((headers) =>
      this.rpc.openDirect({ name }, { headers }),
    );
    this.entered(reply.room);
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
    this.state.switchTo(room);
    this.changed();
  }

  cycle(step: number) {
    this.state.cycle(step);
    this.changed();
  }

  setVisible(visible: boolean) {
    this.state.setVisible(visible);
    this.changed();
  }

  /** Loads older history of the room in view, if there may be some. */
  loadOlder() {
    const request = this.state.requestOlder();
    if (request) void this.loadHistory(request);
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
    this.store.setItem(SESSION_KEY, JSON.stringify(session));
    this.state.reset(session.name, session.registered);
    this.cursors.clear();
    void this.follow(this.generation);
    this.changed();
  }

  /** Ends the session here; `why`, if given, is shown at the login. */
  private stop(why: string | null) {
    this.generation += 1;
    this.stream?.abort();
    this.stream = null;
    this.wakeUp?.();
    this.session = null;
    this.loggedOut = why;
    this.store.removeItem(SESSION_KEY);
    this.state.reset();
    this.changed();
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
        this.apply(event);
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
      this.store.setItem(SESSION_KEY, JSON.stringify(this.session));
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

  private apply(wire: WireEvent) {
    const state = this.state;
    const event = wire.event;
    switch (event.case) {
      case "message": {
        const message = toMessage(event.value);
        const cursor = this.cursors.get(message.room) ?? 0;
        if (message.seq <= cursor) return;
        this.cursors.set(message.room, message.seq);
        state.addMessage(message);
        this.sent(message.clientId);
        break;
      }
      case "roomJoined": {
        const { room, members, lastSeq } = event.value;
        const last = Number(lastSeq);
        const cursor = this.cursors.get(room);
        // Absent, the room starts live; past the server's newest, the
        // server restarted without its history.
        if (cursor === undefined || cursor > last) this.cursors.set(room, last);
        const details = toDetails(event.value.details, room);
        const request = state.roomJoined(details, members.map(toMember), last);
        if (request) void this.loadHistory(request);
        break;
      }
      case "roomLeft":
        this.cursors.delete(event.value.room);
        state.roomLeft(event.value.room, event.value.reason);
        break;
      case "roomChanged": {
        const action = event.value.action?.action;
        if (action && action.case) {
          state.roomChanged(
            event.value.room,
            event.value.actor,
            action as RoomAction,
          );
        }
        break;
      }
      case "invited":
        state.invited(event.value.room, event.value.by);
        break;
      case "memberJoined":
        state.memberJoined(
          event.value.room,
          event.value.name,
          event.value.online,
        );
        break;
      case "memberLeft":
        state.memberLeft(event.value.room, event.value.name);
        break;
      case "presence":
        state.presence(event.value.name, event.value.online);
        break;
      case "fellBehind": {
        const { room, firstMissedSeq, resumedAtSeq } = event.value;
        this.cursors.set(room, Number(resumedAtSeq) - 1);
        state.fellBehind(room, Number(firstMissedSeq), Number(resumedAtSeq));
        break;
      }
      default:
        return;
    }
    this.changed();
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
            },
            { headers: authorization(session.token) },
          );
          if (session !== this.session) return;
          if (reply.message) this.state.addMessage(toMessage(reply.message));
          this.sent(next.clientId);
        } catch (error) {
          const failure = ConnectError.from(error);
          if (isTransient(failure) || failure.code === Code.ResourceExhausted) {
            await sleep(SEND_RETRY_MS);
          } else {
            next.error = failure.rawMessage;
          }
        }
        this.changed();
      }
    } finally {
      this.sending = false;
    }
  }

  /** The send with `clientId` reached the server. */
  private sent(clientId: string) {
    if (!clientId) return;
    this.state.outbox = this.state.outbox.filter(
      (s) => s.clientId !== clientId,
    );
  }

  private async loadHistory(request: HistoryRequest) {
    try {
      const reply = await this.call((headers) =>
        this.rpc.getHistory(
          {
            room: request.room,
            position: { case: "beforeSeq", value: BigInt(request.before) },
            limit: HISTORY_PAGE,
          },
          { headers },
        ),
      );
      this.state.historyLoaded(request.room, {
        messages: reply.messages.map(toMessage),
        hasMore: reply.hasMore,
      });
    } catch {
      this.state.historyLoaded(request.room, null);
    }
    this.changed();
  }

  /** The user is in `room` now, before its RoomJoined arrives. */
  private entered(room: WireRoom | undefined) {
    if (!room) return;
    if (!this.state.rooms.has(room.name)) {
      this.state.roomJoined(toDetails(room, room.name), [], 0);
      this.state.rooms.get(room.name)!.hasOlder = room.lastSeq > 0n;
    }
    this.state.switchTo(room.name);
    this.changed();
  }

  /** A call with the session's token; its failure as an Error saying why. */
  private async call<T>(attempt: (headers: Headers) => Promise<T>): Promise<T> {
    const session = this.session;
    if (!session) throw new Error("not logged in");
    return friendly(attempt(authorization(session.token)));
  }

  private setConnection(connection: ChatState["connection"]) {
    this.state.connection = connection;
    this.changed();
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

function authorization(token: string): Headers {
  return new Headers({ authorization: `Bearer ${token}` });
}

const UNREACHED = "cannot reach the server";

/** Failures that a retry may get past. */
function isTransient(failure: ConnectError): boolean {
  return [
    Code.Unavailable,
    Code.Unknown,
    Code.Canceled,
    Code.DeadlineExceeded,
    Code.Internal,
    Code.Unauthenticated,
  ].includes(failure.code);
}

/** Why a call failed, in words: the server's, or that it is out of reach
 * (the browser's fetch failed, or the server said it is unavailable
 * without saying why). */
function reason(failure: ConnectError): string {
  const unreached =
    failure.cause instanceof TypeError ||
    (failure.code === Code.Unavailable && !failure.rawMessage);
  if (unreached) return UNREACHED;
  return failure.rawMessage || Code[failure.code];
}

/** `call`, failing with an Error that says why. */
async function friendly<T>(call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (error) {
    throw new Error(reason(ConnectError.from(error)));
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function newClientId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function toMessage(message: WireMessage): ChatMessage {
  return {
    room: message.room,
    seq: Number(message.seq),
    sender: message.sender,
    text: message.text,
    sentAt: message.sentAt ? timestampDate(message.sentAt) : new Date(0),
    origin: message.origin,
    clientId: message.clientMessageId,
  };
}

function toMember(member: WireMember): Member {
  return {
    name: member.name,
    online: member.online,
    role: member.role,
    muted: member.muted,
  };
}

function toDetails(room: WireRoom | undefined, name: string): RoomDetails {
  return {
    name,
    private: room?.private ?? false,
    direct: room?.direct ?? false,
    topic: room?.topic ?? "",
    owner: room?.owner ?? "",
    peer: room?.peer ?? "",
  };
}
