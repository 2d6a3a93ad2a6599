// Accounts in the browser: register, log out and in again, a private
// room with an invitation, moderation, and a direct conversation.

import { expect, test } from "vitest";

import {
  expectShownOnce,
  logIn,
  openPage,
  PATIENCE,
  removeDir,
  say,
  screenshot,
  sharedChatdAndBrowser,
  startChatd,
} from "./harness";

const shared = sharedChatdAndBrowser();

test("register, log out, and log in again with the password", async () => {
  const { server, browser } = shared;
  const { page, context } = await openPage(browser, server);
  await logIn(page, "carol", "carol's password", true);
  expect(await page.locator(".me").innerText()).toBe("carol");

  // A reload keeps the session.
  await page.reload();
  await expect.poll(() => page.locator(".connection.online").count()).toBe(1);
  expect(await page.locator(".me").innerText()).toBe("carol");

  await page.click("text=Log out");
  await page.waitForSelector("input[name=name]");
  // A wrong password is refused with the server's words.
  await page.fill("input[name=name]", "carol");
  await page.fill("input[name=password]", "not it at all");
  await page.click("button[type=submit]");
  await expect
    .poll(() => page.locator(".login .error").innerText())
    .toMatch(/password/i);
  // The name is the account's: a guest may not take it.
  await page.fill("input[name=password]", "");
  await page.click("button[type=submit]");
  await expect
    .poll(() => page.locator(".login .error").innerText())
    .toMatch(/account|taken|registered|in use/i);

  await logIn(page, "CAROL", "carol's password");
  expect(await page.locator(".me").innerText()).toBe("carol");
  await context.close();
});

test("two tabs of one account both stay connected and see each other", async () => {
  const { browser } = shared;
  // A chatd of its own: one address may register only a few accounts.
  const server = await startChatd();
  const { page: first, context } = await openPage(browser, server);
  await logIn(first, "dana", "dana's password", true);
  // A second tab of the same browser goes on with the saved session.
  const second = await context.newPage();
  second.setDefaultTimeout(PATIENCE);
  await second.goto(server.url);
  await expect.poll(() => second.locator(".connection.online").count()).toBe(1);
  expect(await second.locator(".me").innerText()).toBe("dana");

  await say(first, "typed in the first tab");
  await expectShownOnce(second, "typed in the first tab");
  await say(second, "typed in the second tab");
  await expectShownOnce(first, "typed in the second tab");
  // Neither tab pushes the other off: both stay online for a while.
  for (let i = 0; i < 10; i++) {
    await first.waitForTimeout(300);
    for (const tab of [first, second]) {
      expect(await tab.locator(".connection.online").count()).toBe(1);
    }
  }
  await context.close();
  await server.stop();
  removeDir(server.dataDir);
});

test("a private room, an invitation, moderation and a direct message", async () => {
  const { server, browser } = shared;
  const ann = await openPage(browser, server);
  const bob = await openPage(browser, server);
  await logIn(ann.page, "ann", "ann's password", true);
  await logIn(bob.page, "bob", "bob's password", true);

  await ann.page.fill("input[name=create]", "ops");
  await ann.page.check("input[name=private]");
  await ann.page.press("input[name=create]", "Enter");
  await expect
    .poll(() => ann.page.locator(".room-header .hint").innerText())
    .toContain("private room");

  // Not invited, bob cannot see it.
  await bob.page.click("text=Browse");
  await bob.page.waitForSelector(".listed");
  expect(await bob.page.locator(".listed").innerText()).not.toContain("ops");
  await bob.page.fill("input[name=join]", "ops");
  await bob.page.press("input[name=join]", "Enter");
  await expect
    .poll(() => bob.page.locator(".side-form .error").first().innerText())
    .toMatch(/ops/);

  // Invited, bob sees the invitation and joins.
  await ann.page.click("text=Room…");
  await ann.page.fill("input[name=invite]", "bob");
  await ann.page.press("input[name=invite]", "Enter");
  await bob.page.waitForSelector(".invitations >> text=ops");
  expect(await bob.page.locator(".notice-bar > span").innerText()).toBe(
    "ann invited you to ops",
  );
  await bob.page.click(".invitations button");
  await expect
    .poll(() => bob.page.locator(".room-header h2").innerText())
    .toBe("ops");
  await say(bob.page, "thanks for the invite");
  await expectShownOnce(ann.page, "thanks for the invite");

  // The owner mutes bob from the member menu: bob's composer says so.
  await ann.page.click(".members .member:has-text('bob')");
  await ann.page.click(".menu >> text=Mute");
  await expect
    .poll(() =>
      bob.page.locator("textarea[name=message]").getAttribute("placeholder"),
    )
    .toBe("You are muted in this room");
  expect(await bob.page.locator("textarea[name=message]").isDisabled()).toBe(
    true,
  );
  await expect
    .poll(() => ann.page.locator(".notice").allInnerTexts())
    .toContain("* ann muted bob");
  await screenshot(ann.page, "moderation-ann");

  // Then kicks bob, who is told why and taken out of the room.
  await ann.page.click(".members .member:has-text('bob')");
  await ann.page.click(".menu >> text=Kick");
  await expect
    .poll(() => bob.page.locator(".notice-bar > span").innerText())
    .toBe("you left ops: kicked by ann");
  expect(await bob.page.locator(".rooms").innerText()).not.toContain("ops");

  // A direct message, from the sidebar.
  await bob.page.fill("input[name=direct]", "ann");
  await bob.page.press("input[name=direct]", "Enter");
  await expect
    .poll(() => bob.page.locator(".room-header h2").innerText())
    .toBe("@ann");
  await say(bob.page, "no hard feelings");
  await ann.page.waitForSelector(".rooms >> text=@bob");
  await ann.page.click(".rooms >> text=@bob");
  await expectShownOnce(ann.page, "no hard feelings");
  await ann.context.close();
  await bob.context.close();
});

test("on a server of accounts only, the login asks for a password", async () => {
  const { browser } = shared;
  const server = await startChatd({ flags: ["--require-accounts"] });
  const { page, context } = await openPage(browser, server);
  await expect
    .poll(() => page.locator(".login").innerText())
    .toContain("This server admits accounts only");
  expect(await page.locator(".login").innerText()).not.toContain("guest");
  await page.fill("input[name=name]", "erin");
  expect(await page.locator("button[type=submit]").innerText()).toBe("Log in");
  await page.click("button[type=submit]");
  expect(await page.locator(".login .error").innerText()).toContain(
    "needs a password",
  );
  await context.close();
  await server.stop();
  removeDir(server.dataDir);
});

test("an account changes its password and deletes itself", async () => {
  const { browser } = shared;
  const server = await startChatd();
  const { page, context } = await openPage(browser, server, {
    viewport: { width: 360, height: 740 },
  });
  await logIn(page, "fern", "first password", true);
  await page.click(".topbar .me");
  const dialog = page.locator("[role=dialog]");
  await dialog.locator("input[name=current-password]").fill("first password");
  await dialog.locator("input[name=new-password]").fill("second password");
  await dialog.locator("input[name=new-password-again]").fill("second pasword");
  expect(await dialog.innerText()).toContain("The two new passwords differ.");
  await dialog
    .locator("input[name=new-password-again]")
    .fill("second password");
  await dialog.locator("text=Change password").last().click();
  await expect
    .poll(() => dialog.innerText())
    .toContain("Password changed; your other sessions have ended.");
  await screenshot(page, "account-phone");

  await page.click("text=Log out");
  await logIn(page, "fern", "second password");
  await page.click(".topbar .me");
  await dialog.locator("input[name=delete-password]").fill("second password");
  await dialog.locator("button:has-text('Delete account')").click();
  await expect
    .poll(() => page.locator(".login .error").innerText())
    .toBe("The account fern is deleted.");
  // The name is free again: a guest may take it.
  await logIn(page, "fern");
  await context.close();
  await server.stop();
  removeDir(server.dataDir);
});
