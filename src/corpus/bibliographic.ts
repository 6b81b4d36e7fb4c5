// The normalised metadata every reader gives a paper, whatever the format: authors, date, venue, the three
// identifiers papersift matches papers by (DOI, arXiv id, PMID), a link, keywords and the record's type.
// CSL-JSON is the common shape: BibTeX and RIS are read into CSL by citation-js, so one mapping (fromCsl)
// serves CSL-JSON, BibTeX and RIS alike.

export interface Bibliographic {
  /** Display names, "Given Family" (or an institution's name), in the record's order. */
  authors: string[];
  /** ISO 8601 as precise as the source: "2021", "2021-03" or "2021-03-15". */
  date: string | null;
  /** Journal, proceedings or book the paper appeared in. */
  venue: string | null;
  /** Lower case, without a resolver prefix: "10.5555/abc". */
  doi: string | null;
  /** Without "arXiv:" and without a version: "2301.00001", "hep-th/9901001". */
  arxiv: string | null;
  pmid: string | null;
  /** The record's own link, if it has one (see bestUrl for the link papersift shows). */
  url: string | null;
  /** Keywords, MeSH terms, arXiv categories, topics: what --category matches. */
  keywords: string[];
  /** The record's type in CSL terms where known ("article-journal", "paper-conference"), else as written. */
  type: string | null;
}

export const emptyBibliographic = (): Bibliographic => ({
  authors: [],
  date: null,
  venue: null,
  doi: null,
  arxiv: null,
  pmid: null,
  url: null,
  keywords: [],
  type: null,
});

/** The link shown for a paper: its DOI, else its arXiv page, else PubMed, else the record's own URL. */
export function bestUrl(bib: Pick<Bibliographic, "doi" | "arxiv" | "pmid" | "url">): string | null {
  if (bib.doi) return `https://doi.org/${bib.doi}`;
  if (bib.arxiv) return `https://arxiv.org/abs/${bib.arxiv}`;
  if (bib.pmid) return `https://pubmed.ncbi.nlm.nih.gov/${bib.pmid}/`;
  return bib.url;
}

const text = (value: unknown): string | null => {
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  if (typeof value !== "string") return null;
  const t = value.replace(/\s+/g, " ").trim();
  return t || null;
};

/** A DOI as papersift compares them: lower case (DOIs are case-insensitive), no resolver or "doi:" prefix. */
export function normaliseDoi(value: unknown): string | null {
  const t = text(value);
  if (!t) return null;
  const m = /(10\.\d{4,9}\/\S+)/i.exec(decodeURIComponentSafe(t));
  return m ? m[1]!.replace(/[.,;]+$/, "").toLowerCase() : null;
}

function decodeURIComponentSafe(t: string): string {
  if (!t.includes("%")) return t;
  try {
    return decodeURIComponent(t);
  } catch {
    return t;
  }
}

const NEW_ARXIV = /(?:^|arxiv[:/]|abs\/|pdf\/)\s*(\d{4}\.\d{4,5})(v\d+)?(?:\.pdf)?$/i;
const OLD_ARXIV = /(?:^|arxiv[:/]|abs\/|pdf\/)\s*([a-z-]+(?:\.[A-Z]{2})?\/\d{7})(v\d+)?(?:\.pdf)?$/i;

/** An arXiv identifier in any of its written forms (arXiv:2301.00001v2, an abs/ URL), without its version. */
export function normaliseArxiv(value: unknown): string | null {
  const t = text(value);
  if (!t) return null;
  const m = NEW_ARXIV.exec(t) ?? OLD_ARXIV.exec(t);
  return m ? m[1]!.toLowerCase().replace(/^([a-z-]+)(\.[a-z]{2})?\//, (_, a: string, b?: string) => `${a}${b ? b.toUpperCase() : ""}/`) : null;
}

export function normalisePmid(value: unknown): string | null {
  const t = text(value);
  const m = t ? /^(?:pmid:\s*)?(\d{1,9})$/i.exec(t) : null;
  return m ? String(Number(m[1])) : null;
}

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Earliest and latest years papersift takes for a paper's date; outside them a date is impossible. */
const MIN_YEAR = 1000;
const MAX_YEAR = 2999;

/** Is this (year, month?, day?) a real calendar date? */
function possible(year: number, month?: number, day?: number): boolean {
  if (!(year >= MIN_YEAR && year <= MAX_YEAR)) return false;
  if (month === undefined) return true;
  if (!(month >= 1 && month <= 12)) return false;
  if (day === undefined) return true;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return day >= 1 && day <= (month === 2 && !leap ? 28 : DAYS_IN_MONTH[month - 1]!);
}

const iso = (year: number, month?: number, day?: number) =>
  [String(year), month && String(month).padStart(2, "0"), month && day && String(day).padStart(2, "0")].filter(Boolean).join("-");

/**
 * A date from the forms exports use, as precise as given: 2021, "2021-03", "2021-03-15", "2021/03/15/",
 * "2021 Mar 15", "Mon, 2 Apr 2007 19:18:42 GMT", CSL date-parts [[2021, 3, 15]].
 * `{ date: null, impossible: true }` for a date that no calendar has ("2026-13-45", "0000-00-00"), so
 * the reader can report it (issue 17 §15).
 */
export function parseDate(value: unknown): { date: string | null; impossible: boolean } {
  const none = { date: null, impossible: false };
  const checked = (y: number, m?: number, d?: number) => (possible(y, m, d) ? { date: iso(y, m, d), impossible: false } : { date: null, impossible: true });
  if (typeof value === "number") return Number.isInteger(value) ? checked(value) : none;
  if (Array.isArray(value)) {
    const [y, m, d] = value.map(Number);
    return y === undefined || Number.isNaN(y) ? none : checked(y, m || undefined, d || undefined);
  }
  const t = text(value);
  if (!t) return none;
  // PubMed's "2021 Mar 15", "2021 Mar-Apr", "2021 Spring".
  const named = /^(\d{4})\s+([A-Za-z]{3})[a-z]*(?:\s+(\d{1,2}))?/.exec(t);
  if (named) {
    const month = MONTHS.indexOf(named[2]!.toLowerCase());
    return month < 0 ? checked(Number(named[1])) : checked(Number(named[1]), month + 1, named[3] ? Number(named[3]) : undefined);
  }
  // ISO and RIS's "2020/05/02/" (empty parts allowed: "2023///").
  const numeric = /^(-?\d{4})(?:[-/.](\d{1,2})?(?:[-/.](\d{1,2})?)?)?(?:$|[T\s/])/.exec(t);
  if (numeric) return checked(Number(numeric[1]), numeric[2] ? Number(numeric[2]) : undefined, numeric[3] ? Number(numeric[3]) : undefined);
  const rfc = /(\d{1,2})\s+([A-Za-z]{3})[a-z]*\s+(\d{4})/.exec(t);
  if (rfc) {
    const month = MONTHS.indexOf(rfc[2]!.toLowerCase());
    if (month >= 0) return checked(Number(rfc[3]), month + 1, Number(rfc[1]));
  }
  return none;
}

/** The filter column's form of a date: a whole day, the first of the month or year where less is known. */
export function dayOf(date: string | null): string | null {
  if (!date) return null;
  return date.length === 4 ? `${date}-01-01` : date.length === 7 ? `${date}-01` : date;
}

/** A CSL name as shown: "Given Family" with its particles, or the literal (an institution). */
function cslName(name: unknown): string | null {
  if (typeof name === "string") return text(name);
  if (!name || typeof name !== "object") return null;
  const n = name as Record<string, unknown>;
  if (text(n.literal)) return text(n.literal);
  const parts = [n.given, n["dropping-particle"], n["non-dropping-particle"], n.family, n.suffix].map(text).filter(Boolean);
  return parts.length ? parts.join(" ") : null;
}

/** Keywords from one string ("a, b; c") or a list (each element one keyword: MeSH terms hold commas). */
export const splitKeywords = (value: unknown): string[] => {
  const all = Array.isArray(value) ? value.map((k) => text(k) ?? "") : (text(value) ?? "").split(/\s*[,;]\s*/);
  return [...new Set(all.map((k) => k.trim()).filter(Boolean))];
};

/**
 * A CSL-JSON item's metadata (https://citeproc-js.readthedocs.io/en/latest/csl-json/markup.html): `author`
 * as names, `issued` (date-parts, raw or literal), `container-title`, `DOI`, `URL`, `PMID`, `keyword`.
 * `note(message)` hears of an impossible date.
 */
export function fromCsl(item: Record<string, unknown>, note: (message: string) => void = () => {}): Bibliographic {
  // Hand-written CSL gives names as one string ("Smith, John and Doe, Jane") and a bare year: read as meant.
  const names = typeof item.author === "string" ? item.author.split(/\s+and\s+|\s*;\s*/).map((literal) => ({ literal: literal.replace(/^([^,]+),\s*(.+)$/, "$2 $1") })) : item.author;
  const authors = (Array.isArray(names) ? names : []).map(cslName).filter((a): a is string => !!a);
  const issued = item.issued as { "date-parts"?: unknown[][]; raw?: unknown; literal?: unknown } | undefined;
  const bare = typeof item.issued === "string" || typeof item.issued === "number" ? String(item.issued) : undefined;
  const raw = issued?.["date-parts"]?.[0] ?? issued?.raw ?? issued?.literal ?? bare;
  const { date, impossible } = parseDate(raw);
  if (impossible) note(`impossible date ${JSON.stringify(raw)} ignored`);
  const container = text(Array.isArray(item["container-title"]) ? item["container-title"][0] : item["container-title"]);
  const url = text(item.URL);
  return {
    authors,
    date,
    venue: container ?? text(item["collection-title"]) ?? text(item.publisher),
    doi: normaliseDoi(item.DOI),
    arxiv: normaliseArxiv(item.arxiv ?? item.arXiv ?? (url && /arxiv\.org/i.test(url) ? url : undefined) ?? item.number),
    pmid: normalisePmid(item.PMID),
    url,
    keywords: splitKeywords(item.keyword),
    type: text(item.type),
  };
}

/** LaTeX accent commands as arXiv metadata writes them in names (Bal\'azs, M\"uller, \v{S}): to Unicode. */
const COMBINING: Record<string, string> = {
  "`": "\u0300", "'": "\u0301", "^": "\u0302", "~": "\u0303", "=": "\u0304", u: "\u0306", ".": "\u0307", '"': "\u0308",
  H: "\u030b", v: "\u030c", c: "\u0327", k: "\u0328", d: "\u0323", b: "\u0331",
};
const LETTERS: Record<string, string> = { o: "ø", O: "Ø", l: "ł", L: "Ł", ss: "ß", ae: "æ", AE: "Æ", oe: "œ", OE: "Œ", aa: "å", AA: "Å", i: "ı" };

export function decodeLatexAccents(value: string, keepBraces = false): string {
  if (!value.includes("\\")) return value;
  const decoded = value
    .replace(/\{?\\([`'^~=."]|[uHvckdb](?=[\s{]))\s*\{?\s*([A-Za-z]|\\i)\s*\}?\}?/g, (_, accent: string, letter: string) =>
      `${letter === "\\i" ? "i" : letter}${COMBINING[accent]}`.normalize("NFC"),
    )
    .replace(/\{?\\(ss|ae|AE|oe|OE|aa|AA|o|O|l|L)(?![A-Za-z])\s*\}?/g, (_, name: string) => LETTERS[name]!);
  return keepBraces ? decoded : decoded.replace(/[{}]/g, "");
}

/**
 * Authors as JSONL exports give them: an array of names (or of CSL/OpenAlex-like objects), or one string
 * "A, B and C" (the arXiv snapshot), split at commas and "and" outside parentheses (affiliations).
 */
export function splitAuthors(value: unknown): string[] {
  if (Array.isArray(value)) {
    return value
      .map((a) => (typeof a === "string" ? a : a && typeof a === "object" ? (cslName(a) ?? text((a as Record<string, unknown>).name)) : null))
      .filter((a): a is string => !!a)
      .map((a) => decodeLatexAccents(a).trim());
  }
  const t = text(value);
  if (!t) return [];
  const names: string[] = [];
  let depth = 0;
  let current = "";
  const push = () => {
    const name = decodeLatexAccents(current).replace(/\s+/g, " ").trim();
    if (name) names.push(name);
    current = "";
  };
  for (let i = 0; i < t.length; i++) {
    const c = t[i]!;
    if (c === "(" || c === ")") {
      depth = Math.max(0, depth + (c === "(" ? 1 : -1));
      continue;
    }
    if (depth > 0) continue;
    if (c === ",") push();
    else if (/^\sand\s/i.test(t.slice(i, i + 5))) {
      push();
      i += 4;
    } else current += c;
  }
  push();
  return names;
}

/** Normalised metadata of a papersift/arXiv JSONL entry from its fields (`id` is its explicit id, if any). */
export function fromJsonl(meta: Record<string, unknown>, id: string | undefined, note: (message: string) => void = () => {}): Bibliographic {
  const versions = Array.isArray(meta.versions) ? (meta.versions as { created?: unknown }[]) : [];
  let date: string | null = null;
  for (const value of [meta.date, meta.listing_date, meta.update_date, versions[0]?.created, meta.year]) {
    if (value === undefined || value === null || value === "") continue;
    const parsed = parseDate(value);
    if (parsed.impossible) note(`impossible date ${JSON.stringify(value)} ignored`);
    if (parsed.date) {
      date = parsed.date;
      break;
    }
  }
  const url = text(meta.url);
  return {
    authors: splitAuthors(meta.authors ?? meta.author),
    date,
    venue: text(meta["journal-ref"]) ?? text(meta.journal) ?? text(meta.venue),
    doi: normaliseDoi(meta.doi ?? meta.DOI),
    arxiv: normaliseArxiv(meta.arxiv ?? meta.arxiv_id ?? id),
    pmid: normalisePmid(meta.pmid ?? meta.PMID),
    url,
    keywords: [...new Set([...splitCategories(meta.categories), ...splitKeywords(meta.keywords)])],
    type: text(meta.type),
  };
}

const splitCategories = (value: unknown): string[] =>
  Array.isArray(value) ? value.flatMap(splitCategories) : typeof value === "string" ? value.split(/[\s,]+/).filter(Boolean) : [];

/** A stored normalised record (the papers table's `bib` column, JSON written by ingest), or null. */
export function parseBib(json: string | null): Bibliographic | null {
  return json ? (JSON.parse(json) as Bibliographic) : null;
}
