// Where the embedding model lives and what it is, without loading it: the store needs the model's
// fingerprint and dims to decide what to re-embed, and `stats`/`--help` must not pay for onnxruntime.
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { PapersiftError } from "./errors.ts";
import { RelevanceFit } from "./query/relevance.ts";

/**
 * bge-small-en-v1.5: SciFact nDCG@10 0.769 in hybrid mode against MiniLM's 0.732, at about half MiniLM's
 * embedding speed (docs/quality.md).
 */
export const DEFAULT_MODEL_DIR = fileURLToPath(new URL("../models/BAAI/bge-small-en-v1.5", import.meta.url));

/** Every vendored model is a folder two levels below this one (models/<org>/<name>/) with a papersift.json. */
export const VENDORED_MODELS_DIR = fileURLToPath(new URL("../models", import.meta.url));

/**
 * How a model is used, from papersift.json in its folder (in the spirit of sentence-transformers'
 * modules.json and config_sentence_transformers.json): the pooling, the window it was trained with, and the
 * prefixes it expects on queries and passages. A folder without one is used as MiniLM is: mean pooling, a
 * 256-piece window, no prefixes.
 */
export const ModelManifest = z.object({
  id: z.string().min(1),
  pooling: z.enum(["mean", "cls"]),
  maxTokens: z.number().int().min(8).max(8192),
  queryPrefix: z.string(),
  passagePrefix: z.string(),
  /** Hybrid search: the weight of normalised BM25 added to this model's cosine similarity (tuned on SciFact). */
  lexicalWeight: z.number().min(0).max(5),
  /**
   * clusters: the mean pairwise cosine of fine clusters. Cosine levels differ by model (bge's papers sit at
   * 0.79 to one another on average, MiniLM's at 0.48), so the threshold is the model's.
   */
  clusterThreshold: z.number().min(-1).max(1),
  /**
   * Calibrated relevance per search mode, written by `npm run eval -- --calibrate --write` (never by hand). A
   * mode without a fit gives relevance null and never says "no strong match".
   */
  relevance: z.object({ hybrid: RelevanceFit.optional(), dense: RelevanceFit.optional(), lexical: RelevanceFit.optional() }).optional(),
});
export type ModelManifest = z.infer<typeof ModelManifest>;
const PLAIN_USAGE: Omit<ModelManifest, "id"> = {
  pooling: "mean",
  maxTokens: 256,
  queryPrefix: "",
  passagePrefix: "",
  lexicalWeight: 0.2,
  clusterThreshold: 0.6,
};

/** Where hub models land when PAPERSIFT_ALLOW_REMOTE=1; the layout is the same as a local model folder. */
export const REMOTE_CACHE_DIR = process.env.PAPERSIFT_MODEL_CACHE ?? path.join(homedir(), ".cache", "papersift", "models");

export interface ModelInfo {
  /** Folder in transformers.js layout. */
  dir: string;
  /** Display id, e.g. "sentence-transformers/all-MiniLM-L6-v2". */
  id: string;
  onnxFile: string;
  quantized: boolean;
  dims: number;
  maxTokens: number;
  pooling: ModelManifest["pooling"];
  queryPrefix: string;
  passagePrefix: string;
  lexicalWeight: number;
  /**
   * id + sha256 of the ONNX graph + a hash of how passages are embedded (pooling, prefix): vectors made
   * differently never mix in one store.
   */
  fingerprint: string;
}

const ModelConfig = z.object({ hidden_size: z.number().int().positive() }).loose();

const fingerprintCache = new Map<string, string>();

function sha256File(file: string): string {
  const { size, mtimeMs } = statSync(file);
  const key = `${file}:${size}:${mtimeMs}`;
  let digest = fingerprintCache.get(key);
  if (!digest) {
    digest = createHash("sha256").update(readFileSync(file)).digest("hex");
    fingerprintCache.set(key, digest);
  }
  return digest;
}

/** Describe a local model folder. Throws MODEL_NOT_FOUND if it is not a usable model. */
export function describeModel(dir: string, id = displayId(dir)): ModelInfo {
  const configFile = path.join(dir, "config.json");
  if (!existsSync(configFile) || !existsSync(path.join(dir, "tokenizer.json"))) {
    throw new PapersiftError("MODEL_NOT_FOUND", `no model at ${dir} (config.json or tokenizer.json missing)`);
  }
  const quantizedFile = path.join(dir, "onnx", "model_quantized.onnx");
  const fp32File = path.join(dir, "onnx", "model.onnx");
  const quantized = existsSync(quantizedFile);
  if (!quantized && !existsSync(fp32File)) {
    throw new PapersiftError("MODEL_NOT_FOUND", `no ONNX graph in ${path.join(dir, "onnx")}`);
  }
  const parsed = ModelConfig.safeParse(JSON.parse(readFileSync(configFile, "utf8")));
  if (!parsed.success) {
    throw new PapersiftError("MODEL_NOT_FOUND", `${configFile} has no hidden_size`);
  }
  const onnxFile = quantized ? quantizedFile : fp32File;
  const manifest = readManifest(dir);
  const usage = manifest ?? PLAIN_USAGE;
  // How passages are embedded, where it differs from plain mean pooling (so a MiniLM index built before
  // manifests existed keeps its fingerprint): "+cls", "+prefix:<hash>".
  const usageTag = [
    usage.pooling !== "mean" ? `+${usage.pooling}` : "",
    usage.passagePrefix ? `+prefix:${createHash("sha256").update(usage.passagePrefix).digest("hex").slice(0, 8)}` : "",
  ].join("");
  const modelId = manifest?.id ?? id;
  return {
    dir,
    id: modelId,
    onnxFile,
    quantized,
    dims: parsed.data.hidden_size,
    maxTokens: usage.maxTokens,
    pooling: usage.pooling,
    queryPrefix: usage.queryPrefix,
    passagePrefix: usage.passagePrefix,
    lexicalWeight: usage.lexicalWeight,
    fingerprint: `${modelId}@sha256:${sha256File(onnxFile)}${usageTag}`,
  };
}

function readManifest(dir: string): ModelManifest | null {
  const file = path.join(dir, "papersift.json");
  if (!existsSync(file)) return null;
  const parsed = ModelManifest.safeParse(JSON.parse(readFileSync(file, "utf8")));
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new PapersiftError("MODEL_NOT_FOUND", `${file}: "${issue.path.join(".")}" is not valid (${issue.message})`);
  }
  return parsed.data;
}

function displayId(dir: string): string {
  return path.relative(path.dirname(path.dirname(dir)), dir) || path.basename(dir);
}

/** The models in models/: folder and manifest of each, by id. */
/** The folder of the vendored model of this name: its manifest id ("BAAI/bge-small-en-v1.5") or its folder name. */
export function twinOf(name: string): string | undefined {
  return vendoredModels().find((m) => m.manifest.id === name || m.dir.endsWith(`/${name}`))?.dir;
}

export function vendoredModels(): { dir: string; manifest: ModelManifest }[] {
  const found: { dir: string; manifest: ModelManifest }[] = [];
  for (const org of readdirSync(VENDORED_MODELS_DIR, { withFileTypes: true })) {
    if (!org.isDirectory()) continue;
    for (const name of readdirSync(path.join(VENDORED_MODELS_DIR, org.name), { withFileTypes: true })) {
      const dir = path.join(VENDORED_MODELS_DIR, org.name, name.name);
      const manifest = name.isDirectory() ? readManifest(dir) : null;
      if (manifest) found.push({ dir, manifest });
    }
  }
  return found.sort((a, b) => a.manifest.id.localeCompare(b.manifest.id));
}

/** The vendored model an index was built with, by its recorded id; undefined if it is not vendored. */
export function vendoredModelDir(id: string): string | undefined {
  return vendoredModels().find((m) => m.manifest.id === id)?.dir;
}

/** How the model an index was built with is used (the plain defaults for a model without a manifest). */
export function usageFor(id: string): Omit<ModelManifest, "id"> {
  return vendoredModels().find((m) => m.manifest.id === id)?.manifest ?? PLAIN_USAGE;
}

export interface ModelSpec {
  /** A local folder, or a hub id such as "Xenova/all-MiniLM-L6-v2". Default: the bundled model. */
  model?: string | undefined;
}

/**
 * Resolve --model to a local folder. A hub id is only fetched when the user opted in with
 * PAPERSIFT_ALLOW_REMOTE=1; the fetch itself happens in embed.ts (it needs transformers.js).
 */
export function resolveModel(spec: ModelSpec = {}): ModelInfo | { remoteId: string; cacheDir: string } {
  const model = spec.model ?? DEFAULT_MODEL_DIR;
  // A vendored model by name: its id ("BAAI/bge-small-en-v1.5") or folder name ("bge-small-en-v1.5").
  const vendored = vendoredModels().find((m) => m.manifest.id === model || path.basename(m.dir) === model);
  if (vendored && !existsSync(model)) return describeModel(vendored.dir);
  if (existsSync(model)) return describeModel(path.resolve(model));
  if (!/^[\w.-]+\/[\w.-]+$/.test(model)) {
    const names = vendoredModels().map((m) => path.basename(m.dir)).join(", ");
    throw new PapersiftError("MODEL_NOT_FOUND", `no model folder at ${model}, and no vendored model of that name (${names})`);
  }
  const cached = path.join(REMOTE_CACHE_DIR, model);
  if (existsSync(path.join(cached, "config.json"))) return describeModel(cached, model);
  if (process.env.PAPERSIFT_ALLOW_REMOTE !== "1") {
    throw new PapersiftError("MODEL_REMOTE_DISABLED", `${model} is not a local folder, and downloads are off`);
  }
  return { remoteId: model, cacheDir: REMOTE_CACHE_DIR };
}

/**
 * What an index records about an endpoint that embedded its vectors (`ingest --embedder`), in its state.
 * Absent for an index embedded by a vendored model, whose fingerprint is unchanged by all this.
 */
export const EmbedderSource = z.object({
  /** The endpoint's full URL (never with credentials; the key is not stored). */
  url: z.string().url(),
  /** The model name sent with each request. */
  model: z.string().min(1),
  /** The endpoint's vector for PROBE_TEXT (with the passage prefix): base64 of little-endian float32. */
  probe: z.string(),
  /** Cosine of that vector to the vendored model of the same name's; null when there is none to ask. */
  cosineToLocal: z.number().nullable(),
  /**
   * The vendored twin's fingerprint when it agrees (cosine ≥ AGREEMENT): questions are then embedded
   * locally, with no server. Null: questions go to the endpoint too.
   */
  localFingerprint: z.string().nullable(),
});
export type EmbedderSource = z.infer<typeof EmbedderSource>;

/** Int8 against fp32 bge-small agree at about 0.999 on passages; another model is far below 0.9. */
export const AGREEMENT = 0.99;

/** The fixed passage an endpoint and the vendored model both embed before an ingest trusts the endpoint. */
export const PROBE_TEXT =
  "Attention is all you need\nWe propose a new simple network architecture, the Transformer, based solely on attention mechanisms, dispensing with recurrence and convolutions entirely.";

/**
 * The fingerprint of vectors from an endpoint: the local twin's fingerprint when the two agree (so a reader
 * knows questions can be embedded locally), else `<model>@endpoint`; then `+endpoint:<hash>` of the URL,
 * the model name and the probe vector. A different endpoint, or one whose model changed (its probe moved),
 * is a different fingerprint: a model change, never mixed into the same index.
 */
export function endpointFingerprint(local: string | null, url: string, model: string, probe: string): string {
  const digest = createHash("sha256").update(`${url}\n${model}\n${probe}`).digest("hex").slice(0, 12);
  return `${local ?? `${model}@endpoint`}+endpoint:${digest}`;
}

/**
 * Where an index's vectors came from: `endpoint` null for the vendored model; else the endpoint's URL and
 * the model name it was asked for, the cosine of its probe vector to the vendored twin's (null when not
 * compared), and where questions are embedded ("local" when the twin agrees). `twinDims`, the dimensions
 * of the vendored model of that name (null without one, or for vectors embedded here), tells a twin with
 * other dimensions (never compared) from no twin at all.
 */
export interface EmbeddedBy {
  endpoint: string | null;
  model: string;
  cosineToLocal: number | null;
  queries: "local" | "endpoint";
  twinDims: number | null;
}

/** An index state's EmbeddedBy; reads the twin's config only, never loads a graph. */
export function embeddedBy(state: { model: { id: string }; embedder?: EmbedderSource | undefined }): EmbeddedBy {
  const e = state.embedder;
  if (!e) return { endpoint: null, model: state.model.id, cosineToLocal: null, queries: "local", twinDims: null };
  const twin = twinOf(e.model);
  const queries = e.localFingerprint ? "local" : "endpoint";
  return { endpoint: e.url, model: e.model, cosineToLocal: e.cosineToLocal, queries, twinDims: twin ? describeModel(twin).dims : null };
}

/** The fingerprint a local Embedder must have to embed questions for an index with this state. */
export function queryFingerprint(state: { model: { fingerprint: string }; embedder?: EmbedderSource | undefined }): string | null {
  if (!state.embedder) return state.model.fingerprint;
  return state.embedder.localFingerprint;
}
