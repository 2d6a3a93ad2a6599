// Files in the browser: attached from the file picker, dropped on the
// room and pasted, with their progress; pictures inline and large on a
// click, other files as cards that download; a guest told it may not
// upload.

import { expect, test } from "vitest";
import type { Page } from "playwright-core";

import {
  PATIENCE,
  logIn,
  openPage,
  say,
  screenshot,
  sharedChatdAndBrowser,
} from "./harness";

const shared = sharedChatdAndBrowser();

/** Polls `value` until the matcher after it holds, for up to PATIENCE. */
const poll = <T>(value: () => Promise<T>) =>
  expect.poll(value, { timeout: PATIENCE });

/** Hands `page`'s room a picture of `width` by `height`, drawn in the
 * page, as `how` does: dropped on the room or pasted in the composer. */
async function givePicture(
  page: Page,
  how: "drop" | "paste",
  name: string,
  [width, height]: [number, number],
) {
  await page.evaluate(
    async ({ how, name, width, height }) => {
      const canvas = new OffscreenCanvas(width, height);
      const draw = canvas.getContext("2d")!;
      const fill = draw.createLinearGradient(0, 0, width, height);
      fill.addColorStop(0, "#1b6fb5");
      fill.addColorStop(1, "#f2a33a");
      draw.fillStyle = fill;
      draw.fillRect(0, 0, width, height);
      const blob = await canvas.convertToBlob({ type: "image/png" });
      const files = new DataTransfer();
      files.items.add(new File([blob], name, { type: "image/png" }));
      if (how === "drop") {
        const room = document.querySelector(".room-view")!;
        room.dispatchEvent(
          new DragEvent("dragover", { dataTransfer: files, bubbles: true }),
        );
        room.dispatchEvent(
          new DragEvent("drop", { dataTransfer: files, bubbles: true }),
        );
      } else {
        document.querySelector("textarea[name=message]")!.dispatchEvent(
          new ClipboardEvent("paste", {
            clipboardData: files,
            bubbles: true,
          }),
        );
      }
    },
    { how, name, width, height },
  );
}

/** Waits until the composer's files are all up. */
async function uploaded(page: Page, count: number) {
  const tray = page.locator(".uploads .upload.done");
  await poll(() => tray.count()).toBe(count);
}

test("files are attached, dropped and pasted, and shown to everyone", async () => {
  const { server, browser } = shared;
  const ann = await openPage(browser, server, {
    viewport: { width: 1280, height: 800 },
  });
  const bob = await openPage(browser, server, {
    viewport: { width: 360, height: 740 },
  });
  await logIn(ann.page, "ann", "ann's long password", true);
  await logIn(bob.page, "bob");

  // From the file picker, with a line of text.
  const notes = "the plan\n".repeat(400);
  await ann.page.setInputFiles("input[type=file]", {
    name: "plan.txt",
    mimeType: "text/plain",
    buffer: Buffer.from(notes),
  });
  await uploaded(ann.page, 1);
  await say(ann.page, "here is the plan");
  const card = bob.page.locator(".message .file-card", { hasText: "plan.txt" });
  await poll(() => card.innerText()).toMatch(/plan\.txt\s+3\.6 kB · text/);
  const href = await card.getAttribute("href");
  const fetched = await bob.page.evaluate(
    async (link) => (await fetch(link!)).text(),
    href,
  );
  expect(fetched).toBe(notes);

  // Two days on, the page's link has expired: a click asks for a fresh one
  // first, then downloads.
  await bob.page.clock.setSystemTime(Date.now() + 2 * 24 * 3600 * 1000);
  const asked = bob.page.waitForRequest(/GetHistory/);
  const downloaded = bob.page.waitForEvent("download");
  await card.click();
  await asked;
  expect((await downloaded).suggestedFilename()).toBe("plan.txt");
  expect(await ann.page.locator(".uploads li").count()).toBe(0);

  // Dropped on the room: a picture, sent on its own.
  await givePicture(ann.page, "drop", "sunset.png", [1200, 800]);
  await uploaded(ann.page, 1);
  await ann.page.press("textarea[name=message]", "Enter");
  const picture = bob.page.locator(".message .picture img").first();
  await poll(() =>
    picture.evaluate((img: HTMLImageElement) => img.naturalWidth),
  ).toBe(320);
  expect(await picture.getAttribute("alt")).toBe("sunset.png");
  await screenshot(bob.page, "files-360");

  // A click shows it large; Escape closes it.
  await bob.page.locator(".message .picture").first().click();
  const large = bob.page.locator(".lightbox img");
  await poll(() =>
    large.evaluate((img: HTMLImageElement) => img.naturalWidth),
  ).toBe(1200);
  await screenshot(bob.page, "lightbox-360");
  await bob.page.keyboard.press("Escape");
  await poll(() => bob.page.locator(".lightbox").count()).toBe(0);

  // Pasted in the composer.
  await givePicture(ann.page, "paste", "pasted.png", [300, 200]);
  await uploaded(ann.page, 1);
  await say(ann.page, "and a small one");
  await poll(() => bob.page.locator(".message .picture img").count()).toBe(2);
  await screenshot(ann.page, "files-1280");

  // A guest may not upload: the tray says why, and nothing is sent.
  await bob.page.setInputFiles("input[type=file]", {
    name: "mine.txt",
    mimeType: "text/plain",
    buffer: Buffer.from("mine"),
  });
  await poll(() =>
    bob.page.locator(".upload.failed .error").innerText(),
  ).toMatch(/guests may not upload/);
  await bob.page.getByRole("button", { name: "Remove mine.txt" }).click();
  expect(await bob.page.locator(".uploads li").count()).toBe(0);
});
