// Logistic regression for the relevance calibration (npm run eval -- --calibrate): L2-penalised maximum
// likelihood by Newton's method (iteratively reweighted least squares), on standardised features, with the
// weights mapped back to raw feature units so that a fit applies to raw features (query/relevance.ts).
// Newton converges in a handful of steps for a dozen features and needs no learning rate; ml-matrix does the
// linear algebra. (ml-logistic-regression was the library candidate: it runs fixed-step gradient descent
// without an intercept or penalty, and its result depends on the step size and count.)
import { CholeskyDecomposition, Matrix } from "ml-matrix";

export interface LogisticModel {
  weights: number[];
  intercept: number;
}

export const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

export function predict(model: LogisticModel, x: number[]): number {
  let z = model.intercept;
  for (let j = 0; j < x.length; j++) z += model.weights[j]! * x[j]!;
  return sigmoid(z);
}

/**
 * Fit P(y = 1 | x) = σ(b + w·x). `l2` penalises the standardised weights (not the intercept); it keeps a
 * separable or collinear set finite. Throws if Newton has not converged after 100 steps.
 */
export function fitLogistic(xs: number[][], ys: boolean[], l2 = 1e-3): LogisticModel {
  const n = xs.length;
  const p = xs[0]?.length ?? 0;
  if (!n || ys.length !== n) throw new Error("fitLogistic: need one label per row, and at least one row");
  const mean = Array.from({ length: p }, (_, j) => xs.reduce((s, x) => s + x[j]!, 0) / n);
  const scale = mean.map((m, j) => Math.sqrt(xs.reduce((s, x) => s + (x[j]! - m) ** 2, 0) / n) || 1);
  // Design matrix: a column of ones, then the standardised features.
  const z = xs.map((x) => [1, ...x.map((v, j) => (v - mean[j]!) / scale[j]!)]);
  let beta = new Array<number>(p + 1).fill(0);
  for (let step = 0; step < 100; step++) {
    const gradient = new Array<number>(p + 1).fill(0);
    const hessian = Matrix.zeros(p + 1, p + 1);
    for (let i = 0; i < n; i++) {
      const row = z[i]!;
      const mu = sigmoid(row.reduce((s, v, j) => s + v * beta[j]!, 0));
      const w = Math.max(mu * (1 - mu), 1e-12);
      const r = (ys[i] ? 1 : 0) - mu;
      for (let a = 0; a <= p; a++) {
        gradient[a]! += row[a]! * r;
        for (let b = 0; b <= a; b++) hessian.set(a, b, hessian.get(a, b) + w * row[a]! * row[b]!);
      }
    }
    for (let a = 0; a <= p; a++) {
      for (let b = 0; b < a; b++) hessian.set(b, a, hessian.get(a, b));
      if (a > 0) {
        gradient[a]! -= l2 * n * beta[a]!;
        hessian.set(a, a, hessian.get(a, a) + l2 * n);
      }
    }
    const delta = new CholeskyDecomposition(hessian).solve(Matrix.columnVector(gradient)).to1DArray();
    beta = beta.map((b, j) => b + delta[j]!);
    if (Math.max(...delta.map(Math.abs)) < 1e-9) {
      const weights = beta.slice(1).map((b, j) => b / scale[j]!);
      return { weights, intercept: beta[0]! - weights.reduce((s, w, j) => s + w * mean[j]!, 0) };
    }
  }
  throw new Error("fitLogistic: Newton's method did not converge in 100 steps");
}

/**
 * Expected calibration error: the mean |predicted − observed| rate over `bins` equal-width bins of the
 * prediction, weighted by how many predictions fall in each; also the bins themselves (reliability table).
 */
export function calibrationError(ps: number[], ys: boolean[], bins = 10): { ece: number; bins: { from: number; n: number; predicted: number; observed: number }[] } {
  const acc = Array.from({ length: bins }, (_, b) => ({ from: b / bins, n: 0, p: 0, y: 0 }));
  ps.forEach((p, i) => {
    const bin = acc[Math.min(bins - 1, Math.floor(p * bins))]!;
    bin.n++;
    bin.p += p;
    bin.y += ys[i] ? 1 : 0;
  });
  const filled = acc.filter((b) => b.n > 0);
  return {
    ece: filled.reduce((s, b) => s + Math.abs(b.p - b.y), 0) / ps.length,
    bins: filled.map((b) => ({ from: b.from, n: b.n, predicted: b.p / b.n, observed: b.y / b.n })),
  };
}
