// search: the papers that best answer a question.
//   dense   — HNSW k-NN over chunk vectors; a paper's similarity is the mean of its best chunk's cosine and
//             its whole-paper vector's cosine (best passage and overall topic both count).
//   lexical — FTS5 BM25 over chunk text; a paper scores as its best chunk.
//   hybrid  — dense similarity + 0.2 × BM25 / (best BM25 for this question).
// The aggregation and the 0.2 weight were chosen with `npm run eval` (see README: quality).
import { dot, normalisedMean } from "../similarity.ts";
import type { ChunkRow, Store } from "../store/store.ts";
import { snippet } from "./snippet.ts";
import { ftsQuery } from "./terms.ts";

export type SearchMode = "hybrid" | "dense" | "lexical";

export interface Hit {
  id: string;
  title: string;
  /** dense: similarity (below); lexical: BM25 (unbounded, higher is better); hybrid: similarity + lexical bonus (≤ 0.2). */
  score: number;
  /**
   * Cosine similarity of the question to the paper (−1..1): the mean of the cosine to its best-matching
   * chunk and to the paper's own vector. null in lexical mode, which embeds nothing.
   */
  similarity: number | null;
  snippet: string;
  source: { file: string; line: number };
  /** Which chunk of the paper matched best (0-based). */
  chunk: number;
}

/** Weight of normalised BM25 in hybrid mode. */
const LEXICAL_WEIGHT = 0.2;

export interface Candidate {
  paper: number;
  chunk: ChunkRow;
  similarity: number;
}

/** Exact dense similarity of one paper: mean of its best chunk's cosine and its paper vector's cosine. */
function scorePaper(store: Store, vector: Float32Array, paper: number): Candidate {
  const chunks = store.paperChunks(paper);
  let best = chunks[0]!;
  let bestSim = -Infinity;
  for (const c of chunks) {
    const sim = dot(vector, c.vector);
    if (sim > bestSim) [best, bestSim] = [c, sim];
  }
  const paperSim = dot(vector, normalisedMean(chunks.map((c) => c.vector), vector.length));
  const { vector: _, ...chunk } = best;
  return { paper, chunk, similarity: (bestSim + paperSim) / 2 };
}

/**
 * Papers nearest to a vector, best first: candidates from HNSW k-NN over chunks (over-fetched so that
 * enough distinct papers survive), then scored exactly.
 */
export function denseRanking(store: Store, vector: Float32Array, papers: number, exclude?: number): Candidate[] {
  const neighbors = store.nearestChunks(vector, Math.max(papers * 4, 40));
  const paperIds = new Set<number>();
  for (const chunk of store.chunksByLabel(neighbors).values()) if (chunk.paper !== exclude) paperIds.add(chunk.paper);
  return [...paperIds].map((p) => scorePaper(store, vector, p)).sort(bySimilarity);
}

const bySimilarity = (a: Candidate, b: Candidate) => b.similarity - a.similarity || a.paper - b.paper;

/** Best BM25 chunk per paper, best first. */
function lexicalRanking(store: Store, question: string, papers: number): { chunk: ChunkRow; score: number }[] {
  const match = ftsQuery(question);
  if (!match) return [];
  const best = new Map<number, { chunk: ChunkRow; score: number }>();
  for (const hit of store.lexical(match, Math.max(papers * 4, 40))) {
    if (!best.has(hit.chunk.paper)) best.set(hit.chunk.paper, hit);
  }
  return [...best.values()];
}

export interface RankOptions {
  k: number;
  mode: SearchMode;
  minScore?: number | undefined;
}

interface Ranked {
  paper: number;
  chunk: ChunkRow;
  score: number;
  similarity: number | null;
}

function rank(store: Store, question: string, vector: Float32Array | null, options: RankOptions): Ranked[] {
  if (options.mode === "lexical" || !vector) {
    return lexicalRanking(store, question, options.k).map(({ chunk, score }) => ({ paper: chunk.paper, chunk, score, similarity: null }));
  }
  const dense = denseRanking(store, vector, options.k);
  if (options.mode === "dense") return dense.map((c) => ({ ...c, score: c.similarity }));
  const lexical = new Map(lexicalRanking(store, question, options.k).map((h) => [h.chunk.paper, h.score]));
  const top = Math.max(0, ...lexical.values());
  const candidates = new Map(dense.map((c) => [c.paper, c]));
  for (const paper of lexical.keys()) if (!candidates.has(paper)) candidates.set(paper, scorePaper(store, vector, paper));
  return [...candidates.values()]
    .map((c) => ({ ...c, score: c.similarity + (top > 0 ? (LEXICAL_WEIGHT * (lexical.get(c.paper) ?? 0)) / top : 0) }))
    .sort((a, b) => b.score - a.score || a.paper - b.paper);
}

/** Rank papers for a question whose embedding is `vector` (null in lexical mode). */
export function rankPapers(store: Store, question: string, vector: Float32Array | null, options: RankOptions): Hit[] {
  return store.read(() => {
    const hits: Hit[] = [];
    for (const r of rank(store, question, vector, options)) {
      // --min-score applies to similarity where there is one, else to the BM25 score.
      if (options.minScore !== undefined && (r.similarity ?? r.score) < options.minScore) continue;
      const paper = store.paperByRowid(r.paper);
      hits.push({
        id: paper.id,
        title: paper.title,
        score: round(r.score),
        similarity: r.similarity === null ? null : round(r.similarity),
        snippet: snippet(r.chunk.text, question),
        source: { file: paper.file, line: paper.line },
        chunk: r.chunk.ord,
      });
      if (hits.length === options.k) break;
    }
    return hits;
  });
}

const round = (x: number) => Math.round(x * 1e6) / 1e6;
