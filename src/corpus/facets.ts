// The metadata a search can be narrowed by, read from a paper's JSONL fields: the arXiv snapshot's
// `categories` (space-separated), `authors` (one string) and `update_date` / `listing_date` / `versions`,
// or plain `date`, `year`, `authors` and `categories` from any other export. Stored as real columns so that
// a filter is an indexed lookup, never a JSON scan per query.

export interface Facets {
  /** ISO date, YYYY-MM-DD; a paper with only a year counts as January 1st of it. */
  date: string | null;
  /** Authors folded for matching: lower case, accents and LaTeX accent commands removed. */
  authorsKey: string | null;
  categories: string[];
}

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];

/** An ISO date from the forms exports use: 2026-06-15, 2026-06, 2026, "Mon, 2 Apr 2007 19:18:42 GMT". */
export function isoDate(value: unknown): string | null {
  if (typeof value === "number" && Number.isInteger(value) && value > 999 && value < 10000) return `${value}-01-01`;
  if (typeof value !== "string") return null;
  const text = value.trim();
  const iso = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?(?:$|[T\s])/.exec(text);
  if (iso) return `${iso[1]}-${iso[2] ?? "01"}-${iso[3] ?? "01"}`;
  const rfc = /(\d{1,2})\s+([A-Za-z]{3})[a-z]*\s+(\d{4})/.exec(text);
  if (rfc) {
    const month = MONTHS.indexOf(rfc[2]!.toLowerCase());
    if (month >= 0) return `${rfc[3]}-${String(month + 1).padStart(2, "0")}-${rfc[1]!.padStart(2, "0")}`;
  }
  return null;
}

/** Lower case, no accents (Unicode or LaTeX: `Bal\'azs` → `balazs`), whitespace folded. */
export function foldText(text: string): string {
  return text
    .replace(/\\[`'^"~=.uvHcdbtk]\s*\{?\s*([A-Za-z])\s*\}?/g, "$1")
    .replace(/[{}]/g, "")
    .normalize("NFKD")
    .replace(/\p{M}/gu, "")
    .toLowerCase()
    .replace(/\s+/g, " ")
    .trim();
}

export function facetsOf(meta: Record<string, unknown> | undefined): Facets {
  if (!meta) return { date: null, authorsKey: null, categories: [] };
  const versions = Array.isArray(meta.versions) ? (meta.versions as { created?: unknown }[]) : [];
  const date =
    isoDate(meta.date) ?? isoDate(meta.listing_date) ?? isoDate(meta.update_date) ?? isoDate(versions[0]?.created) ?? isoDate(meta.year);
  const authors = Array.isArray(meta.authors) ? meta.authors.filter((a) => typeof a === "string").join(", ") : meta.authors;
  const categories = Array.isArray(meta.categories) ? meta.categories.filter((c) => typeof c === "string").join(" ") : meta.categories;
  return {
    date,
    authorsKey: typeof authors === "string" && authors.trim() ? foldText(authors) : null,
    categories: typeof categories === "string" ? [...new Set(categories.split(/[\s,]+/).filter(Boolean))] : [],
  };
}
