// The Embedder: loads the model once, tokenizes as sentence-transformers does (the model's window, [SEP]
// kept when truncating, the model's query or passage prefix in front), runs length-sorted batches through
// onnxruntime and pools (mean or [CLS], as the model's papersift.json says) into L2-normalised vectors.
// The session runs on this thread (questions) or as N sessions in worker threads (ingest, `--workers`).
// @xenova/transformers (the tokenizer) and onnxruntime are imported here lazily, so commands that never
// embed do not pay for them.
import { availableParallelism } from "node:os";
import path from "node:path";
import pLimit from "p-limit";
import { PapersiftError } from "./errors.ts";
import { describeModel, resolveModel, type ModelInfo, type ModelSpec } from "./model.ts";

export interface EmbedOptions extends ModelSpec {
  /** Texts per forward pass. */
  batchSize?: number | undefined;
  /**
   * Embedding sessions in worker threads, the cores split between them (`ingest --workers`). Omitted: one
   * session on this thread, using every core, which is what a single question wants.
   */
  workers?: number | undefined;
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
  /** Stop its worker threads, if it has any (idle ones never keep the process alive). */
  close?(): Promise<void>;
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
  const { env, AutoTokenizer, AutoModel } = transformers;
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
  try {
    tokenizer = await AutoTokenizer.from_pretrained(modelId);
    // Only to fetch the graph of a hub model into the cache; the session that runs it is ours (session.ts).
    if ("remoteId" in resolved) await (await AutoModel.from_pretrained(modelId, { quantized: true })).dispose();
  } catch (cause) {
    throw new PapersiftError("MODEL_LOAD_FAILED", `could not load the model from ${dir}: ${String(cause)}`, { cause });
  }
  const info = "remoteId" in resolved ? describeModel(dir, resolved.remoteId) : resolved;
  const batchSize = Math.max(1, options.batchSize ?? DEFAULT_BATCH_SIZE);
  const tokenize = (text: string): number[] => tokenizer.encode(text);
  const modelInput = (text: string, kind: TextKind = "passage"): number[] => {
    const ids = tokenize((kind === "query" ? info.queryPrefix : info.passagePrefix) + text);
    return ids.length <= info.maxTokens ? ids : [...ids.slice(0, info.maxTokens - 1), ids[ids.length - 1]!];
  };

  const spec = { onnxFile: info.onnxFile, dims: info.dims, pooling: info.pooling };
  let forward: (batch: number[][]) => Promise<Float32Array[]>;
  let close: (() => Promise<void>) | undefined;
  try {
    if (options.workers === undefined) {
      const session = await (await import("./embed/session.ts")).openSession({ ...spec, threads: 0 });
      // onnxruntime-node runs inference synchronously on this thread: one pass at a time, with a turn of the
      // event loop before each, or a long embed would hold off Ctrl-C, timers and I/O until the end.
      const limit = pLimit(1);
      forward = (batch) => limit(async () => {
        await new Promise((resolve) => setImmediate(resolve));
        return session.run(batch);
      });
    } else {
      const workers = Math.max(1, options.workers);
      const threads = Math.max(1, Math.floor(availableParallelism() / workers));
      const pool = await (await import("./embed/pool.ts")).startPool(spec, workers, threads);
      forward = (batch) => pool.run(batch);
      close = () => pool.close();
    }
  } catch (cause) {
    if (cause instanceof PapersiftError) throw cause;
    throw new PapersiftError("MODEL_LOAD_FAILED", `could not load the model from ${dir}: ${String(cause)}`, { cause });
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
      batches.map(async (batch) => {
        const vectors = await forward(batch.map((i) => inputs[i]!));
        batch.forEach((i, j) => (results[i] = vectors[j]!));
        done += batch.length;
        onProgress?.(done, inputs.length);
      }),
    );
    return results;
  }

  return {
    model: info,
    tokenize,
    modelInput,
    embedTokenized,
    embed: (texts, onProgress, kind = "passage") => embedTokenized(texts.map((t) => modelInput(t, kind)), onProgress),
    ...(close ? { close } : {}),
  };
}
