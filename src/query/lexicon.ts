// The lexical side of recommendations: every paper's terms (paper_terms, stored at ingest) weighted as BM25
// weights them — saturating term frequency (k1 = 1.2, length normalisation b = 0.3) times idf — with idf
// raised to the power 1.5, so rare shared vocabulary (a method's or a data set's name) counts for more than
// BM25 alone gives it. The parameters were chosen by `npm run eval -- --recommend` (docs/quality.md).
// Term hashes are folded into 2^bits buckets to count document frequencies in one typed array; the bits
// grow with the corpus so that collisions stay rare.
import type { Store } from "../store/store.ts";
import { decodeTermCounts, type TermCounts } from "../term-vectors.ts";

export const BM25 = { k1: 1.2, b: 0.3, idfPower: 1.5, maxDfShare: 0.5 };

export interface Lexicon {
  /** Paper rowids, in the order of the rows below. */
  rowids: Int32Array;
  /** Row of each paper rowid. */
  row: Map<number, number>;
  /** Row i's terms are buckets[offsets[i]..offsets[i+1]) with their weights. */
  offsets: Int32Array;
  buckets: Int32Array;
  weights: Float32Array;
  /** Euclidean norm of each row's weights. */
  norms: Float32Array;
  /** Document frequency per bucket. */
  df: Int32Array;
  mask: number;
  papers: number;
  meanLength: number;
  /** A zeroed array over the buckets, for one ranking at a time to fill and clear (allocating it costs more than a ranking). */
  scratch: Float32Array;
}

/** Weight of a term occurring `count` times in a paper of `length` terms, in `df` of `papers` papers; 0 for very common terms. */
export function termWeight(count: number, length: number, df: number, papers: number, meanLength: number): number {
  if (df > BM25.maxDfShare * papers) return 0;
  const { k1, b, idfPower } = BM25;
  const idf = Math.log(1 + (papers - df + 0.5) / (df + 0.5));
  return ((count * (k1 + 1)) / (count + k1 * (1 - b + (b * length) / meanLength))) * idf ** idfPower;
}

/** Read every paper's terms and weigh them (≈ 3.3M terms for 14k arXiv abstracts). */
export function loadLexicon(store: Store): Lexicon {
  const rows = store.sql("SELECT paper, data FROM paper_terms ORDER BY paper").raw().all() as [number, Buffer][];
  return buildLexicon(
    Int32Array.from(rows.map(([rowid]) => rowid)),
    rows.map(([, data]) => decodeTermCounts(data)),
  );
}

/** Weigh papers' term counts against each other (rowids[i] is the paper of docs[i]). */
export function buildLexicon(rowids: Int32Array, docs: TermCounts[]): Lexicon {
  const n = docs.length;
  const nnz = docs.reduce((s, d) => s + d.hashes.length, 0);
  const bits = Math.min(24, Math.max(16, Math.ceil(Math.log2(Math.max(nnz, 1))) + 1));
  const mask = (1 << bits) - 1;
  const df = new Int32Array(1 << bits);
  const offsets = new Int32Array(n + 1);
  const buckets = new Int32Array(nnz);
  const counts = new Uint16Array(nnz);
  const lengths = new Float64Array(n);
  let at = 0;
  docs.forEach((d, i) => {
    // Two hashes of one paper rarely share a bucket; when they do, the paper counts twice in its df.
    for (let j = 0; j < d.hashes.length; j++) {
      const bucket = d.hashes[j]! & mask;
      buckets[at] = bucket;
      counts[at++] = d.counts[j]!;
      df[bucket]!++;
      lengths[i]! += d.counts[j]!;
    }
    offsets[i + 1] = at;
  });
  const meanLength = n ? lengths.reduce((a, b) => a + b, 0) / n : 1;
  const weights = new Float32Array(nnz);
  const norms = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let norm = 0;
    for (let j = offsets[i]!; j < offsets[i + 1]!; j++) {
      const w = termWeight(counts[j]!, lengths[i]!, df[buckets[j]!]!, n, meanLength);
      weights[j] = w;
      norm += w * w;
    }
    norms[i] = Math.sqrt(norm);
  }
  return { rowids, row: new Map(Array.from(rowids, (rowid, i) => [rowid, i])), offsets, buckets, weights, norms, df, mask, papers: n, meanLength, scratch: new Float32Array(1 << bits) };
}

/** The weighted terms of a text that is not in the index, against the index's frequencies. */
export function buildLexiconRow(lexicon: Lexicon, terms: TermCounts): { buckets: Int32Array; weights: Float32Array; norm: number } {
  const length = terms.counts.reduce((a, b) => a + b, 0);
  const buckets = new Int32Array(terms.hashes.length);
  const weights = new Float32Array(terms.hashes.length);
  let norm = 0;
  terms.hashes.forEach((h, j) => {
    buckets[j] = h & lexicon.mask;
    // Counted as one more paper of the corpus: a term only it has gets the highest idf, not an infinite one.
    weights[j] = termWeight(terms.counts[j]!, length, lexicon.df[buckets[j]!]! + 1, lexicon.papers + 1, lexicon.meanLength);
    norm += weights[j]! * weights[j]!;
  });
  return { buckets, weights, norm: Math.sqrt(norm) };
}
