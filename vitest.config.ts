import { defineConfig } from "vitest/config";
import SkipNotesReporter from "./tests/skip-notes-reporter.ts";

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores: onnxruntime already uses both, so more parallel test files only fight over them.
    maxWorkers: 2,
    // The usual summary, then the tests that skipped themselves on this machine and why.
    reporters: ["default", new SkipNotesReporter()],
  },
});
