// Dot product: the cosine similarity of two unit vectors (every stored and query vector is one).
export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i]! * b[i]!;
  return sum;
}

/** The mean of unit vectors, scaled back to unit length (a paper's own vector from its chunks'). */
export function normalisedMean(vectors: ArrayLike<number>[], dims: number): Float32Array {
  const out = new Float32Array(dims);
  for (const v of vectors) for (let i = 0; i < dims; i++) out[i]! += v[i]!;
  const norm = Math.sqrt(dot(out, out)) || 1;
  for (let i = 0; i < dims; i++) out[i]! /= norm;
  return out;
}
