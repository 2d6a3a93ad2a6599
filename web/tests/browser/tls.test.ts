// The web client over TLS: the page and its calls on the one port.

import { expect, test } from "vitest";

import {
  expectShownOnce,
  launchBrowser,
  logIn,
  openPage,
  removeDir,
  say,
  selfSignedFlags,
  startChatd,
} from "./harness";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

test("over TLS the page loads and chats", async () => {
  const certs = mkdtempSync(join(tmpdir(), "chat-web-tls-"));
  const server = await startChatd({ flags: await selfSignedFlags(certs) });
  const browser = await launchBrowser();
  try {
    expect(server.url).toMatch(/^https:\/\//);
    const ann = await openPage(browser, server);
    const bob = await openPage(browser, server);
    await logIn(ann.page, "ann");
    await logIn(bob.page, "bob");
    await say(ann.page, "encrypted hello");
    await expectShownOnce(bob.page, "encrypted hello");
    // Browsers speak HTTP/2 to it over TLS.
    const protocol = await bob.page.evaluate(
      () =>
        (
          performance.getEntriesByType(
            "navigation",
          )[0] as PerformanceNavigationTiming
        ).nextHopProtocol,
    );
    expect(protocol).toBe("h2");
  } finally {
    await browser.close();
    await server.stop();
    removeDir(server.dataDir);
    removeDir(certs);
  }
});
