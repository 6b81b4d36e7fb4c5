// BibTeX / BibLaTeX (.bib), as Zotero, Better BibTeX and JabRef write it. bibtex-scan.ts finds the
// entries and fields (@string macros, `month = jan`, @comment and @preamble skipped; a damaged entry costs
// that entry only); citation-js decodes LaTeX to Unicode and parses names by BibTeX's rules ("Last, First
// and {Institution}", "First von Last"). Its value grammar costs about 0.4 ms a field, so it only sees the
// fields that hold LaTeX and the names that hold braces or LaTeX; a plain field is used as it is, its
// case-protecting braces removed, and a plain "Last, First" name is turned round. That keeps a
// 50,000-entry export above 5,000 entries/s (`npm run bench:ingest`).
import { decodeLatexAccents, splitKeywords, fromCsl, normaliseArxiv, normaliseDoi, normalisePmid, parseDate, type Bibliographic } from "./bibliographic.ts";
import { citationJs } from "./citation-js.ts";
import type { CorpusProblem, RawEntry, ReadResult } from "./paper.ts";
import { lineOf } from "./positions.ts";

import { scanBibtex, type BibEntry } from "./bibtex-scan.ts";

/** Fields read for the normalised paper; the rest stay in the raw metadata only. */
const DECODED = ["title", "author", "abstract", "journal", "journaltitle", "booktitle", "keywords", "editor"];
/** LaTeX beyond case-protecting braces: commands, math, ties, dashes (^ and _ only mean anything in math). */
const LATEX = /[\\$~]|--/;
/** Fields a crossref'd child does not inherit: they identify or describe the parent itself. */
const OWN_FIELDS = new Set(["doi", "url", "eprint", "archiveprefix", "eprinttype", "pmid", "abstract", "keywords", "ids", "title", "crossref"]);

/**
 * JabRef's `% Encoding: ISO8859_1` header (and windows-1252): such a file is not UTF-8, and is decoded
 * as declared. Returns the label TextDecoder knows, or null for UTF-8.
 */
export function declaredEncoding(head: string): string | null {
  const m = /^%\s*Encoding:\s*(\S+)/im.exec(head.slice(0, 2000));
  if (!m) return null;
  const name = m[1]!.toLowerCase().replace(/_/g, "-");
  if (/^(iso-?8859-?1|latin-?1|cp1252|windows-1252)$/.test(name)) return "windows-1252";
  if (/^iso-?8859-?15$/.test(name)) return "iso-8859-15";
  return null;
}

export function readBibtex(text: string, file: string): ReadResult {
  const problems: CorpusProblem[] = [];
  const line = lineOf(text);
  const scanned = scanBibtex(text);
  for (const e of scanned.errors) problems.push({ file, line: line(e.offset), message: e.message });
  const byKey = new Map(scanned.entries.map((e) => [e.label.toLowerCase(), e]));
  const split = scanned.entries.map((entry) => splitFields(inherit(entry, byKey)));
  const decoded = decodeAll(split.map((s) => s.slim));
  const result = split.map((s, i) => toEntry(s, decoded[i] ?? {}, file, line(s.entry.offset)));
  return { entries: result, problems };
}

/**
 * citation-js's decoding of the slim entries (null where an entry needs none), in one call: its input chain
 * costs about 0.5 ms a call whatever the size, against 40 µs a field. If the batch fails, entry by entry,
 * so a field it cannot decode costs that entry only.
 */
function decodeAll(slims: (BibEntry | null)[]): (Record<string, unknown> | null)[] {
  const wanted = slims.flatMap((s) => (s ? [s] : []));
  let all: Record<string, unknown>[];
  try {
    all = wanted.length ? decode(wanted) : [];
    if (all.length !== wanted.length) throw new Error("citation-js returned a different number of entries");
  } catch {
    all = wanted.map(decodeOne);
  }
  let next = 0;
  return slims.map((s) => (s ? all[next++]! : null));
}

const decode = (list: BibEntry[]) =>
  citationJs(list.map(({ type, label, properties }) => ({ type, label, properties })), "@biblatex/entries+list") as Record<string, unknown>[];

/**
 * One entry, field by field where the whole fails: a field citation-js cannot decode (a stray `$`) is
 * left out, so that its raw text is used (toEntry falls back to it), noted in `_undecoded`.
 */
function decodeOne(slim: BibEntry): Record<string, unknown> {
  try {
    return decode([slim])[0] ?? {};
  } catch {
    const merged: Record<string, unknown> = {};
    const undecoded: string[] = [];
    for (const [field, value] of Object.entries(slim.properties)) {
      try {
        Object.assign(merged, decode([{ ...slim, properties: { [field]: value } }])[0]);
      } catch {
        undecoded.push(field);
      }
    }
    return { ...merged, _undecoded: undecoded };
  }
}

/** BibTeX crossref: a child takes the fields it lacks from its parent (a parent's title is its booktitle). */
function inherit(entry: BibEntry, byKey: Map<string, BibEntry>): BibEntry {
  const parentKey = entry.properties.crossref;
  const parent = parentKey === undefined ? undefined : byKey.get(stripBraces(parentKey).toLowerCase());
  if (parentKey !== undefined && !parent) return { ...entry, notes: [...entry.notes, `crossref ${stripBraces(parentKey)} names no entry in this file`] };
  if (!parent || parent === entry) return entry;
  const properties = { ...entry.properties };
  for (const [field, value] of Object.entries(parent.properties)) {
    if (!OWN_FIELDS.has(field) && properties[field] === undefined) properties[field] = value;
  }
  if (properties.booktitle === undefined && parent.properties.title !== undefined) properties.booktitle = parent.properties.title;
  return { ...entry, properties };
}

/** Text after citation-js: its HTML-like markup (<i>, <sub>, nocase spans) and leftover commands made plain. */
export function plainText(value: string): string {
  return value
    .replace(/<\/?(?:i|b|sc|sup|sub|span)(?:\s[^>]*)?>/g, "")
    .replace(/\\([A-Za-z]+)\s*/g, "$1 ")
    .replace(/\\(.)/g, "$1")
    .replace(/[{}]/g, "")
    .replace(/\s+/g, " ")
    .replace(/\s+([,.;:)])/g, "$1")
    .trim();
}

/** Math symbols citation-js leaves as command names ("le geq infty"): as the characters they stand for. */
const SYMBOLS: Record<string, string> = {
  le: "≤", leq: "≤", ge: "≥", geq: "≥", neq: "≠", ne: "≠", approx: "≈", sim: "∼", propto: "∝", ll: "≪", gg: "≫",
  infty: "∞", pm: "±", mp: "∓", times: "×", cdot: "·", to: "→", rightarrow: "→", leftarrow: "←", in: "∈",
  sum: "∑", prod: "∏", int: "∫", partial: "∂", nabla: "∇", ldots: "…", dots: "…", cdots: "⋯", relax: "",
};

/** The {…} group at `at` (which must be "{"): its inside and where it ends; null when unbalanced. */
function group(value: string, at: number): { inside: string; end: number } | null {
  let depth = 0;
  for (let i = at; i < value.length; i++) {
    if (value[i] === "{") depth++;
    else if (value[i] === "}" && --depth === 0) return { inside: value.slice(at + 1, i), end: i + 1 };
  }
  return null;
}

/** `\name{a}{b}…` rewritten by `to` from its arguments (nested braces kept inside them). */
const commandPatterns = new Map<string, RegExp>();
function command(value: string, name: string, args: number, to: (...inside: string[]) => string): string {
  if (!value.includes(`\\${name}`)) return value;
  let re = commandPatterns.get(name);
  if (!re) commandPatterns.set(name, (re = new RegExp(`\\\\${name}(?![A-Za-z])\\s*`, "g")));
  re.lastIndex = 0;
  let out = "";
  let from = 0;
  for (let m = re.exec(value); m; m = re.exec(value)) {
    const inside: string[] = [];
    let at = m.index + m[0].length;
    for (let k = 0; k < args; k++) {
      while (value[at] === " ") at++;
      const g = value[at] === "{" ? group(value, at) : null;
      if (!g) break;
      inside.push(g.inside);
      at = g.end;
    }
    if (inside.length < args) continue;
    out += value.slice(from, m.index) + to(...inside);
    from = re.lastIndex = at;
  }
  return out + value.slice(from);
}

/** Math, references and links citation-js leaves raw, rewritten so that its decoding comes out readable. */
function beforeDecoding(value: string): string {
  let v = value;
  v = command(v, "frac", 2, (a, b) => `{${a}}/{${b}}`);
  v = command(v, "sqrt", 1, (a) => `√({${a}})`);
  v = command(v, "href", 2, (_url, text) => `{${text}}`);
  for (const cite of ["cite", "citep", "citet", "autocite", "parencite", "textcite"]) v = command(v, cite, 1, (keys) => `[${keys.split(/\s*,\s*/).join(", ")}]`);
  return v
    // The space after a command only ends its name (`{\\relax Th}orsson`); after a symbol it is kept.
    .replace(/\\([A-Za-z]+)(?![A-Za-z])(\s*)/g, (whole, name: string, space: string) => (SYMBOLS[name] === undefined ? whole : `${SYMBOLS[name]}${name === "relax" ? "" : space}`))
    // Whole command names only: `\text` must not eat the front of `\textbf` or `\textit`, which
    // citation-js decodes (to <b>, <i>, which plainText drops).
    .replace(/\\(?:mathcal|mathbf|mathrm|mathit|mathbb|mathsf|boldsymbol|operatorname|text|ensuremath)(?![A-Za-z])\s*/g, "")
    .replace(/\\AA\b\s*/g, "Å")
    .replace(/\\aa\b\s*/g, "å")
    .replace(/([\^_])([^{\\\s])/g, "$1{$2}");
}

/** BibTeX entry types in CSL terms (citation-js's mapping, for entries it is not asked to decode). */
const CSL_TYPES: Record<string, string> = {
  article: "article-journal",
  inproceedings: "paper-conference",
  conference: "paper-conference",
  book: "book",
  incollection: "chapter",
  inbook: "chapter",
  phdthesis: "thesis",
  mastersthesis: "thesis",
  thesis: "thesis",
  techreport: "report",
  report: "report",
  online: "webpage",
  misc: "document",
  unpublished: "manuscript",
};

/** The record's fields without its title and abstract, which the paper holds already (as JSONL's meta). */
function withoutText<T extends Record<string, unknown>>(record: T, fields = ["title", "abstract"]): Partial<T> {
  const rest: Record<string, unknown> = { ...record };
  for (const f of fields) delete rest[f];
  return rest as Partial<T>;
}

const stripBraces = (value: string) => value.replace(/[{}]/g, "").replace(/\s+/g, " ").trim();

/** Plain names (no braces, no LaTeX) as shown: "Last, First" → "First Last", "Last, Jr, First" → "First Last Jr". */
function plainNames(value: string): string[] {
  return value
    .split(/\s+and\s+/i)
    .map((name) => {
      const parts = name.split(",").map((p) => p.trim());
      if (parts.length === 1) return parts[0]!;
      if (parts.length === 2) return `${parts[1]} ${parts[0]}`.trim();
      return `${parts[2]} ${parts[0]} ${parts[1]}`.trim();
    })
    .filter(Boolean);
}

interface SplitEntry {
  entry: BibEntry;
  /** Plain fields, braces removed. */
  raw: Record<string, string>;
  /** The fields citation-js must decode, as an entry of their own; null when none. */
  slim: BibEntry | null;
}

function splitFields(entry: BibEntry): SplitEntry {
  const p = entry.properties;
  const raw: Record<string, string> = {};
  const latex: Record<string, string> = {};
  for (const field of DECODED) {
    if (p[field] === undefined) continue;
    // Accents are most of the LaTeX in real exports (Zotero writes M{\"u}ller): decoded here, so that only
    // fields with other LaTeX (math, commands, braced names) cost citation-js's grammar.
    const value = decodeLatexAccents(p[field]!, true);
    if (LATEX.test(value) || ((field === "author" || field === "editor") && value.includes("{"))) latex[field] = beforeDecoding(value);
    else raw[field] = stripBraces(value);
  }
  return { entry, raw, slim: Object.keys(latex).length ? { ...entry, properties: latex } : null };
}

function toEntry({ entry, raw, slim }: SplitEntry, csl: Record<string, unknown>, file: string, line: number): RawEntry {
  const p = entry.properties;
  const notes = [...entry.notes];
  for (const field of (csl._undecoded as string[] | undefined) ?? []) {
    raw[field] = stripBraces(slim!.properties[field]!);
    notes.push(`${field}: its LaTeX cannot be decoded (an unmatched $?); read as written`);
  }
  const decoded = (cslField: string, ...fields: string[]) => {
    const value = csl[cslField];
    if (typeof value === "string") return plainText(value);
    for (const f of fields) if (raw[f] !== undefined) return raw[f];
    return undefined;
  };
  const fromNames = fromCsl(csl);
  const bib: Bibliographic = {
    ...fromNames,
    authors: raw.author !== undefined ? plainNames(raw.author) : fromNames.authors.map(plainText),
    date: bibDate(p, notes),
    venue: decoded("container-title", "journal", "journaltitle", "booktitle") ?? null,
    doi: normaliseDoi(p.doi),
    arxiv: arxivOf(p),
    pmid: normalisePmid(p.pmid),
    url: typeof p.url === "string" ? p.url.trim() || null : null,
    keywords: splitKeywords(typeof csl.keyword === "string" ? plainText(csl.keyword) : raw.keywords),
    type: typeof csl.type === "string" ? csl.type : (CSL_TYPES[entry.type] ?? entry.type),
  };
  return {
    // JabRef writes `@Article{,` until a key is generated: such an entry has no id of its own (ids.ts).
    ...(entry.label ? { id: entry.label } : {}),
    title: decoded("title", "title") ?? "",
    abstract: decoded("abstract", "abstract") ?? "",
    source: { file, line },
    meta: { entrytype: entry.type, ...withoutText(p) },
    bib,
    ...(notes.length ? { notes } : {}),
  };
}

/** `date` (BibLaTeX), else `year` with `month` (a number after the scan resolved `jan`, or a name). */
function bibDate(p: Record<string, string>, notes: string[]): string | null {
  const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
  let value: unknown = p.date;
  if (value === undefined && p.year !== undefined) {
    const year = String(p.year).trim();
    const m = p.month === undefined ? NaN : /^\d+$/.test(String(p.month).trim()) ? Number(p.month) : MONTHS.indexOf(String(p.month).trim().slice(0, 3).toLowerCase()) + 1;
    value = Number.isFinite(m) && m > 0 ? `${year}-${m}` : year;
  }
  const { date, impossible } = parseDate(value);
  if (impossible) notes.push(`impossible date ${JSON.stringify(String(value))} ignored`);
  return date;
}

/** arXiv id from `eprint` with `archivePrefix`/`eprinttype` arXiv (or an eprint that is one), or from the URL. */
function arxivOf(p: Record<string, string>): string | null {
  const archive = String(p.archiveprefix ?? p.eprinttype ?? "").toLowerCase();
  if (p.eprint !== undefined && (archive === "arxiv" || archive === "")) {
    const id = normaliseArxiv(p.eprint);
    if (id) return id;
  }
  const url = typeof p.url === "string" && /arxiv\.org/i.test(p.url) ? p.url : undefined;
  return normaliseArxiv(url) ?? normaliseArxiv(p.journal && /^arxiv/i.test(String(p.journal)) ? String(p.journal) : undefined);
}
