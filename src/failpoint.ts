// Named points where the fault-injection tests (tests/faults.test.ts) kill the process with SIGKILL, to
// prove that a crash at that exact moment loses nothing. Inert unless PAPERSIFT_FAILPOINT names the point.
// "<name>:report" only prints "failpoint <name>" on stderr: a test waits for that line instead of a timer;
// "<name>:stop" prints it and then stops the process (SIGSTOP) until the test sends SIGCONT.
export type Failpoint = "after-plan" | "after-first-embed-step" | "after-batch-commit" | "inside-transaction" | "after-commit" | "before-hnsw-rename";

export function failpoint(name: Failpoint): void {
  const wanted = process.env.PAPERSIFT_FAILPOINT;
  if (wanted === name) process.kill(process.pid, "SIGKILL");
  else if (wanted === `${name}:report` || wanted === `${name}:stop`) {
    process.stderr.write(`failpoint ${name}\n`);
    if (wanted.endsWith(":stop")) process.kill(process.pid, "SIGSTOP");
  }
}
