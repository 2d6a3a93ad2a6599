import { describe, expect, test } from "vitest";

import {
  ChatState,
  MOST_ENTRIES,
  NotifyLevel,
  Origin,
  Role,
  describe as describeAction,
} from "../../src/state";
import type { ChatMessage, Member, RoomDetails } from "../../src/state";

function message(
  room: string,
  seq: number,
  sender = "bob",
  text = `#${seq}`,
): ChatMessage {
  return {
    room,
    seq,
    sender,
    text,
    sentAt: new Date(2026, 10, 29, 12, seq),
    origin: Origin.NATIVE,
    clientId: "",
    replyTo: 0,
    editedAt: null,
    deleted: false,
    deletedBy: "",
    reactions: [],
    mentions: [],
    mentionsRoom: false,
    files: [],
  };
}

function details(name: string, more: Partial<RoomDetails> = {}): RoomDetails {
  return {
    name,
    private: false,
    direct: false,
    topic: "",
    owner: "",
    peer: "",
    notify: NotifyLevel.UNSPECIFIED,
    ...more,
  };
}

function member(name: string, role = Role.MEMBER, online = true): Member {
  return { name, online, role, muted: false, guest: false };
}

/** What the room's log shows, in order: message seqs, notice texts, and
 * gaps as `…after-before`. */
function shown(state: ChatState, room: string): (number | string)[] {
  return state.rooms
    .get(room)!
    .entries.map((entry) =>
      entry.kind === "message"
        ? entry.message.seq
        : entry.kind === "gap"
          ? `…${entry.after}-${entry.before}`
          : entry.text,
    );
}

describe("ChatState", () => {
  test("a room joined with history asks for its newest page, once", () => {
    const state = new ChatState("ann");
    expect(state.roomJoined(details("general"), [member("ann")], 120)).toEqual({
      room: "general",
      before: 121,
    });
    expect(state.current).toBe("general");
    // Joined again (a reconnect) while the page is on its way: no second ask.
    expect(
      state.roomJoined(details("general"), [member("ann")], 120),
    ).toBeNull();
  });

  test("messages are shown once each, in sequence order, whatever order they come in", () => {
    const state = new ChatState("ann");
    state.roomJoined(details("general"), [], 0);
    for (const seq of [3, 1, 2, 3, 5, 4, 1])
      state.addMessage(message("general", seq));
    expect(shown(state, "general")).toEqual([1, 2, 3, 4, 5]);
  });

  test("history pages go before what is shown, and notices stay where they were given", () => {
    const state = new ChatState("ann");
    state.roomJoined(details("general"), [], 10);
    state.memberJoined("general", "bob", true);
    state.addMessage(message("general", 11));
    state.historyLoaded(
      { room: "general", before: 11 },
      {
        messages: [message("general", 9), message("general", 10)],
        hasMore: true,
      },
    );
    expect(shown(state, "general")).toEqual([9, 10, "→ bob joined", 11]);
    expect(state.requestOlder()).toEqual({ room: "general", before: 9 });
    // One page at a time.
    expect(state.requestOlder()).toBeNull();
    state.historyLoaded(
      { room: "general", before: 9 },
      {
        messages: [message("general", 8)],
        hasMore: false,
      },
    );
    expect(state.requestOlder()).toBeNull();
    expect(shown(state, "general")).toEqual([8, 9, 10, "→ bob joined", 11]);
  });

  test("a jump to a message far back loads around it, and the messages between load after", () => {
    const state = new ChatState("ann");
    state.roomJoined(details("general"), [], 0);
    state.roomJoined(details("dev"), [], 500);
    const pages = (from: number, to: number) =>
      Array.from({ length: to - from + 1 }, (_, i) => message("dev", from + i));
    state.historyLoaded(
      { room: "dev", before: 501 },
      { messages: pages(451, 500), hasMore: true },
    );
    // Loaded already: shown, nothing to load.
    expect(state.jumpTo("dev", 460)).toBeNull();
    expect(state.current).toBe("dev");
    expect(state.rooms.get("dev")!.focus?.seq).toBe(460);
    // Far back: a page ending some messages after it, then a gap.
    const around = state.jumpTo("dev", 100)!;
    expect(around).toEqual({ room: "dev", before: 125, jump: true });
    state.historyLoaded(around, { messages: pages(75, 124), hasMore: true });
    const log = shown(state, "dev");
    expect(log.slice(49, 52)).toEqual([124, "…124-451", 451]);
    expect(state.rooms.get("dev")!.focus?.seq).toBe(100);
    // Scrolling up still loads older pages, before the jump's page.
    expect(state.requestOlder()).toEqual({ room: "dev", before: 75 });
    // The gap loads a page at a time from its start, and closes.
    expect(state.apply({ type: "gapWanted", room: "dev", after: 124 })).toEqual(
      { room: "dev", after: 124 },
    );
    state.historyLoaded(
      { room: "dev", after: 124 },
      { messages: pages(125, 174), hasMore: true },
    );
    expect(shown(state, "dev").slice(99, 102)).toEqual([174, "…174-451", 451]);
    state.historyLoaded(
      { room: "dev", after: 174 },
      { messages: pages(175, 224), hasMore: true },
    );
    state.historyLoaded(
      { room: "dev", after: 224 },
      { messages: pages(225, 274), hasMore: true },
    );
    state.historyLoaded(
      { room: "dev", after: 274 },
      { messages: pages(275, 450), hasMore: true },
    );
    expect(shown(state, "dev")).toEqual(
      Array.from({ length: 426 }, (_, i) => 75 + i),
    );
    // Left, it is trimmed from the oldest, and the jump is forgotten.
    state.switchTo("general");
    expect(state.rooms.get("dev")!.focus).toBeNull();
  });

  test("unread counts rooms not in view and a hidden page, not one's own messages", () => {
    const state = new ChatState("ann");
    state.roomJoined(details("general"), [], 0);
    state.roomJoined(details("dev"), [], 0);
    expect(state.current).toBe("general");
    state.addMessage(message("dev", 1));
    state.addMessage(message("dev", 2, "ann"));
    state.addMessage(message("general", 1));
    expect(state.rooms.get("dev")!.unread).toBe(1);
    expect(state.rooms.get("general")!.unread).toBe(0);
    state.setVisible(false);
    state.addMessage(message("general", 2));
    expect(state.pageTitle()).toBe("(2) chat");
    // Read once the marker moves.
    state.setVisible(true);
    expect(state.pageTitle()).toBe("(2) chat");
    state.dueMarkRead();
    expect(state.pageTitle()).toBe("(1) chat");
    state.switchTo("dev");
    state.dueMarkRead();
    expect(state.pageTitle()).toBe("chat");
  });

  test("a server that restarted without its history starts the log over", () => {
    const state = new ChatState("ann");
    state.roomJoined(details("general"), [], 0);
    state.addMessage(message("general", 1));
    state.addMessage(message("general", 2));
    state.roomJoined(details("general"), [], 0);
    expect(shown(state, "general")).toEqual([
      "! the server restarted without its history",
    ]);
    // Nothing older to load in a room that starts empty.
    expect(state.rooms.get("general")!.hasOlder).toBe(false);
    state.addMessage(message("general", 1, "bob", "new first"));
    expect(shown(state, "general")).toEqual([
      "! the server restarted without its history",
      1,
    ]);
  });

  test("room changes move roles, mutes and the topic, and say so", () => {
    const state = new ChatState("ann");
    state.roomJoined(
      details("dev", { owner: "ann" }),
      [member("ann", Role.OWNER), member("bob")],
      0,
    );
    state.roomChanged("dev", "ann", { case: "promote", value: "bob" });
    expect(state.rooms.get("dev")!.members.get("bob")!.role).toBe(
      Role.MODERATOR,
    );
    state.roomChanged("dev", "ann", {
      case: "transferOwnership",
      value: "bob",
    });
    expect(state.myRole("dev")).toBe(Role.MODERATOR);
    expect(state.rooms.get("dev")!.members.get("bob")!.role).toBe(Role.OWNER);
    expect(state.rooms.get("dev")!.details.owner).toBe("bob");
    state.roomChanged("dev", "bob", { case: "mute", value: "ann" });
    expect(state.rooms.get("dev")!.members.get("ann")!.muted).toBe(true);
    state.roomChanged("dev", "bob", { case: "setTopic", value: "ship it" });
    expect(state.rooms.get("dev")!.details.topic).toBe("ship it");
    expect(shown(state, "dev").at(-1)).toBe("* bob set the topic: ship it");
  });

  test("being removed from a room forgets it, says why, and shows another", () => {
    const state = new ChatState("ann");
    state.roomJoined(details("general"), [], 0);
    state.roomJoined(details("dev"), [], 0);
    state.switchTo("dev");
    state.outbox.push({ room: "dev", text: "hi", clientId: "1" });
    state.roomLeft("dev", "kicked by bob");
    expect(state.rooms.has("dev")).toBe(false);
    expect(state.current).toBe("general");
    expect(state.notice).toBe("you left dev: kicked by bob");
    expect(state.outbox).toEqual([]);
    // The bar goes when read, or when the user looks at another room.
    state.apply({ type: "noticeRead" });
    expect(state.notice).toBe(null);
    state.roomLeft("general", "kicked by bob");
    expect(state.notice).toBe("you left general: kicked by bob");
    state.roomJoined(details("ops"), [], 0);
    state.switchTo("ops");
    state.roomJoined(details("dev"), [], 0);
    state.switchTo("dev");
    expect(state.notice).toBe(null);
  });

  test("invitations are kept until the room is joined", () => {
    const state = new ChatState("ann");
    state.invited("ops", "bob");
    expect(state.notice).toBe("bob invited you to ops");
    expect([...state.invitations]).toEqual([["ops", "bob"]]);
    state.roomJoined(details("ops", { private: true }), [], 0);
    expect(state.invitations.size).toBe(0);
  });

  test("direct conversations are titled by the other account and listed last", () => {
    const state = new ChatState("ann");
    state.roomJoined(
      details("@dm-0123456789abcdef", { direct: true, peer: "zed" }),
      [],
      0,
    );
    state.roomJoined(details("zoo"), [], 0);
    state.roomJoined(details("abc"), [], 0);
    expect(state.ordered().map((room) => state.title(room))).toEqual([
      "abc",
      "zoo",
      "@zed",
    ]);
    state.switchTo("abc");
    state.cycle(-1);
    expect(state.title(state.current!)).toBe("@zed");
  });

  test("a room out of view keeps its newest entries only, and can load the rest again", () => {
    const state = new ChatState("ann");
    state.roomJoined(details("general"), [], 0);
    state.roomJoined(details("busy"), [], 0);
    for (let seq = 1; seq <= MOST_ENTRIES + 10; seq++)
      state.addMessage(message("busy", seq));
    expect(shown(state, "busy")[0]).toBe(11);
    expect(shown(state, "busy")).toHaveLength(MOST_ENTRIES);
    // In view, it keeps what is scrolled back to.
    state.switchTo("busy");
    expect(state.requestOlder()).toEqual({ room: "busy", before: 11 });
    state.historyLoaded(
      { room: "busy", before: 11 },
      {
        messages: Array.from({ length: 10 }, (_, i) => message("busy", i + 1)),
        hasMore: false,
      },
    );
    state.addMessage(message("busy", MOST_ENTRIES + 11));
    expect(shown(state, "busy")).toHaveLength(MOST_ENTRIES + 11);
    // Left, it is trimmed again.
    state.switchTo("general");
    expect(shown(state, "busy")).toHaveLength(MOST_ENTRIES);
    expect(state.rooms.get("busy")!.hasOlder).toBe(true);
  });

  test("presence follows a member across rooms", () => {
    const state = new ChatState("ann");
    state.roomJoined(details("a"), [member("bob", Role.MEMBER, false)], 0);
    state.roomJoined(details("b"), [member("bob", Role.MEMBER, false)], 0);
    state.presence("bob", true);
    expect(state.rooms.get("a")!.members.get("bob")!.online).toBe(true);
    expect(state.rooms.get("b")!.members.get("bob")!.online).toBe(true);
  });

  test("sends wait in the outbox until the server takes or refuses them", () => {
    const state = new ChatState("ann");
    state.apply({ type: "entered", details: details("r"), hasOlder: false });
    const queued = (clientId: string) =>
      state.apply({
        type: "queued",
        send: { room: "r", text: clientId, clientId },
      });
    queued("one");
    queued("two");
    queued("three");
    // Taken: its reply, or the stream, carries it.
    const taken = { ...message("r", 1, "ann"), clientId: "one" };
    state.apply({ type: "message", message: taken });
    state.apply({ type: "refused", clientId: "two", error: "too long" });
    expect(state.outbox.map((s) => [s.clientId, s.error])).toEqual([
      ["two", "too long"],
      ["three", undefined],
    ]);
    state.apply({ type: "dismissed", clientId: "two" });
    state.apply({ type: "sent", clientId: "three" });
    expect(state.outbox).toEqual([]);
    expect(shown(state, "r")).toEqual([1]);
  });

  test("a room entered by the user's own call is shown at once", () => {
    const state = new ChatState("ann");
    state.apply({ type: "entered", details: details("a"), hasOlder: true });
    state.apply({ type: "entered", details: details("b"), hasOlder: false });
    expect(state.current).toBe("b");
    expect(state.rooms.get("a")!.hasOlder).toBe(true);
    expect(state.apply({ type: "olderWanted" })).toBeNull();
    state.apply({ type: "switchTo", room: "a" });
    // Nothing shown yet, so nothing older to ask before.
    expect(state.apply({ type: "olderWanted" })).toBeNull();
    state.apply({ type: "left", room: "a" });
    expect(state.current).toBe("b");
  });

  test("actions are described as chat-client describes them", () => {
    expect(describeAction("ann", { case: "kick", value: "bob" })).toBe(
      "ann kicked bob",
    );
    expect(describeAction("ann", { case: "setTopic", value: "" })).toBe(
      "ann cleared the topic",
    );
    expect(describeAction("ann", { case: "demote", value: "bob" })).toBe(
      "ann took bob's moderator rights",
    );
  });
});

describe("messages that change", () => {
  test("an update replaces the message shown and the room's newest", () => {
    const state = new ChatState("ann");
    state.apply({
      type: "roomJoined",
      details: details("general"),
      members: [],
      lastSeq: 0,
    });
    state.apply({ type: "message", message: message("general", 1, "ann") });
    state.apply({ type: "message", message: message("general", 2, "bob") });
    expect(state.lastOwnMessage()?.seq).toBe(1);
    const edited = { ...message("general", 1, "ann", "fixed") };
    edited.editedAt = new Date();
    state.apply({ type: "messageUpdated", message: edited, seq: 3 });
    const log = state.rooms.get("general")!;
    expect(log.newest).toBe(3);
    const shown = log.entries.find(
      (e) => e.kind === "message" && e.message.seq === 1,
    );
    expect(shown?.kind === "message" && shown.message.text).toBe("fixed");
    // One not loaded is not added by its change.
    state.apply({
      type: "messageUpdated",
      message: message("general", 99, "bob"),
      seq: 4,
    });
    expect(log.entries.some((e) => e.key === "m99")).toBe(false);
    const gone = { ...message("general", 1, "ann", ""), deleted: true };
    state.apply({ type: "messageUpdated", message: gone, seq: 5 });
    expect(state.lastOwnMessage()).toBe(null);
  });
});

describe("attention", () => {
  function mention(room: string, seq: number): ChatMessage {
    return { ...message(room, seq, "bob", `@ann #${seq}`), mentions: ["ann"] };
  }

  test("the server's counts, a line at the marker, and the marker told once", () => {
    const state = new ChatState("ann");
    state.roomJoined(details("general"), [], 0);
    const read = { seq: 5, unread: 3, mentions: 1 };
    state.roomJoined(details("dev"), [], 8, read);
    expect(state.pageTitle()).toBe("(3, @1) chat");
    state.historyLoaded(
      { room: "dev", before: 9 },
      {
        messages: [4, 5, 6, 8].map((seq) => message("dev", seq)),
        hasMore: true,
      },
    );
    state.addMessage(mention("dev", 9));
    expect([state.rooms.get("dev")!.unread, state.totalMentions()]).toEqual([
      4, 2,
    ]);

    state.switchTo("dev");
    const dev = state.rooms.get("dev")!;
    expect([dev.divider, dev.unread, dev.mentions]).toEqual([5, 4, 2]);
    expect(state.dueMarkRead()).toEqual({ room: "dev", seq: 9 });
    expect([dev.divider, dev.unread, dev.mentions]).toEqual([5, 0, 0]);
    expect(state.dueMarkRead()).toBeNull();
    state.switchTo("general");
    expect(dev.divider).toBeNull();

    // Read elsewhere up to 10 of 12: 11 and 12 are left.
    state.addMessage(message("dev", 10));
    state.addMessage(mention("dev", 11));
    state.addMessage(message("dev", 12, "ann"));
    state.addMessage(message("dev", 13));
    state.readMarker("dev", 11);
    expect([dev.unread, dev.mentions]).toEqual([1, 0]);
    state.readMarker("dev", 10);
    expect(dev.readSeq).toBe(11);
    state.readMarker("dev", 13);
    expect(state.pageTitle()).toBe("chat");
  });

  test("a page not looked at leaves the marker where it is", () => {
    const state = new ChatState("ann");
    state.roomJoined(details("general"), [], 0);
    state.setVisible(false);
    state.addMessage(message("general", 1));
    expect(state.dueMarkRead()).toBeNull();
    state.setVisible(true);
    expect(state.rooms.get("general")!.divider).toBe(0);
    expect(state.dueMarkRead()).toEqual({ room: "general", seq: 1 });
  });

  test("what notifies follows the room's level", () => {
    const state = new ChatState("ann");
    state.roomJoined(details("all", { notify: NotifyLevel.ALL }), [], 0);
    state.roomJoined(details("some", { notify: NotifyLevel.MENTIONS }), [], 0);
    state.roomJoined(details("none", { notify: NotifyLevel.NONE }), [], 0);
    expect(state.notifies(message("all", 1))).toBe(true);
    expect(state.notifies(message("all", 2, "ann"))).toBe(false);
    expect(state.notifies(message("some", 1))).toBe(false);
    expect(state.notifies(mention("some", 2))).toBe(true);
    expect(state.notifies(mention("none", 1))).toBe(false);
    state.apply({ type: "notifySet", room: "none", level: NotifyLevel.ALL });
    expect(state.notifies(message("none", 2))).toBe(true);
  });
});
