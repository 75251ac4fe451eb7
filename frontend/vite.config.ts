import { defineConfig } from "vitest/config";

// Built into frontend/dist, which Django collects as static/app/ (see annotator/settings.py STATICFILES_DIRS).
export default defineConfig({
  base: "/static/app/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    manifest: true,
    sourcemap: true,
    rollupOptions: { input: "src/main.ts" },
  },
  test: {
    include: ["tests/**/*.test.ts"],
    environment: "node",
  },
});
