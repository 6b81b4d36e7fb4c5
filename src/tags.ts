// Saved sets of papers ("tags"): the user's own data, so they live in a small JSON file of their own, apart
// from the derived index (which `ingest --rebuild`, a damaged or deleted index folder, or a model change may
// replace) and never inside the corpus (which papersift never writes). Each entry keeps the paper's id,
// title and, where known, DOI and arXiv id, so a set is still matched to its papers after the index is
// rebuilt, and a person can read it, diff it or keep it in git. Entries that are not in the index also keep
// their abstract, so they can be embedded as liked examples. The file is replaced atomically (write, then
// rename) under a short lock, so two writers (the CLI and the web page) never lose each other's changes.
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { PapersiftError } from "./errors.ts";

/** The default file, relative to the working folder like `corpus/` and `index-cache/`; see tagsFile(). */
export const DEFAULT_TAGS_FILE = "papersift-tags.json";

/** The tags file in force: --tags, else PAPERSIFT_TAGS, else papersift-tags.json in the working folder. */
export const tagsFile = (flag?: string) => flag ?? process.env.PAPERSIFT_TAGS ?? DEFAULT_TAGS_FILE;

const TAG_NAME = /^[\p{L}\p{N}][\p{L}\p{N}._-]{0,63}$/u;

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

const TagFile = z.object({
  "papersift-tags": z.literal(1),
  tags: z.record(z.string(), z.array(TagEntry)),
});
export type Tags = Record<string, TagEntry[]>;

export function checkTagName(name: string): string {
  if (!TAG_NAME.test(name)) {
    throw new PapersiftError("BAD_OPTION", `"${name}" is not a tag name: use letters, digits, ".", "_" and "-" (up to 64, starting with a letter or digit)`);
  }
  return name;
}

/** The tags in a file; a missing file has none. A file that is not a tags file is an error, never overwritten. */
export function readTags(file: string): Tags {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw new PapersiftError("TAGS_INVALID", `cannot read the tags file ${file} (${(error as NodeJS.ErrnoException).code})`);
  }
  let parsed;
  try {
    parsed = TagFile.safeParse(JSON.parse(text));
  } catch (error) {
    throw new PapersiftError("TAGS_INVALID", `the tags file ${file} is not valid JSON (${(error as Error).message})`);
  }
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new PapersiftError("TAGS_INVALID", `the tags file ${file} is not a papersift tags file (${issue.path.join(".") || "top level"}: ${issue.message})`);
  }
  return parsed.data.tags;
}

/** Tags sorted by name, one entry per line: small diffs when kept in git. */
export function formatTags(tags: Tags): string {
  const names = Object.keys(tags).sort();
  const body = names.map((name) => {
    const entries = tags[name]!.map((e) => `      ${JSON.stringify(e)}`).join(",\n");
    return `    ${JSON.stringify(name)}: [${entries ? `\n${entries}\n    ` : ""}]`;
  });
  return `{\n  "papersift-tags": 1,\n  "tags": {${body.length ? `\n${body.join(",\n")}\n  ` : ""}}\n}\n`;
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
        throw new PapersiftError("TAGS_INVALID", `cannot write next to the tags file ${file} (${(error as NodeJS.ErrnoException).code})`);
      }
    }
    try {
      if (Date.now() - statSync(lockFile).mtimeMs > STALE_LOCK_MS) rmSync(lockFile, { force: true });
    } catch {
      // Released meanwhile.
    }
    if (Date.now() > deadline) throw new PapersiftError("TAGS_INVALID", `${lockFile} is held by another papersift; try again, or remove it if none is running`);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  }
}

/**
 * Change the tags file: read it under a lock, apply `change`, write it to a temporary file and rename it over
 * the old one (so a crash leaves the old file or the new one, never half of one). Returns what `change` does.
 */
export function updateTags<T>(file: string, change: (tags: Tags) => T): T {
  const dir = path.dirname(path.resolve(file));
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true });
  const release = lock(file);
  try {
    const tags = readTags(file);
    const result = change(tags);
    const temp = `${file}.${process.pid}.tmp`;
    writeFileSync(temp, formatTags(tags));
    renameSync(temp, file);
    return result;
  } finally {
    release();
  }
}

/** Add entries to a tag (created if new); an id already in it keeps its first entry. Returns the ids added. */
export function addToTag(file: string, name: string, entries: TagEntry[]): { added: string[]; already: string[] } {
  checkTagName(name);
  return updateTags(file, (tags) => {
    const list = (tags[name] ??= []);
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
  return updateTags(file, (tags) => {
    const list = tags[name];
    if (!list) throw unknownTag(name, tags);
    if (refs === null) {
      delete tags[name];
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

export function unknownTag(name: string, tags: Tags): PapersiftError {
  const names = Object.keys(tags).sort();
  return new PapersiftError("UNKNOWN_TAG", `no tag "${name}" (${names.length ? `tags: ${names.join(", ")}` : "there are no tags yet"})`);
}

/** One tag's entries; UNKNOWN_TAG if there is no such tag. */
export function tagEntries(file: string, name: string): TagEntry[] {
  const tags = readTags(file);
  const list = tags[name];
  if (!list) throw unknownTag(name, tags);
  return list;
}

/** Today as YYYY-MM-DD (local time: the day the person added it). */
export function today(): string {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}
