// What the browser tests run against: a real chatd (built by cargo) on
// loopback, real Chromium (Debian's, driven by playwright-core), the
// terminal client `chat --plain`, and a classic-protocol client; for a
// cluster, a PostgreSQL and a NATS of the test's own (Debian's packages).

import { spawn, spawnSync } from "node:child_process";
import type { ChildProcessWithoutNullStreams } from "node:child_process";
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
} from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { chromium } from "playwright-core";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, expect } from "vitest";

import { ChatServer } from "../../src/gen/classic/classic_chat_pb";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../../..");
/** Built by `cargo build` (scripts/test does it first). */
const targetDir = process.env.CARGO_TARGET_DIR ?? join(root, "target");
const binary = (name: string) => join(targetDir, "debug", name);
export const PATIENCE = 20_000;
/** Where screenshots are kept after a run. */
export const ARTIFACTS = join(root, "web", "test-results");

export interface Chatd {
  url: string;
  port: number;
  classic: string;
  dataDir: string;
  /** Stops it (SIGTERM, or SIGKILL), waiting for it to exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts chatd on loopback: the native port (and web client) on `port`
 * (0: any free one), the classic protocol on a free port, history in
 * `dataDir` (a new temporary one if not given). */
export async function startChatd(
  options: { port?: number; dataDir?: string; flags?: string[] } = {},
): Promise<Chatd> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), "chat-web-"));
  const child = spawn(
    binary("chatd"),
    [
      "--native-addr",
      `127.0.0.1:${options.port ?? 0}`,
      "--classic-addr",
      "127.0.0.1:0",
      "--lobby-addr",
      "off",
      "--data-dir",
      dataDir,
      "--admin-socket",
      "off",
      "--presence-grace",
      "3s",
      "--shutdown-grace",
      "1s",
      ...(options.flags ?? []),
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  const log: string[] = [];
  const lines = createInterface({ input: child.stderr });
  let url = "";
  let classic = "";
  let classicOff = false;
  await new Promise<void>((ready, failed) => {
    const timer = setTimeout(
      () => failed(new Error(`chatd did not start:\n${log.join("\n")}`)),
      PATIENCE,
    );
    child.on("exit", (code) =>
      failed(new Error(`chatd exited (${code}):\n${log.join("\n")}`)),
    );
    lines.on("line", (line) => {
      log.push(line);
      url ||= /web client at (\S+)/.exec(line)?.[1] ?? "";
      classic ||= /classic protocol listening addr=(\S+)/.exec(line)?.[1] ?? "";
      // With accounts only, the classic protocol is off.
      classicOff ||= /classic protocol off/.test(line);
      if (url && (classic || classicOff)) {
        clearTimeout(timer);
        ready();
      }
    });
  });
  return {
    url,
    port: Number(new URL(url).port),
    classic,
    dataDir,
    stop: (signal = "SIGTERM") =>
      new Promise<void>((done) => {
        // Exited, or killed by a signal, already.
        if (child.exitCode !== null || child.signalCode !== null) return done();
        child.removeAllListeners("exit");
        child.on("exit", () => done());
        child.kill(signal);
      }),
  };
}

/** A self-signed certificate for localhost from `chatd gen-cert`: the
 * flags that serve TLS with it. */
export async function selfSignedFlags(dir: string): Promise<string[]> {
  const child = spawn(binary("chatd"), [
    "gen-cert",
    "--host",
    "localhost",
    "--out-dir",
    dir,
  ]);
  const code = await new Promise((done) => child.on("exit", done));
  if (code !== 0) throw new Error(`chatd gen-cert failed (${code})`);
  return [
    "--tls-cert",
    join(dir, "cert.pem"),
    "--tls-key",
    join(dir, "key.pem"),
  ];
}

/** A service a test started, and how to stop it. */
export interface Service {
  url: string;
  stop(): void;
}

/** A free loopback port. */
function freePort(): Promise<number> {
  return new Promise((found) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => found(port));
    });
  });
}

/** Whether something listens on loopback `port`. */
function listening(port: number): Promise<boolean> {
  return new Promise((answer) => {
    const socket = connect(port, "127.0.0.1");
    socket.on("connect", () => {
      socket.destroy();
      answer(true);
    });
    socket.on("error", () => answer(false));
  });
}

async function until(ready: () => boolean | Promise<boolean>, what: string) {
  const deadline = Date.now() + PATIENCE;
  while (!(await ready())) {
    if (Date.now() > deadline) throw new Error(`${what} did not start`);
    await new Promise((wait) => setTimeout(wait, 100));
  }
}

/** `program` and `args`, as the `postgres` user when this is root
 * (PostgreSQL refuses to run as root). */
function asServerUser(program: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0
    ? ["runuser", ["-u", "postgres", "--", program, ...args]]
    : [program, args];
}

/** A PostgreSQL of the test's own in a temporary directory, with a
 * database `chat`; its URL. */
export async function startPostgres(): Promise<Service> {
  const versions = readdirSync("/usr/lib/postgresql").sort();
  const bin =
    process.env.CHAT_TEST_PG_BIN ??
    join("/usr/lib/postgresql", versions[versions.length - 1], "bin");
  const dir = mkdtempSync(join(tmpdir(), "chat-web-pg-"));
  chmodSync(dir, 0o777);
  const run = (program: string, args: string[]) => {
    const [command, all] = asServerUser(join(bin, program), args);
    const result = spawnSync(command, all, { stdio: "ignore" });
    return result.status === 0;
  };
  if (
    !run("initdb", [
      "--auth=trust",
      "--username=postgres",
      "--no-sync",
      "-D",
      join(dir, "data"),
    ])
  ) {
    throw new Error("initdb failed (is Debian's postgresql installed?)");
  }
  const port = await freePort();
  const [command, args] = asServerUser(join(bin, "postgres"), [
    "-D",
    join(dir, "data"),
    "-p",
    String(port),
    "-k",
    dir,
    "-c",
    "listen_addresses=127.0.0.1",
  ]);
  // A process group of its own, so its backends go with it.
  const server = spawn(command, args, { stdio: "ignore", detached: true });
  const connect = ["-h", "127.0.0.1", "-p", String(port), "-U", "postgres"];
  await until(() => run("pg_isready", ["-q", ...connect]), "postgres");
  if (!run("createdb", [...connect, "chat"]))
    throw new Error("createdb failed");
  return {
    url: `host=127.0.0.1 port=${port} user=postgres dbname=chat`,
    stop: () => {
      try {
        process.kill(-server.pid!, "SIGKILL");
      } catch {
        // Gone already.
      }
      removeDir(dir);
    },
  };
}

/** A NATS server of the test's own. */
export async function startNats(): Promise<Service> {
  const port = await freePort();
  const server = spawn("nats-server", ["-a", "127.0.0.1", "-p", String(port)], {
    stdio: "ignore",
  });
  const url = `nats://127.0.0.1:${port}`;
  await until(() => listening(port), "nats-server");
  return { url, stop: () => server.kill("SIGKILL") };
}

export function removeDir(dir: string) {
  rmSync(dir, { recursive: true, force: true });
}

/** A chatd and a Chromium shared by the tests of one file: started
 * before the first, stopped after the last. */
export function sharedChatdAndBrowser(flags: string[] = []): {
  server: Chatd;
  browser: Browser;
} {
  const shared = {} as { server: Chatd; browser: Browser };
  beforeAll(async () => {
    shared.server = await startChatd({ flags });
    shared.browser = await launchBrowser();
  });
  afterAll(async () => {
    await shared.browser?.close();
    await shared.server?.stop();
    if (shared.server) removeDir(shared.server.dataDir);
  });
  return shared;
}

/** Debian's Chromium, or the one CHROMIUM names. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox"],
  });
}

/** A page of the web client in a context of its own (its own storage). */
export async function openPage(
  browser: Browser,
  server: Chatd,
  options: {
    viewport?: { width: number; height: number };
    colorScheme?: "light" | "dark";
  } = {},
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({
    viewport: options.viewport ?? { width: 1100, height: 720 },
    colorScheme: options.colorScheme ?? "light",
    // Over TLS, the server's certificate is a self-signed one.
    ignoreHTTPSErrors: true,
  });
  const page = await context.newPage();
  page.setDefaultTimeout(PATIENCE);
  await page.goto(server.url);
  return { context, page };
}

/** Logs in from the login screen: a guest without a password. */
export async function logIn(
  page: Page,
  name: string,
  password = "",
  register = false,
) {
  await page.fill("input[name=name]", name);
  await page.fill("input[name=password]", password);
  if (register) {
    await page.click("text=Register");
  } else {
    await page.click("button[type=submit]");
  }
  await expect
    .poll(() => page.locator(".connection.online").count(), {
      timeout: PATIENCE,
    })
    .toBe(1);
}

/** Creates room `room` (or joins it), and waits until it is in view. */
export async function enterRoom(
  page: Page,
  room: string,
  how: "create" | "join",
) {
  await page.fill(`input[name=${how}]`, room);
  await page.press(`input[name=${how}]`, "Enter");
  await expect
    .poll(() => page.locator(".room-header h2").innerText())
    .toBe(room);
}

/** Types `text` in the composer and presses Enter. */
export async function say(page: Page, text: string) {
  await page.fill("textarea[name=message]", text);
  await page.press("textarea[name=message]", "Enter");
}

/** The texts of the messages shown in the room in view. */
export function shownTexts(page: Page): Promise<string[]> {
  return page.locator(".message:not(.pending) .text").allInnerTexts();
}

/** Waits until the room in view shows `text`, once. */
export async function expectShownOnce(page: Page, text: string) {
  await expect
    .poll(
      async () => (await shownTexts(page)).filter((t) => t === text).length,
      {
        timeout: PATIENCE,
      },
    )
    .toBe(1);
}

export async function screenshot(page: Page, name: string) {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });
}

/** `chat --plain`, the terminal client, logged in as guest `name`. */
export class PlainChat {
  private readonly child: ChildProcessWithoutNullStreams;
  readonly lines: string[] = [];
  private waiters: (() => void)[] = [];

  constructor(server: Chatd, name: string) {
    this.child = spawn(binary("chat"), [
      "--plain",
      "--server",
      `127.0.0.1:${server.port}`,
      "--name",
      name,
    ]);
    for (const stream of [this.child.stdout, this.child.stderr]) {
      createInterface({ input: stream }).on("line", (line) => {
        this.lines.push(line);
        for (const wake of this.waiters.splice(0)) wake();
      });
    }
  }

  say(text: string) {
    this.child.stdin.write(`${text}\n`);
  }

  /** Waits for an output line containing `wanted`. */
  async waitFor(wanted: string): Promise<string> {
    const deadline = Date.now() + PATIENCE;
    for (;;) {
      const found = this.lines.find((line) => line.includes(wanted));
      if (found) return found;
      if (Date.now() > deadline) {
        throw new Error(
          `chat --plain never said ${wanted}:\n${this.lines.join("\n")}`,
        );
      }
      await new Promise<void>((wake) => {
        this.waiters.push(wake);
        setTimeout(wake, 200);
      });
    }
  }

  close() {
    this.child.stdin.end();
    this.child.kill();
  }
}

/** A classic-protocol client (`grpc.ChatServer`, the seed "Chat 1st"),
 * over connect-node's gRPC transport: an implementation of its own. */
export function classicClient(server: Chatd) {
  return createClient(
    ChatServer,
    createGrpcTransport({ baseUrl: `http://${server.classic}` }),
  );
}
