// The index folder and what can go wrong with its files, apart from the store's own logic: creating the
// folder, write access, a damaged database, a damaged meta row, and a full or failing disk. SQLite reports
// a full tmpfs as an I/O error on its shared-memory file, so an I/O error where the disk has (almost) no
// room left is a full disk too (issue 17).
import { accessSync, constants, existsSync, mkdirSync, statfsSync, statSync } from "node:fs";
import path from "node:path";
import { PapersiftError } from "../errors.ts";

export const DB_FILE = "papersift.db";

export const isReadOnly = (error: unknown) => /^SQLITE_(READONLY|CANTOPEN)|^EACCES|^EPERM|^EROFS/.test((error as { code?: string }).code ?? "");

export function writable(file: string): boolean {
  try {
    accessSync(file, constants.W_OK);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ENOENT";
  }
}

/** The writer's folder: created if missing; a file in its place, or no write access, is the user's to fix. */
export function prepareIndexDir(dir: string): void {
  if (existsSync(dir) && !statSync(dir).isDirectory()) {
    throw new PapersiftError("INDEX_NOT_A_FOLDER", `--index ${dir} is a file, not a folder`);
  }
  try {
    mkdirSync(dir, { recursive: true });
  } catch (error) {
    throw diskError(error, dir) ?? new PapersiftError("INDEX_READ_ONLY", `cannot create the index folder ${dir} (${(error as NodeJS.ErrnoException).code})`);
  }
  if (!writable(dir) || !writable(path.join(dir, DB_FILE))) {
    throw new PapersiftError("INDEX_READ_ONLY", `cannot write to the index folder ${dir} (permission denied)`);
  }
}

export function isCorruption(error: unknown): boolean {
  const code = (error as { code?: string }).code ?? "";
  return code.startsWith("SQLITE_CORRUPT") || code === "SQLITE_NOTADB";
}

/** A meta row's JSON, or undefined where it is damaged (a derived row then counts as missing). */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Below this much free space an I/O error is taken for a full disk. */
const NEARLY_FULL_BYTES = 1 << 20;

function freeBytes(dir: string): number {
  for (let at = path.resolve(dir); ; at = path.dirname(at)) {
    try {
      const s = statfsSync(at);
      return s.bavail * s.bsize;
    } catch {
      if (path.dirname(at) === at) return Infinity;
    }
  }
}

/** The user's version of a failed write in index folder `dir`, or null when the disk is not to blame. */
export function diskError(error: unknown, dir: string): PapersiftError | null {
  const code = (error as { code?: unknown }).code;
  if (typeof code !== "string") return null;
  const message = (error as Error).message.split("\n")[0];
  const io = code.startsWith("SQLITE_IOERR") || code === "EIO";
  if (code === "ENOSPC" || code === "EDQUOT" || code === "SQLITE_FULL" || (io && freeBytes(dir) < NEARLY_FULL_BYTES)) {
    return new PapersiftError("DISK_FULL", `the disk holding ${dir} is full (${message})`, { cause: error });
  }
  if (io) return new PapersiftError("INDEX_IO", `cannot write to ${dir} (${message}: ${code})`, { cause: error });
  return null;
}
