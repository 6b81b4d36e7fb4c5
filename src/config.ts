// Defaults, and the zod schemas for options that come from users (CLI flags and library calls).
import { availableParallelism } from "node:os";
import { z } from "zod";
import type { ChunkParams } from "./chunk.ts";
import { PapersiftError } from "./errors.ts";

export const DEFAULT_CORPUS_DIR = process.env.PAPERSIFT_CORPUS ?? "corpus";
export const DEFAULT_INDEX_DIR = process.env.PAPERSIFT_INDEX ?? "index-cache";

/**
 * Chosen by `npm run eval` (README: quality): with hybrid search, 256-token windows without overlap had the
 * best title→abstract hit@1 (0.901) and MRR, tied the others on the question set, and make the fewest chunks.
 */
export const DEFAULT_CHUNKING: ChunkParams = { windowTokens: 256, overlapTokens: 0 };

/** How long an ingest waits for another one holding the writer lock. */
export const DEFAULT_LOCK_WAIT_MS = 60_000;

/**
 * Embedding sessions an ingest runs in worker threads: one per core, at most 4 (issue 21 §2). Batch-1 passes
 * of a small BERT use one thread better than several (`npm run bench:embed`: sessions × threads), but each
 * session holds its own copy of the weights and arena (≈100–150 MB of RSS), so a large box gets 4 sessions
 * of several threads each rather than one per core.
 */
export function defaultWorkers(cores = availableParallelism()): number {
  return Math.max(1, Math.min(cores, 4));
}

/** The most --workers takes: past the cores more sessions only cost memory, and 64 is a large box's cores. */
export const MAX_WORKERS = 64;

/** How each option is named where the user typed it (the CLI flag), rather than its path in the schema. */
const OPTION_NAMES: Record<string, string> = {
  corpus: "--corpus",
  index: "--index",
  model: "--model",
  embedder: "--embedder",
  embedderModel: "--embedder-model",
  embedderTimeoutMs: "embedderTimeoutMs",
  workers: "--workers",
  chunking: "--window/--overlap",
  windowTokens: "--window",
  overlapTokens: "--overlap",
  lockWaitMs: "--wait",
  k: "-k",
  mode: "--mode",
  minScore: "--min-score",
  threshold: "--threshold",
  resolution: "--resolution",
  minSize: "--min-size",
  neighbors: "neighbors",
  category: "--category",
  since: "--since",
  until: "--until",
  author: "--author",
};

const EXPECTED = { number: "a number", int: "a whole number", boolean: "true or false" };

/** One zod issue in the user's words: "--window is too large (at most 512)", "-k is missing". */
function describeIssue(issue: z.core.$ZodIssue, input: unknown): string {
  // The option, not the position of a repeated option's value (["category", 0] is --category).
  const key = String([...issue.path].reverse().find((part) => typeof part === "string") ?? "");
  const name = OPTION_NAMES[key] ?? (key || "option");
  let given: unknown = input;
  for (const part of issue.path) given = (given as Record<PropertyKey, unknown> | undefined)?.[part as PropertyKey];
  switch (issue.code) {
    case "invalid_type":
      return given === undefined ? `${name} is missing` : `${name} must be ${(EXPECTED as Record<string, string>)[issue.expected] ?? `a ${issue.expected}`}`;
    case "too_big":
      return issue.inclusive === false ? `${name} must be below ${String(issue.maximum)}` : `${name} is too large (at most ${String(issue.maximum)})`;
    case "too_small":
      if (typeof given === "string") return `${name} must not be empty`;
      return issue.inclusive === false ? `${name} must be above ${String(issue.minimum)}` : `${name} is too small (at least ${String(issue.minimum)})`;
    case "invalid_value":
      return `${name} must be one of ${issue.values.map(String).join(", ")}`;
    case "invalid_format":
      return `${name} ${JSON.stringify(given)} ${issue.message}`;
    case "unrecognized_keys":
      return `unknown option ${issue.keys.join(", ")}`;
    default:
      if (/^must /.test(issue.message)) return `${name} ${issue.message}`;
      return issue.message.includes(" ") && !/^(Invalid|Expected)/.test(issue.message) ? issue.message : `${name} is not valid`;
  }
}

/**
 * The issue to tell the user: the first one, or where one value breaks several limits, the tightest (a
 * huge -k breaks both the safe-integer range and the option's own maximum: name the option's).
 */
function firstIssue(issues: z.core.$ZodIssue[]): z.core.$ZodIssue {
  const first = issues[0]!;
  const same = issues.filter((i) => i.code === first.code && i.path.join(".") === first.path.join("."));
  if (first.code === "too_big") return same.reduce((a, b) => (Number((b as typeof first).maximum) < Number((a as typeof first).maximum) ? b : a));
  if (first.code === "too_small") return same.reduce((a, b) => (Number((b as typeof first).minimum) > Number((a as typeof first).minimum) ? b : a));
  return first;
}

/** Validate user options; a mistake becomes BAD_OPTION (exit 2) naming the option, never a stack trace. */
export function parseOptions<T extends z.ZodType>(schema: T, value: unknown): z.output<T> {
  const parsed = schema.safeParse(value ?? {});
  if (!parsed.success) throw new PapersiftError("BAD_OPTION", describeIssue(firstIssue(parsed.error.issues), value ?? {}));
  return parsed.data;
}

export const IngestOptions = z.object({
  corpus: z.string().min(1).default(DEFAULT_CORPUS_DIR),
  index: z.string().min(1).default(DEFAULT_INDEX_DIR),
  rebuild: z.boolean().default(false),
  dryRun: z.boolean().default(false),
  strict: z.boolean().default(false),
  model: z.string().min(1).optional(),
  chunking: z
    .object({
      windowTokens: z.number().int().min(32).max(512),
      overlapTokens: z.number().int().min(0),
    })
    .refine((c) => c.overlapTokens < c.windowTokens / 2, "--overlap must be under half of --window")
    .default(DEFAULT_CHUNKING),
  lockWaitMs: z.number().int().nonnegative().default(DEFAULT_LOCK_WAIT_MS),
  /**
   * An OpenAI-compatible embeddings endpoint to embed passages with (a base URL or the full
   * `…/v1/embeddings`). Default: the one the index recorded, unless `model` asks for a vendored model.
   */
  embedder: z.string().min(1).optional(),
  /** The model name sent to the endpoint; default: the one recorded, else the vendored model's id. */
  embedderModel: z.string().min(1).optional(),
  /** Bearer key for the endpoint; default PAPERSIFT_EMBEDDER_KEY. Never logged or stored. */
  embedderKey: z.string().min(1).optional(),
  /** Per request. */
  embedderTimeoutMs: z.number().int().positive().optional(),
  /**
   * Only build a new index: one that holds papers is left as it is (INDEX_NOT_EMPTY). A read command that
   * builds its index on first use asks for this, so it never replaces what an ingest wrote (issue 17).
   */
  onlyIfEmpty: z.boolean().default(false),
  /** Embedding sessions in worker threads, the cores split between them; default: defaultWorkers(). */
  workers: z.number().int().min(1).max(MAX_WORKERS).optional(),
});
export type IngestOptions = z.input<typeof IngestOptions>;
