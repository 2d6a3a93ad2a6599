import { expect, test } from "vitest";

import { dayLabel, excerpt, markdown } from "../../src/text";
import { memberChoices } from "../../src/ui/Members";
import { Role } from "../../src/state";

test("a safe subset of markdown: emphasis, code, quotes, lists, links", () => {
  expect(markdown("**bold**, *it*, ~~gone~~ and `x < y`")).toBe(
    "<p><strong>bold</strong>, <em>it</em>, <s>gone</s> and <code>x &lt; y</code></p>",
  );
  expect(markdown("> said\n\n- a\n- b")).toBe(
    "<blockquote>\n<p>said</p>\n</blockquote>\n<ul>\n<li>a</li>\n<li>b</li>\n</ul>",
  );
  expect(markdown("```\nfn main() {}\n```")).toBe(
    "<pre><code>fn main() {}\n</code></pre>",
  );
  expect(markdown("two\nlines")).toBe("<p>two<br>\nlines</p>");
});

test("web links become links, without the sentence's punctuation", () => {
  expect(markdown("see https://example.com/a?b=1. ok")).toBe(
    '<p>see <a href="https://example.com/a?b=1" target="_blank" rel="noopener noreferrer">https://example.com/a?b=1</a>. ok</p>',
  );
  expect(markdown("[docs](https://x.org/d)")).toContain(
    'href="https://x.org/d"',
  );
});

test("nothing in a message becomes markup the page runs or loads", () => {
  for (const text of [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "[x](javascript:alert(1))",
    "[x](data:text/html,<b>x</b>)",
    "<javascript:alert(1)>",
    "![pixel](https://tracker.example/p.png)",
    "<a href=https://x.org>x</a>",
  ]) {
    const html = markdown(text);
    const tags = [...html.matchAll(/<\/?([a-z0-9]+)/g)].map((m) => m[1]);
    for (const tag of tags) {
      expect(["p", "a", "br"], `${text}: ${html}`).toContain(tag);
    }
    for (const [, href] of html.matchAll(/href="([^"]*)"/g)) {
      expect(href, text).toMatch(/^https:\/\//);
    }
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

test("a search hit's excerpt marks the words found, case aside, around the first", () => {
  const shown = (text: string, terms: string[]) =>
    excerpt(text, terms)
      .map((part) => (part.mark ? `[${part.text}]` : part.text))
      .join("");
  expect(shown("The address is 12 Main St", ["ADDRESS", "main"])).toBe(
    "The [address] is 12 [Main] St",
  );
  expect(shown("안녕하세요 여러분, 안녕!", ["안녕"])).toBe(
    "[안녕]하세요 여러분, [안녕]!",
  );
  // Regular expression characters are text; markup stays text.
  expect(shown("costs $5 (or <b>6</b>)", ["(or", "<b>"])).toBe(
    "costs $5 [(or] [<b>]6</b>)",
  );
  // A long text is cut around the first word found.
  const long = `${"x".repeat(300)} needle ${"y".repeat(300)}`;
  const cut = shown(long, ["needle"]);
  expect(cut.startsWith("…")).toBe(true);
  expect(cut.endsWith("…")).toBe(true);
  expect(cut).toContain("[needle]");
  expect(cut.length).toBeLessThan(210);
});
