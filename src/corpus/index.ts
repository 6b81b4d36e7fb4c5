// Reads a corpus folder into Papers: one reader per format, chosen by extension and, where an extension
// is shared (.txt, .json, .jsonl, .xml), by content; files in path order. `.jsonl` files are streamed line
// by line; the other formats are read whole, one file at a time. Ingest reads a corpus twice (identities
// first, then the entries it has to write) through the same entry stream, so both passes see the same
// entries and the same ids. Ids are assigned once every file is read (ids.ts).
import { lstatSync, readdirSync, readFileSync, realpathSync, statSync, type Stats } from "node:fs";
import path from "node:path";
import { PapersiftError } from "../errors.ts";
import { isBlank } from "../text.ts";
import { declaredEncoding, readBibtex } from "./bibtex.ts";
import { assignIds, identityOf, type Identity, type KnownIds } from "./ids.ts";
import { readJson } from "./json.ts";
import { parseJsonlLine } from "./jsonl.ts";
import { decodeUtf8, fileHead, MAX_LINE_BYTES, mostlyNul, readLines } from "./lines.ts";
import { readMarkdown } from "./markdown.ts";
import { isMedline, readMedline } from "./medline.ts";
import { cleanText, MAX_ABSTRACT_CHARS, MAX_TITLE_CHARS, type CorpusProblem, type Paper, type RawEntry, type ReadResult } from "./paper.ts";
import { isPubmedXml, readPubmedXml } from "./pubmed-xml.ts";
import { readRis } from "./ris.ts";
import { failIfStrict, orderProblems } from "./problems.ts";
import { readTxt } from "./txt.ts";

export type { CorpusProblem, Paper, SourceLocation } from "./paper.ts";
export { problemLine } from "./paper.ts";
export { failIfStrict, kindOf, orderProblems } from "./problems.ts";
export type { Bibliographic } from "./bibliographic.ts";
export { assignIds, identityOf, type Identity, type KnownIds } from "./ids.ts";

/** A whole-file reader: the file's format (as `stats` names it) and its entries, or why it was skipped. */
type WholeFileReader = (text: string, file: string) => ReadResult & { format: string; skipped?: string };

/** Formats read whole (one file at a time); JSON Lines is streamed. */
const wholeFileReaders: Record<string, WholeFileReader> = {
  // PubMed's "Save → PubMed format" writes MEDLINE as .txt: told from papersift's own .txt by its PMID- lines.
  ".txt": (text, file) => (isMedline(text) ? { format: "MEDLINE", ...readMedline(text, file) } : { format: "text", ...readTxt(text, file) }),
  ".md": (text, file) => ({ format: "Markdown", ...readMarkdown(text, file) }),
  ".bib": (text, file) => ({ format: "BibTeX", ...readBibtex(text, file) }),
  ".ris": (text, file) => ({ format: "RIS", ...readRis(text, file) }),
  ".nbib": (text, file) => ({ format: "MEDLINE", ...readMedline(text, file) }),
  ".json": readJson,
  ".xml": (text, file) =>
    isPubmedXml(text)
      ? { format: "PubMed XML", ...readPubmedXml(text, file) }
      : { format: "XML", entries: [], problems: [], skipped: "XML that is not PubMed's (<PubmedArticleSet>)" },
};
const streamed = new Set([".jsonl", ".ndjson"]);
const KNOWN_TYPES = ".txt, .md, .jsonl/.ndjson (papersift, arXiv or OpenAlex), .bib, .ris, .json (CSL-JSON or OpenAlex), .nbib, .xml (PubMed)";

/** What one file gave: its format, how many entries it had, and how many were skipped and why. */
export interface FileReport {
  /** Relative to the corpus folder, forward slashes. */
  file: string;
  /** "BibTeX", "RIS", "CSL-JSON", "MEDLINE", "PubMed XML", "OpenAlex", "JSONL", "text", "Markdown"; null if skipped. */
  format: string | null;
  /** Entries read with a title and an abstract (before duplicates are merged). */
  entries: number;
  /** Records without an abstract: not papers. */
  noAbstract: number;
  /** Other entries skipped: malformed, no title, a NUL byte. */
  malformed: number;
  /** Entries that are another entry's paper (an exact copy, the same DOI, arXiv id or PMID): noted, not kept. */
  duplicates: number;
  /** Why the whole file was skipped or not read, if it was. */
  skipped?: string;
}

/** Does ingest read files with this name's extension? */
export const readsFile = (name: string) => {
  const ext = path.extname(name).toLowerCase();
  return ext in wholeFileReaders || streamed.has(ext);
};

/** Files of the whole-file formats larger than this are refused with a message rather than read into memory. */
const MAX_FILE_BYTES = 256 * 1024 * 1024;

/** What reading a corpus reports besides its entries. */
export interface CorpusReport {
  /** Malformed entries, skipped. */
  problems: CorpusProblem[];
  /** Things worth telling but not wrong: skipped files, duplicate ids. */
  notices: string[];
  /** One per file considered, in path order. */
  files: FileReport[];
  /**
   * Files and folders (relative, forward slashes; a folder ends in "/") that could not be read as a whole.
   * Their papers in the index are kept as they were: an ingest never deletes what it could not read.
   */
  unreadable: string[];
  /** Each duplicate's own id → the id of the paper kept for it (assignFileIds fills it). */
  aliases?: Map<string, string>;
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
      } catch (error) {
        // Gone since readdir: deleted, so its papers go. A link that cannot be followed (target moved,
        // unmounted, unreachable, a loop) is a file that cannot be read: its papers stay (issue 17).
        if (!isSymlink(full)) continue;
        const shown = relative(root, full);
        const code = (error as NodeJS.ErrnoException).code;
        const why = code === "ENOENT" ? "its target is missing" : code === "ELOOP" ? "it loops" : reason(error);
        corpus.problems.push({ file: shown, line: 0, message: `cannot follow this symlink (${why}); its papers in the index are kept` });
        corpus.unreadable.push(shown);
        continue;
      }
      if (stat.isFile()) {
        files.push(full);
        continue;
      }
      // A path named like a corpus file that is not one (a FIFO, a socket, a device, or a folder that
      // replaced the file) cannot be read as a file: its papers stay, as for a link that cannot be followed.
      // A FIFO is never opened: reading one blocks until a writer comes.
      if (readsFile(name)) {
        const shown = relative(root, full);
        const what = stat.isDirectory() ? "is a folder, not a file" : `is not a regular file (${specialKind(stat)})`;
        corpus.problems.push({ file: shown, line: 0, message: `cannot read this path: it ${what}; its papers in the index are kept` });
        corpus.unreadable.push(shown);
      }
      if (stat.isDirectory()) walk(full);
    }
  };
  walk(root);
  return files;
}

const specialKind = (stat: Stats) =>
  stat.isFIFO() ? "a FIFO" : stat.isSocket() ? "a socket" : stat.isCharacterDevice() || stat.isBlockDevice() ? "a device" : "not a file";

function isSymlink(file: string): boolean {
  try {
    return lstatSync(file).isSymbolicLink();
  } catch {
    return false;
  }
}

/** The UTF-16 encoding a byte-order mark declares (Windows tools save "Unicode" so), else null. */
const utf16 = (bytes: Buffer) => (bytes[0] === 0xff && bytes[1] === 0xfe ? "utf-16le" : bytes[0] === 0xfe && bytes[1] === 0xff ? "utf-16be" : null);

/** Bytes to text, for the whole-file formats; null for a binary file (mostlyNul). */
function decode(bytes: Buffer, file: string, problems: CorpusProblem[], hint = ""): string | null {
  const wide = utf16(bytes);
  if (wide) return new TextDecoder(wide).decode(bytes).replace(/^\uFEFF/, "");
  if (mostlyNul(bytes)) return null;
  const { text, invalid } = decodeUtf8(bytes);
  if (invalid) {
    const line = text.slice(0, text.indexOf("\uFFFD")).split("\n").length;
    problems.push({ file, line, message: INVALID_UTF8 + hint });
  }
  return text.replace(/^\uFEFF/, "");
}

const INVALID_UTF8 = "invalid UTF-8; the bad bytes were replaced with U+FFFD";
// A .bib that is not UTF-8 is nearly always a Latin-1 export that lost JabRef's header line.
const LATIN1_BIB = ' (a Latin-1 export? add the line "% Encoding: ISO-8859-1" at its top, as JabRef writes it)';
const BINARY = "binary file (mostly NUL bytes: not UTF-8 text)";

/**
 * Is this corpus-relative file one of the unreadable paths, or under one? A link that cannot be followed may
 * have been a file or a folder, so a path covers itself and everything below it.
 */
export function isUnder(unreadable: string[], file: string): boolean {
  return unreadable.some((u) => file === u || file.startsWith(u.endsWith("/") ? u : `${u}/`));
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
      report.notices.push(`skipped ${file}: unknown file type (papersift reads ${KNOWN_TYPES})`);
      report.files.push({ file, format: null, entries: 0, noAbstract: 0, malformed: 0, duplicates: 0, skipped: "unknown file type" });
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
  const counts: FileReport = { file, format: null, entries: 0, noAbstract: 0, malformed: 0, duplicates: 0 };
  report.files.push(counts);
  const problem = (p: CorpusProblem) => {
    report.problems.push(p);
    if (p.kind === "no-abstract") counts.noAbstract++;
    else counts.malformed++;
  };
  const unreadable = (message: string) => {
    report.problems.push({ file, line: 1, message: `${message}; its papers in the index are kept` });
    report.unreadable.push(file);
    counts.skipped = message;
  };
  const take = (entry: RawEntry | undefined) => {
    const clean = entry && cleanEntry(entry, report, problem);
    if (clean) counts.entries++;
    return clean;
  };
  const ext = path.extname(full).toLowerCase();
  if (streamed.has(ext)) {
    let head: Buffer;
    try {
      head = fileHead(full);
    } catch (error) {
      return unreadable(`cannot read this file (${reason(error)})`);
    }
    if (utf16(head)) return unreadable("UTF-16 text: JSON Lines are read as UTF-8; save the file as UTF-8");
    if (mostlyNul(head)) return unreadable(BINARY);
    let reportedUtf8 = false;
    try {
      for (const line of readLines(full)) {
        if (line.tooLong) {
          problem({ file, line: line.number, message: `line longer than ${MAX_LINE_BYTES / 2 ** 20} MB; skipped` });
          continue;
        }
        if (line.invalidUtf8 && !reportedUtf8) {
          reportedUtf8 = true;
          report.problems.push({ file, line: line.number, message: INVALID_UTF8 });
        }
        const { entry, problem: bad, format } = parseJsonlLine(line.text, line.number, file);
        counts.format ??= format ?? null;
        if (bad) problem(bad);
        const clean = take(entry);
        if (clean) yield clean;
      }
    } catch (error) {
      unreadable(`cannot read this file (${reason(error)})`);
    }
    counts.format ??= "JSONL";
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
  const encoding = ext === ".bib" ? declaredEncoding(bytes.subarray(0, 2000).toString("latin1")) : null;
  const text = encoding ? new TextDecoder(encoding).decode(bytes).replace(/^\uFEFF/, "") : decode(bytes, file, report.problems, ext === ".bib" ? LATIN1_BIB : "");
  if (text === null) return unreadable(BINARY);
  const result = wholeFileReaders[ext]!(text, file);
  counts.format = result.format;
  if (result.skipped) {
    counts.format = null;
    counts.skipped = result.skipped;
    report.notices.push(`skipped ${file}: ${result.skipped}`);
  }
  for (const p of result.problems) problem(p);
  report.notices.push(...(result.notices ?? []));
  for (const entry of result.entries) {
    const clean = take(entry);
    if (clean) yield clean;
  }
}

/** Title and abstract cleaned and cut to their limits; an entry left without either is a problem. */
function cleanEntry(entry: RawEntry, report: CorpusReport, problem: (p: CorpusProblem) => void): Entry | null {
  const { file, line } = entry.source;
  const fullTitle = cleanText(entry.title);
  const fullAbstract = cleanText(entry.abstract);
  for (const [what, value, max] of [["title", fullTitle, MAX_TITLE_CHARS], ["abstract", fullAbstract, MAX_ABSTRACT_CHARS]] as const) {
    if (value.length > max) report.notices.push(`${file}:${line}: ${what} of ${value.length} characters cut to ${max}`);
  }
  const title = fullTitle.slice(0, MAX_TITLE_CHARS);
  const abstract = fullAbstract.slice(0, MAX_ABSTRACT_CHARS);
  if (isBlank(title)) {
    problem({ file, line, message: `${entry.id ? `${entry.id}: ` : ""}title is empty${title ? " (only invisible characters)" : ""}` });
    return null;
  }
  if (isBlank(abstract)) {
    // A reference-manager export holds many records without one: say which, so the user can add it.
    const which = entry.id ? `${entry.id} "${title.slice(0, 80)}"` : `"${title.slice(0, 80)}"`;
    const empty = `abstract is empty${abstract ? " (only invisible characters)" : ""}`;
    problem({ file, line, message: entry.bib ? `${which} has no abstract; skipped` : empty, kind: "no-abstract" });
    return null;
  }
  if (/\0/.test(title + abstract)) {
    problem({ file, line, message: "contains a NUL byte; skipped" });
    return null;
  }
  for (const note of entry.notes ?? []) report.notices.push(`${file}:${line}: ${note}`);
  const { notes: _notes, ...rest } = entry;
  return { ...rest, title, abstract };
}

/** Ids for the entries read (assignIds), each duplicate counted against its file's report. */
export function assignFileIds(identities: Identity[], report: CorpusReport, known?: KnownIds): (string | null)[] {
  report.aliases ??= new Map();
  const ids = assignIds(identities, report.notices, known, report.aliases);
  const byFile = new Map(report.files.map((f) => [f.file, f]));
  ids.forEach((id, i) => {
    if (id !== null) return;
    const counts = byFile.get(identities[i]!.source.file);
    if (counts) counts.duplicates++;
  });
  return ids;
}

/** The whole corpus in memory: for small corpora, tests and scripts. Ingest streams instead. */
export function readCorpus(dir: string, options: ReadCorpusOptions = {}): Corpus {
  const report: CorpusReport = { problems: [], notices: [], unreadable: [], files: [] };
  const entries: Entry[] = [];
  for (const { full, file } of corpusFiles(dir, report)) {
    const own = [...fileEntries(full, file, report)];
    if (!report.unreadable.includes(file)) entries.push(...own);
  }
  const ids = assignFileIds(entries.map(identityOf), report);
  const papers = entries.flatMap((entry, i) => (ids[i] !== null ? [{ ...entry, id: ids[i]! }] : []));
  orderProblems(report);
  failIfStrict(report, options);
  return { papers, ...report };
}

/**
 * One library file (BibTeX, RIS, CSL-JSON, MEDLINE, PubMed XML, OpenAlex, JSONL, .txt or .md) read into
 * normalised papers, each with its metadata (`bib`); duplicates within the file (same id, DOI, arXiv id or
 * PMID) are merged and noted. For `recommend --from library.bib` and scripts. Throws CORPUS_NOT_FOUND for a
 * missing file; a file of an unknown type gives no papers and a notice saying so.
 */
export function readLibraryFile(file: string, options: ReadCorpusOptions = {}): Corpus & { format: string | null } {
  let stat;
  try {
    stat = statSync(file);
  } catch {
    throw new PapersiftError("CORPUS_NOT_FOUND", `no file at ${file}`);
  }
  if (!stat.isFile()) throw new PapersiftError("CORPUS_NOT_FOUND", `${file} is not a file`);
  const report: CorpusReport = { problems: [], notices: [], unreadable: [], files: [] };
  const name = path.basename(file);
  const ext = path.extname(file).toLowerCase();
  let entries: Entry[] = [];
  if (!wholeFileReaders[ext] && !streamed.has(ext)) {
    report.notices.push(`skipped ${name}: unknown file type (papersift reads ${KNOWN_TYPES})`);
  } else {
    entries = [...fileEntries(file, name, report)];
  }
  const ids = assignFileIds(entries.map(identityOf), report);
  const papers = entries.flatMap((entry, i) => (ids[i] !== null ? [{ ...entry, id: ids[i]! }] : []));
  orderProblems(report);
  failIfStrict(report, options);
  return { papers, ...report, format: report.files[0]?.format ?? null };
}
