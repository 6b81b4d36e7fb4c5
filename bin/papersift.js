#!/usr/bin/env node
// Runs the CLI bundle that `npm ci` builds (dist/cli.mjs: starts in ≈0.2 s instead of ≈0.5 s through tsx), or
// the TypeScript sources through tsx when the bundle is missing or older than any source file (while developing).
import { existsSync, readdirSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";

const src = fileURLToPath(new URL("../src/", import.meta.url));
const bundle = fileURLToPath(new URL("../dist/cli.mjs", import.meta.url));

const newestSource = () =>
  Math.max(...readdirSync(src, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => statSync(`${entry.parentPath ?? entry.path}/${entry.name}`).mtimeMs));

if (existsSync(bundle) && statSync(bundle).mtimeMs >= newestSource()) {
  await import(bundle);
} else {
  const { register } = await import("tsx/esm/api");
  register();
  await import("../src/cli.ts");
}
