import { defineConfig } from "vite";

export default defineConfig({
  build: {
    // chatd serves these files; keep names stable apart from their hash.
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    // The page's CSP allows no inline script.
    modulePreload: { polyfill: false },
  },
});
