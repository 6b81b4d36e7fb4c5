// How common each question term is in the index: what the relevance estimate (query/relevance.ts) weighs a
// paper's share of the question's words by. Read through FTS5, so a term is stemmed as the index stems it,
// and kept per store and generation (a term's count is the same for every question until the next ingest).
import type { Store } from "./store.ts";

const cached = new WeakMap<Store, { generation: number; chunks: number; counts: Map<string, number> }>();

/** The number of chunks, and of chunks holding each term (its document frequency): one FTS5 count per new term. */
export function documentFrequencies(store: Store, terms: string[]): { chunks: number; counts: number[] } {
  const generation = store.state()?.generation ?? 0;
  let entry = cached.get(store);
  if (entry?.generation !== generation) {
    entry = { generation, chunks: store.sql("SELECT count(*) FROM chunks").pluck().get() as number, counts: new Map() };
    cached.set(store, entry);
  }
  const count = store.sql("SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?").pluck();
  const counts = terms.map((term) => {
    let n = entry.counts.get(term);
    if (n === undefined) {
      n = count.get(`"${term}"`) as number;
      if (entry.counts.size >= 100_000) entry.counts.clear();
      entry.counts.set(term, n);
    }
    return n;
  });
  return { chunks: entry.chunks, counts };
}
