import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // The browser tests start chatd and Chromium: one file at a time.
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 60_000,
  },
});
