// search: the papers that best answer a question. Dense = HNSW k-NN over chunk vectors; lexical = FTS5
// BM25 over chunk text; hybrid = reciprocal-rank fusion of the two. A paper scores as its best chunk.
import type { Store, ChunkRow } from "../store/store.ts";
import { snippet } from "./snippet.ts";
import { ftsQuery } from "./terms.ts";

export type SearchMode = "hybrid" | "dense" | "lexical";

export interface Hit {
  id: string;
  title: string;
  /**
   * dense: cosine similarity of the question to the paper's best chunk (-1..1).
   * lexical: BM25 of the best chunk (higher is better, unbounded).
   * hybrid: reciprocal-rank fusion, sum over both lists of 1 / (60 + rank).
   */
  score: number;
  /** Cosine similarity of the question to the best chunk (null in lexical mode, which embeds nothing). */
  similarity: number | null;
  snippet: string;
  source: { file: string; line: number };
  /** Which chunk of the paper matched best (0-based). */
  chunk: number;
}

/** Papers ranked by their best chunk: paper rowid → best chunk and its score, in rank order. */
type Ranking = Map<number, { chunk: ChunkRow; score: number }>;

/** Reciprocal-rank fusion constant (Cormack et al. 2009). */
const RRF_K = 60;

function groupByPaper(hits: { chunk: ChunkRow; score: number }[]): Ranking {
  const ranking: Ranking = new Map();
  for (const hit of [...hits].sort((a, b) => b.score - a.score)) {
    if (!ranking.has(hit.chunk.paper)) ranking.set(hit.chunk.paper, hit);
  }
  return ranking;
}

/** k-NN over chunks, over-fetched so that k distinct papers survive grouping. */
export function denseRanking(store: Store, vector: Float32Array, papers: number, exclude?: number): Ranking {
  const hnsw = store.hnsw();
  const live = store.counts().chunks;
  const fetch = Math.min(live, Math.max(papers * 4, 40));
  if (fetch === 0) return new Map();
  const { neighbors, distances } = hnsw.searchKnn(Array.from(vector), fetch);
  const chunks = store.chunksByLabel(neighbors);
  const hits = neighbors.flatMap((label, i) => {
    const chunk = chunks.get(label);
    return chunk && chunk.paper !== exclude ? [{ chunk, score: 1 - distances[i]! }] : [];
  });
  return groupByPaper(hits);
}

function lexicalRanking(store: Store, question: string, papers: number): Ranking {
  const match = ftsQuery(question);
  if (!match) return new Map();
  return groupByPaper(store.lexical(match, Math.max(papers * 4, 40)));
}

function fuse(rankings: Ranking[]): Ranking {
  const fused = new Map<number, { chunk: ChunkRow; score: number }>();
  for (const ranking of rankings) {
    [...ranking.values()].forEach((hit, rank) => {
      const entry = fused.get(hit.chunk.paper);
      if (entry) entry.score += 1 / (RRF_K + rank + 1);
      else fused.set(hit.chunk.paper, { chunk: hit.chunk, score: 1 / (RRF_K + rank + 1) });
    });
  }
  return groupByPaper([...fused.values()]);
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

export interface RankOptions {
  k: number;
  mode: SearchMode;
  minScore?: number | undefined;
}

/** Rank papers for a question whose embedding is `vector` (null in lexical mode). */
export function rankPapers(store: Store, question: string, vector: Float32Array | null, options: RankOptions): Hit[] {
  return store.read(() => {
    const dense = options.mode === "lexical" || !vector ? null : denseRanking(store, vector, options.k);
    const lexical = options.mode === "dense" ? null : lexicalRanking(store, question, options.k);
    const ranking = dense && lexical ? fuse([dense, lexical]) : (dense ?? lexical)!;
    const hits: Hit[] = [];
    for (const { chunk, score } of ranking.values()) {
      const similarity = !vector
        ? null
        : dense?.get(chunk.paper)?.chunk.rowid === chunk.rowid
          ? dense.get(chunk.paper)!.score
          : dot(vector, store.chunkVector(chunk.rowid)!);
      // --min-score is on the score's own scale in dense and lexical mode, on similarity in hybrid mode.
      const filtered = options.mode === "hybrid" ? similarity : score;
      if (options.minScore !== undefined && filtered !== null && filtered < options.minScore) continue;
      const paper = store.paperByRowid(chunk.paper);
      hits.push({
        id: paper.id,
        title: paper.title,
        score: round(score),
        similarity: similarity === null ? null : round(similarity),
        snippet: snippet(chunk.text, question),
        source: { file: paper.file, line: paper.line },
        chunk: chunk.ord,
      });
      if (hits.length === options.k) break;
    }
    return hits;
  });
}

const round = (x: number) => Math.round(x * 1e6) / 1e6;
