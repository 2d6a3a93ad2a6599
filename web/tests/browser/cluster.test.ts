// A page of a cluster's node when that node dies: it moves to another
// node by itself and goes on, nothing lost or doubled.

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
  startNats,
  startPostgres,
} from "./harness";
import type { Chatd, Service } from "./harness";

let browser: Browser;
const services: Service[] = [];
const nodes: Chatd[] = [];

beforeAll(async () => {
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  for (const node of nodes) {
    await node.stop("SIGKILL");
    removeDir(node.dataDir);
  }
  for (const service of services) service.stop();
});

test("its node killed, the page moves to another and loses nothing", async () => {
  const postgres = await startPostgres();
  services.push(postgres);
  const nats = await startNats();
  services.push(nats);
  const flags = [
    "--database-url",
    postgres.url,
    "--nats-url",
    nats.url,
    // The nodes' web addresses as the page knows them.
    "--advertised-host",
    "127.0.0.1",
  ];
  const a = await startChatd({ flags });
  nodes.push(a);
  const b = await startChatd({ flags });
  nodes.push(b);
  // a lists b once b's lease is seen; the page asks when it connects.
  await expect
    .poll(async () => (await fetch(new URL("/nodes", a.url))).text(), {
      timeout: PATIENCE,
    })
    .toContain(b.url.replace(/\/$/, ""));

  const ann = await openPage(browser, a);
  await logIn(ann.page, "ann");
  const bob = new PlainChat(b, "bob");
  try {
    bob.say("hello from b");
    await expectShownOnce(ann.page, "hello from b");
    await say(ann.page, "hello from a");
    await bob.waitFor("hello from a");

    await a.stop("SIGKILL");
    const killed = Date.now();
    // Said at once: sent once the page is on b.
    await say(ann.page, "on my way");
    await bob.waitFor("on my way");
    // A figure for the docs, not asserted.
    console.log(
      `the page's message posted via b ${Date.now() - killed} ms after the kill`,
    );
    await expect
      .poll(() => ann.page.locator(".connection.online").count(), {
        timeout: PATIENCE,
      })
      .toBe(1);
    bob.say("welcome to b");
    await expectShownOnce(ann.page, "welcome to b");
    await expectShownOnce(ann.page, "on my way");
    await screenshot(ann.page, "moved-to-another-node");
    const texts = await shownTexts(ann.page);
    for (const text of [
      "hello from b",
      "hello from a",
      "on my way",
      "welcome to b",
    ]) {
      expect(texts.filter((shown) => shown === text)).toHaveLength(1);
    }
  } finally {
    bob.close();
  }
});
