// Search in the browser: the words found marked (inside Korean words
// too), pages of results, and a hit far back in the history opening its
// room at the message, with the messages after it loaded on demand.

import { expect, test } from "vitest";

import {
  PlainChat,
  logIn,
  openPage,
  screenshot,
  sharedChatdAndBrowser,
  shownTexts,
} from "./harness";

// The writer sends a long history quickly.
const shared = sharedChatdAndBrowser(["--max-sends-per-second", "1000"]);

/** Messages after the one searched for: more than a page of history. */
const CHATTER = 90;

test("a hit far back opens its room at the message, and the rest loads after it", async () => {
  const { server, browser } = shared;
  const writer = new PlainChat(server, "minji");
  await writer.waitFor("general");
  writer.say("the meeting point is 서울역 exit 2");
  for (let i = 1; i <= CHATTER; i++) writer.say(`chatter ${i}`);
  await writer.waitFor(`chatter ${CHATTER}`);

  const ann = await openPage(browser, server, {
    viewport: { width: 1280, height: 720 },
  });
  await logIn(ann.page, "ann");
  await expect
    .poll(async () => (await shownTexts(ann.page)).at(-1))
    .toBe(`chatter ${CHATTER}`);
  // The newest page is loaded, not the message searched for.
  expect(await shownTexts(ann.page)).not.toContain(
    "the meeting point is 서울역 exit 2",
  );

  // Two characters inside a Korean word are found, and marked.
  await ann.page.getByRole("button", { name: "Search messages" }).click();
  await ann.page.fill("input[name=search]", "서울");
  await ann.page.press("input[name=search]", "Enter");
  const hit = ann.page.locator(".search .hit").first();
  await hit.waitFor();
  expect(await ann.page.locator(".search .hit").count()).toBe(1);
  expect(await hit.locator("mark").allInnerTexts()).toEqual(["서울"]);
  expect(await hit.locator(".where").innerText()).toMatch(
    /^general · minji · Today/,
  );
  await screenshot(ann.page, "search-1280");

  // The hit opens the room at the message, marked, in view.
  await hit.click();
  expect(await ann.page.locator(".search").count()).toBe(0);
  const focused = ann.page.locator(".message.focused");
  await expect
    .poll(() => focused.locator(".text").innerText())
    .toBe("the meeting point is 서울역 exit 2");
  const log = (await ann.page.locator(".log").boundingBox())!;
  const line = (await focused.boundingBox())!;
  expect(line.y).toBeGreaterThanOrEqual(log.y);
  expect(line.y + line.height).toBeLessThanOrEqual(log.y + log.height);
  await screenshot(ann.page, "search-jumped-1280");

  // What lies between it and the newest page loads on demand, once each.
  const gap = ann.page.locator(".log .gap");
  expect(await gap.count()).toBe(1);
  while ((await gap.count()) > 0) {
    await gap.click();
    await ann.page.waitForTimeout(100);
  }
  const chatter = (await shownTexts(ann.page)).filter((text) =>
    text.startsWith("chatter "),
  );
  expect(chatter).toEqual(
    Array.from({ length: CHATTER }, (_, i) => `chatter ${i + 1}`),
  );

  // A common word comes a page at a time, newest first; a search in the
  // room in view; a word nobody wrote.
  await ann.page.getByRole("button", { name: "Search messages" }).click();
  await ann.page.fill("input[name=search]", "chatter");
  await ann.page.selectOption("select[aria-label=Where]", "general");
  await ann.page.press("input[name=search]", "Enter");
  const hits = ann.page.locator(".search .hit .excerpt");
  await expect.poll(() => hits.count()).toBe(20);
  expect(await hits.first().innerText()).toBe(`chatter ${CHATTER}`);
  await ann.page.getByRole("button", { name: "More results" }).click();
  await expect.poll(() => hits.count()).toBe(40);
  expect(await hits.nth(20).innerText()).toBe(`chatter ${CHATTER - 20}`);

  await ann.page.setViewportSize({ width: 360, height: 720 });
  await screenshot(ann.page, "search-360");
  await ann.page.fill("input[name=search]", "zanzibar");
  await ann.page.press("input[name=search]", "Enter");
  await ann.page.getByText("Nothing found for “zanzibar”.").waitFor();

  writer.close();
  await ann.context.close();
});
