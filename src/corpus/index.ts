// Reads a corpus folder into Papers: one reader per format, chosen by extension; files in path order.
import { readdirSync, readFileSync, realpathSync, statSync } from "node:fs";
import path from "node:path";
import { PapersiftError } from "../errors.ts";
import { readJsonl } from "./jsonl.ts";
import { readMarkdown } from "./markdown.ts";
import {
  cleanText,
  MAX_ABSTRACT_CHARS,
  MAX_TITLE_CHARS,
  slugify,
  type CorpusProblem,
  type Paper,
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
  /** Things worth telling but not wrong: skipped files, duplicate titles. */
  notices: string[];
}

export interface ReadCorpusOptions {
  /** A malformed entry is an error instead of a skip. */
  strict?: boolean | undefined;
}

/** All regular files under dir, sorted, hidden ones skipped; symlinks followed once (loops are cut). */
function listFiles(root: string, notices: string[]): string[] {
  const files: string[] = [];
  const seen = new Set<string>();
  const walk = (dir: string) => {
    const real = realpathSync(dir);
    if (seen.has(real)) {
      notices.push(`skipped ${path.relative(root, dir) || "."}/: a symlink loop back to a folder already read`);
      return;
    }
    seen.add(real);
    for (const name of readdirSync(dir).sort()) {
      if (name.startsWith(".")) continue;
      const full = path.join(dir, name);
      let stat;
      try {
        stat = statSync(full);
      } catch {
        notices.push(`skipped ${path.relative(root, full)}: broken or looping symlink`);
        continue;
      }
      if (stat.isDirectory()) walk(full);
      else if (stat.isFile()) files.push(full);
    }
  };
  walk(root);
  return files;
}

function decode(bytes: Buffer, file: string, problems: CorpusProblem[]): string | null {
  if (bytes.includes(0)) {
    problems.push({ file, line: 1, message: "binary file (contains NUL bytes), skipped" });
    return null;
  }
  const text = new TextDecoder("utf-8").decode(bytes);
  const bad = text.indexOf("\uFFFD");
  if (bad >= 0 && !bytes.includes(Buffer.from("\uFFFD"))) {
    const line = text.slice(0, bad).split("\n").length;
    problems.push({ file, line, message: "invalid UTF-8; the bad bytes were replaced with U+FFFD" });
  }
  return text.replace(/^\uFEFF/, "");
}

export function readCorpus(dir: string, options: ReadCorpusOptions = {}): Corpus {
  let stat;
  try {
    stat = statSync(dir);
  } catch {
    throw new PapersiftError("CORPUS_NOT_FOUND", `no corpus folder at ${dir}`);
  }
  if (!stat.isDirectory()) throw new PapersiftError("CORPUS_NOT_FOUND", `${dir} is not a folder`);

  const notices: string[] = [];
  const problems: CorpusProblem[] = [];
  const papers: Paper[] = [];
  const byTitle = new Map<string, Paper>();
  const byId = new Map<string, Paper>();
  const where = (p: Paper) => `${p.source.file}:${p.source.line}`;

  for (const full of listFiles(dir, notices)) {
    const file = path.relative(dir, full).split(path.sep).join("/");
    const reader = readers[path.extname(full).toLowerCase()];
    if (!reader) {
      notices.push(`skipped ${file}: unknown file type (papersift reads .txt, .jsonl, .ndjson, .md)`);
      continue;
    }
    const size = statSync(full).size;
    if (size > MAX_FILE_BYTES) {
      problems.push({ file, line: 1, message: `file is ${Math.round(size / 2 ** 20)} MB, over the 256 MB limit: split it` });
      continue;
    }
    const text = decode(readFileSync(full), file, problems);
    if (text === null) continue;
    const result = reader(text, file);
    problems.push(...result.problems);
    for (const entry of result.entries) {
      const fullTitle = cleanText(entry.title);
      const fullAbstract = cleanText(entry.abstract);
      const title = fullTitle.slice(0, MAX_TITLE_CHARS);
      const abstract = fullAbstract.slice(0, MAX_ABSTRACT_CHARS);
      for (const [what, text, max] of [["title", fullTitle, MAX_TITLE_CHARS], ["abstract", fullAbstract, MAX_ABSTRACT_CHARS]] as const) {
        if (text.length > max) notices.push(`${file}:${entry.source.line}: ${what} of ${text.length} characters cut to ${max}`);
      }
      if (!title || !abstract) {
        problems.push({ file, line: entry.source.line, message: title ? "abstract is empty" : "title is empty" });
        continue;
      }
      const titleKey = title.toLowerCase();
      const sameTitle = byTitle.get(titleKey);
      let id = entry.id ?? slugify(title);
      const paper: Paper = { ...entry, id, title, abstract };
      if (sameTitle) {
        notices.push(`duplicate title "${title.slice(0, 80)}" at ${where(paper)}: kept the one at ${where(sameTitle)}`);
        continue;
      }
      if (byId.has(id)) {
        if (entry.id !== undefined) {
          notices.push(`duplicate id ${id} at ${where(paper)}: kept the one at ${where(byId.get(id)!)}`);
          continue;
        }
        // Two different titles with the same slug: number the later one.
        let n = 2;
        while (byId.has(`${id}-${n}`)) n++;
        id = `${id}-${n}`;
        paper.id = id;
      }
      byTitle.set(titleKey, paper);
      byId.set(id, paper);
      papers.push(paper);
    }
  }
  if (options.strict && problems.length) {
    const first = problems[0]!;
    throw new PapersiftError(
      "CORPUS_MALFORMED",
      `${first.file}:${first.line}: ${first.message}${problems.length > 1 ? ` (and ${problems.length - 1} more)` : ""}`,
    );
  }
  return { papers, problems, notices };
}
