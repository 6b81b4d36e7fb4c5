// Calibrated relevance (issue 20 §3): the chance that a person would judge a search hit relevant, from
// signals the ranker already has. A logistic model over the features below, fitted per model and search mode
// on SciFact's train judgments by `npm run eval -- --calibrate --write` and kept in the model's
// papersift.json (docs/quality.md has the cross-validated reliability). No fit, no estimate: relevance is
// null and nothing claims "no strong match".
import { z } from "zod";

/** What the ranker knows about one hit. null where the mode has no such signal (lexical embeds nothing). */
export interface Signals {
  /** Dense similarity: mean of the best chunk's and the paper vector's cosine. */
  similarity: number | null;
  bestChunk: number | null;
  paperSimilarity: number | null;
  /** BM25 over the question's best BM25 (0..1; 0 when no question term is in the paper); null in dense mode. */
  bm25Share: number | null;
  /** Share of the question's terms found in the paper. */
  termShare: number;
  /** The same share, each term weighted by its inverse document frequency in this index. */
  idfShare: number;
}

/**
 * The features a fit may use, each from a hit's signals, its 1-based rank and the ranking's context (the
 * similarities and IDF shares of its first 10 papers: enough for any k, and the same whatever k is asked).
 */
export const FEATURES = {
  similarity: (s) => s.similarity,
  bestChunk: (s) => s.bestChunk,
  paperSimilarity: (s) => s.paperSimilarity,
  bm25Share: (s) => s.bm25Share,
  termShare: (s) => s.termShare,
  idfShare: (s) => s.idfShare,
  logRank: (_, rank) => Math.log(rank),
  /** How far below the ranking's best similarity (≤ 0). */
  belowTop: (s, _, c) => (s.similarity === null || c.top === null ? null : s.similarity - c.top),
  /** How far above the mean similarity of the first 10. */
  aboveMean: (s, _, c) => (s.similarity === null || c.mean === null ? null : s.similarity - c.mean),
  /** The ranking's best similarity, and its lead over the second: the question's, not the hit's. */
  top: (_, __, c) => c.top,
  margin: (_, __, c) => c.margin,
  /** The best IDF share among the first 10: whether any paper has the question's rare words. */
  topIdfShare: (_, __, c) => c.topIdfShare,
} satisfies Record<string, (s: Signals, rank: number, context: Context) => number | null>;
export type Feature = keyof typeof FEATURES;
export const FEATURE_NAMES = Object.keys(FEATURES) as [Feature, ...Feature[]];

interface Context {
  top: number | null;
  margin: number | null;
  mean: number | null;
  topIdfShare: number;
}

/** How many of the ranking's first papers make its context. */
export const CONTEXT_SIZE = 10;

function context(first: Signals[]): Context {
  const sims = first.flatMap((s) => (s.similarity === null ? [] : [s.similarity])).sort((a, b) => b - a);
  return {
    top: sims[0] ?? null,
    margin: sims.length > 1 ? sims[0]! - sims[1]! : sims.length ? 0 : null,
    mean: sims.length ? sims.reduce((a, b) => a + b, 0) / sims.length : null,
    topIdfShare: Math.max(0, ...first.map((s) => s.idfShare)),
  };
}

/**
 * Every feature of each hit. The context is the whole corpus's ranking, as in the fit: `corpus` holds at
 * least its first CONTEXT_SIZE papers, and `ranks` the hits' 1-based ranks in it. Both default to the hits
 * themselves (an unfiltered search, whose hits are that ranking). Under a filter the caller passes the
 * unfiltered ranking, so that a paper's relevance to a question is the same whatever the filter hides.
 */
export function featureRows(hits: Signals[], corpus: Signals[] = hits, ranks?: number[]): Record<Feature, number | null>[] {
  const c = context(corpus.slice(0, CONTEXT_SIZE));
  return hits.map((s, i) => Object.fromEntries(FEATURE_NAMES.map((f) => [f, FEATURES[f](s, ranks?.[i] ?? i + 1, c)])) as Record<Feature, number | null>);
}

/** Each term's IDF over chunks, ln(1 + (N − n + ½)/(n + ½)) (always positive, unlike FTS5's own). */
export function inverseDocumentFrequencies({ chunks, counts }: { chunks: number; counts: number[] }): number[] {
  return counts.map((n) => Math.log(1 + (chunks - n + 0.5) / (n + 0.5)));
}

/** The shares of the question's terms (stemmed, with their IDFs) that a paper's words hold: plain and IDF-weighted. */
export function termShares(terms: string[], idf: number[], words: Set<string>): { termShare: number; idfShare: number } {
  let held = 0;
  let weight = 0;
  let total = 0;
  terms.forEach((t, i) => {
    total += idf[i]!;
    if (words.has(t)) {
      held++;
      weight += idf[i]!;
    }
  });
  return { termShare: terms.length ? held / terms.length : 0, idfShare: total > 0 ? weight / total : 0 };
}

/** A fitted logistic model: relevance = σ(intercept + Σ weight·feature), and where "no strong match" starts. */
export const RelevanceFit = z.object({
  features: z.array(z.enum(FEATURE_NAMES)).min(1),
  weights: z.array(z.number().finite()),
  intercept: z.number().finite(),
  /** A search whose every hit is below this relevance says "no strong match". */
  noStrongMatchBelow: z.number().min(0).max(1),
  /** Where the fit comes from and how well it held up under cross-validation, for people reading the file. */
  fitted: z.string(),
}).refine((f) => f.weights.length === f.features.length, { message: "one weight per feature" });
export type RelevanceFit = z.infer<typeof RelevanceFit>;

/** The fitted chance (0..1) that a hit with these features is relevant; null if a feature it needs is missing. */
export function relevance(fit: RelevanceFit, row: Record<Feature, number | null>): number | null {
  let z = fit.intercept;
  for (let i = 0; i < fit.features.length; i++) {
    const x = row[fit.features[i]!];
    if (x === null) return null;
    z += fit.weights[i]! * x;
  }
  return 1 / (1 + Math.exp(-z));
}
