// The nodes a page may talk to: its own origin first, then, in a
// cluster, the other nodes as the node in use lists them at `/nodes`.
// When the node in use cannot be reached, the client moves to the next.

import { createClient } from "@connectrpc/connect";
import type { Client, Transport } from "@connectrpc/connect";

import { ChatService } from "./gen/chat/v1/chat_pb";

export class Servers {
  private urls: string[];
  private index = 0;
  private readonly clients = new Map<string, Client<typeof ChatService>>();

  constructor(
    own: string,
    private readonly transportFor: (url: string) => Transport,
  ) {
    this.urls = [own];
  }

  /** The node in use. */
  get current(): string {
    return this.urls[this.index];
  }

  /** Every node known, the page's own first. */
  get all(): readonly string[] {
    return this.urls;
  }

  /** The protocol's calls, to the node in use. */
  get rpc(): Client<typeof ChatService> {
    const url = this.current;
    let client = this.clients.get(url);
    if (!client) {
      client = createClient(ChatService, this.transportFor(url));
      this.clients.set(url, client);
    }
    return client;
  }

  /** The node in use could not be reached: the next one is tried. */
  next() {
    this.index = (this.index + 1) % this.urls.length;
  }

  /** Takes `others`, as the node in use lists the nodes other than
   * itself: the page's own stays first, and the node in use stays in use. */
  learn(others: readonly string[]) {
    const current = this.current;
    this.urls = [...new Set([this.urls[0], ...others, current])];
    this.index = this.urls.indexOf(current);
  }

  /** Asks the node in use for the others. A node on its own lists none;
   * one out of reach, or an older chatd, leaves what is known. */
  async discover(fetchNodes: typeof fetch = fetch) {
    try {
      const reply = await fetchNodes(new URL("/nodes", this.current));
      if (!reply.ok) return;
      const body = (await reply.json()) as { nodes?: unknown };
      if (!Array.isArray(body.nodes)) return;
      this.learn(
        body.nodes.filter((node): node is string => typeof node === "string"),
      );
    } catch {
      // Kept as it was.
    }
  }
}
