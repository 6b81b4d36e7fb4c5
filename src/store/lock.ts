// One writer at a time: a lock file holding the owner's pid, created with O_EXCL. A lock whose pid is no
// longer running is stale and taken over (renamed away first, so two processes cannot both take it).
import { closeSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from "node:fs";
import path from "node:path";
import { PapersiftError } from "../errors.ts";

export const LOCK_FILE = "ingest.lock";

export interface Lock {
  release(): void;
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function statSafe(file: string): number {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return Date.now();
  }
}

/** One attempt: the lock, or who holds it (-1: unknown, or a stale lock was just cleared: try again). */
function tryAcquire(file: string): { lock: Lock } | { holder: number; retry?: boolean } {
  try {
    const fd = openSync(file, "wx");
    writeSync(fd, String(process.pid));
    closeSync(fd);
    // Also on process.exit (Ctrl-C exits with 130), so the next ingest need not take over a stale lock.
    const release = () => {
      rmSync(file, { force: true });
      process.off("exit", release);
    };
    process.on("exit", release);
    return { lock: { release } };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  let holder = Number.NaN;
  try {
    holder = Number.parseInt(readFileSync(file, "utf8"), 10);
  } catch {
    return { holder: -1 }; // released between our open and read: try again
  }
  // A lock being written right now has no pid yet: only call it stale once it has sat empty a while.
  if (Number.isNaN(holder)) {
    if (Date.now() - statSafe(file) < 5_000) return { holder: -1 };
  } else if (isRunning(holder)) {
    return { holder };
  }
  try {
    renameSync(file, `${file}.stale-${process.pid}`);
    rmSync(`${file}.stale-${process.pid}`, { force: true });
  } catch {
    // Another process took it over first.
  }
  return { holder: -1, retry: true };
}

/** Take the writer lock of an index folder, waiting up to waitMs for a running holder to finish. */
export async function acquireLock(indexDir: string, waitMs: number): Promise<Lock> {
  const file = path.join(indexDir, LOCK_FILE);
  const deadline = Date.now() + waitMs;
  for (;;) {
    const attempt = tryAcquire(file);
    if ("lock" in attempt) return attempt.lock;
    if (attempt.retry) continue;
    if (Date.now() >= deadline) {
      throw new PapersiftError(
        "INDEX_LOCKED",
        `another ingest (pid ${attempt.holder > 0 ? attempt.holder : "unknown"}) is writing ${indexDir}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
