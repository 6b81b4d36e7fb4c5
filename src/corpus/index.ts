// Reads a corpus folder into Papers: one reader per format, chosen by extension; files in path order.
// `.jsonl` files are streamed line by line; the other formats are one small file per read. Ingest reads a
// corpus twice (identities first, then the entries it has to write) through the same entry stream, so both
// passes see the same entries and the same ids.
// Ids are assigned once every file is read: an explicit id (JSONL `id`, arXiv id) as written; otherwise a
// slug of the title, with a short content hash when the slug alone would be ambiguous, so a derived id
// never collides with another paper's and never depends on which other files exist or their order.
import { readdirSync, readFileSync, realpathSync, statSync } from "node:fs";
import path from "node:path";
import { PapersiftError } from "../errors.ts";
import { parseJsonlLine } from "./jsonl.ts";
import { decodeUtf8, fileHead, MAX_LINE_BYTES, mostlyNul, readLines } from "./lines.ts";
import { readMarkdown } from "./markdown.ts";
import {
  cleanText,
  contentSuffix,
  MAX_ABSTRACT_CHARS,
  MAX_TITLE_CHARS,
  slugify,
  type CorpusProblem,
  type Paper,
  type RawEntry,
  type ReadResult,
  type SourceLocation,
} from "./paper.ts";
import { readTxt } from "./txt.ts";

export type { CorpusProblem, Paper, SourceLocation } from "./paper.ts";

/** Formats read whole (one small file at a time); JSON Lines is streamed. */
const wholeFileReaders: Record<string, (text: string, file: string) => ReadResult> = {
  ".txt": readTxt,
  ".md": readMarkdown,
};
const streamed = new Set([".jsonl", ".ndjson"]);

/** Files of the whole-file formats larger than this are refused with a message rather than read into memory. */
const MAX_FILE_BYTES = 256 * 1024 * 1024;

/** What reading a corpus reports besides its entries. */
export interface CorpusReport {
  /** Malformed entries, skipped. */
  problems: CorpusProblem[];
  /** Things worth telling but not wrong: skipped files, duplicate ids. */
  notices: string[];
  /**
   * Files and folders (relative, forward slashes; a folder ends in "/") that could not be read as a whole.
   * Their papers in the index are kept as they were: an ingest never deletes what it could not read.
   */
  unreadable: string[];
}

export interface Corpus extends CorpusReport {
  papers: Paper[];
}

/** An entry as read, with its title and abstract cleaned and checked; ids come later (assignIds). */
export type Entry = RawEntry & { title: string; abstract: string };

export interface ReadCorpusOptions {
  /** A malformed entry is an error instead of a skip. */
  strict?: boolean | undefined;
}

const relative = (root: string, full: string) => path.relative(root, full).split(path.sep).join("/");
const reason = (error: unknown) => {
  const code = (error as NodeJS.ErrnoException).code;
  return code === "EACCES" || code === "EPERM" ? "permission denied" : code ?? (error as Error).message;
};

/** All regular files under dir, sorted, hidden ones skipped; symlinks followed once (loops are cut). */
function listFiles(root: string, corpus: CorpusReport): string[] {
  const files: string[] = [];
  const seen = new Set<string>();
  const walk = (dir: string) => {
    const shown = `${relative(root, dir) || "."}/`;
    let names: string[];
    try {
      const real = realpathSync(dir);
      if (seen.has(real)) {
        corpus.notices.push(`skipped ${shown}: a symlink loop back to a folder already read`);
        return;
      }
      seen.add(real);
      names = readdirSync(dir).sort();
    } catch (error) {
      if (dir === root) throw new PapersiftError("CORPUS_UNREADABLE", `cannot read the corpus folder ${root} (${reason(error)})`);
      corpus.problems.push({ file: shown, line: 0, message: `cannot read this folder (${reason(error)}); its papers in the index are kept` });
      corpus.unreadable.push(shown);
      return;
    }
    for (const name of names) {
      if (name.startsWith(".")) continue;
      const full = path.join(dir, name);
      let stat;
      try {
        stat = statSync(full);
      } catch {
        corpus.notices.push(`skipped ${relative(root, full)}: broken or looping symlink`);
        continue;
      }
      if (stat.isDirectory()) walk(full);
      else if (stat.isFile()) files.push(full);
    }
  };
  walk(root);
  return files;
}

/** Bytes to text, for the whole-file formats; null for a binary file (mostlyNul). */
function decode(bytes: Buffer, file: string, problems: CorpusProblem[]): string | null {
  if (mostlyNul(bytes)) return null;
  const { text, invalid } = decodeUtf8(bytes);
  if (invalid) {
    const line = text.slice(0, text.indexOf("\uFFFD")).split("\n").length;
    problems.push({ file, line, message: INVALID_UTF8 });
  }
  return text.replace(/^\uFEFF/, "");
}

const INVALID_UTF8 = "invalid UTF-8; the bad bytes were replaced with U+FFFD";
const BINARY = "binary file (mostly NUL bytes: not UTF-8 text)";

/** Is this corpus-relative file one of the unreadable files, or inside one of the unreadable folders? */
export function isUnder(unreadable: string[], file: string): boolean {
  return unreadable.some((u) => file === u || (u.endsWith("/") && file.startsWith(u)));
}

/** The corpus folder's files that papersift reads, in path order (others are noted and skipped). */
export function corpusFiles(dir: string, report: CorpusReport): { full: string; file: string }[] {
  let stat;
  try {
    stat = statSync(dir);
  } catch {
    throw new PapersiftError("CORPUS_NOT_FOUND", `no corpus folder at ${dir}`);
  }
  if (!stat.isDirectory()) throw new PapersiftError("CORPUS_NOT_FOUND", `${dir} is not a folder`);
  const files: { full: string; file: string }[] = [];
  for (const full of listFiles(dir, report)) {
    const file = relative(dir, full);
    const ext = path.extname(full).toLowerCase();
    if (!wholeFileReaders[ext] && !streamed.has(ext)) {
      report.notices.push(`skipped ${file}: unknown file type (papersift reads .txt, .jsonl, .ndjson, .md)`);
      continue;
    }
    files.push({ full, file });
  }
  return files;
}

/**
 * The clean entries of one file, in order; problems go to the report. A file that cannot be read as a whole
 * is added to `report.unreadable`, and entries it gave before that (a read error half way) must be dropped.
 */
export function* fileEntries(full: string, file: string, report: CorpusReport): Generator<Entry> {
  const unreadable = (message: string) => {
    report.problems.push({ file, line: 1, message: `${message}; its papers in the index are kept` });
    report.unreadable.push(file);
  };
  const ext = path.extname(full).toLowerCase();
  if (streamed.has(ext)) {
    let head: Buffer;
    try {
      head = fileHead(full);
    } catch (error) {
      return unreadable(`cannot read this file (${reason(error)})`);
    }
    if (mostlyNul(head)) return unreadable(BINARY);
    let reportedUtf8 = false;
    try {
      for (const line of readLines(full)) {
        if (line.tooLong) {
          report.problems.push({ file, line: line.number, message: `line longer than ${MAX_LINE_BYTES / 2 ** 20} MB; skipped` });
          continue;
        }
        if (line.invalidUtf8 && !reportedUtf8) {
          reportedUtf8 = true;
          report.problems.push({ file, line: line.number, message: INVALID_UTF8 });
        }
        const { entry, problem } = parseJsonlLine(line.text, line.number, file);
        if (problem) report.problems.push(problem);
        const clean = entry && cleanEntry(entry, report);
        if (clean) yield clean;
      }
    } catch (error) {
      unreadable(`cannot read this file (${reason(error)})`);
    }
    return;
  }
  let bytes: Buffer;
  try {
    const size = statSync(full).size;
    if (size > MAX_FILE_BYTES) return unreadable(`file is ${Math.round(size / 2 ** 20)} MB, over the 256 MB limit: split it`);
    bytes = readFileSync(full);
  } catch (error) {
    return unreadable(`cannot read this file (${reason(error)})`);
  }
  const text = decode(bytes, file, report.problems);
  if (text === null) return unreadable(BINARY);
  const result = wholeFileReaders[ext]!(text, file);
  report.problems.push(...result.problems);
  for (const entry of result.entries) {
    const clean = cleanEntry(entry, report);
    if (clean) yield clean;
  }
}

/** Title and abstract cleaned and cut to their limits; an entry left without either is a problem. */
function cleanEntry(entry: RawEntry, report: CorpusReport): Entry | null {
  const { file, line } = entry.source;
  const fullTitle = cleanText(entry.title);
  const fullAbstract = cleanText(entry.abstract);
  for (const [what, value, max] of [["title", fullTitle, MAX_TITLE_CHARS], ["abstract", fullAbstract, MAX_ABSTRACT_CHARS]] as const) {
    if (value.length > max) report.notices.push(`${file}:${line}: ${what} of ${value.length} characters cut to ${max}`);
  }
  const title = fullTitle.slice(0, MAX_TITLE_CHARS);
  const abstract = fullAbstract.slice(0, MAX_ABSTRACT_CHARS);
  if (!title || !abstract) {
    report.problems.push({ file, line, message: title ? "abstract is empty" : "title is empty" });
    return null;
  }
  if (/\0/.test(title + abstract)) {
    report.problems.push({ file, line, message: "contains a NUL byte; skipped" });
    return null;
  }
  return { ...entry, title, abstract };
}

/** With --strict, any malformed entry fails the read, naming the first. */
export function failIfStrict(report: CorpusReport, options: ReadCorpusOptions): void {
  const { problems } = report;
  if (!options.strict || !problems.length) return;
  const first = problems[0]!;
  throw new PapersiftError(
    "CORPUS_MALFORMED",
    `${first.file}:${first.line}: ${first.message}${problems.length > 1 ? ` (and ${problems.length - 1} more)` : ""}`,
  );
}

/** The whole corpus in memory: for small corpora, tests and scripts. Ingest streams instead. */
export function readCorpus(dir: string, options: ReadCorpusOptions = {}): Corpus {
  const report: CorpusReport = { problems: [], notices: [], unreadable: [] };
  const entries: Entry[] = [];
  for (const { full, file } of corpusFiles(dir, report)) {
    const own = [...fileEntries(full, file, report)];
    if (!report.unreadable.includes(file)) entries.push(...own);
  }
  const ids = assignIds(entries.map(identityOf), report.notices);
  const papers = entries.flatMap((entry, i) => (ids[i] ? [{ ...entry, id: ids[i] }] : []));
  failIfStrict(report, options);
  return { papers, ...report };
}

/** What assigning an id needs to know of an entry: small, so a whole large corpus of them fits in memory. */
export interface Identity {
  explicitId: string | undefined;
  /** The title's slug (empty when the entry has an explicit id). */
  slug: string;
  /** sha256 of title and abstract, hex (see contentSuffix). */
  digest: string;
  source: SourceLocation;
}

export function identityOf(entry: Entry): Identity {
  return {
    explicitId: entry.id,
    slug: entry.id === undefined ? slugify(entry.title) : "",
    digest: contentSuffix(entry.title, entry.abstract, 64),
    source: entry.source,
  };
}

/**
 * Explicit ids as written. A derived id is the title's slug when no explicit id and no other derived entry
 * has that slug; otherwise slug + content hash. Entries are one paper only when their ids are equal: the first
 * is kept (its id returned) and the later one noted with both locations (null returned).
 */
export function assignIds(items: Identity[], notices: string[]): (string | null)[] {
  const explicit = new Set(items.flatMap((e) => (e.explicitId !== undefined ? [e.explicitId] : [])));
  const slugCount = new Map<string, number>();
  for (const e of items) if (e.explicitId === undefined) slugCount.set(e.slug, (slugCount.get(e.slug) ?? 0) + 1);
  const firstAt = new Map<string, SourceLocation>();
  return items.map((entry) => {
    let id = entry.explicitId;
    if (id === undefined) {
      const slug = entry.slug;
      id = slug && slugCount.get(slug) === 1 && !explicit.has(slug) ? slug : `${slug || "untitled"}-${entry.digest.slice(0, 8)}`;
      if (explicit.has(id)) id = `${slug || "untitled"}-${entry.digest.slice(0, 16)}`;
    }
    const first = firstAt.get(id);
    if (first) {
      const what = entry.explicitId !== undefined ? `duplicate id ${id}` : `the same title and abstract as ${id}`;
      notices.push(`${what} at ${entry.source.file}:${entry.source.line}: kept the one at ${first.file}:${first.line}`);
      return null;
    }
    firstAt.set(id, entry.source);
    return id;
  });
}
