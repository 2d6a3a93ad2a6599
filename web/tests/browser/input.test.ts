// What users notice: IME composition, a phone-width screen, keyboard use.

import { expect, test } from "vitest";

import {
  expectShownOnce,
  logIn,
  openPage,
  say,
  screenshot,
  shownTexts,
  sharedChatdAndBrowser,
} from "./harness";

const shared = sharedChatdAndBrowser();

test("Enter during an IME composition picks the text and does not send", async () => {
  const { server, browser } = shared;
  const { page, context } = await openPage(browser, server);
  await logIn(page, "지우");
  const composer = page.locator("textarea[name=message]");
  await composer.focus();
  await composer.dispatchEvent("compositionstart", { data: "" });
  await page.keyboard.insertText("안녕");
  // Chrome's Enter while composing, and Safari's (after the text is
  // committed but before compositionend).
  await composer.dispatchEvent("keydown", { key: "Enter", isComposing: true });
  await composer.dispatchEvent("keydown", { key: "Enter", isComposing: false });
  expect(await composer.inputValue()).toBe("안녕");
  await composer.dispatchEvent("compositionend", { data: "안녕" });
  await page.keyboard.insertText("하세요");
  await composer.press("Enter");
  await expectShownOnce(page, "안녕하세요");
  expect(await composer.inputValue()).toBe("");
  expect(await shownTexts(page)).toEqual(["안녕하세요"]);
  // Shift+Enter is a new line, not a send.
  await composer.fill("two");
  await composer.press("Shift+Enter");
  await page.keyboard.insertText("lines");
  await composer.press("Enter");
  await expectShownOnce(page, "two\nlines");
  await context.close();
});

test("a 360 px phone screen in dark mode: no sideways scrolling, drawers, long words wrap", async () => {
  const { server, browser } = shared;
  const { page, context } = await openPage(browser, server, {
    viewport: { width: 360, height: 740 },
    colorScheme: "dark",
  });
  // The theme follows the system's.
  expect(
    await page.evaluate(() => getComputedStyle(document.body).backgroundColor),
  ).toBe("rgb(23, 25, 29)");
  // The login works from the keyboard alone.
  await page.focus("input[name=name]");
  await page.keyboard.type("phone");
  await page.keyboard.press("Tab");
  expect(
    await page.evaluate(() => document.activeElement?.getAttribute("name")),
  ).toBe("password");
  await page.keyboard.press("Enter");
  await page.waitForSelector(".connection.online");
  // One's own name is shown whole.
  const me = page.locator(".topbar .me");
  expect(await me.innerText()).toBe("phone");
  expect(
    await me.evaluate((element) => element.scrollWidth <= element.clientWidth),
  ).toBe(true);

  const word = "w".repeat(300);
  await say(page, word);
  await say(page, "🙂🎉 emoji and 한국어");
  await expectShownOnce(page, word);
  await expectShownOnce(page, "🙂🎉 emoji and 한국어");
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  expect(width).toBeLessThanOrEqual(360);
  const box = await page.locator(".message", { hasText: word }).boundingBox();
  expect(box!.x + box!.width).toBeLessThanOrEqual(360);

  // Rooms and members are drawers on a phone; Escape closes them.
  expect(await page.locator(".sidebar").isVisible()).toBe(false);
  await page.click("button:has-text('Rooms')");
  expect(await page.locator(".sidebar").isVisible()).toBe(true);
  await screenshot(page, "phone-rooms");
  await page.keyboard.press("Escape");
  expect(await page.locator(".sidebar").isVisible()).toBe(false);
  await screenshot(page, "phone");
  await context.close();
});

test("scrolled up, new messages offer a jump to the latest", async () => {
  const { server, browser } = shared;
  const reader = await openPage(browser, server, {
    viewport: { width: 800, height: 400 },
  });
  const writer = await openPage(browser, server);
  await logIn(reader.page, "reader");
  await logIn(writer.page, "writer");
  for (let i = 1; i <= 25; i++) await say(writer.page, `line ${i}`);
  await expectShownOnce(reader.page, "line 25");
  const log = reader.page.locator(".log");
  await log.evaluate((element) => element.scrollTo(0, 0));
  expect(await reader.page.locator(".to-latest").count()).toBe(0);

  await say(writer.page, "while you were up there");
  await reader.page.locator(".to-latest").waitFor();
  await screenshot(reader.page, "to-latest");
  await reader.page.locator(".to-latest").click();
  await expect
    .poll(() =>
      log.evaluate((e) => e.scrollHeight - e.scrollTop - e.clientHeight < 40),
    )
    .toBe(true);
  expect(await reader.page.locator(".to-latest").count()).toBe(0);
  await reader.context.close();
  await writer.context.close();
});

test("a name with a space and no password says what it will become", async () => {
  const { server, browser } = shared;
  const { page, context } = await openPage(browser, server);
  await page.fill("input[name=name]", "ann hunter2");
  expect(await page.locator("button[type=submit]").innerText()).toBe(
    "Join as guest “ann hunter2”",
  );
  expect(await page.locator(".hint.warning").innerText()).toContain(
    "password field",
  );
  await page.fill("input[name=password]", "hunter2");
  expect(await page.locator(".hint.warning").count()).toBe(0);
  expect(await page.locator("button[type=submit]").innerText()).toBe("Log in");
  await context.close();
});
