// Where the embedding model lives and what it is, without loading it: the store needs the model's
// fingerprint and dims to decide what to re-embed, and `stats`/`--help` must not pay for onnxruntime.
import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { PapersiftError } from "./errors.ts";

export const DEFAULT_MODEL_DIR = fileURLToPath(
  new URL("../models/sentence-transformers/all-MiniLM-L6-v2", import.meta.url),
);

/**
 * The window sentence-transformers uses for all-MiniLM-L6-v2. Its tokenizer config says 512, which is
 * longer than the model was trained on and costs time.
 */
export const DEFAULT_MAX_TOKENS = 256;

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
  /** id + sha256 of the ONNX graph: vectors from different graphs never mix in one store. */
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
  return {
    dir,
    id,
    onnxFile,
    quantized,
    dims: parsed.data.hidden_size,
    maxTokens: DEFAULT_MAX_TOKENS,
    fingerprint: `${id}@sha256:${sha256File(onnxFile)}`,
  };
}

function displayId(dir: string): string {
  return path.resolve(dir) === DEFAULT_MODEL_DIR
    ? "sentence-transformers/all-MiniLM-L6-v2"
    : path.relative(path.dirname(path.dirname(dir)), dir) || path.basename(dir);
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
  if (existsSync(model)) return describeModel(path.resolve(model));
  if (!/^[\w.-]+\/[\w.-]+$/.test(model)) {
    throw new PapersiftError("MODEL_NOT_FOUND", `no model folder at ${model}`);
  }
  const cached = path.join(REMOTE_CACHE_DIR, model);
  if (existsSync(path.join(cached, "config.json"))) return describeModel(cached, model);
  if (process.env.PAPERSIFT_ALLOW_REMOTE !== "1") {
    throw new PapersiftError("MODEL_REMOTE_DISABLED", `${model} is not a local folder, and downloads are off`);
  }
  return { remoteId: model, cacheDir: REMOTE_CACHE_DIR };
}
