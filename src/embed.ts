// The Embedder: loads the model once, tokenizes as sentence-transformers does (the model's window, [SEP]
// kept when truncating, the model's query or passage prefix in front), runs length-sorted batches and pools
// (mean or [CLS], as the model's papersift.json says) into L2-normalised vectors.
// @xenova/transformers (and with it onnxruntime-node) is imported here lazily, so commands that never
// embed do not pay for it.
import path from "node:path";
import pLimit from "p-limit";
import { PapersiftError } from "./errors.ts";
import { describeModel, resolveModel, type ModelInfo, type ModelSpec } from "./model.ts";

export interface EmbedOptions extends ModelSpec {
  /** Texts per forward pass. */
  batchSize?: number | undefined;
  /**
   * Forward passes in flight at once. onnxruntime already uses one thread per core and transformers.js
   * 2.17.2 passes it no thread options, so more than 1 only helps on machines with idle cores.
   */
  concurrency?: number | undefined;
}

export type TextKind = "passage" | "query";

export interface Embedder {
  readonly model: ModelInfo;
  /** Token ids with [CLS]/[SEP], not truncated: the chunker uses this to count. */
  tokenize(text: string): number[];
  /** Ids as the model sees them: prefixed for their kind, truncated to the window with the final [SEP] kept. */
  modelInput(text: string, kind?: TextKind): number[];
  /** Passages (chunks) by default; questions with kind "query", which gets the model's query prefix. */
  embed(texts: string[], onProgress?: (done: number, total: number) => void, kind?: TextKind): Promise<Float32Array[]>;
  /** Embed already-tokenized inputs (from modelInput); the benchmark feeds both pipelines the same batches. */
  embedTokenized(inputs: number[][], onProgress?: (done: number, total: number) => void): Promise<Float32Array[]>;
}

/**
 * One text per forward pass. On these 2-core machines `npm run bench:embed` measured batch 1 within noise
 * of batch 8 and ahead of 32 in tokens/s, and far leaner: onnxruntime's arena grows with the largest
 * batch it saw (RSS ≈380 MB at 1, ≈730 MB at 8, ≈1.9 GB at 32 with two sessions loaded). It also makes a
 * text's vector independent of its batch-mates (dynamic int8 quantization scales activations per pass).
 */
export const DEFAULT_BATCH_SIZE = 1;

type Transformers = typeof import("@xenova/transformers");

export async function loadEmbedder(options: EmbedOptions = {}): Promise<Embedder> {
  const transformers: Transformers = await import("@xenova/transformers");
  const { env, AutoTokenizer, AutoModel, Tensor } = transformers;
  const resolved = resolveModel(options);

  let dir: string;
  let modelId: string;
  if ("remoteId" in resolved) {
    // Opted in with PAPERSIFT_ALLOW_REMOTE=1: transformers.js downloads into cacheDir/<id>/, which is
    // then an ordinary local model folder.
    env.allowRemoteModels = true;
    env.cacheDir = resolved.cacheDir;
    env.localModelPath = resolved.cacheDir;
    dir = path.join(resolved.cacheDir, resolved.remoteId);
    modelId = resolved.remoteId;
  } else {
    env.allowRemoteModels = false;
    dir = resolved.dir;
    env.localModelPath = path.dirname(dir) + path.sep;
    modelId = path.basename(dir);
  }

  let tokenizer: Awaited<ReturnType<typeof AutoTokenizer.from_pretrained>>;
  let model: Awaited<ReturnType<typeof AutoModel.from_pretrained>>;
  try {
    const quantized = "remoteId" in resolved ? true : resolved.quantized;
    [tokenizer, model] = await Promise.all([
      AutoTokenizer.from_pretrained(modelId),
      AutoModel.from_pretrained(modelId, { quantized }),
    ]);
  } catch (cause) {
    throw new PapersiftError("MODEL_LOAD_FAILED", `could not load the model from ${dir}: ${String(cause)}`, { cause });
  }
  const info = "remoteId" in resolved ? describeModel(dir, resolved.remoteId) : resolved;
  const batchSize = Math.max(1, options.batchSize ?? DEFAULT_BATCH_SIZE);
  const limit = pLimit(Math.max(1, options.concurrency ?? 1));
  const dims = info.dims;

  const tokenize = (text: string): number[] => tokenizer.encode(text);
  const modelInput = (text: string, kind: TextKind = "passage"): number[] => {
    const ids = tokenize((kind === "query" ? info.queryPrefix : info.passagePrefix) + text);
    return ids.length <= info.maxTokens ? ids : [...ids.slice(0, info.maxTokens - 1), ids[ids.length - 1]!];
  };

  async function forward(batch: number[][]): Promise<Float32Array[]> {
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
    const output = await model({
      input_ids: new Tensor("int64", ids, shape),
      attention_mask: new Tensor("int64", mask, shape),
      token_type_ids: new Tensor("int64", new BigInt64Array(size), shape),
    });
    const hidden = output.last_hidden_state.data as Float32Array;
    const pool = info.pooling === "cls" ? clsNormalised : meanPoolNormalised;
    return batch.map((row, b) => pool(hidden, b * width * dims, row.length, dims));
  }

  async function embedTokenized(
    inputs: number[][],
    onProgress?: (done: number, total: number) => void,
  ): Promise<Float32Array[]> {
    // Longest first, so each batch pads to a similar length; results go back in input order.
    const order = inputs.map((_, i) => i).sort((a, b) => inputs[b]!.length - inputs[a]!.length);
    const results = new Array<Float32Array>(inputs.length);
    let done = 0;
    const batches: number[][] = [];
    for (let i = 0; i < order.length; i += batchSize) batches.push(order.slice(i, i + batchSize));
    await Promise.all(
      batches.map((batch) =>
        limit(async () => {
          // onnxruntime-node runs inference synchronously and settles its promise in a microtask, so without
          // this a long embed never returns to the event loop: Ctrl-C, timers and I/O would wait until the end.
          await new Promise((resolve) => setImmediate(resolve));
          const vectors = await forward(batch.map((i) => inputs[i]!));
          batch.forEach((i, j) => (results[i] = vectors[j]!));
          done += batch.length;
          onProgress?.(done, inputs.length);
        }),
      ),
    );
    return results;
  }

  return {
    model: info,
    tokenize,
    modelInput,
    embedTokenized,
    embed: (texts, onProgress, kind = "passage") => embedTokenized(texts.map((t) => modelInput(t, kind)), onProgress),
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
