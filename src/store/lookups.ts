// Finding papers by what identifies them: the ids the index already gave (for an ingest keeping them), a
// DOI, arXiv id or PMID (indexed columns), and papers per corpus file (for stats).
import type { KnownIds, KnownPaper } from "../corpus/ids.ts";
import type { Store } from "./store.ts";

/** The ids this index already gave, so that an ingest keeps them (corpus/ids.ts). */
export function knownIds(store: Store): KnownIds {
  const paper = store.sql("SELECT id, file, line, content_hash AS contentHash FROM papers WHERE id = ?");
  // A range over the UNIQUE index on id: the bare slug and slug-<hash>.
  const derived = store.sql("SELECT id, file, line, content_hash AS contentHash FROM papers WHERE id = ? OR (id > ? AND id < ?)");
  return {
    paper: (id) => paper.get(id) as KnownPaper | undefined,
    derived: (slug) =>
      (derived.all(slug, `${slug}-`, `${slug}-\uffff`) as KnownPaper[]).filter(
        (r) => r.id === slug || /^-[0-9a-f]{8}(?:[0-9a-f]{8})?$/.test(r.id.slice(slug.length)),
      ),
  };
}


/** Papers per corpus file, in path order. */
export function papersPerFile(store: Store): { file: string; papers: number }[] {
  return store.sql("SELECT file, count(*) AS papers FROM papers GROUP BY file ORDER BY file").all() as { file: string; papers: number }[];
}
