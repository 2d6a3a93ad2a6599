// The page through a server restart, and history loaded by scrolling up.

import { afterAll, beforeAll, expect, test } from "vitest";
import type { Browser } from "playwright-core";

import {
  PATIENCE,
  PlainChat,
  expectShownOnce,
  launchBrowser,
  logIn,
  openPage,
  removeDir,
  say,
  screenshot,
  shownTexts,
  startChatd,
} from "./harness";

let browser: Browser;

beforeAll(async () => {
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
});

test("the server killed mid-conversation: pages resume, nothing lost or doubled", async () => {
  let server = await startChatd();
  const { port, dataDir } = server;
  const ann = await openPage(browser, server);
  const minji = await openPage(browser, server);
  await logIn(ann.page, "ann");
  await logIn(minji.page, "민지");
  await say(ann.page, "before 1");
  await say(minji.page, "before 2");
  await expectShownOnce(ann.page, "before 2");
  await expectShownOnce(minji.page, "before 1");

  await server.stop("SIGKILL");
  await expect
    .poll(() => ann.page.locator(".connection.offline").count(), {
      timeout: PATIENCE,
    })
    .toBe(1);
  // Sent while offline: shown as on its way.
  await say(ann.page, "while the server was down");
  await ann.page.waitForSelector(
    ".message.pending >> text=while the server was down",
  );
  await screenshot(ann.page, "offline");

  // 민지's page may not subscribe again until later: what is said
  // meanwhile must reach it by its cursors, not live.
  const subscribe = "**/chat.v1.ChatService/Subscribe";
  await minji.page.route(subscribe, (route) => route.abort());

  server = await startChatd({ port, dataDir });
  try {
    // ann's page comes back by itself; the queued message goes out once.
    await expect
      .poll(() => ann.page.locator(".connection.online").count(), {
        timeout: PATIENCE,
      })
      .toBe(1);
    await expectShownOnce(ann.page, "while the server was down");
    const plain = new PlainChat(server, "bob");
    plain.say("while 민지 was away");
    await expectShownOnce(ann.page, "while 민지 was away");
    plain.close();

    await minji.page.unroute(subscribe);
    await expect
      .poll(() => minji.page.locator(".connection.online").count(), {
        timeout: PATIENCE,
      })
      .toBe(1);
    await say(minji.page, "after");
    await expectShownOnce(ann.page, "after");
    const expected = [
      "before 1",
      "before 2",
      "while the server was down",
      "while 민지 was away",
      "after",
    ];
    await expect.poll(() => shownTexts(ann.page)).toEqual(expected);
    await expect.poll(() => shownTexts(minji.page)).toEqual(expected);
    expect(await ann.page.locator(".message.pending").count()).toBe(0);
  } finally {
    await ann.context.close();
    await minji.context.close();
    await server.stop();
    removeDir(dataDir);
  }
});

test("scrolling up loads older history, page by page, to the start", async () => {
  const server = await startChatd({
    flags: ["--max-sends-per-second", "1000"],
  });
  try {
    const plain = new PlainChat(server, "bob");
    await plain.waitFor("general");
    const count = 130;
    for (let n = 1; n <= count; n++) plain.say(`line ${n}`);
    await plain.waitFor(`line ${count}`);
    plain.close();

    const { page, context } = await openPage(browser, server);
    await logIn(page, "ann");
    await expect
      .poll(async () => (await shownTexts(page)).at(-1))
      .toBe(`line ${count}`);
    // One page of the newest first, not the whole history.
    expect((await shownTexts(page)).length).toBeLessThan(count);

    // Scroll to the top until the start of the room shows.
    await expect
      .poll(
        async () => {
          await page.locator(".log").evaluate((log) => (log.scrollTop = 0));
          return page.locator(".log .start").count();
        },
        { timeout: PATIENCE, interval: 300 },
      )
      .toBe(1);
    const texts = await shownTexts(page);
    expect(texts).toEqual(
      Array.from({ length: count }, (_, i) => `line ${i + 1}`),
    );
    await context.close();
  } finally {
    await server.stop();
    removeDir(server.dataDir);
  }
});
