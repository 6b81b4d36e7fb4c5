// The metadata every result carries (Hit, PaperDetail): read from a paper's stored normalised record.
import { bestUrl, type Bibliographic } from "../corpus/bibliographic.ts";

/** Authors, date, venue, identifiers and the best link of a paper (HELPERS.md's agreed Hit fields). */
export interface PaperMetadata {
  authors: string[];
  /** ISO 8601, as precise as the source (2021, 2021-03, 2021-03-15). */
  date: string | null;
  venue: string | null;
  doi: string | null;
  arxiv: string | null;
  pmid: string | null;
  /** The best link: https://doi.org/<DOI>, else the arXiv abstract page, else PubMed, else the record's URL. */
  url: string | null;
}

export function parseBib(json: string | null): Bibliographic | null {
  return json ? (JSON.parse(json) as Bibliographic) : null;
}

export function metadataOf(json: string | null): PaperMetadata {
  const bib = parseBib(json);
  if (!bib) return { authors: [], date: null, venue: null, doi: null, arxiv: null, pmid: null, url: null };
  return { authors: bib.authors, date: bib.date, venue: bib.venue, doi: bib.doi, arxiv: bib.arxiv, pmid: bib.pmid, url: webUrl(bestUrl(bib)) };
}

/**
 * A link a page can open: an http(s) URL that parses, as the URL standard writes it; anything else a record
 * holds ("http://[oops/", "javascript:…", a bare path) is no link. Checked here, once, so every surface
 * (CLI, API, MCP, the page) gets either a sound URL or null.
 */
export function webUrl(url: string | null): string | null {
  if (!url || !/^https?:\/\//i.test(url) || !URL.canParse(url)) return null;
  return new URL(url).href;
}
