// related: the papers nearest to a given paper, using the paper's own vector (normalised mean of its
// chunks) as the query, the paper itself excluded.
import { PapersiftError } from "../errors.ts";
import type { Store } from "../store/store.ts";
import { printable } from "../text.ts";
import { allowedPapers, type Filter } from "./filter.ts";
import { denseRanking, type Hit } from "./search.ts";
import { matchReferences, referenceOf } from "./liked.ts";
import { metadataOf } from "./metadata.ts";
import { snippet } from "./snippet.ts";

/**
 * The one paper a typed reference names, found as every other reference is (liked.ts matchReferences): an
 * exact id, a DOI (10.…, doi:…, https://doi.org/…; an arXiv DOI names the arXiv paper), an arXiv id
 * (arXiv:2301.00001, an arxiv.org link), a PMID (pmid:123), an exact title, or an unambiguous part of a title
 * (case-insensitive). Throws UNKNOWN_PAPER, or AMBIGUOUS_PAPER listing the candidates.
 */
export function resolvePaper(store: Store, ref: string): { rowid: number; id: string; title: string } {
  const wanted = ref.trim().normalize("NFC");
  if (!wanted) throw new PapersiftError("UNKNOWN_PAPER", "no paper given");
  const byId = store.paperById(wanted);
  if (byId) return byId;
  const { matched, unmatched } = matchReferences(store, [referenceOf(wanted)]);
  if (matched[0]) return matched[0];
  if (!unmatched[0]?.ambiguous) throw new PapersiftError("UNKNOWN_PAPER", `no paper matches "${printable(wanted)}"`);
  const lower = wanted.toLowerCase();
  const partial = store.titles().filter((p) => p.title.toLowerCase().includes(lower));
  const shown = partial.slice(0, 10).map((p) => `\n  ${printable(p.id)}  ${printable(p.title)}`).join("");
  throw new PapersiftError(
    "AMBIGUOUS_PAPER",
    `"${printable(wanted)}" matches ${partial.length} papers:${shown}${partial.length > 10 ? `\n  … and ${partial.length - 10} more` : ""}`,
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
