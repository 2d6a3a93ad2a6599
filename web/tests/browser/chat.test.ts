// Two browsers chat with each other, with `chat --plain` and with a
// classic-protocol client, all through one chatd.

import { expect, test } from "vitest";

import {
  enterRoom,
  PATIENCE,
  PlainChat,
  classicClient,
  expectShownOnce,
  logIn,
  openPage,
  say,
  screenshot,
  sharedChatdAndBrowser,
} from "./harness";

const shared = sharedChatdAndBrowser();

test("two browsers, chat --plain and a classic client talk in one room", async () => {
  const { server, browser } = shared;
  const ann = await openPage(browser, server);
  const minji = await openPage(browser, server);
  await logIn(ann.page, "ann", "ann's password", true);
  await logIn(minji.page, "민지");

  // Both start in `general` and see each other there.
  await expect
    .poll(() => ann.page.locator(".members .member-name").allInnerTexts())
    .toEqual(expect.arrayContaining(["ann", "민지"]));

  await say(ann.page, "안녕 👋 see https://example.com/a?b=1.");
  await expectShownOnce(minji.page, "안녕 👋 see https://example.com/a?b=1.");
  const link = minji.page.locator(".message a").first();
  expect(await link.getAttribute("href")).toBe("https://example.com/a?b=1");
  expect(await link.getAttribute("rel")).toContain("noopener");
  expect(await link.getAttribute("target")).toBe("_blank");

  // Replying: a message's Reply button; the answer quotes it, and the
  // quote jumps to it.
  const linked = minji.page.locator(".message", { hasText: "see https" });
  await linked.hover();
  await linked.getByRole("button", { name: "Reply to ann" }).click();
  expect(await minji.page.locator(".composer .replying").innerText()).toContain(
    "ann: 안녕 👋",
  );
  await say(minji.page, "looks good");
  await expectShownOnce(ann.page, "looks good");
  const reply = ann.page.locator(".message", { hasText: "looks good" });
  expect(await reply.locator(".quote").innerText()).toBe(
    "↪ ann: 안녕 👋 see https://example.com/a?b=1.",
  );
  expect(await minji.page.locator(".composer .replying").count()).toBe(0);
  await screenshot(ann.page, "reply");

  // Markdown shows as such; a script link is no link.
  await say(
    ann.page,
    "**ship it** with `cargo test`\n[bad](javascript:alert(1))",
  );
  const marked = minji.page.locator(".message", { hasText: "ship it" });
  await marked.waitFor();
  expect(await marked.locator("strong").innerText()).toBe("ship it");
  expect(await marked.locator("code").innerText()).toBe("cargo test");
  expect(await marked.locator("a").count()).toBe(0);

  // Text is text, never markup.
  const hostile = `<img src=x onerror="document.title='pwned'"><b>bold</b>`;
  await say(minji.page, hostile);
  await expectShownOnce(ann.page, hostile);
  expect(await ann.page.locator(".log img, .log b").count()).toBe(0);

  // The terminal client.
  const plain = new PlainChat(server, "bob");
  await plain.waitFor("general");
  await expect
    .poll(() => ann.page.locator(".members .member-name").allInnerTexts())
    .toContain("bob");
  plain.say("hello from the terminal");
  await expectShownOnce(ann.page, "hello from the terminal");
  await expectShownOnce(minji.page, "hello from the terminal");
  await say(ann.page, "hi bob, from the browser");
  await plain.waitFor("hi bob, from the browser");

  // A classic client: its notes arrive marked, and it hears the browsers.
  const classic = classicClient(server);
  const notes = classic.chatStream({}, { timeoutMs: PATIENCE });
  await classic.sendNote({ name: "지민", message: "a classic note" });
  await expectShownOnce(minji.page, "a classic note");
  const sender = minji.page
    .locator(".message", { hasText: "a classic note" })
    .locator(".sender");
  expect(await sender.innerText()).toBe("지민 (classic)");
  await say(minji.page, "classic, can you hear me?");
  let heard = false;
  for await (const note of notes) {
    if (note.message === "classic, can you hear me?") {
      expect(note.name).toBe("민지");
      heard = true;
      break;
    }
  }
  expect(heard).toBe(true);

  // Unread counts: a message in a room not in view is counted, in the
  // list and in the page title.
  await enterRoom(ann.page, "second", "create");
  await enterRoom(minji.page, "second", "join");
  await say(minji.page, "over here");
  await expectShownOnce(ann.page, "over here");
  await ann.page.click(".room >> text=general");
  await say(minji.page, "in second again");
  await expect.poll(() => ann.page.title()).toBe("(1) chat");
  expect(
    await ann.page.locator(".room:has-text('second') .unread").innerText(),
  ).toBe("1");

  await screenshot(ann.page, "chat-ann");
  await screenshot(minji.page, "chat-minji");
  expect(await ann.page.title()).not.toContain("pwned");
  plain.close();
  await ann.context.close();
  await minji.context.close();
});
