// `papersift serve` as a child process, for the tests and the endpoint benchmark. Kept apart from helpers.ts
// (which needs vitest) so that scripts can use it too.
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

const BIN = fileURLToPath(new URL("../bin/papersift.js", import.meta.url));

/**
 * Start `papersift serve --port 0` with these arguments; resolves with the process and its base URL
 * (`http://127.0.0.1:<port>/`) once it says where it listens, which it does when the model and the map are
 * ready. Rejects if it exits first. The caller kills it. `log()` is what it wrote on stderr so far.
 */
export function startServe(args: string[], stderr: "pipe" | "inherit" = "pipe"): Promise<{ server: ChildProcess; base: string; log: () => string }> {
  const server = spawn(process.execPath, [BIN, "serve", "--port", "0", ...args], { stdio: ["ignore", "pipe", stderr] });
  let log = "";
  server.stderr?.on("data", (d) => (log += d));
  return new Promise((resolve, reject) => {
    let stdout = "";
    server.stdout!.on("data", (d) => {
      stdout += d;
      const base = /serving .* at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(stdout)?.[1];
      if (base) resolve({ server, base, log: () => log });
    });
    server.on("exit", (code) => reject(new Error(`serve exited with ${code}`)));
  });
}
