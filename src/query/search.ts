// search: the papers that best answer a question.
//   dense   — HNSW k-NN over chunk vectors; a paper's similarity is the mean of its best chunk's cosine and
//             its whole-paper vector's cosine (best passage and overall topic both count).
//   lexical — FTS5 BM25 over chunk text; a paper scores as its best chunk.
//   hybrid  — dense similarity + w × BM25 / (best BM25 for this question); w is the model's lexicalWeight
//             (papersift.json), tuned per model on SciFact with `npm run eval` (docs/quality.md).
import { dot, normalisedMean } from "../similarity.ts";
import type { ChunkRow, Store } from "../store/store.ts";
import { documentFrequencies } from "../store/term-stats.ts";
import { CONTEXT_SIZE, featureRows, inverseDocumentFrequencies, relevance, termShares, type Feature, type RelevanceFit, type Signals } from "./relevance.ts";
import { metadataOf, type PaperMetadata } from "./metadata.ts";
import { snippet } from "./snippet.ts";
import { allowedPapers, type Filter } from "./filter.ts";
import { ftsQuery, questionTerms, stem, terms } from "./terms.ts";

export type SearchMode = "hybrid" | "dense" | "lexical";

/** One result of search or related. Its metadata (authors, date, venue, identifiers, url): PaperMetadata. */
export interface Hit extends PaperMetadata {
  id: string;
  title: string;
  /** dense: similarity (below); lexical: BM25 (unbounded, higher is better); hybrid: similarity + lexical bonus (≤ the model's lexicalWeight). */
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
  /**
   * Estimated chance (0..1) that a person would judge this paper relevant to the question, from a model fitted
   * on SciFact's judgments (query/relevance.ts). null where the index's model has no fit for this mode, and
   * for related papers (there is no question).
   */
  relevance: number | null;
  /** Why the paper ranks where it does (search with `explain`). */
  explain?: Explain;
}

export interface Explain {
  /** Cosine of the question to the paper's best chunk and to the paper's own vector (null in lexical mode). */
  dense: { bestChunk: number; paper: number; similarity: number } | null;
  /** The paper's best BM25 chunk: its score, the score over the best for this question, the terms it matched. */
  lexical: { bm25: number; normalised: number; chunk: number; matched: string[] } | null;
  /** hybrid: similarity + weight × normalised BM25; dense: the similarity; lexical: BM25. */
  score: number;
  weight: number | null;
  /** The chunk the snippet comes from. */
  chunk: { ord: number; text: string };
  /** What the relevance estimate is computed from (query/relevance.ts); null where the mode lacks one. */
  features: Record<Feature, number | null>;
}

export interface Candidate {
  paper: number;
  chunk: ChunkRow;
  /** Mean of bestChunk and paper. */
  similarity: number;
  bestChunk: number;
  paperSimilarity: number;
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
  return { paper, chunk, similarity: (bestSim + paperSim) / 2, bestChunk: bestSim, paperSimilarity: paperSim };
}

/** A filter that keeps at most this many papers is ranked exactly, every one of them scored. */
export const EXACT_FILTER_LIMIT = 2_000;

/**
 * Papers nearest to a vector, best first: candidates from HNSW k-NN over chunks (over-fetched so that
 * enough distinct papers survive; with a filter, hnswlib only collects chunks of allowed papers), then
 * scored exactly. A filter that leaves few papers skips the graph and scores each of them.
 */
export function denseRanking(store: Store, vector: Float32Array, papers: number, exclude?: number, allowed?: Set<number> | null): Candidate[] {
  let paperIds: Set<number>;
  if (allowed && allowed.size <= EXACT_FILTER_LIMIT) {
    paperIds = new Set(allowed);
  } else {
    const neighbors = store.hnsw.nearest(vector, Math.max(papers * 4, 40), { papers: allowed });
    paperIds = new Set<number>();
    for (const chunk of store.chunksByLabel(neighbors).values()) paperIds.add(chunk.paper);
  }
  if (exclude !== undefined) paperIds.delete(exclude);
  return [...paperIds].map((p) => scorePaper(store, vector, p)).sort(bySimilarity);
}

const bySimilarity = (a: Candidate, b: Candidate) => b.similarity - a.similarity || a.paper - b.paper;

/** Best BM25 chunk per paper, best first. */
function lexicalRanking(store: Store, question: string, papers: number, allowed: Set<number> | null): { chunk: ChunkRow; score: number }[] {
  const match = ftsQuery(question);
  if (!match) return [];
  const best = new Map<number, { chunk: ChunkRow; score: number }>();
  for (const hit of store.lexical(match, Math.max(papers * 4, 40), allowed)) {
    if (!best.has(hit.chunk.paper)) best.set(hit.chunk.paper, hit);
  }
  return [...best.values()];
}

export interface RankOptions {
  k: number;
  mode: SearchMode;
  minScore?: number | undefined;
  /** Weight of normalised BM25 in hybrid mode. */
  lexicalWeight: number;
  explain?: boolean | undefined;
  filter?: Filter | undefined;
  /** The index's model's relevance fit for this mode, if it has one. */
  relevance?: RelevanceFit | null | undefined;
}

interface Ranked {
  paper: number;
  chunk: ChunkRow;
  score: number;
  dense: Candidate | null;
  lexical: { chunk: ChunkRow; score: number } | null;
  top: number;
}

function rank(store: Store, question: string, vector: Float32Array | null, options: RankOptions): Ranked[] {
  const allowed = allowedPapers(store, options.filter);
  if (allowed?.size === 0) return [];
  if (options.mode === "lexical" || !vector) {
    const hits = lexicalRanking(store, question, options.k, allowed);
    const top = Math.max(0, ...hits.map((h) => h.score));
    return hits.map((h) => ({ paper: h.chunk.paper, chunk: h.chunk, score: h.score, dense: null, lexical: h, top }));
  }
  const dense = denseRanking(store, vector, options.k, undefined, allowed);
  if (options.mode === "dense") return dense.map((c) => ({ paper: c.paper, chunk: c.chunk, score: c.similarity, dense: c, lexical: null, top: 0 }));
  const lexical = new Map(lexicalRanking(store, question, options.k, allowed).map((h) => [h.chunk.paper, h]));
  const top = Math.max(0, ...[...lexical.values()].map((h) => h.score));
  const candidates = new Map(dense.map((c) => [c.paper, c]));
  for (const paper of lexical.keys()) if (!candidates.has(paper)) candidates.set(paper, scorePaper(store, vector, paper));
  return [...candidates.values()]
    .map((c) => {
      const hit = lexical.get(c.paper) ?? null;
      const bonus = top > 0 && hit ? (options.lexicalWeight * hit.score) / top : 0;
      return { paper: c.paper, chunk: c.chunk, score: c.similarity + bonus, dense: c, lexical: hit, top };
    })
    .sort((a, b) => b.score - a.score || a.paper - b.paper);
}

/** Question terms found in a chunk, allowing simple English endings (FTS5's porter stemmer matches more). */
function matchedTerms(question: string, text: string): string[] {
  const inText = new Set(terms(text).map(stem));
  return [...new Set(terms(question))].filter((t) => inText.has(stem(t)));
}

function explain(r: Ranked, question: string, options: RankOptions, features: Record<Feature, number | null>): Explain {
  return {
    dense: r.dense && { bestChunk: round(r.dense.bestChunk), paper: round(r.dense.paperSimilarity), similarity: round(r.dense.similarity) },
    lexical: r.lexical && {
      bm25: round(r.lexical.score),
      normalised: round(r.top > 0 ? r.lexical.score / r.top : 0),
      chunk: r.lexical.chunk.ord,
      matched: matchedTerms(question, r.lexical.chunk.text),
    },
    score: round(r.score),
    weight: options.mode === "hybrid" ? options.lexicalWeight : null,
    chunk: { ord: r.chunk.ord, text: r.chunk.text },
    features: Object.fromEntries(Object.entries(features).map(([f, x]) => [f, x === null ? null : round(x)])) as Record<Feature, number | null>,
  };
}

export interface Ranking {
  results: Hit[];
  /** The fit says no hit is likely relevant (always false without a fit). */
  noStrongMatch: boolean;
}

/** Rank papers for a question whose embedding is `vector` (null in lexical mode). */
export function rankPapers(store: Store, question: string, vector: Float32Array | null, options: RankOptions): Ranking {
  return store.read(() => {
    const ranked = rank(store, question, vector, options);
    // Positions in the ranking of the hits shown; --min-score applies to similarity where there is one, else to
    // the BM25 score.
    const shown: number[] = [];
    for (let i = 0; i < ranked.length && shown.length < options.k; i++) {
      const r = ranked[i]!;
      if (options.minScore === undefined || (r.dense?.similarity ?? r.score) >= options.minScore) shown.push(i);
    }
    const fit = options.relevance ?? null;
    const first = ranked.slice(0, Math.max(CONTEXT_SIZE, (shown.at(-1) ?? 0) + 1));
    // A filter only hides papers: the relevance features come from the whole corpus's ranking, as in the fit.
    const corpus = (fit || options.explain) && options.filter && allowedPapers(store, options.filter) !== null ? rank(store, question, vector, { ...options, filter: undefined, k: first.length }) : null;
    const rows = fit || options.explain ? features(store, question, first, options, corpus) : [];
    const estimates = shown.map((i) => fit && relevance(fit, rows[i]!));
    const results = shown.map((i, n): Hit => {
      const r = ranked[i]!;
      const similarity = r.dense?.similarity ?? null;
      const paper = store.paperByRowid(r.paper);
      const p = estimates[n] ?? null;
      return {
        id: paper.id,
        title: paper.title,
        ...metadataOf(paper.bib),
        score: round(r.score),
        similarity: similarity === null ? null : round(similarity),
        snippet: snippet(r.chunk.text, question),
        source: { file: paper.file, line: paper.line },
        chunk: r.chunk.ord,
        relevance: p === null ? null : Math.round(p * 1000) / 1000,
        ...(options.explain ? { explain: explain(r, question, options, rows[i]!) } : {}),
      };
    });
    const noStrongMatch = fit !== null && estimates.every((p) => p !== null && p < fit.noStrongMatchBelow);
    return { results, noStrongMatch };
  });
}

/**
 * The relevance features of the first papers of a ranking (query/relevance.ts). `corpus`: the same question's
 * unfiltered ranking when `first` is a filtered one; the features are then read in its context (its best
 * BM25, its first papers' similarities, each paper's rank among its papers).
 */
function features(store: Store, question: string, first: Ranked[], options: RankOptions, corpus: Ranked[] | null): Record<Feature, number | null>[] {
  const wanted = questionTerms(question);
  const idf = inverseDocumentFrequencies(documentFrequencies(store, wanted));
  const signals = (r: Ranked, top: number): Signals => {
    const paper = store.paperByRowid(r.paper);
    return {
      similarity: r.dense?.similarity ?? null,
      bestChunk: r.dense?.bestChunk ?? null,
      paperSimilarity: r.dense?.paperSimilarity ?? null,
      bm25Share: options.mode === "dense" ? null : r.lexical && top > 0 ? r.lexical.score / top : 0,
      ...termShares(wanted.map(stem), idf, new Set(terms(`${paper.title} ${paper.abstract}`).map(stem))),
    };
  };
  if (!corpus) return featureRows(first.map((r) => signals(r, r.top)));
  const top = corpus[0]?.top ?? 0;
  // A hit's score as the unfiltered ranking computes it (hybrid normalises BM25 by the best in view).
  const score = (r: Ranked) => (options.mode === "hybrid" && r.dense ? r.dense.similarity + (top > 0 && r.lexical ? (options.lexicalWeight * r.lexical.score) / top : 0) : r.score);
  const ranks = first.map((r) => {
    const at = corpus.findIndex((c) => c.paper === r.paper);
    return at >= 0 ? at + 1 : 1 + corpus.filter((c) => c.score > score(r)).length;
  });
  return featureRows(first.map((r) => signals(r, top)), corpus.map((r) => signals(r, top)), ranks);
}

const round = (x: number) => Math.round(x * 1e6) / 1e6;
