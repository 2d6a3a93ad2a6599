import { expect, test } from "vitest";

import { isStale, sizeOf } from "../../src/files";

test("a link is stale from a minute before its `until`", () => {
  const link = "/files/0123?room=general&for=ann&until=1000000&sig=ab";
  expect(isStale(link, 1_000_000_000 - 120_000)).toBe(false);
  expect(isStale(link, 1_000_000_000 - 30_000)).toBe(true);
  expect(isStale(link, 2_000_000_000)).toBe(true);
  // A link without an expiry (not one of ours) is never refreshed.
  expect(isStale("/files/0123", 2_000_000_000)).toBe(false);
});

test("sizes read as people read them", () => {
  expect(sizeOf(512)).toBe("512 B");
  expect(sizeOf(3600)).toBe("3.6 kB");
  expect(sizeOf(25 * 1024 * 1024)).toBe("26.2 MB");
});
