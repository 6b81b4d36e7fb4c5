// The metadata a search can be narrowed by, from a paper's normalised metadata (bibliographic.ts): its
// date, its authors folded for matching, and its categories (arXiv categories, keywords, MeSH terms,
// topics). Stored as real columns so that a filter is an indexed lookup, never a JSON scan per query.
import anyAscii from "any-ascii";
import { dayOf, decodeLatexAccents, type Bibliographic } from "./bibliographic.ts";

export interface Facets {
  /** ISO date, YYYY-MM-DD; a paper with only a year counts as January 1st of it (see dayOf). */
  date: string | null;
  /** Authors folded for matching (foldText), joined by ", ". */
  authorsKey: string | null;
  categories: string[];
}

/**
 * Text folded for matching names: LaTeX accents decoded, then transliterated to ASCII by any-ascii (a
 * table built from Unicode data, not a hand list: ö → o, ø → o, ł → l, æ → ae, ß → ss, Ł → L), lower case,
 * whitespace folded. `--author orsted` finds Ørsted, `--author walesa` finds Wałęsa (issue 17 §14).
 */
export function foldText(text: string): string {
  const decoded = decodeLatexAccents(text).normalize("NFC");
  return anyAscii(decoded).toLowerCase().replace(/\s+/g, " ").trim();
}

export function facetsOf(bib: Bibliographic | null | undefined): Facets {
  if (!bib) return { date: null, authorsKey: null, categories: [] };
  const authors = bib.authors.join(", ");
  return {
    date: dayOf(bib.date),
    authorsKey: authors.trim() ? foldText(authors) : null,
    categories: [...new Set(bib.keywords)],
  };
}
