// The nodes a page moves between: its own first, the others as listed.

import { createRouterTransport } from "@connectrpc/connect";
import { expect, test } from "vitest";

import { Servers } from "../../src/servers";

const transport = () => createRouterTransport(() => {});

test("the page's own node comes first and the next is taken in turn", () => {
  const servers = new Servers("http://a:7070", transport);
  expect(servers.current).toBe("http://a:7070");
  servers.next();
  expect(servers.current).toBe("http://a:7070");

  servers.learn([
    "http://b:7071",
    "http://a:7070",
    "http://c:7072",
    "http://b:7071",
  ]);
  expect(servers.all).toEqual([
    "http://a:7070",
    "http://b:7071",
    "http://c:7072",
  ]);
  servers.next();
  expect(servers.current).toBe("http://b:7071");
  servers.next();
  servers.next();
  expect(servers.current).toBe("http://a:7070");
});

test("the node in use stays in use, and the page's own stays first", () => {
  const servers = new Servers("http://a:7070", transport);
  servers.learn(["http://b:7071", "http://c:7072"]);
  servers.next();
  expect(servers.current).toBe("http://b:7071");
  // b lists the others: a and c.
  servers.learn(["http://a:7070", "http://c:7072"]);
  expect(servers.current).toBe("http://b:7071");
  expect(servers.all).toEqual([
    "http://a:7070",
    "http://c:7072",
    "http://b:7071",
  ]);
  // b no longer lists c (its lease ended).
  servers.learn([]);
  expect(servers.all).toEqual(["http://a:7070", "http://b:7071"]);
  expect(servers.current).toBe("http://b:7071");
});

test("discovery reads /nodes of the node in use and keeps what it knew on failure", async () => {
  const servers = new Servers("http://a:7070", transport);
  const asked: string[] = [];
  const answer = (body: unknown, ok = true) =>
    (async (url: URL | RequestInfo) => {
      asked.push(String(url));
      return { ok, json: async () => body } as Response;
    }) as typeof fetch;
  await servers.discover(answer({ nodes: ["http://b:7071", 7] }));
  expect(asked).toEqual(["http://a:7070/nodes"]);
  expect(servers.all).toEqual(["http://a:7070", "http://b:7071"]);
  await servers.discover(answer({}, false));
  await servers.discover((async () => {
    throw new TypeError("failed to fetch");
  }) as typeof fetch);
  expect(servers.all).toEqual(["http://a:7070", "http://b:7071"]);
});

test("each node's calls go through a transport of its own", () => {
  const made: string[] = [];
  const servers = new Servers("http://a:7070", (url) => {
    made.push(url);
    return transport();
  });
  servers.learn(["http://b:7071"]);
  const first = servers.rpc;
  expect(servers.rpc).toBe(first);
  servers.next();
  expect(servers.rpc).not.toBe(first);
  expect(made).toEqual(["http://a:7070", "http://b:7071"]);
});
