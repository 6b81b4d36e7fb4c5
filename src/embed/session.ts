// One onnxruntime session over a model's graph: token ids in, pooled unit vectors out. The same code runs
// on the main thread (questions) and in each embedding worker (ingest with --workers), so a text's vector
// does not depend on where it was embedded.
import type { ModelInfo } from "../model.ts";

export interface SessionSpec {
  onnxFile: string;
  dims: number;
  pooling: ModelInfo["pooling"];
  /** onnxruntime's intra-op threads; 0 lets it use one per core. */
  threads: number;
}

export interface ModelSession {
  /** Rows of token ids (already prefixed and truncated), right-padded to the longest: one vector per row. */
  run(batch: number[][]): Promise<Float32Array[]>;
}

export async function openSession(spec: SessionSpec): Promise<ModelSession> {
  // Imported here, not at the top: the CLI bundle hoists a bundled module's static imports of packages to its
  // own top, and commands that never embed must not load onnxruntime (tests/cli.test.ts, forbid-model.mjs).
  const { InferenceSession, Tensor } = await import("onnxruntime-node");
  const session = await InferenceSession.create(spec.onnxFile, {
    executionProviders: ["cpu"],
    intraOpNumThreads: spec.threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: "all",
  });
  const pool = spec.pooling === "cls" ? clsNormalised : meanPoolNormalised;
  return {
    async run(batch) {
      const width = Math.max(...batch.map((ids) => ids.length));
      const size = batch.length * width;
      const ids = new BigInt64Array(size);
      const mask = new BigInt64Array(size);
      batch.forEach((row, b) =>
        row.forEach((id, t) => {
          ids[b * width + t] = BigInt(id);
          mask[b * width + t] = 1n;
        }),
      );
      const shape = [batch.length, width];
      const output = await session.run({
        input_ids: new Tensor("int64", ids, shape),
        attention_mask: new Tensor("int64", mask, shape),
        token_type_ids: new Tensor("int64", new BigInt64Array(size), shape),
      });
      const hidden = output.last_hidden_state!.data as Float32Array;
      return batch.map((row, b) => pool(hidden, b * width * spec.dims, row.length, spec.dims));
    },
  };
}

/** The first token's ([CLS]) vector of one row, scaled to unit length. */
export function clsNormalised(hidden: Float32Array, offset: number, _length: number, dims: number): Float32Array {
  return meanPoolNormalised(hidden, offset, 1, dims);
}

/** Mean of the first `length` token vectors of one row (the unpadded ones), scaled to unit length. */
export function meanPoolNormalised(hidden: Float32Array, offset: number, length: number, dims: number): Float32Array {
  const sum = new Float64Array(dims);
  for (let t = 0; t < length; t++) {
    const base = offset + t * dims;
    for (let d = 0; d < dims; d++) sum[d]! += hidden[base + d]!;
  }
  let norm = 0;
  for (let d = 0; d < dims; d++) norm += sum[d]! * sum[d]!;
  norm = Math.sqrt(norm) || 1;
  const out = new Float32Array(dims);
  for (let d = 0; d < dims; d++) out[d] = sum[d]! / norm;
  return out;
}
