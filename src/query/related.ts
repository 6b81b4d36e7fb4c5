// related: the papers nearest to a given paper, using the paper's own vector (normalised mean of its
// chunks) as the query, the paper itself excluded.
import { PapersiftError } from "../errors.ts";
import { bareDoi, type Store } from "../store/store.ts";
import { allowedPapers, type Filter } from "./filter.ts";
import { denseRanking, type Hit } from "./search.ts";
import { snippet } from "./snippet.ts";

/** An exact id, a DOI (bare, `doi:` or a doi.org URL), an exact title, or an unambiguous part of a title (case-insensitive). */
export function resolvePaper(store: Store, ref: string): { rowid: number; id: string; title: string } {
  const wanted = ref.trim().normalize("NFC");
  if (!wanted) throw new PapersiftError("UNKNOWN_PAPER", "no paper given");
  const papers = store.titles();
  const byId = papers.find((p) => p.id === wanted);
  if (byId) return byId;
  const doi = bareDoi(wanted);
  if (doi) {
    const found = store.papersByDoi(doi);
    if (found.length) return found[0]!;
  }
  const lower = wanted.toLowerCase();
  const exact = papers.find((p) => p.title.toLowerCase() === lower);
  if (exact) return exact;
  const partial = papers.filter((p) => p.title.toLowerCase().includes(lower) || p.id.toLowerCase() === lower);
  if (partial.length === 1) return partial[0]!;
  if (partial.length === 0) throw new PapersiftError("UNKNOWN_PAPER", `no paper matches "${wanted}"`);
  const shown = partial.slice(0, 10).map((p) => `\n  ${p.id}  ${p.title}`).join("");
  throw new PapersiftError(
    "AMBIGUOUS_PAPER",
    `"${wanted}" matches ${partial.length} papers:${shown}${partial.length > 10 ? `\n  … and ${partial.length - 10} more` : ""}`,
  );
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
