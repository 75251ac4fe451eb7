import { copyFileSync, mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { defaultClientConditions } from "vite";
import { defineConfig, type Plugin } from "vitest/config";

// onnxruntime-web's WASM runtime (SAM's decoder, src/sam/) is served from our own static files as
// static/app/ort/: the worker sets `ort.env.wasm.wasmPaths` there, so nothing is loaded from a CDN.
export const ORT_FILES = ["ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm"];
function copyOrtRuntime(): Plugin {
  return {
    name: "copy-onnxruntime-wasm",
    apply: "build",
    writeBundle(options) {
      const out = resolve(options.dir ?? "dist", "ort");
      mkdirSync(out, { recursive: true });
      for (const file of ORT_FILES) copyFileSync(resolve("node_modules/onnxruntime-web/dist", file), resolve(out, file));
    },
  };
}

// Built into frontend/dist, which Django collects as static/app/ (see annotator/settings.py STATICFILES_DIRS).
export default defineConfig({
  base: "/static/app/",
  plugins: [copyOrtRuntime()],
  // The non-bundled onnxruntime-web build loads its .mjs/.wasm from wasmPaths (our static files).
  resolve: { conditions: ["onnxruntime-web-use-extern-wasm", ...defaultClientConditions] },
  worker: { format: "es" },
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
    // No test measures time: the limit only stops a hung test. Vitest's 5 s default failed the WASM decoder test
    // on a busy 2-core machine (compiling onnxruntime-web and running every fixture prompt takes seconds of CPU).
    testTimeout: 120_000,
  },
});
