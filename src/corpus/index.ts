// Reads a corpus folder into Papers: one reader per format, chosen by extension; files in path order.
// Ids are assigned once every file is read: an explicit id (JSONL `id`, arXiv id) as written; otherwise a
// slug of the title, with a short content hash when the slug alone would be ambiguous, so a derived id
// never collides with another paper's and never depends on which other files exist or their order.
import { readdirSync, readFileSync, realpathSync, statSync } from "node:fs";
import path from "node:path";
import { PapersiftError } from "../errors.ts";
import { readJsonl } from "./jsonl.ts";
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
} from "./paper.ts";
import { readTxt } from "./txt.ts";

export type { CorpusProblem, Paper, SourceLocation } from "./paper.ts";

const readers: Record<string, (text: string, file: string) => ReadResult> = {
  ".txt": readTxt,
  ".jsonl": readJsonl,
  ".ndjson": readJsonl,
  ".md": readMarkdown,
};

/** Files larger than this are refused with a message rather than read into memory whole. */
const MAX_FILE_BYTES = 256 * 1024 * 1024;

export interface Corpus {
  papers: Paper[];
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
function listFiles(root: string, corpus: Corpus): string[] {
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

/**
 * Bytes to text. A file that is mostly NUL bytes is binary (or UTF-16) and unreadable as a whole; a stray
 * NUL only spoils the entry that holds it, which its reader reports.
 */
function decode(bytes: Buffer, file: string, problems: CorpusProblem[]): string | null {
  let nuls = 0;
  for (let i = bytes.indexOf(0); i >= 0; i = bytes.indexOf(0, i + 1)) nuls++;
  if (nuls > 0 && nuls * 100 > bytes.length) return null;
  const text = new TextDecoder("utf-8").decode(bytes);
  const bad = text.indexOf("\uFFFD");
  if (bad >= 0 && !bytes.includes(Buffer.from("\uFFFD"))) {
    const line = text.slice(0, bad).split("\n").length;
    problems.push({ file, line, message: "invalid UTF-8; the bad bytes were replaced with U+FFFD" });
  }
  return text.replace(/^\uFEFF/, "");
}

/** Is this corpus-relative file one of the unreadable files, or inside one of the unreadable folders? */
export function isUnder(unreadable: string[], file: string): boolean {
  return unreadable.some((u) => file === u || (u.endsWith("/") && file.startsWith(u)));
}

export function readCorpus(dir: string, options: ReadCorpusOptions = {}): Corpus {
  let stat;
  try {
    stat = statSync(dir);
  } catch {
    throw new PapersiftError("CORPUS_NOT_FOUND", `no corpus folder at ${dir}`);
  }
  if (!stat.isDirectory()) throw new PapersiftError("CORPUS_NOT_FOUND", `${dir} is not a folder`);

  const corpus: Corpus = { papers: [], problems: [], notices: [], unreadable: [] };
  const { problems, notices } = corpus;
  const entries: (RawEntry & { title: string; abstract: string })[] = [];

  for (const full of listFiles(dir, corpus)) {
    const file = relative(dir, full);
    const reader = readers[path.extname(full).toLowerCase()];
    if (!reader) {
      notices.push(`skipped ${file}: unknown file type (papersift reads .txt, .jsonl, .ndjson, .md)`);
      continue;
    }
    const unreadable = (message: string) => {
      problems.push({ file, line: 1, message: `${message}; its papers in the index are kept` });
      corpus.unreadable.push(file);
    };
    let bytes: Buffer;
    try {
      const size = statSync(full).size;
      if (size > MAX_FILE_BYTES) {
        unreadable(`file is ${Math.round(size / 2 ** 20)} MB, over the 256 MB limit: split it`);
        continue;
      }
      bytes = readFileSync(full);
    } catch (error) {
      unreadable(`cannot read this file (${reason(error)})`);
      continue;
    }
    const text = decode(bytes, file, problems);
    if (text === null) {
      unreadable("binary file (mostly NUL bytes: not UTF-8 text)");
      continue;
    }
    const result = reader(text, file);
    problems.push(...result.problems);
    for (const entry of result.entries) {
      const fullTitle = cleanText(entry.title);
      const fullAbstract = cleanText(entry.abstract);
      for (const [what, value, max] of [["title", fullTitle, MAX_TITLE_CHARS], ["abstract", fullAbstract, MAX_ABSTRACT_CHARS]] as const) {
        if (value.length > max) notices.push(`${file}:${entry.source.line}: ${what} of ${value.length} characters cut to ${max}`);
      }
      const title = fullTitle.slice(0, MAX_TITLE_CHARS);
      const abstract = fullAbstract.slice(0, MAX_ABSTRACT_CHARS);
      if (!title || !abstract) {
        problems.push({ file, line: entry.source.line, message: title ? "abstract is empty" : "title is empty" });
        continue;
      }
      if (/\0/.test(title + abstract)) {
        problems.push({ file, line: entry.source.line, message: "contains a NUL byte; skipped" });
        continue;
      }
      entries.push({ ...entry, title, abstract });
    }
  }

  corpus.papers = assignIds(entries, notices);
  if (options.strict && problems.length) {
    const first = problems[0]!;
    throw new PapersiftError(
      "CORPUS_MALFORMED",
      `${first.file}:${first.line}: ${first.message}${problems.length > 1 ? ` (and ${problems.length - 1} more)` : ""}`,
    );
  }
  return corpus;
}

/**
 * Explicit ids as written. A derived id is the title's slug when no explicit id and no other derived entry
 * has that slug; otherwise slug + content hash. Entries are one paper only when their ids are equal: the first
 * is kept and the later one noted with both locations.
 */
function assignIds(entries: (RawEntry & { title: string; abstract: string })[], notices: string[]): Paper[] {
  const explicit = new Set(entries.flatMap((e) => (e.id !== undefined ? [e.id] : [])));
  const slugCount = new Map<string, number>();
  const slugs = entries.map((e) => {
    if (e.id !== undefined) return "";
    const slug = slugify(e.title);
    slugCount.set(slug, (slugCount.get(slug) ?? 0) + 1);
    return slug;
  });
  const papers: Paper[] = [];
  const byId = new Map<string, Paper>();
  entries.forEach((entry, i) => {
    let id = entry.id;
    if (id === undefined) {
      const slug = slugs[i]!;
      id = slug && slugCount.get(slug) === 1 && !explicit.has(slug) ? slug : `${slug || "untitled"}-${contentSuffix(entry.title, entry.abstract)}`;
      if (explicit.has(id)) id = `${slug || "untitled"}-${contentSuffix(entry.title, entry.abstract, 16)}`;
    }
    const paper: Paper = { ...entry, id };
    const first = byId.get(id);
    if (first) {
      const what = entry.id !== undefined ? `duplicate id ${id}` : `the same title and abstract as ${id}`;
      notices.push(`${what} at ${paper.source.file}:${paper.source.line}: kept the one at ${first.source.file}:${first.source.line}`);
      return;
    }
    byId.set(id, paper);
    papers.push(paper);
  });
  return papers;
}
