// One writer at a time: a lock file created with O_EXCL, holding who owns it: pid, the process's start time
// and the host. A lock is stale when its process is gone, when its pid now belongs to another process (the
// start time differs: pids are recycled, and in a container pid 1 or our own pid are common), or when it is
// our own pid; a stale lock is taken over (renamed away first, so two processes cannot both take it).
// A live holder is waited for, and the wait is reported at once.
import { closeSync, lstatSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import path from "node:path";
import { z } from "zod";
import { PapersiftError } from "../errors.ts";

export const LOCK_FILE = "ingest.lock";

export interface Lock {
  release(): void;
  /** Set when a stale lock was taken over: what it was. */
  tookOver: string | null;
}

const Holder = z.object({ pid: z.number().int().positive(), start: z.string().nullable(), host: z.string(), tool: z.literal("papersift") });
type Holder = z.infer<typeof Holder>;

/** The kernel's start time of a process (clock ticks since boot), or null where /proc cannot tell. */
export function processStart(pid: number | "self"): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Field 22; the command name (field 2) may hold spaces and parentheses, so count from its closing one.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? null;
  } catch {
    return null;
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ").trim();
  } catch {
    return "";
  }
}

/** Why the lock no longer guards anything, or null if its holder may still be writing. */
function staleBecause(text: string): string | null {
  let holder: Holder | { pid: number; start?: undefined; host?: undefined };
  try {
    holder = Holder.parse(JSON.parse(text));
  } catch {
    // Written by an older papersift: just a pid.
    const pid = Number.parseInt(text, 10);
    if (!(pid > 0)) return "it holds no owner";
    holder = { pid };
  }
  const { pid } = holder;
  if (holder.host !== undefined && holder.host !== hostname()) return null; // another machine's: cannot check
  if (pid === process.pid) return `it names this process (pid ${pid})`;
  if (!isRunning(pid)) return `pid ${pid} is not running`;
  const start = processStart(pid);
  if (holder.start !== undefined) {
    return holder.start !== null && start !== null && start !== holder.start ? `pid ${pid} is now another process` : null;
  }
  const command = commandLine(pid);
  return command && !command.includes("papersift") ? `pid ${pid} is not a papersift ingest (${command.slice(0, 60)})` : null;
}

/** Is a live ingest (another process) holding this index folder's writer lock right now? */
export function ingestRunning(indexDir: string): boolean {
  const file = path.join(indexDir, LOCK_FILE);
  // Not a plain file (a FIFO would block the read): no ingest of ours holds it.
  if (notALockFile(file) !== null) return false;
  try {
    const text = readFileSync(file, "utf8");
    return text.trim() !== "" && staleBecause(text) === null;
  } catch {
    return false;
  }
}

function describeHolder(text: string): string {
  try {
    const holder = Holder.parse(JSON.parse(text));
    return `pid ${holder.pid}${holder.host !== hostname() ? ` on ${holder.host}` : ""}`;
  } catch {
    return `pid ${Number.parseInt(text, 10) || "unknown"}`;
  }
}

const modifiedAt = (file: string) => {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return Date.now();
  }
};

type Attempt = { lock: Lock } | { holder: string; retry?: boolean; stale?: string };

/** What sits at the lock path when it is not a plain file ("a folder", "a symlink", …), else null. */
function notALockFile(file: string): string | null {
  let stat;
  try {
    stat = lstatSync(file);
  } catch {
    return null; // gone meanwhile: the next attempt creates it
  }
  if (stat.isFile()) return null;
  return stat.isDirectory() ? "a folder" : stat.isSymbolicLink() ? "a symlink" : stat.isFIFO() ? "a FIFO" : stat.isSocket() ? "a socket" : "a device file";
}

function tryAcquire(file: string): Attempt {
  try {
    const fd = openSync(file, "wx");
    const me: Holder = { pid: process.pid, start: processStart("self"), host: hostname(), tool: "papersift" };
    try {
      writeSync(fd, JSON.stringify(me));
    } catch (error) {
      // A full disk: leave no empty lock behind for the next ingest to wonder about.
      rmSync(file, { force: true });
      throw error;
    } finally {
      closeSync(fd);
    }
    // Also on process.exit (Ctrl-C exits with 130), so the next ingest need not take over a stale lock.
    const release = () => {
      rmSync(file, { force: true });
      process.off("exit", release);
    };
    process.on("exit", release);
    return { lock: { release, tookOver: null } };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  // Nothing papersift writes: no wait can end it (and reading a FIFO would block), so say what to remove.
  const odd = notALockFile(file);
  if (odd) {
    throw new PapersiftError("INDEX_LOCKED", `${file} is ${odd}, not a lock file papersift wrote`, {
      hint: `remove ${file} (no papersift ingest made it), then run the ingest again`,
    });
  }
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { holder: "unknown", retry: true }; // released between our open and read
    return { holder: `unknown: the lock file cannot be read (${(error as NodeJS.ErrnoException).code})` };
  }
  // A lock being written right now is empty: only call it stale once it has sat empty a while.
  if (!text.trim() && Date.now() - modifiedAt(file) < 5_000) return { holder: "unknown" };
  const stale = staleBecause(text);
  if (stale === null) return { holder: describeHolder(text) };
  try {
    renameSync(file, `${file}.stale-${process.pid}`);
    rmSync(`${file}.stale-${process.pid}`, { force: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") {
      throw new PapersiftError("INDEX_LOCKED", `cannot take over the stale lock ${file} (${stale}; ${(error as NodeJS.ErrnoException).code})`, {
        hint: `remove ${file} (its process is gone), then run the ingest again`,
      });
    }
    // Another process took it over first.
  }
  return { holder: describeHolder(text), retry: true, stale };
}

/** Attempts in a row without waiting: a race with another process settles in one or two. */
const MAX_QUICK_RETRIES = 10;

/**
 * Take the writer lock of an index folder, waiting up to waitMs for a live holder to finish. `onWait` hears
 * at once that we are waiting, and for whom. Every way of failing ends in one message that names the file
 * to remove, never later than the wait (issue 17: a folder in its place used to spin forever).
 */
export async function acquireLock(indexDir: string, waitMs: number, onWait?: (message: string) => void): Promise<Lock> {
  const file = path.join(indexDir, LOCK_FILE);
  const deadline = Date.now() + waitMs;
  let tookOver: string | null = null;
  let told = false;
  for (let quick = 0; ; quick++) {
    const attempt = tryAcquire(file);
    if ("lock" in attempt) return { ...attempt.lock, tookOver };
    if (attempt.stale) tookOver = `took over a stale lock on ${indexDir} (${attempt.stale})`;
    if (attempt.retry && quick < MAX_QUICK_RETRIES) continue;
    if (Date.now() >= deadline) {
      throw new PapersiftError("INDEX_LOCKED", `another ingest (${attempt.holder}) is writing ${indexDir}`, {
        hint: `wait for it to finish (--wait sets how long), or remove ${file} if that process is gone`,
      });
    }
    if (!told) {
      onWait?.(`waiting for another ingest (${attempt.holder}) writing ${indexDir}, up to ${Math.round(waitMs / 1000)} s`);
      told = true;
    }
    quick = 0;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
