// Finding papers by what identifies them: the ids the index already gave (for an ingest keeping them), a
// DOI, arXiv id or PMID (indexed columns), and papers per corpus file (for stats).
import { z } from "zod";
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
/** The meta row holding the last ingest's duplicate ids → kept ids (JSON object). */
export const ALIASES = "aliases";

/**
 * Each id of a record folded into a duplicate (same DOI, arXiv id or PMID) → the id of the paper kept for
 * it, as the last ingest found them. A damaged row counts as missing: the next ingest rewrites it.
 */
export function paperAliases(store: Store): Map<string, string> {
  const value = store.meta(ALIASES);
  if (value === undefined) return new Map();
  try {
    const parsed = z.record(z.string(), z.string()).safeParse(JSON.parse(value));
    return new Map(parsed.success ? Object.entries(parsed.data) : []);
  } catch {
    return new Map();
  }
}

/** Papers per corpus file, in path order. */
export function papersPerFile(store: Store): { file: string; papers: number }[] {
  return store.sql("SELECT file, count(*) AS papers FROM papers GROUP BY file ORDER BY file").all() as { file: string; papers: number }[];
}
