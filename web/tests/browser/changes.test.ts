// Messages that change, in the browser: Up edits one's last message,
// reactions from the picker and the chips, :shortcode: completion, and
// deletions (one's own, and a moderator's with its name on the
// tombstone).

import { expect, test } from "vitest";

import {
  enterRoom,
  expectShownOnce,
  logIn,
  openPage,
  say,
  screenshot,
  sharedChatdAndBrowser,
} from "./harness";

const shared = sharedChatdAndBrowser();

test("a message is edited, reacted to and deleted, and everyone sees it", async () => {
  const { server, browser } = shared;
  const ann = await openPage(browser, server, {
    viewport: { width: 1280, height: 720 },
  });
  const bob = await openPage(browser, server);
  await logIn(ann.page, "ann");
  await logIn(bob.page, "bob");

  // Up in the empty composer edits one's last message.
  await say(ann.page, "helo wrld");
  await expectShownOnce(bob.page, "helo wrld");
  // Up edits a message the server has taken, not one still on its way.
  await expectShownOnce(ann.page, "helo wrld");
  await ann.page.press("textarea[name=message]", "ArrowUp");
  // The composer takes the text after the next paint.
  await expect
    .poll(() => ann.page.inputValue("textarea[name=message]"))
    .toBe("helo wrld");
  expect(await ann.page.locator(".composer .replying").innerText()).toContain(
    "Editing your message",
  );
  await say(ann.page, "hello world :tada:");
  await expectShownOnce(bob.page, "hello world 🎉");
  const edited = bob.page.locator(".message", { hasText: "hello world" });
  expect(await edited.locator(".edited").getAttribute("title")).toMatch(
    /^edited /,
  );

  // A reaction from the picker's search; the chips add and take back.
  await edited.hover();
  await edited.getByRole("button", { name: "React to ann" }).click();
  await bob.page.fill("input[aria-label='Search emoji']", "rocket");
  await bob.page.locator(".picker .results button").first().waitFor();
  await screenshot(bob.page, "picker");
  await bob.page.press("input[aria-label='Search emoji']", "Enter");
  const chip = ann.page.locator(".message .reaction", { hasText: "🚀" });
  await expect.poll(() => chip.innerText()).toBe("🚀 1");
  expect(await chip.getAttribute("aria-pressed")).toBe("false");
  expect(await chip.getAttribute("title")).toBe("bob");
  await chip.click();
  await expect.poll(() => chip.innerText()).toBe("🚀 2");
  expect(await chip.getAttribute("aria-pressed")).toBe("true");
  await screenshot(ann.page, "reactions-1280");
  await chip.click();
  await expect.poll(() => chip.innerText()).toBe("🚀 1");

  // :shortcode: completion in the composer.
  await bob.page.fill("textarea[name=message]", "great :tad");
  await bob.page.locator(".composer .shortcodes").getByText(":tada:").waitFor();
  await bob.page.press("textarea[name=message]", "Tab");
  await expect
    .poll(() => bob.page.inputValue("textarea[name=message]"))
    .toBe("great 🎉 ");
  await bob.page.press("textarea[name=message]", "Enter");
  await expectShownOnce(ann.page, "great 🎉");

  // Typing shows on the other's page, and ends when the message is sent.
  await bob.page.fill("textarea[name=message]", "");
  await bob.page.type("textarea[name=message]", "@ANN have");
  const typing = ann.page.locator(".typing");
  await expect.poll(() => typing.innerText()).toBe("bob is typing…");

  // A message that mentions ann stands out on her page, not on bob's.
  await say(bob.page, "@ANN have a look");
  await expect.poll(() => typing.innerText()).toBe("");
  const mention = ann.page.locator(".message", { hasText: "have a look" });
  await mention.waitFor();
  expect(await mention.getAttribute("class")).toContain("mentioned");
  const sent = bob.page.locator(".message", { hasText: "have a look" });
  await sent.waitFor();
  expect(await sent.getAttribute("class")).not.toContain("mentioned");
  await screenshot(ann.page, "mention-1280");

  // Deleting one's own message, after saying yes.
  const own = ann.page.locator(".message", { hasText: "hello world" });
  await own.hover();
  await own.getByRole("button", { name: "Delete your message" }).click();
  await own.getByRole("button", { name: "Delete", exact: true }).click();
  const tombstone = bob.page.locator(".message.deleted");
  await expect
    .poll(() => tombstone.locator(".text").innerText())
    .toBe("message deleted");
  expect(await tombstone.locator(".reaction").count()).toBe(0);
  expect(await tombstone.locator("button.act").count()).toBe(0);

  // On a phone, the actions are there without hovering.
  await bob.page.setViewportSize({ width: 360, height: 720 });
  await screenshot(bob.page, "changes-360");
  await ann.context.close();
  await bob.context.close();
});

test("a moderator deletes someone's message, and the tombstone says who", async () => {
  const { server, browser } = shared;
  const owner = await openPage(browser, server);
  const guest = await openPage(browser, server);
  await logIn(owner.page, "olga", "olga's password", true);
  await logIn(guest.page, "gus");
  // The room exists before the guest asks for it.
  await enterRoom(owner.page, "dev", "create");
  await enterRoom(guest.page, "dev", "join");
  await expect
    .poll(() => owner.page.locator(".members .member-name").allInnerTexts())
    .toEqual(expect.arrayContaining(["gus"]));
  await say(guest.page, "spam spam spam");
  const spam = owner.page.locator(".message", { hasText: "spam spam" });
  await spam.waitFor();
  // A member may not delete someone else's: the owner may.
  const theirs = guest.page.locator(".message:not(.pending)", {
    hasText: "spam spam",
  });
  await theirs.waitFor();
  expect(await theirs.getByRole("button", { name: /^Delete/ }).count()).toBe(1);
  await spam.hover();
  await spam.getByRole("button", { name: "Delete gus's message" }).click();
  await spam.getByRole("button", { name: "Delete", exact: true }).click();
  const tombstone = guest.page.locator(".message.deleted .text");
  await expect
    .poll(() => tombstone.innerText())
    .toBe("message deleted by olga");
  await owner.context.close();
  await guest.context.close();
});
