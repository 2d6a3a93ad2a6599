// Attention in the browser: unread and mention badges from the server's
// counts, the page's title and icon, the "new messages" line, a read
// marker that moves on every tab of an account, and notifications while
// the page is hidden, by the room's level.

import { expect, test } from "vitest";
import type { Page } from "playwright-core";

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

/** The badges of room `room` in the list: mentions and unread ("" if none). */
async function badges(page: Page, room: string): Promise<[string, string]> {
  const item = page.locator(".sidebar .room", { hasText: room });
  const text = async (selector: string) =>
    (await item.locator(selector).count()) === 0
      ? ""
      : await item.locator(selector).innerText();
  return [await text(".mention-count"), await text(".unread")];
}

test("badges, the title and icon, a line at the marker, and the marker on every tab", async () => {
  const { server, browser } = shared;
  const ann = await openPage(browser, server, {
    viewport: { width: 1280, height: 720 },
  });
  const bob = await openPage(browser, server);
  await logIn(ann.page, "ann", "ann's password", true);
  await logIn(bob.page, "bob");
  await enterRoom(ann.page, "dev", "create");
  await enterRoom(bob.page, "dev", "join");
  // Sending reads the room up to there.
  await say(ann.page, "before");
  await expectShownOnce(bob.page, "before");
  await ann.page.locator(".sidebar .room", { hasText: "general" }).click();

  await say(bob.page, "one");
  await say(bob.page, "@ann two");
  await say(bob.page, "three");
  await expect.poll(() => badges(ann.page, "dev")).toEqual(["@1", "3"]);
  expect(await ann.page.title()).toBe("(3, @1) chat");
  const icon = ann.page.locator("link[rel=icon]");
  expect(decodeURIComponent((await icon.getAttribute("href"))!)).toContain(
    "#d93025",
  );
  await screenshot(ann.page, "attention-badges-1280");

  // A second tab counts from the server's marker.
  const tab = await openPage(browser, server);
  await logIn(tab.page, "ann", "ann's password");
  await expect.poll(() => badges(tab.page, "dev")).toEqual(["@1", "3"]);

  // Opening the room: the line before what was not read, and the marker
  // moves, on the other tab too.
  await ann.page.locator(".sidebar .room", { hasText: "dev" }).click();
  const line = ann.page.locator(".log .new-messages");
  await line.waitFor();
  const after = ann.page.locator(".log .new-messages + .message .text");
  expect(await after.innerText()).toBe("one");
  await expect.poll(() => ann.page.title()).toBe("chat");
  await screenshot(ann.page, "attention-divider-1280");
  await expect.poll(() => badges(tab.page, "dev")).toEqual(["", ""]);
  expect(await tab.page.title()).toBe("chat");
  await ann.page.setViewportSize({ width: 360, height: 720 });
  await screenshot(ann.page, "attention-divider-360");

  // It was kept: a reload shows nothing unread.
  await tab.page.reload();
  await tab.page.locator(".sidebar .room", { hasText: "dev" }).waitFor();
  await tab.page.locator(".connection.online").waitFor();
  expect(await badges(tab.page, "dev")).toEqual(["", ""]);

  // A level set in one tab is the level in the other at once.
  const notify = ".room-header select[name=notify]";
  await ann.page.locator(notify).selectOption({ label: "nothing" });
  await tab.page.locator(".sidebar .room", { hasText: "dev" }).click();
  await expect.poll(() => tab.page.locator(notify).inputValue()).toBe("3");
  for (const open of [ann, bob, tab]) await open.context.close();
});

/** Records each notification the page makes (and still makes it). */
function recordNotifications(): void {
  const notified: { title: string; body: string }[] = [];
  (window as unknown as { notified: typeof notified }).notified = notified;
  window.Notification = new Proxy(window.Notification, {
    construct(real, args: [string, NotificationOptions?]) {
      notified.push({ title: args[0], body: args[1]?.body ?? "" });
      return new real(...args);
    },
  });
}

function notified(page: Page): Promise<{ title: string; body: string }[]> {
  return page.evaluate(
    () => (window as unknown as { notified: [] }).notified,
  ) as Promise<{ title: string; body: string }[]>;
}

test("notifications while the page is hidden, by the room's level, and only once allowed", async () => {
  const { server, browser } = shared;
  const cleo = await openPage(browser, server);
  const dan = await openPage(browser, server);
  await cleo.context.addInitScript(recordNotifications);
  await cleo.page.reload();
  await logIn(cleo.page, "cleo");
  await logIn(dan.page, "dan");
  // Nothing is asked on load: the user turns them on.
  const offer = cleo.page.getByRole("button", {
    name: "Turn on notifications",
  });
  await offer.waitFor();
  expect(await cleo.page.evaluate(() => Notification.permission)).toBe(
    "default",
  );
  await cleo.context.grantPermissions(["notifications"]);
  // Any redraw once the permission is granted takes the offer away, so it
  // is clicked in the page, in one step, if it is still there (a click
  // from outside could find it gone on the way).
  await cleo.page.evaluate(() =>
    document.querySelector<HTMLButtonElement>(".notifications-offer")?.click(),
  );
  await expect.poll(() => offer.count()).toBe(0);

  // The page goes out of sight.
  await cleo.page.evaluate(() => {
    Object.defineProperty(document, "visibilityState", { value: "hidden" });
    Object.defineProperty(document, "hidden", { value: true });
    document.dispatchEvent(new Event("visibilitychange"));
  });
  const select = cleo.page.locator(".room-header select[name=notify]");
  // A small room tells of every message.
  expect(await select.inputValue()).toBe("1");
  await say(dan.page, "anyone?");
  await expect
    .poll(() => notified(cleo.page))
    .toEqual([{ title: "dan in general", body: "anyone?" }]);

  await select.selectOption({ label: "mentions" });
  await expect.poll(() => select.inputValue()).toBe("2");
  await say(dan.page, "just chatting");
  await say(dan.page, "@cleo look at this");
  await expect.poll(async () => (await notified(cleo.page)).length).toBe(2);
  expect((await notified(cleo.page))[1].body).toBe("@cleo look at this");

  await select.selectOption({ label: "nothing" });
  await expect.poll(() => select.inputValue()).toBe("3");
  await say(dan.page, "@cleo hello?");
  await expectShownOnce(cleo.page, "@cleo hello?");
  await say(dan.page, "last one");
  await expectShownOnce(cleo.page, "last one");
  expect((await notified(cleo.page)).length).toBe(2);
  await cleo.context.close();
  await dan.context.close();
});
