// The metadata every result carries (Hit, PaperDetail): read from a paper's stored normalised record.
import { bestUrl, parseBib, type Bibliographic } from "../corpus/bibliographic.ts";

/** Authors, date, venue, identifiers and the best link of a paper (HELPERS.md's agreed Hit fields). */
export interface PaperMetadata extends Pick<Bibliographic, "authors" | "date" | "venue" | "doi" | "arxiv" | "pmid"> {
  /** The best link: https://doi.org/<DOI>, else the arXiv abstract page, else PubMed, else the record's URL. */
  url: string | null;
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
