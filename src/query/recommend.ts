// recommend: "papers like these". Given liked papers (and optionally disliked ones), rank the rest of the
// corpus. Two signals, chosen by `npm run eval -- --recommend` on 14k arXiv papers (docs/quality.md):
//   lexical — each paper's BM25-weighted terms and term pairs (lexicon.ts) against the sum of the liked
//             papers' normalised term vectors: the precise vocabulary one reader's papers share;
//   dense   — the cosine of the paper's vector to its nearest liked papers (not to their centroid, which
//             blurs a reader with several interests into none of them).
// Both are standardised over the candidates and added (RECOMMEND.weights.dense on the dense one); disliked
// papers subtract the same combination computed against them. Authors are never an input.
// Each result carries its reason: the liked papers it is closest to and the distinctive terms it shares
// with them.
import { dot } from "../similarity.ts";
import type { Store } from "../store/store.ts";
import { hashPair, hashTerm, termCounts, termsWithPairs } from "../term-vectors.ts";
import { allowedPapers, type Filter } from "./filter.ts";
import { buildLexiconRow, termWeight, type Lexicon } from "./lexicon.ts";
import { metadataOf, type PaperMetadata } from "./metadata.ts";
import { plainLatex, snippet } from "./snippet.ts";

/** An example paper: one of the index (rowid) or one embedded from its text. */
export interface Example {
  rowid: number | null;
  id: string;
  title: string;
  abstract: string;
  vector: Float32Array;
}

/** A result carries the same metadata as a search hit (authors, date, venue, DOI, arXiv id, PMID, best link). */
export interface Recommendation extends PaperMetadata {
  id: string;
  title: string;
  /** Higher is better; comparable within one request only. */
  score: number;
  snippet: string;
  source: { file: string; line: number };
  reason: Reason;
  explain?: RecommendExplain;
}

export interface Reason {
  /** The liked papers this one is closest to (the cosine to each one's vector), closest first. */
  closest: { id: string; title: string; similarity: number }[];
  /** Distinctive terms and term pairs it shares with those papers, most distinctive first. */
  terms: string[];
}

export interface RecommendExplain {
  /** Lexical similarity to the liked papers: the paper's BM25 term weights · the liked papers' mean normalised term vector, and its z-score among the candidates. */
  lexical: { similarity: number; z: number };
  /** Mean cosine of the paper's vector to its `nearest` nearest liked papers' vectors, and its z-score. */
  dense: { similarity: number; nearest: number; z: number };
  /** The same against the disliked papers (null when there are none). */
  disliked: { lexical: number; dense: number; z: number } | null;
  weights: Weights;
  /** lexical z + dense weight × dense z − dislike weight × (the same against the disliked papers). */
  score: number;
}

export interface Weights {
  dense: number;
  dislike: number;
}

/**
 * The dense signal's weight against the lexical one (both as z-scores over the candidates), the disliked
 * papers' weight, and how many nearest liked papers the dense signal averages: chosen by the eval
 * (docs/quality.md).
 */
export const RECOMMEND = { weights: { dense: 0.5, dislike: 0.5 } as Weights, nearestLiked: 3 };

export interface RecommendOptions {
  k: number;
  explain: boolean;
  filter?: Filter | undefined;
  /** For the eval's sweeps; the default is RECOMMEND.weights. */
  weights?: Weights | undefined;
}

/** lexical + weight × dense, element by element (into `lexical`). */
function combine(lexical: Float64Array, dense: Float64Array, weight: number): Float64Array {
  for (let i = 0; i < lexical.length; i++) lexical[i]! += weight * dense[i]!;
  return lexical;
}

/** (x − mean) / standard deviation, in place; all zeros when the values do not vary. */
function standardise(values: Float64Array): Float64Array {
  const n = values.length;
  if (!n) return values;
  let mean = 0;
  for (const v of values) mean += v;
  mean /= n;
  let variance = 0;
  for (const v of values) variance += (v - mean) ** 2;
  const sd = Math.sqrt(variance / n);
  for (let i = 0; i < n; i++) values[i] = sd > 0 ? (values[i]! - mean) / sd : 0;
  return values;
}

/** The two signals of every allowed paper against a set of examples. */
function signals(lexicon: Lexicon, vectors: PaperVectors, examples: Example[], rows: Int32Array) {
  const lexical = new Float64Array(rows.length);
  const dense = new Float64Array(rows.length);
  if (!examples.length) return { lexical, dense };
  // The profile: the sum of the examples' normalised term vectors, by bucket.
  const profile = new Map<number, number>();
  for (const e of examples) {
    const row = exampleTerms(lexicon, e);
    for (let j = 0; j < row.buckets.length; j++) {
      profile.set(row.buckets[j]!, (profile.get(row.buckets[j]!) ?? 0) + row.weights[j]! / (row.norm || 1));
    }
  }
  const weightOf = lexicon.scratch;
  for (const [bucket, weight] of profile) weightOf[bucket] = weight;
  const m = Math.min(RECOMMEND.nearestLiked, examples.length);
  const sims = new Float64Array(examples.length);
  for (let r = 0; r < rows.length; r++) {
    const i = rows[r]!;
    let s = 0;
    for (let j = lexicon.offsets[i]!; j < lexicon.offsets[i + 1]!; j++) s += weightOf[lexicon.buckets[j]!]! * lexicon.weights[j]!;
    // The paper's own vector is not normalised: BM25's saturation and length normalisation already keep a
    // long abstract from winning by length, and more shared rare terms should count (measured: 0.134
    // against 0.132 recall@50 for the cosine).
    lexical[r] = s / examples.length;
    const v = vectors.of(lexicon.rowids[i]!);
    examples.forEach((e, x) => (sims[x] = dot(v, e.vector)));
    sims.sort();
    let top = 0;
    for (let x = 0; x < m; x++) top += sims[sims.length - 1 - x]!;
    dense[r] = top / m;
  }
  for (const bucket of profile.keys()) weightOf[bucket] = 0;
  return { lexical, dense };
}

/** Paper vectors by rowid, read once per generation. */
export interface PaperVectors {
  of(rowid: number): Float32Array;
}

/** An example's weighted terms: the lexicon's row for a paper of the index, else weighed from its text. */
function exampleTerms(lexicon: Lexicon, e: Example): { buckets: Int32Array; weights: Float32Array; norm: number } {
  const i = e.rowid === null ? undefined : lexicon.row.get(e.rowid);
  if (i !== undefined) {
    const { offsets } = lexicon;
    return { buckets: lexicon.buckets.subarray(offsets[i]!, offsets[i + 1]!), weights: lexicon.weights.subarray(offsets[i]!, offsets[i + 1]!), norm: lexicon.norms[i]! };
  }
  return buildLexiconRow(lexicon, termCounts(e.title, e.abstract));
}

export function recommendPapers(
  store: Store,
  lexicon: Lexicon,
  vectors: PaperVectors,
  liked: Example[],
  disliked: Example[],
  options: RecommendOptions,
): Recommendation[] {
  return store.read(() => {
    const allowed = allowedPapers(store, options.filter);
    const excluded = new Set([...liked, ...disliked].flatMap((e) => (e.rowid === null ? [] : [e.rowid])));
    const rows = Int32Array.from(
      Array.from(lexicon.rowids.keys()).filter((i) => !excluded.has(lexicon.rowids[i]!) && (!allowed || allowed.has(lexicon.rowids[i]!))),
    );
    const like = signals(lexicon, vectors, liked, rows);
    const dislike = disliked.length ? signals(lexicon, vectors, disliked, rows) : null;
    const weights = options.weights ?? RECOMMEND.weights;
    const likeZ = { lexical: standardise(Float64Array.from(like.lexical)), dense: standardise(Float64Array.from(like.dense)) };
    const dislikeZ = dislike && combine(standardise(Float64Array.from(dislike.lexical)), standardise(Float64Array.from(dislike.dense)), weights.dense);
    const scores = Array.from(rows, (_, r) => {
      const score = likeZ.lexical[r]! + weights.dense * likeZ.dense[r]! - (dislikeZ ? weights.dislike * dislikeZ[r]! : 0);
      return { r, score };
    }).sort((a, b) => b.score - a.score || rows[a.r]! - rows[b.r]!);
    const likedTerms = liked.map((e) => weightedTerms(lexicon, `${e.title}\n${e.abstract}`));
    return scores.slice(0, options.k).map(({ r, score }) => {
      const rowid = lexicon.rowids[rows[r]!]!;
      const paper = store.paperByRowid(rowid);
      const reason = reasonFor(lexicon, vectors.of(rowid), weightedTerms(lexicon, `${paper.title}\n${paper.abstract}`), liked, likedTerms);
      return {
        id: paper.id,
        title: paper.title,
        ...metadataOf(paper.bib),
        score: round(score),
        snippet: snippet(`${paper.title}\n${paper.abstract}`, reason.terms.join(" ")),
        source: { file: paper.file, line: paper.line },
        reason,
        ...(options.explain
          ? {
              explain: {
                lexical: { similarity: round(like.lexical[r]!), z: round(likeZ.lexical[r]!) },
                dense: { similarity: round(like.dense[r]!), nearest: Math.min(RECOMMEND.nearestLiked, liked.length), z: round(likeZ.dense[r]!) },
                disliked: dislike && { lexical: round(dislike.lexical[r]!), dense: round(dislike.dense[r]!), z: round(dislikeZ![r]!) },
                weights,
                score: round(score),
              },
            }
          : {}),
      };
    });
  });
}

/** Terms shown per result, and liked papers named. */
const REASON_TERMS = 5;
const REASON_CLOSEST = 2;
const PAIR_BONUS = 2;

/** A text's terms and pairs with their weights, as the lexical signal weighs them (lexicon.ts). */
type WeightedTerms = Map<string, number>;

function weightedTerms(lexicon: Lexicon, text: string): WeightedTerms {
  const counts = new Map<string, number>();
  // LaTeX command names (textbf, emph, mathrm) are markup, not what a paper shares.
  for (const t of termsWithPairs(plainLatex(text))) counts.set(t, (counts.get(t) ?? 0) + 1);
  let length = 0;
  for (const c of counts.values()) length += c;
  const weights: WeightedTerms = new Map();
  for (const [t, count] of counts) {
    const words = t.split(" ");
    const hash = words.length === 2 ? hashPair(hashTerm(words[0]!), hashTerm(words[1]!)) : hashTerm(t);
    const df = lexicon.df[hash & lexicon.mask]!;
    weights.set(t, termWeight(count, length, Math.max(df, 1), lexicon.papers, lexicon.meanLength));
  }
  return weights;
}

/**
 * Why a paper is recommended: the liked papers nearest to it by vector, and the terms it shares with them
 * that add most to the lexical signal (its weight times theirs: rare in the corpus, frequent in both). A pair
 * hides the words it is made of, so "gaussian splatting" is not followed by "splatting".
 */
function reasonFor(lexicon: Lexicon, vector: Float32Array, own: WeightedTerms, liked: Example[], likedTerms: WeightedTerms[]): Reason {
  const closest = liked
    .map((e, x) => ({ e, x, similarity: dot(vector, e.vector) }))
    .sort((a, b) => b.similarity - a.similarity)
    .slice(0, REASON_CLOSEST);
  const ranked: { t: string; weight: number }[] = [];
  for (const [t, w] of own) {
    const theirs = closest.reduce((sum, c) => sum + (likedTerms[c.x]!.get(t) ?? 0), 0);
    // A pair says more than either of its words ("preference optimization" over "optimization").
    if (theirs > 0 && w > 0) ranked.push({ t, weight: w * theirs * (t.includes(" ") ? PAIR_BONUS : 1) });
  }
  ranked.sort((a, b) => b.weight - a.weight || (a.t < b.t ? -1 : 1));
  const chosen: string[] = [];
  for (const { t } of ranked) {
    if (chosen.length === REASON_TERMS) break;
    const words = t.split(" ");
    if (chosen.some((c) => c.split(" ").some((w) => words.includes(w)))) continue;
    chosen.push(t);
  }
  return { closest: closest.map((c) => ({ id: c.e.id, title: c.e.title, similarity: round(c.similarity) })), terms: chosen };
}

const round = (x: number) => Math.round(x * 1e6) / 1e6;
