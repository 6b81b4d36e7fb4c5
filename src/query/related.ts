// related: the papers nearest to a given paper, using the paper's own vector (normalised mean of its
// chunks) as the query, the paper itself excluded.
import { normaliseArxiv, normaliseDoi, normalisePmid } from "../corpus/bibliographic.ts";
import { PapersiftError } from "../errors.ts";
import { paperByIdentifier } from "../store/lookups.ts";
import type { Store } from "../store/store.ts";
import { printable } from "../text.ts";
import { allowedPapers, type Filter } from "./filter.ts";
import { denseRanking, type Hit } from "./search.ts";
import { metadataOf } from "./metadata.ts";
import { snippet } from "./snippet.ts";

/**
 * An exact id, a DOI (10.…, doi:…, https://doi.org/…), an arXiv id (arXiv:2301.00001, an arxiv.org
 * link), a PMID (pmid:123), an exact title, or an unambiguous part of a title (case-insensitive).
 */
export function resolvePaper(store: Store, ref: string): { rowid: number; id: string; title: string } {
  const wanted = ref.trim().normalize("NFC");
  if (!wanted) throw new PapersiftError("UNKNOWN_PAPER", "no paper given");
  const byId = store.paperById(wanted);
  if (byId) return byId;
  const identifier = byIdentifier(store, wanted);
  if (identifier) return identifier;
  const papers = store.titles();
  const lower = wanted.toLowerCase();
  const exact = papers.find((p) => p.title.toLowerCase() === lower);
  if (exact) return exact;
  const partial = papers.filter((p) => p.title.toLowerCase().includes(lower) || p.id.toLowerCase() === lower);
  if (partial.length === 1) return partial[0]!;
  if (partial.length === 0) throw new PapersiftError("UNKNOWN_PAPER", `no paper matches "${printable(wanted)}"`);
  const shown = partial.slice(0, 10).map((p) => `\n  ${printable(p.id)}  ${printable(p.title)}`).join("");
  throw new PapersiftError(
    "AMBIGUOUS_PAPER",
    `"${printable(wanted)}" matches ${partial.length} papers:${shown}${partial.length > 10 ? `\n  … and ${partial.length - 10} more` : ""}`,
  );
}

/** The paper a DOI, arXiv id or PMID names, looked up by its indexed column. */
function byIdentifier(store: Store, ref: string): { rowid: number; id: string; title: string } | undefined {
  const doi = /^(doi:|https?:\/\/(dx\.)?doi\.org\/)?10\.\d{4,9}\//i.test(ref) ? normaliseDoi(ref) : null;
  if (doi) return paperByIdentifier(store, "doi", doi);
  const arxiv = /^(arxiv:|https?:\/\/arxiv\.org\/)/i.test(ref) || /^\d{4}\.\d{4,5}(v\d+)?$/.test(ref) ? normaliseArxiv(ref) : null;
  if (arxiv) return paperByIdentifier(store, "arxiv", arxiv);
  const pmid = /^pmid:\s*\d+$/i.test(ref) ? normalisePmid(ref) : null;
  return pmid ? paperByIdentifier(store, "pmid", pmid) : undefined;
}

export function relatedPapers(store: Store, ref: string, k: number, filter?: Filter): { paper: { id: string; title: string }; results: Hit[] } {
  return store.read(() => {
    const paper = resolvePaper(store, ref);
    const source = store.paperByRowid(paper.rowid);
    const vector = store.paperVector(paper.rowid);
    const allowed = allowedPapers(store, filter);
    const ranked = allowed?.size === 0 ? [] : denseRanking(store, vector, k, paper.rowid, allowed);
    const results: Hit[] = ranked.slice(0, k).map(({ chunk, similarity }) => {
      const other = store.paperByRowid(chunk.paper);
      const score = Math.round(similarity * 1e6) / 1e6;
      return {
        id: other.id,
        title: other.title,
        ...metadataOf(other.bib),
        score,
        similarity: score,
        snippet: snippet(chunk.text, source.abstract),
        source: { file: other.file, line: other.line },
        chunk: chunk.ord,
        relevance: null,
      };
    });
    return { paper: { id: paper.id, title: paper.title }, results };
  });
}
