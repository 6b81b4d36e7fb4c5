// Ingest = plan (pure: what changed between the corpus and the store) then apply (embed only chunks whose
// content key has no vector yet, write one transaction, update the HNSW cache).
import { createHash } from "node:crypto";
import { existsSync, realpathSync } from "node:fs";
import path from "node:path";
import { chunkPaper, type ChunkParams } from "./chunk.ts";
import { DEFAULT_INDEX_DIR, IngestOptions, parseOptions } from "./config.ts";
import { isUnder, readCorpus, type CorpusProblem, type Paper } from "./corpus/index.ts";
import type { Embedder } from "./embed.ts";
import { PapersiftError } from "./errors.ts";
import { failpoint } from "./failpoint.ts";
import { resolveModel, vendoredModelDir, type ModelInfo } from "./model.ts";
import { addPoints, DEFAULT_HNSW, hnswFile, MAX_TOMBSTONE_SHARE, readHnsw, removeStaleHnswFiles } from "./store/hnsw.ts";
import { acquireLock } from "./store/lock.ts";
import { DB_FILE, isCorruption, prepareIndexDir, Store, type NewChunk, type PaperWrite, type StoredPaper, type StoreState } from "./store/store.ts";
import { contentKey } from "./store/vectors.ts";

export interface Plan {
  added: Paper[];
  /** Title or abstract changed, or the model/chunking did: re-chunked. */
  changed: Paper[];
  /** Only where it sits (file, line) or its metadata changed: no re-chunking. */
  moved: Paper[];
  removed: string[];
  unchanged: number;
  /** Why everything is re-chunked, if it is. */
  reason: string | null;
}

export interface IngestProgress {
  /** "plan": done = chunks to embed, total = chunks to write, rate = this model's last measured chunks/s. */
  phase: "read" | "chunk" | "plan" | "embed" | "write" | "index";
  done: number;
  total: number;
  rate?: number | undefined;
}

export interface IngestSummary {
  papers: number;
  chunks: number;
  added: number;
  updated: number;
  removed: number;
  unchanged: number;
  embedded: number;
  reused: number;
  seconds: number;
  dryRun: boolean;
  problems: CorpusProblem[];
  notices: string[];
  plan: { added: string[]; changed: string[]; moved: string[]; removed: string[] };
}

export interface IngestHooks {
  onProgress?: (progress: IngestProgress) => void;
  /** Told at once when the ingest has to wait for another one holding the writer lock. */
  onWait?: (message: string) => void;
  /** Reuse an Embedder the caller already loaded (the model is loaded once per process). */
  embedder?: Embedder;
}

export function contentHash(paper: Pick<Paper, "title" | "abstract">): Buffer {
  return createHash("sha256").update(paper.title).update("\0").update(paper.abstract).digest().subarray(0, 16);
}

const metaJson = (paper: Paper) => (paper.meta ? JSON.stringify(paper.meta) : null);

/** A stored paper as the corpus would give it (for papers of files that could not be read this time). */
const storedPaper = (s: StoredPaper): Paper => ({
  id: s.id,
  title: s.title,
  abstract: s.abstract,
  source: { file: s.file, line: s.line },
  ...(s.meta ? { meta: JSON.parse(s.meta) as Record<string, unknown> } : {}),
});

/** Compare the corpus with what the store holds. Pure: no I/O. */
export function plan(papers: Paper[], stored: StoredPaper[], reason: string | null): Plan {
  const byId = new Map(stored.map((s) => [s.id, s]));
  const result: Plan = { added: [], changed: [], moved: [], removed: [], unchanged: 0, reason };
  const seen = new Set<string>();
  for (const paper of papers) {
    seen.add(paper.id);
    const old = byId.get(paper.id);
    if (!old) result.added.push(paper);
    else if (reason || !old.contentHash.equals(contentHash(paper))) result.changed.push(paper);
    else if (old.file !== paper.source.file || old.line !== paper.source.line || old.meta !== metaJson(paper)) result.moved.push(paper);
    else result.unchanged++;
  }
  result.removed = stored.filter((s) => !seen.has(s.id)).map((s) => s.id);
  return result;
}

/** The vendored model an existing index was built with, if it can be read and the model is vendored. */
function recordedModel(indexDir: string): string | undefined {
  if (!existsSync(path.join(indexDir, DB_FILE))) return undefined;
  try {
    const store = Store.open(indexDir);
    try {
      const id = store.state()?.model.id;
      return id === undefined ? undefined : vendoredModelDir(id);
    } finally {
      store.close();
    }
  } catch {
    return undefined; // a damaged or foreign store: the ingest itself reports it
  }
}

/** The path with symlinks resolved, for the part of it that exists. */
function realPath(p: string): string {
  let existing = path.resolve(p);
  const rest: string[] = [];
  while (!existsSync(existing) && path.dirname(existing) !== existing) {
    rest.unshift(path.basename(existing));
    existing = path.dirname(existing);
  }
  return path.join(realpathSync(existing), ...rest);
}

/** The corpus is never written to: an index inside it (or equal to it) is refused. */
function refuseIndexInCorpus(corpus: string, index: string): void {
  const [c, i] = [realPath(corpus), realPath(index)];
  if (i === c || i.startsWith(c + path.sep)) {
    throw new PapersiftError("INDEX_IN_CORPUS", `the index folder ${index} is inside the corpus folder ${corpus}`);
  }
}

/** Why the store's vectors or chunks no longer fit the requested model and chunking, if they don't. */
function staleReason(state: StoreState | null, model: ModelInfo, chunking: ChunkParams): string | null {
  if (!state) return null;
  if (state.model.fingerprint !== model.fingerprint) {
    return `the model changed (${state.model.fingerprint.slice(0, 60)}… → ${model.fingerprint.slice(0, 60)}…): re-embedding`;
  }
  if (state.chunking.windowTokens !== chunking.windowTokens || state.chunking.overlapTokens !== chunking.overlapTokens) {
    return `chunking changed (window ${state.chunking.windowTokens}/${state.chunking.overlapTokens} → ${chunking.windowTokens}/${chunking.overlapTokens}): re-chunking, reusing vectors of unchanged text`;
  }
  return null;
}

function toWrite(paper: Paper, chunks?: NewChunk[]): PaperWrite {
  return {
    id: paper.id,
    title: paper.title,
    abstract: paper.abstract,
    file: paper.source.file,
    line: paper.source.line,
    meta: metaJson(paper),
    contentHash: contentHash(paper),
    chunks,
  };
}

/** Chunks embedded and stored per step: bounds memory, and what is stored survives a killed ingest. */
const EMBED_STEP = 64;

export async function ingest(input: IngestOptions = {}, hooks: IngestHooks = {}): Promise<IngestSummary> {
  try {
    return await sync(input, hooks);
  } catch (error) {
    if (!isCorruption(error)) throw error;
    const index = (input as { index?: string }).index ?? DEFAULT_INDEX_DIR;
    throw new PapersiftError("INDEX_CORRUPT", `the index at ${index} is damaged (${(error as Error).message})`, { cause: error });
  }
}

async function sync(input: IngestOptions, hooks: IngestHooks): Promise<IngestSummary> {
  const started = performance.now();
  const options = parseOptions(IngestOptions, input);
  const progress = hooks.onProgress ?? (() => {});
  refuseIndexInCorpus(options.corpus, options.index);
  const corpus = readCorpus(options.corpus, { strict: options.strict });
  if (corpus.papers.length === 0) {
    // Nothing was read, so nothing is removed either: the index stays as it was.
    const unreadable = corpus.unreadable.length ? ` (${corpus.unreadable.length} unreadable: ${corpus.unreadable.slice(0, 3).join(", ")})` : "";
    throw new PapersiftError("CORPUS_EMPTY", `no papers found in ${options.corpus}${unreadable}`);
  }
  progress({ phase: "read", done: corpus.papers.length, total: corpus.papers.length });
  // Without --model, an index keeps the vendored model it was built with; a new one gets the default.
  const modelName = options.model ?? recordedModel(options.index);
  const resolved = hooks.embedder?.model ?? resolveModel({ model: modelName });
  // A hub model has no local files until the Embedder fetched it.
  let embedder: Embedder | undefined = hooks.embedder;
  const getEmbedder = async () => {
    if (!embedder) embedder = await (await import("./embed.ts")).loadEmbedder({ model: modelName });
    return embedder;
  };
  const model: ModelInfo = "remoteId" in resolved ? (await getEmbedder()).model : resolved;

  const indexDir = options.index;
  if (!options.dryRun) prepareIndexDir(indexDir);
  const lock = options.dryRun ? null : await acquireLock(indexDir, options.lockWaitMs, hooks.onWait);
  try {
    const reset = options.rebuild && !options.dryRun ? resetIfDamaged(indexDir) : null;
    const store = options.dryRun && !existsSync(path.join(indexDir, "papersift.db")) ? null : Store.open(indexDir, { create: true });
    try {
      const state = store?.state() ?? null;
      const stored = store?.papers() ?? [];
      const reason = staleReason(state, model, options.chunking);
      const notices = [...corpus.notices, ...[reason, reset, lock?.tookOver].filter((n): n is string => !!n)];
      // An ingest never deletes what it could not read: papers of unreadable files stay as they were.
      const read = new Set(corpus.papers.map((p) => p.id));
      const carried = stored.filter((s) => !read.has(s.id) && isUnder(corpus.unreadable, s.file)).map(storedPaper);
      const papers = [...corpus.papers, ...carried];
      const work = options.rebuild ? plan(papers, [], "--rebuild") : plan(papers, stored, reason);
      if (options.rebuild) {
        const kept = new Set(papers.map((p) => p.id));
        work.removed = stored.filter((s) => !kept.has(s.id)).map((s) => s.id);
      }
      const summary = (embedded: number, reused: number, chunks: number): IngestSummary => ({
        papers: papers.length,
        chunks,
        added: work.added.length,
        updated: work.changed.length + work.moved.length,
        removed: work.removed.length,
        unchanged: work.unchanged,
        embedded,
        reused,
        seconds: Math.round((performance.now() - started) / 10) / 100,
        dryRun: options.dryRun,
        problems: corpus.problems,
        notices,
        plan: {
          added: work.added.map((p) => p.id),
          changed: work.changed.map((p) => p.id),
          moved: work.moved.map((p) => p.id),
          removed: work.removed,
        },
      });
      const nothingToDo = !options.rebuild && !work.added.length && !work.changed.length && !work.moved.length && !work.removed.length;
      if (options.dryRun || (nothingToDo && store && state)) {
        if (store && state && !options.dryRun) {
          store.hnsw(); // make sure the cache file exists
          removeStaleHnswFiles(indexDir, state.generation);
        }
        return summary(0, 0, store ? store.counts().chunks : 0);
      }
      return await apply(store!, work, { ...options, model, getEmbedder, progress, state, summary });
    } finally {
      store?.close();
    }
  } finally {
    lock?.release();
  }
}

/**
 * --rebuild must work from any state of the index folder. A store that opens and passes SQLite's quick_check
 * is rebuilt in place. Otherwise the damaged file is moved aside, a fresh store is started, and every vector
 * that can still be read is carried over (they are content-addressed, so unchanged text is not re-embedded).
 */
function resetIfDamaged(dir: string): string | null {
  let problem: string;
  try {
    const store = Store.open(dir, { create: true });
    try {
      const check = store.db.pragma("quick_check", { simple: true }) as string;
      if (check === "ok") return null;
      problem = check;
    } finally {
      store.close();
    }
  } catch (error) {
    if (!(error instanceof PapersiftError && (error.code === "INDEX_CORRUPT" || error.code === "INDEX_INCOMPATIBLE")) && !isCorruption(error)) {
      throw error;
    }
    problem = (error as Error).message;
  }
  const vectors = Store.salvageVectors(dir);
  const aside = Store.moveAside(dir);
  const store = Store.open(dir, { create: true });
  try {
    store.putVectors(vectors);
  } finally {
    store.close();
  }
  return `the index was damaged (${problem.split("\n")[0]}): moved it aside to ${aside} and started over; ${vectors.length} stored vectors were salvaged, so their text is not embedded again`;
}

async function apply(
  store: Store,
  work: Plan,
  ctx: {
    model: ModelInfo;
    chunking: ChunkParams;
    rebuild: boolean;
    state: StoreState | null;
    getEmbedder: () => Promise<Embedder>;
    progress: (p: IngestProgress) => void;
    summary: (embedded: number, reused: number, chunks: number) => IngestSummary;
  },
): Promise<IngestSummary> {
  const toChunk = [...work.added, ...work.changed];
  const writes: PaperWrite[] = work.moved.map((p) => toWrite(p));
  let embedded = 0;
  let reused = 0;
  if (toChunk.length) {
    const embedder = await ctx.getEmbedder();
    const count = (text: string) => embedder.tokenize(text).length - 2;
    const pending = new Map<string, { key: Buffer; text: string }>();
    toChunk.forEach((paper, i) => {
      const chunks = chunkPaper(paper, count, ctx.chunking).map((c) => ({ ...c, key: contentKey(ctx.model.fingerprint, c.text) }));
      writes.push(toWrite(paper, chunks));
      for (const c of chunks) pending.set(c.key.toString("hex"), { key: c.key, text: c.text });
      ctx.progress({ phase: "chunk", done: i + 1, total: toChunk.length });
    });
    const all = [...pending.values()];
    const missingKeys = new Set(store.missingVectors(all.map((p) => p.key)).map((k) => k.toString("hex")));
    const missing = all.filter((p) => missingKeys.has(p.key.toString("hex")));
    const totalChunks = writes.reduce((n, w) => n + (w.chunks?.length ?? 0), 0);
    reused = totalChunks - missing.length;
    if (missing.length) ctx.progress({ phase: "plan", done: missing.length, total: totalChunks, rate: store.embedRate(ctx.model.fingerprint) ?? undefined });
    const embedStarted = performance.now();
    for (let i = 0; i < missing.length; i += EMBED_STEP) {
      const step = missing.slice(i, i + EMBED_STEP);
      const vectors = await embedder.embed(
        step.map((s) => s.text),
        (done) => ctx.progress({ phase: "embed", done: i + done, total: missing.length }),
      );
      store.putVectors(step.map((s, j) => ({ key: s.key, vector: vectors[j]! })));
      embedded += step.length;
      if (i === 0) failpoint("after-first-embed-step");
    }
    if (missing.length >= EMBED_STEP) store.recordEmbedRate(ctx.model.fingerprint, missing.length / ((performance.now() - embedStarted) / 1000));
  }

  ctx.progress({ phase: "write", done: 0, total: 1 });
  const previous = ctx.state;
  const params = previous?.hnsw ?? DEFAULT_HNSW;
  const { generation, removedLabels, addedLabels } = store.apply({
    write: writes,
    remove: work.removed,
    clear: ctx.rebuild,
    state: { model: { id: ctx.model.id, dims: ctx.model.dims, fingerprint: ctx.model.fingerprint }, chunking: ctx.chunking, hnsw: params },
  });
  ctx.progress({ phase: "index", done: 0, total: 1 });
  const chunkCount = store.counts().chunks;
  // Incremental when the previous file is there and not too full of tombstones; otherwise a compact rebuild.
  const old = previous && !ctx.rebuild && previous.model.dims === ctx.model.dims
    ? readHnsw(hnswFile(store.dir, previous.generation), ctx.model.dims, params, store.hnswDigest(previous.generation))
    : null;
  let hnsw = null;
  const total = (old?.getCurrentCount() ?? 0) + addedLabels.length;
  if (old && total - chunkCount <= MAX_TOMBSTONE_SHARE * total) {
    try {
      for (const label of removedLabels) old.markDelete(label);
      addPoints(old, store.chunkVectors(addedLabels));
      hnsw = old;
    } catch {
      // The old file did not match its generation after all: fall through to a rebuild.
    }
  }
  hnsw ??= store.buildHnsw(ctx.model.dims, params, chunkCount);
  failpoint("after-commit");
  store.persistHnsw(hnsw, generation, chunkCount, { writer: true });
  ctx.progress({ phase: "index", done: 1, total: 1 });
  return ctx.summary(embedded, reused, chunkCount);
}
