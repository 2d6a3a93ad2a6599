import { expect, test } from "vitest";

import { dayLabel, linkify } from "../../src/text";
import { memberChoices } from "../../src/ui/Members";
import { Role } from "../../src/state";

test("web links become links, without the sentence's punctuation", () => {
  expect(linkify("see https://example.com/a?b=1. ok")).toEqual([
    { text: "see " },
    { text: "https://example.com/a?b=1", href: "https://example.com/a?b=1" },
    { text: ". ok" },
  ]);
  expect(linkify("(http://x.org/path)")).toEqual([
    { text: "(" },
    { text: "http://x.org/path", href: "http://x.org/path" },
    { text: ")" },
  ]);
});

test("other schemes stay text", () => {
  for (const text of [
    "javascript:alert(1)",
    "data:text/html,<b>x</b>",
    "ftp://x.org",
  ]) {
    expect(linkify(text)).toEqual([{ text }]);
  }
});

test("days are named relative to today", () => {
  const now = new Date(2026, 10, 29, 9, 0);
  expect(dayLabel(new Date(2026, 10, 29, 0, 1), now)).toBe("Today");
  expect(dayLabel(new Date(2026, 10, 28, 23, 59), now)).toBe("Yesterday");
  expect(dayLabel(new Date(2026, 10, 20, 12, 0), now)).toContain("2026");
});

test("the member menu offers what the role allows", () => {
  const bob = {
    name: "bob",
    online: true,
    role: Role.MEMBER,
    muted: false,
    guest: false,
  };
  const labels = (role: Role, registered = true) =>
    memberChoices(role, bob, registered).map(([label]) => label);
  expect(labels(Role.MEMBER)).toEqual(["Message"]);
  expect(labels(Role.MEMBER, false)).toEqual([]);
  expect(labels(Role.MODERATOR)).toEqual(["Message", "Kick", "Ban", "Mute"]);
  expect(labels(Role.OWNER)).toEqual([
    "Message",
    "Kick",
    "Ban",
    "Mute",
    "Make moderator",
    "Make owner",
  ]);
  const moderator = { ...bob, role: Role.MODERATOR };
  expect(
    memberChoices(Role.MODERATOR, moderator, true).map(([l]) => l),
  ).toEqual(["Message"]);
  // A guest can be put out or muted, not messaged, promoted or given the
  // room: those would all fail.
  const guest = { ...bob, guest: true };
  expect(memberChoices(Role.OWNER, guest, true).map(([l]) => l)).toEqual([
    "Kick",
    "Ban",
    "Mute",
  ]);
});
