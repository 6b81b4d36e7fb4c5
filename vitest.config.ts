import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores: onnxruntime already uses both, so more parallel test files only fight over them.
    maxWorkers: 2,
  },
});
