// The k-NN paper graph that clusters and the map are built on: each paper's k nearest papers by the cosine
// of their paper vectors. Finding them (HNSW over chunks, then exact re-scoring) is most of the cost of
// `clusters` on a large corpus, so the unfiltered graph is kept in the index per generation and k, computed
// by the first command that needs it after an ingest.
import { dot } from "../similarity.ts";
import type { Store } from "../store/store.ts";

export interface PaperGraph {
  papers: { rowid: number; id: string; title: string }[];
  vectors: Float32Array[];
  /** Indices into `papers`, nearest first. */
  neighbours: number[][];
  /** Read from the index's cache rather than computed. */
  cached: boolean;
}

export function paperGraph(store: Store, k: number, allowed: Set<number> | null): PaperGraph {
  const all = store.titles();
  const papers = allowed ? all.filter((p) => allowed.has(p.rowid)) : all;
  const index = new Map(papers.map((p, i) => [p.rowid, i]));
  const byRowid = store.paperVectors();
  const vectors = papers.map((p) => byRowid.get(p.rowid)!);
  if (!allowed) {
    const cached = store.cachedNeighbours(k);
    if (cached && cached.length === papers.length * k) {
      const neighbours = papers.map((_, i) => {
        const row: number[] = [];
        for (let n = 0; n < k; n++) {
          const j = index.get(cached[i * k + n]!);
          if (j !== undefined) row.push(j);
        }
        return row;
      });
      return { papers, vectors, neighbours, cached: true };
    }
  }
  const chunkPaper = store.chunkPapers();
  const neighbours = papers.map((_, i) => nearestPapers(store, chunkPaper, index, vectors, i, k, allowed));
  return { papers, vectors, neighbours, cached: false };
}

/** Keep an unfiltered graph for the next command (best effort: a read-only index computes it each time). */
export function rememberGraph(store: Store, graph: PaperGraph, k: number): void {
  if (graph.cached) return;
  const rowids = new Int32Array(graph.papers.length * k).fill(-1);
  graph.neighbours.forEach((row, i) => row.forEach((j, n) => (rowids[i * k + n] = graph.papers[j]!.rowid)));
  store.recordNeighbours(k, rowids);
}

/**
 * The k papers nearest to paper i by paper-vector cosine, among the papers of the chunks nearest to its
 * vector. A chunk sits close to its own paper's vector, so 4k chunks hold the k nearest papers; a small
 * efSearch suffices because the candidates are re-scored exactly.
 */
function nearestPapers(
  store: Store,
  chunkPaper: Map<number, number>,
  index: Map<number, number>,
  vectors: Float32Array[],
  i: number,
  k: number,
  allowed: Set<number> | null,
): number[] {
  const candidates = new Set<number>();
  for (const label of store.hnsw.nearest(vectors[i]!, 4 * k, { ef: 4 * k, papers: allowed })) {
    const paper = chunkPaper.get(label);
    const j = paper === undefined ? undefined : index.get(paper);
    if (j !== undefined && j !== i) candidates.add(j);
  }
  return [...candidates]
    .map((j) => ({ j, similarity: dot(vectors[i]!, vectors[j]!) }))
    .sort((a, b) => b.similarity - a.similarity || a.j - b.j)
    .slice(0, k)
    .map((c) => c.j);
}
