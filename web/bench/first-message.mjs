// Time to first message on page load, in a real Chromium against a real
// chatd: how long from navigation until the newest messages of the room
// are on screen, for a returning user (session kept by the browser) and
// for a new one (from the login form). Prints the figures; asserts none.
//
//   cargo build --release --bin chatd --bin chat
//   node web/bench/first-message.mjs [--runs 20] [--target release]

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

import { chromium } from "playwright-core";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "20" },
    target: { type: "string", default: "release" },
  },
});
const runs = Number(values.runs);
const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const bin = (name) =>
  join(
    process.env.CARGO_TARGET_DIR ?? join(root, "target"),
    values.target,
    name,
  );

const dataDir = mkdtempSync(join(tmpdir(), "chat-web-bench-"));
const chatd = spawn(
  bin("chatd"),
  [
    "--native-addr",
    "127.0.0.1:0",
    "--classic-addr",
    "off",
    "--lobby-addr",
    "off",
    "--data-dir",
    dataDir,
    "--admin-socket",
    "off",
    "--max-sends-per-second",
    "1000",
    "--max-logins-per-second",
    "1000",
  ],
  { stdio: ["ignore", "ignore", "pipe"] },
);
const url = await new Promise((done) => {
  createInterface({ input: chatd.stderr }).on("line", (line) => {
    const found = /web client at (\S+)/.exec(line);
    if (found) done(found[1]);
  });
});

// Fifty messages of history in `general`, from the terminal client.
const plain = spawn(bin("chat"), [
  "--plain",
  "--server",
  new URL(url).host,
  "--name",
  "history",
]);
for (let n = 1; n <= 50; n++) plain.stdin.write(`message ${n}\n`);
await new Promise((done) => {
  createInterface({ input: plain.stdout }).on("line", (line) => {
    if (line.includes("message 50")) done();
  });
});
plain.stdin.end();

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox"],
});
const lastShown = (page) =>
  page.waitForSelector(".message:not(.pending) .text >> text=message 50", {
    timeout: 30_000,
  });

const fresh = [];
const returning = [];
for (let run = 0; run < runs; run++) {
  const context = await browser.newContext();
  const page = await context.newPage();
  // A new user: load the page, log in, see the room.
  let start = performance.now();
  await page.goto(url);
  await page.fill("input[name=name]", `reader${run}`);
  await page.click("button[type=submit]");
  await lastShown(page);
  fresh.push(performance.now() - start);
  // The same user back later: the session is kept, the page resumes it.
  start = performance.now();
  await page.reload();
  await lastShown(page);
  returning.push(performance.now() - start);
  await context.close();
}
await browser.close();
chatd.kill();
rmSync(dataDir, { recursive: true, force: true });

const percentile = (samples, p) => {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[
    Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))
  ];
};
const line = (what, samples) =>
  console.log(
    `${what.padEnd(44)} p50 ${percentile(samples, 50).toFixed(0).padStart(4)} ms   ` +
      `p90 ${percentile(samples, 90).toFixed(0).padStart(4)} ms   (${samples.length} runs)`,
  );
line("new user: page load + login to first message", fresh);
line("returning user: page load to first message", returning);
