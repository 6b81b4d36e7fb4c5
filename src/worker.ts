// Start a worker thread on one of our modules, whether papersift runs from its TypeScript sources (through
// tsx: tests, scripts, a fresh clone) or from the bundle that `npm run build` writes to dist/.
import { existsSync } from "node:fs";
import { Worker, type WorkerOptions } from "node:worker_threads";

/**
 * `module` is the worker's path under src/ without extension ("embed/worker"). This file sits at the root
 * of src/, and its code at the root of dist/ once bundled, where the build writes each worker module's own
 * bundle at the same path with `.mjs` (package.json's build script).
 */
export function startWorker(module: string, options: WorkerOptions): Worker {
  const source = new URL(`./${module}.ts`, import.meta.url);
  if (!existsSync(source)) return new Worker(new URL(`./${module}.mjs`, import.meta.url), options);
  // Loader hooks are per thread: worker-boot.mjs registers tsx in the new one before loading the module.
  return new Worker(new URL("./worker-boot.mjs", import.meta.url), { ...options, argv: [source.href] });
}
