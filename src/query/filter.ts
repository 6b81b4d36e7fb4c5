// Metadata filters shared by search, related and clusters: arXiv category prefixes (any of them), a date
// range, and an author substring (case- and accent-insensitive). A filter becomes one indexed SQL query
// for the papers that pass it; the rankers then only ever consider those papers.
import { z } from "zod";
import { parseDate } from "../corpus/bibliographic.ts";
import { foldText } from "../corpus/facets.ts";
import type { Store } from "../store/store.ts";
import { isBlank } from "../text.ts";

/**
 * YYYY, YYYY-MM or YYYY-MM-DD, as typed, and a day the calendar has (2026-02-30 is refused like 2026-13-01):
 * checked by the date parser the corpus readers use.
 */
const DateText = z
  .string()
  .regex(/^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?$/, "must be a date: YYYY, YYYY-MM or YYYY-MM-DD")
  .superRefine((d, ctx) => {
    if (parseDate(d).date !== d) ctx.addIssue({ code: "invalid_format", format: "date", input: d, message: "must be a date: YYYY, YYYY-MM or YYYY-MM-DD", abort: true });
  });

/** A value that shows something: spaces or zero-width characters alone are empty. */
const Visible = z.string().trim().refine((text) => !isBlank(text), "must not be empty");

/** The filter fields every query takes (search, related, clusters; the CLI and the HTTP API alike). */
export const FilterFields = {
    /** Category prefixes, any of which a paper must have: "cs.CL", or "cs." for all of cs. */
    category: z.array(Visible).max(64).optional(),
    /** From the start of this year, month or day on. */
    since: DateText.optional(),
    /** Up to the end of this year, month or day. */
    until: DateText.optional(),
    /** Part of an author's name; case and accents are ignored. */
    author: Visible.optional(),
};
const FilterObject = z.object(FilterFields);
export type Filter = z.input<typeof FilterObject>;

/** For a schema's superRefine: a range that ends before it starts is the user's mistake. */
export function checkRange(f: Filter, ctx: z.RefinementCtx): void {
  if (f.since && f.until && start(f.since) > end(f.until)) ctx.addIssue({ code: "custom", message: `--since ${f.since} is after --until ${f.until}`, path: ["since"] });
}

const start = (d: string) => (d.length === 4 ? `${d}-01-01` : d.length === 7 ? `${d}-01` : d);
const end = (d: string) => (d.length === 4 ? `${d}-12-31` : d.length === 7 ? `${d}-31` : d);

export const isEmptyFilter = (f: Filter | undefined): boolean => !f || (!f.category?.length && !f.since && !f.until && !f.author);

/** The rowids of the papers that pass a filter; null when there is no filter (every paper passes). */
export function allowedPapers(store: Store, filter: Filter | undefined): Set<number> | null {
  if (!filter || isEmptyFilter(filter)) return null;
  const where: string[] = [];
  const params: string[] = [];
  if (filter.since) {
    where.push("date >= ?");
    params.push(start(filter.since));
  }
  if (filter.until) {
    where.push("date <= ?");
    params.push(end(filter.until));
  }
  if (filter.author) {
    where.push("authors_key LIKE ? ESCAPE '\\'");
    params.push(`%${foldText(filter.author).replace(/[\\%_]/g, "\\$&")}%`);
  }
  if (filter.category?.length) {
    // A prefix as a range, so the (category, paper) primary key serves it.
    const ranges = filter.category.map(() => "(category >= ? AND category < ?)").join(" OR ");
    where.push(`rowid IN (SELECT paper FROM paper_categories WHERE ${ranges})`);
    for (const prefix of filter.category) params.push(prefix, `${prefix}\uffff`);
  }
  const rows = store.db.prepare(`SELECT rowid FROM papers WHERE ${where.join(" AND ")}`).pluck().all(...params) as number[];
  return new Set(rows);
}
