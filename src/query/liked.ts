// Finding the papers a person points at — ids, DOIs, arXiv ids or titles, typed (related, get_paper,
// /api/papers/), in a list file, in a tag, or as entries of a library file ingest reads — in the index. One
// lookup for all of them (matchReferences): by id, then DOI, then arXiv id (an arXiv DOI, 10.48550/arXiv.<id>,
// is one), then PMID, then exact normalised title, then an unambiguous part of a title. A library entry is
// matched first, with or without an abstract; one that matches nothing but has an abstract is still an
// example: it is embedded (the caller does that) rather than dropped; anything else is reported.
import { lstatSync, readFileSync, readlinkSync, realpathSync, statSync } from "node:fs";
import path from "node:path";
import { problemLine, readLibraryFile, readsFile } from "../corpus/index.ts";
import { declaredEncoding, readBibtex } from "../corpus/bibtex.ts";
import { foldText } from "../corpus/facets.ts";
import { readJson } from "../corpus/json.ts";
import { parseJsonlLine } from "../corpus/jsonl.ts";
import { isMedline, readMedline } from "../corpus/medline.ts";
import { cleanText, type RawEntry } from "../corpus/paper.ts";
import { isPubmedXml, readPubmedXml } from "../corpus/pubmed-xml.ts";
import { readRis } from "../corpus/ris.ts";
import { PapersiftError } from "../errors.ts";
import { paperAliases } from "../store/lookups.ts";
import type { Store } from "../store/store.ts";

/** One thing a person named as an example. */
export interface Reference {
  /** As given: the typed text, or `file:line` of a library entry. */
  ref: string;
  id?: string | undefined;
  doi?: string | undefined;
  arxiv?: string | undefined;
  pmid?: string | undefined;
  title?: string | undefined;
  /** A library entry's abstract: lets an entry missing from the index be embedded. */
  abstract?: string | undefined;
}

export interface MatchedPaper {
  ref: string;
  rowid: number;
  id: string;
  title: string;
  by: "id" | "doi" | "arxiv" | "pmid" | "title";
  /** The paper's own DOI and arXiv id, where its metadata has them. */
  doi?: string | undefined;
  arxiv?: string | undefined;
}

/** An example that is not in the index but has a title and an abstract to embed. */
export interface ExternalPaper {
  ref: string;
  /** The entry's own id in its library file, if it has one. */
  id?: string | undefined;
  title: string;
  abstract: string;
  doi?: string | undefined;
  arxiv?: string | undefined;
}

export interface Unmatched {
  ref: string;
  reason: string;
  /** It names several papers (a title shared or a part of many), rather than none. */
  ambiguous?: true;
}

export interface Matches {
  matched: MatchedPaper[];
  external: ExternalPaper[];
  unmatched: Unmatched[];
}

/** A DOI in its canonical form (lower case, no resolver prefix), or null if the text is not one. */
export function normaliseDoi(text: string): string | null {
  const doi = text.trim().replace(/^(?:https?:\/\/(?:dx\.)?doi\.org\/|doi:\s*)/i, "");
  return /^10\.\d{4,9}\/\S+$/.test(doi) ? doi.toLowerCase() : null;
}

/** An arXiv id without prefix, URL or version (2301.01234, hep-th/9901001), or null if the text is not one. */
export function normaliseArxiv(text: string): string | null {
  const bare = text
    .trim()
    .replace(/^(?:https?:\/\/(?:www\.)?arxiv\.org\/(?:abs|pdf)\/|arxiv:\s*|(?:https?:\/\/(?:dx\.)?doi\.org\/|doi:\s*)?10\.48550\/arxiv\.)/i, "")
    .replace(/\.pdf$/i, "")
    .replace(/v\d+$/, "");
  return /^\d{4}\.\d{4,5}$/.test(bare) || /^[a-z-]+(?:\.[A-Z]{2})?\/\d{7}$/.test(bare) ? bare : null;
}

/** The arXiv id an arXiv DOI (10.48550/arXiv.2301.01234) names, or null for any other DOI. */
export function arxivOfDoi(doi: string | null | undefined): string | null {
  const m = doi ? /^10\.48550\/arxiv\.(.+)$/i.exec(doi) : null;
  return m ? normaliseArxiv(m[1]!) : null;
}

/** A title as compared: case, accents, punctuation and spacing ignored. */
export function normaliseTitle(title: string): string {
  return foldText(title).replace(/[^\p{L}\p{N}]+/gu, " ").trim();
}

/** A typed reference or one line of a list file: an id, a DOI, an arXiv id, `pmid:<n>`, or a title. */
export function referenceOf(text: string): Reference {
  const ref = text.trim();
  // A bare number is a PMID too (an id of that number is matched first).
  const pmid = /^(?:pmid:\s*)?(\d{1,9})$/i.exec(ref)?.[1];
  return { ref, id: ref, doi: normaliseDoi(ref) ?? undefined, arxiv: normaliseArxiv(ref) ?? undefined, pmid, title: ref };
}

/** The longest line of a list file taken as a reference (the library's limit on an id, DOI or title). */
export const MAX_REFERENCE_CHARS = 2_000;

/**
 * The references in a file: a library file ingest reads (each entry with its id, DOI, arXiv id, title and
 * abstract), or a list with one id, DOI, arXiv id or title per line (blank lines and `#` comments skipped).
 * A `.txt` file is a list unless it reads as papers (title, blank line, abstract).
 */
export function readReferences(file: string): { references: Reference[]; problems: string[] } {
  let stat;
  try {
    stat = statSync(file);
  } catch (error) {
    throw new PapersiftError("INPUT_FILE", `cannot read ${file} (${(error as NodeJS.ErrnoException).code})`);
  }
  if (!stat.isFile()) throw new PapersiftError("INPUT_FILE", `${file} is not a file`);
  const name = path.basename(file);
  const library = readsFile(name) ? readLibraryFile(file) : null;
  if (library?.unreadable.length) {
    // The reader's words are ingest's ("…; its papers in the index are kept"): here only the reason counts.
    const why = (library.problems[0]?.message ?? "unreadable").replace(/; its papers in the index are kept$/, "");
    throw new PapersiftError("INPUT_FILE", `cannot read ${file}: ${why}`);
  }
  if (library && (library.papers.length || path.extname(file).toLowerCase() !== ".txt")) {
    // Entries without an abstract are no papers for ingest, but they can still name indexed papers.
    const noAbstract = new Set(library.problems.filter((p) => p.kind === "no-abstract").map((p) => p.line));
    const entries: Pick<RawEntry, "id" | "title" | "abstract" | "source" | "bib">[] = [...library.papers, ...(noAbstract.size ? rawEntries(file, noAbstract) : [])];
    return {
      references: entries
        .sort((a, b) => a.source.line - b.source.line)
        .map((p) => ({
          ref: `${name}:${p.source.line}`,
          id: p.id,
          title: p.title,
          abstract: p.abstract || undefined,
          doi: p.bib?.doi ?? undefined,
          arxiv: p.bib?.arxiv ?? undefined,
          pmid: p.bib?.pmid ?? undefined,
        })),
      problems: library.problems.filter((p) => p.kind !== "no-abstract").map(problemLine),
    };
  }
  const bytes = readFileSync(file);
  if (bytes.subarray(0, 8_192).includes(0)) throw new PapersiftError("INPUT_FILE", `${file} is a binary file, not a list of ids or a library file`);
  const references: Reference[] = [];
  const problems: string[] = [];
  bytes
    .toString("utf8")
    .split(/\r?\n/)
    .forEach((line, i) => {
      const text = line.replace(/(^|\s)#.*$/, "").trim();
      if (!text) return;
      // An id, DOI or title is short; a line this long is something else (a pasted abstract, a data dump).
      if (text.length > MAX_REFERENCE_CHARS) problems.push(`${name}:${i + 1}: a line of ${text.length.toLocaleString("en")} characters is no id, DOI or title; skipped`);
      else references.push(referenceOf(text));
    });
  return { references, problems };
}

/**
 * The entries of a library file that start on these lines, as its format's reader gives them (before ingest's
 * clean-up drops those without an abstract): for their ids, DOIs, arXiv ids and titles.
 */
function rawEntries(file: string, lines: Set<number>): RawEntry[] {
  const name = path.basename(file);
  const bytes = readFileSync(file);
  const ext = path.extname(file).toLowerCase();
  const encoding = ext === ".bib" ? declaredEncoding(bytes.subarray(0, 2000).toString("latin1")) : null;
  const bom = bytes[0] === 0xff && bytes[1] === 0xfe ? "utf-16le" : bytes[0] === 0xfe && bytes[1] === 0xff ? "utf-16be" : null;
  const text = new TextDecoder(bom ?? encoding ?? "utf-8").decode(bytes).replace(/^\uFEFF/, "");
  const read: Record<string, () => RawEntry[]> = {
    ".bib": () => readBibtex(text, name).entries,
    ".ris": () => readRis(text, name).entries,
    ".nbib": () => readMedline(text, name).entries,
    ".txt": () => (isMedline(text) ? readMedline(text, name).entries : []),
    ".json": () => readJson(text, name).entries,
    ".xml": () => (isPubmedXml(text) ? readPubmedXml(text, name).entries : []),
    ".jsonl": () => text.split("\n").flatMap((line, i) => (lines.has(i + 1) ? [parseJsonlLine(line, i + 1, name).entry ?? []].flat() : [])),
  };
  read[".ndjson"] = read[".jsonl"]!;
  return (read[ext]?.() ?? [])
    .filter((e) => lines.has(e.source.line) && cleanText(e.title))
    .map((e) => ({ ...e, title: cleanText(e.title), abstract: "" }));
}

interface Lookup {
  byId: Map<string, number>;
  byDoi: Map<string, number>;
  byArxiv: Map<string, number>;
  byPmid: Map<string, number>;
  byTitle: Map<string, number[]>;
  titles: { rowid: number; id: string; title: string }[];
  identifiers: Map<number, { doi?: string; arxiv?: string }>;
}

/** Every paper's identifiers, read once per match (one pass over the papers table). */
function lookup(store: Store): Lookup {
  const rows = store.sql("SELECT rowid, id, title, doi, arxiv, pmid FROM papers ORDER BY rowid").all() as {
    rowid: number;
    id: string;
    title: string;
    doi: string | null;
    arxiv: string | null;
    pmid: string | null;
  }[];
  const l: Lookup = { byId: new Map(), byDoi: new Map(), byArxiv: new Map(), byPmid: new Map(), byTitle: new Map(), titles: [], identifiers: new Map() };
  for (const row of rows) {
    l.byId.set(row.id, row.rowid);
    l.titles.push({ rowid: row.rowid, id: row.id, title: row.title });
    const arxiv = row.arxiv ?? arxivOfDoi(row.doi) ?? normaliseArxiv(row.id) ?? undefined;
    if (row.doi || arxiv) l.identifiers.set(row.rowid, { ...(row.doi ? { doi: row.doi } : {}), ...(arxiv ? { arxiv } : {}) });
    if (row.doi && !l.byDoi.has(row.doi)) l.byDoi.set(row.doi, row.rowid);
    if (arxiv && !l.byArxiv.has(arxiv)) l.byArxiv.set(arxiv, row.rowid);
    if (row.pmid && !l.byPmid.has(row.pmid)) l.byPmid.set(row.pmid, row.rowid);
    const title = normaliseTitle(row.title);
    const same = l.byTitle.get(title);
    if (same) same.push(row.rowid);
    else l.byTitle.set(title, [row.rowid]);
  }
  // A duplicate's own id (a BibTeX key folded into the RIS record of the same DOI) names the kept paper;
  // a paper's own id always wins.
  for (const [alias, kept] of paperAliases(store)) {
    const rowid = l.byId.get(kept);
    if (rowid !== undefined && !l.byId.has(alias)) l.byId.set(alias, rowid);
  }
  return l;
}

/** Match references to the index's papers (see the top of this file); each paper is matched at most once. */
export function matchReferences(store: Store, references: Reference[]): Matches {
  const result: Matches = { matched: [], external: [], unmatched: [] };
  if (!references.length) return result;
  const l = lookup(store);
  const byRowid = new Map(l.titles.map((t) => [t.rowid, t]));
  const seen = new Set<number>();
  for (const r of references) {
    let rowid: number | undefined;
    let by: MatchedPaper["by"] = "id";
    // Typed text is its own title; a library or tag entry is named by where it is.
    const typed = r.ref === r.title;
    let reason = typed || r.abstract ? "not in the index" : "not in the index, and it has no abstract to embed";
    let ambiguous = false;
    const tryMatch = (found: number | undefined, how: MatchedPaper["by"]) => {
      if (rowid === undefined && found !== undefined) [rowid, by] = [found, how];
    };
    if (r.id !== undefined) tryMatch(l.byId.get(r.id.trim()), "id");
    if (r.doi) tryMatch(l.byDoi.get(r.doi), "doi");
    const arxiv = r.arxiv ?? arxivOfDoi(r.doi);
    if (arxiv) tryMatch(l.byArxiv.get(arxiv) ?? l.byId.get(arxiv), "arxiv");
    if (r.pmid) tryMatch(l.byPmid.get(r.pmid), "pmid");
    if (rowid === undefined && r.title) {
      const exact = l.byTitle.get(normaliseTitle(r.title)) ?? [];
      if (exact.length === 1) tryMatch(exact[0], "title");
      else if (exact.length > 1) {
        reason = `its title matches ${exact.length} papers (${exact.map((e) => byRowid.get(e)!.id).join(", ")}); use an id`;
        ambiguous = true;
      }
      else if (typed) {
        // A typed reference may be part of a title, as for `related`.
        const wanted = r.title.trim().toLowerCase();
        const partial = wanted.length >= 3 ? l.titles.filter((t) => t.title.toLowerCase().includes(wanted)) : [];
        if (partial.length === 1) tryMatch(partial[0]!.rowid, "title");
        else if (partial.length > 1) {
          reason = `matches ${partial.length} titles, e.g. ${partial.slice(0, 3).map((p) => p.id).join(", ")}; use more of the title or an id`;
          ambiguous = true;
        }
      }
    }
    if (rowid !== undefined) {
      if (seen.has(rowid)) continue;
      seen.add(rowid);
      const paper = byRowid.get(rowid)!;
      result.matched.push({ ref: r.ref, rowid, id: paper.id, title: paper.title, by, ...l.identifiers.get(rowid) });
    } else if (r.abstract && r.title) {
      result.external.push({ ref: r.ref, id: r.id, title: r.title, abstract: r.abstract, doi: r.doi, arxiv: r.arxiv });
    } else {
      result.unmatched.push({ ref: r.ref, reason, ...(ambiguous ? { ambiguous: true as const } : {}) });
    }
  }
  return result;
}

/** Is `file` inside `dir` (or the folder itself)? */
export function isInside(file: string, dir: string): boolean {
  const rel = path.relative(realPath(dir), realPath(file));
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

/** The path with every symlink resolved, also for a path not made yet (its nearest existing folder's). */
function realPath(p: string): string {
  const absolute = path.resolve(p);
  try {
    return realpathSync(absolute);
  } catch {
    try {
      // A dangling link: where it points is where the file will be written.
      if (lstatSync(absolute).isSymbolicLink()) return realPath(path.resolve(path.dirname(absolute), readlinkSync(absolute)));
    } catch {
      // Not there at all.
    }
    const parent = path.dirname(absolute);
    return parent === absolute ? absolute : path.join(realPath(parent), path.basename(absolute));
  }
}
