// Saved sets of papers ("tags"): the user's own data, so they live in a small JSON file of their own, apart
// from the derived index (which `ingest --rebuild`, a damaged or deleted index folder, or a model change may
// replace) and never inside the corpus (which papersift never writes). Each entry keeps the paper's id,
// title and, where known, DOI and arXiv id, so a set is still matched to its papers after the index is
// rebuilt, and a person can read it, diff it or keep it in git. Entries that are not in the index also keep
// their abstract, so they can be embedded as liked examples. The file is replaced atomically (write, then
// rename) under a short lock, so two writers (the CLI and the web page) never lose each other's changes.
// Being a person's file, a write changes only the tag it was asked to: every other key and field stays as
// it was, a symlink is written through to its target, the mode is kept, and a read-only file is refused.
import { accessSync, chmodSync, chownSync, closeSync, constants, existsSync, lstatSync, mkdirSync, openSync, readFileSync, readlinkSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { PapersiftError } from "./errors.ts";

/** The default file, relative to the working folder like `corpus/` and `index-cache/`; see tagsFile(). */
export const DEFAULT_TAGS_FILE = "papersift-tags.json";

/** The tags file in force: --tags, else PAPERSIFT_TAGS, else papersift-tags.json in the working folder. */
export const tagsFile = (flag?: string) => flag ?? process.env.PAPERSIFT_TAGS ?? DEFAULT_TAGS_FILE;

const TAG_NAME = /^[\p{L}\p{N}][\p{L}\p{N}\p{M}._-]{0,63}$/u;

/** What an entry must hold; any other field a person adds is kept as written (entries are never re-made). */
export const TagEntry = z.object({
  id: z.string().min(1),
  title: z.string(),
  doi: z.string().optional(),
  arxiv: z.string().optional(),
  /** Only for a paper that was not in the index when it was added: what it is embedded from. */
  abstract: z.string().optional(),
  /** YYYY-MM-DD. */
  added: z.string(),
});
export type TagEntry = z.infer<typeof TagEntry>;

/** Tag name → entries. A Map, so a tag named "constructor" or "__proto__" is a tag like any other. */
export type Tags = Map<string, TagEntry[]>;

/** A tags file as read: its top-level keys in order (as written, with values) and its tags. */
interface TagsDocument {
  top: [string, unknown][];
  tags: Tags;
}

/** The name, composed (NFC: "café" typed either way is one tag); BAD_OPTION if it is not a tag name. */
export function checkTagName(name: string): string {
  const composed = name.normalize("NFC");
  if (!TAG_NAME.test(composed)) {
    throw new PapersiftError("BAD_OPTION", `${JSON.stringify(name)} is not a tag name: use letters, digits, ".", "_" and "-" (up to 64, starting with a letter or digit)`);
  }
  return composed;
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

function readDocument(file: string): TagsDocument {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return { top: [["papersift-tags", 1], ["tags", {}]], tags: new Map() };
    if (code === "EISDIR") throw new PapersiftError("TAGS_INVALID", `the tags file ${file} is a folder`, { hint: `pass --tags a file, e.g. ${path.join(file, DEFAULT_TAGS_FILE)}` });
    throw new PapersiftError("TAGS_INVALID", `cannot read the tags file ${file} (${code})`, { hint: "check the file's permissions, or pass --tags another file" });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new PapersiftError("TAGS_INVALID", `the tags file ${file} is not valid JSON (${(error as Error).message})`);
  }
  const invalid = (where: string, what: string) => new PapersiftError("TAGS_INVALID", `the tags file ${file} is not a papersift tags file (${where}: ${what})`);
  if (!isRecord(raw)) throw invalid("top level", "expected an object");
  if (!Object.hasOwn(raw, "papersift-tags") || raw["papersift-tags"] !== 1) throw invalid("papersift-tags", "expected 1");
  if (!Object.hasOwn(raw, "tags") || !isRecord(raw.tags)) throw invalid("tags", "expected an object");
  const tags: Tags = new Map();
  for (const [name, list] of Object.entries(raw.tags)) {
    if (!Array.isArray(list)) throw invalid(`tags.${name}`, "expected a list");
    list.forEach((entry, i) => {
      const parsed = TagEntry.safeParse(entry);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        throw invalid(["tags", name, i, ...issue.path].join("."), issue.message);
      }
    });
    tags.set(name, list as TagEntry[]);
  }
  return { top: Object.entries(raw), tags };
}

/** The tags in a file; a missing file has none. A file that is not a tags file is an error, never overwritten. */
export function readTags(file: string): Tags {
  return readDocument(file).tags;
}

/** The file as written back: its keys in their order, tags sorted by name, one entry per line (small diffs in git). */
function formatDocument({ top, tags }: TagsDocument): string {
  const names = [...tags.keys()].sort();
  const body = names.map((name) => {
    const entries = tags.get(name)!.map((e) => `      ${JSON.stringify(e)}`).join(",\n");
    return `    ${JSON.stringify(name)}: [${entries ? `\n${entries}\n    ` : ""}]`;
  });
  const tagsText = `{${body.length ? `\n${body.join(",\n")}\n  ` : ""}}`;
  const keys = top.map(([key, value]) => `  ${JSON.stringify(key)}: ${key === "tags" ? tagsText : JSON.stringify(value, null, 2).replaceAll("\n", "\n  ")}`);
  return `{\n${keys.join(",\n")}\n}\n`;
}

const LOCK_WAIT_MS = 5_000;
/** A lock older than this is left over from a killed process: a change takes milliseconds. */
const STALE_LOCK_MS = 30_000;

function lock(file: string): () => void {
  const lockFile = `${file}.lock`;
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      closeSync(openSync(lockFile, "wx"));
      return () => rmSync(lockFile, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") {
        throw new PapersiftError("TAGS_INVALID", `cannot write next to the tags file ${file} (${(error as NodeJS.ErrnoException).code})`, {
          hint: "make its folder writable, or pass --tags a file in a folder you can write to",
        });
      }
    }
    try {
      if (Date.now() - statSync(lockFile).mtimeMs > STALE_LOCK_MS) rmSync(lockFile, { force: true });
    } catch {
      // Released meanwhile.
    }
    if (Date.now() > deadline) {
      throw new PapersiftError("TAGS_BUSY", `${lockFile} is held by another papersift`, { hint: `try again, or remove ${lockFile} if no papersift is running` });
    }
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  }
}

/** The file a write must replace: a symlink's target (so the link stays a link), else the path itself. */
function writeTarget(file: string): string {
  try {
    return realpathSync(file);
  } catch {
    // Missing: a dangling link still names where the file is to be.
    try {
      if (lstatSync(file).isSymbolicLink()) return path.resolve(path.dirname(file), readlinkSync(file));
    } catch {
      // Not there at all.
    }
    return path.resolve(file);
  }
}

/** TAGS_READ_ONLY if the file exists and must not be written (no write bit, or no permission). */
function checkWritable(file: string, target: string): { mode: number; uid: number; gid: number } | null {
  let stat;
  try {
    stat = statSync(target);
  } catch {
    return null;
  }
  let writable = (stat.mode & 0o222) !== 0;
  try {
    accessSync(target, constants.W_OK);
  } catch {
    writable = false;
  }
  if (!writable) throw new PapersiftError("TAGS_READ_ONLY", `the tags file ${file} is read-only; papersift left it as it is`);
  return { mode: stat.mode & 0o7777, uid: stat.uid, gid: stat.gid };
}

/**
 * Change the tags file: read it under a lock, apply `change`, write it to a temporary file and rename it over
 * the old one (so a crash leaves the old file or the new one, never half of one). A symlinked file is written
 * through to its target; the mode (and, where allowed, owner) is kept. Returns what `change` does.
 */
export function updateTags<T>(file: string, change: (tags: Tags) => T): T {
  const target = writeTarget(file);
  const dir = path.dirname(target);
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true });
  const release = lock(target);
  try {
    const kept = checkWritable(file, target);
    const document = readDocument(target);
    const result = change(document.tags);
    const temp = `${target}.${process.pid}.tmp`;
    writeFileSync(temp, formatDocument(document), kept ? { mode: kept.mode } : {});
    if (kept) {
      chmodSync(temp, kept.mode); // the umask may have cut it
      try {
        chownSync(temp, kept.uid, kept.gid);
      } catch {
        // Only root may give a file away; an ordinary user's file is theirs already.
      }
    }
    renameSync(temp, target);
    return result;
  } finally {
    release();
  }
}

/** Add entries to a tag (created if new); an id already in it keeps its first entry. Returns the ids added. */
export function addToTag(file: string, name: string, entries: TagEntry[]): { added: string[]; already: string[] } {
  name = checkTagName(name);
  return updateTags(file, (tags) => {
    let list = tags.get(name);
    if (!list) tags.set(name, (list = []));
    const have = new Set(list.map((e) => e.id));
    const added: string[] = [];
    const already: string[] = [];
    for (const entry of entries) {
      if (have.has(entry.id)) already.push(entry.id);
      else {
        list.push(TagEntry.parse(entry));
        have.add(entry.id);
        added.push(entry.id);
      }
    }
    return { added, already };
  });
}

/**
 * Remove papers from a tag (by id, DOI or arXiv id as stored), or the whole tag when `ids` is null. Unknown
 * tag: UNKNOWN_TAG. Returns the ids removed and the references that matched nothing in the tag.
 */
export function removeFromTag(file: string, name: string, refs: string[] | null): { removed: string[]; missing: string[]; tagRemoved: boolean } {
  name = name.normalize("NFC");
  return updateTags(file, (tags) => {
    const list = tags.get(name);
    if (!list) throw unknownTag(name, tags, file);
    if (refs === null) {
      tags.delete(name);
      return { removed: list.map((e) => e.id), missing: [], tagRemoved: true };
    }
    const removed: string[] = [];
    const missing: string[] = [];
    for (const ref of refs) {
      const at = list.findIndex((e) => e.id === ref || e.doi === ref.toLowerCase() || e.arxiv === ref);
      if (at < 0) missing.push(ref);
      else removed.push(...list.splice(at, 1).map((e) => e.id));
    }
    return { removed, missing, tagRemoved: false };
  });
}

/** UNKNOWN_TAG naming the file read (tags live in the working folder's file, so another folder has others). */
export function unknownTag(name: string, tags: Tags, file: string): PapersiftError {
  const names = [...tags.keys()].sort();
  return new PapersiftError("UNKNOWN_TAG", `no tag ${JSON.stringify(name)} in ${path.resolve(file)} (${names.length ? `tags: ${names.join(", ")}` : "there are no tags yet"})`);
}

/** One tag's entries; UNKNOWN_TAG if there is no such tag. */
export function tagEntries(file: string, name: string): TagEntry[] {
  const tags = readTags(file);
  const list = tags.get(name.normalize("NFC"));
  if (!list) throw unknownTag(name, tags, file);
  return list;
}

/** Today as YYYY-MM-DD (local time: the day the person added it). */
export function today(): string {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}
