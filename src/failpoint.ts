// Named points where the fault-injection tests (tests/faults.test.ts) kill the process with SIGKILL, to
// prove that a crash at that exact moment loses nothing. Inert unless PAPERSIFT_FAILPOINT names the point.
export type Failpoint = "after-first-embed-step" | "inside-transaction" | "after-commit" | "before-hnsw-rename";

export function failpoint(name: Failpoint): void {
  if (process.env.PAPERSIFT_FAILPOINT === name) process.kill(process.pid, "SIGKILL");
}
