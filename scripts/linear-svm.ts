// A linear support vector machine on sparse rows: L2-regularised squared hinge loss, trained by dual
// coordinate descent (Hsieh, Chang, Lin, Keerthi, Sundararajan, ICML 2008: the method of LIBLINEAR and of
// scikit-learn's LinearSVC). The bias is an extra feature of value 1, regularised like the others, as
// LIBLINEAR does. No npm package fits: the ones there are kernel SVMs (SMO over dense rows, far too slow
// for one model per request over 14k sparse papers). Coordinates are visited in a seeded order, so a fit
// is deterministic.
import { seededRandom } from "./random.ts";

/** Rows in compressed sparse row form: row i's features are indices[offsets[i]..offsets[i+1]). */
export interface SparseRows {
  offsets: Int32Array;
  indices: Int32Array;
  values: Float32Array;
  /** Number of features (every index is below it). */
  dims: number;
}

export interface SvmOptions {
  /** Penalty per row: C of the positives and of the negatives (class weights folded in). */
  cPositive: number;
  cNegative: number;
  /** Stop when the projected gradients of a pass span less than this (LIBLINEAR's criterion). */
  tolerance?: number;
  maxPasses?: number;
  seed?: number;
}

export interface LinearModel {
  weights: Float64Array;
  bias: number;
  passes: number;
}

/**
 * Fit w, b minimising ½(|w|² + b²) + Σ C_i max(0, 1 − y_i(w·x_i + b))², with y_i = +1 for the rows in
 * `positive` and −1 for all others.
 */
export function trainLinearSvm(rows: SparseRows, positive: Set<number>, options: SvmOptions): LinearModel {
  const n = rows.offsets.length - 1;
  const { offsets, indices, values } = rows;
  const w = new Float64Array(rows.dims);
  let bias = 0;
  const alpha = new Float64Array(n);
  const y = new Int8Array(n);
  const diag = new Float64Array(n);
  const qii = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = positive.has(i) ? 1 : -1;
    diag[i] = 1 / (2 * (y[i] === 1 ? options.cPositive : options.cNegative));
    let norm = 1; // the bias feature
    for (let j = offsets[i]!; j < offsets[i + 1]!; j++) norm += values[j]! * values[j]!;
    qii[i] = norm + diag[i]!;
  }
  const order = Int32Array.from({ length: n }, (_, i) => i);
  const random = seededRandom(options.seed ?? 1);
  const tolerance = options.tolerance ?? 0.1;
  const maxPasses = options.maxPasses ?? 1000;
  let passes = 0;
  while (passes < maxPasses) {
    passes++;
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    let maxPg = -Infinity;
    let minPg = Infinity;
    for (const i of order) {
      let margin = bias;
      for (let j = offsets[i]!; j < offsets[i + 1]!; j++) margin += w[indices[j]!]! * values[j]!;
      const g = y[i]! * margin - 1 + diag[i]! * alpha[i]!;
      const pg = alpha[i] === 0 ? Math.min(g, 0) : g;
      if (pg > maxPg) maxPg = pg;
      if (pg < minPg) minPg = pg;
      if (pg === 0) continue;
      const before = alpha[i]!;
      alpha[i] = Math.max(before - g / qii[i]!, 0);
      const step = (alpha[i]! - before) * y[i]!;
      if (step === 0) continue;
      for (let j = offsets[i]!; j < offsets[i + 1]!; j++) w[indices[j]!]! += step * values[j]!;
      bias += step;
    }
    if (maxPg - minPg < tolerance) break;
  }
  return { weights: w, bias, passes };
}

/** w·x_i + b for every row. */
export function decisionValues(rows: SparseRows, model: LinearModel): Float64Array {
  const n = rows.offsets.length - 1;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = model.bias;
    for (let j = rows.offsets[i]!; j < rows.offsets[i + 1]!; j++) s += model.weights[rows.indices[j]!]! * rows.values[j]!;
    out[i] = s;
  }
  return out;
}
