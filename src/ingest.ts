// Ingest = plan (pure: what changed between the corpus and the store, from a first streamed pass that keeps
// no text) then apply (read the planned papers again, embed only chunks whose content key has no vector yet,
// write them in batches of one transaction each, update the HNSW cache). See docs/architecture.md.
import { hash } from "node:crypto";
import { existsSync, realpathSync } from "node:fs";
import path from "node:path";
import { chunkPaper, chunkText, type ChunkParams } from "./chunk.ts";
import { DEFAULT_INDEX_DIR, IngestOptions, parseOptions } from "./config.ts";
import {
  assignIds,
  corpusFiles,
  failIfStrict,
  fileEntries,
  identityOf,
  isUnder,
  type CorpusProblem,
  type CorpusReport,
  type Identity,
  type Paper,
} from "./corpus/index.ts";
import { contentSuffix } from "./corpus/paper.ts";
import type { Embedder } from "./embed.ts";
import { PapersiftError } from "./errors.ts";
import { failpoint } from "./failpoint.ts";
import { resolveModel, vendoredModelDir, type ModelInfo } from "./model.ts";
import { addPoints, DEFAULT_HNSW, hnswFile, MAX_TOMBSTONE_SHARE, readHnsw, removeStaleHnswFiles } from "./store/hnsw.ts";
import { acquireLock } from "./store/lock.ts";
import { DB_FILE, isCorruption, prepareIndexDir, Store, type NewChunk, type PaperWrite, type StoredPaper, type StoreState } from "./store/store.ts";
import { contentKey } from "./store/vectors.ts";

export interface Plan {
  added: string[];
  /** Title or abstract changed, or the model/chunking did (or --rebuild): re-chunked. */
  changed: string[];
  /** Only where it sits (file, line) or its metadata changed: no re-chunking. */
  moved: string[];
  removed: string[];
  unchanged: number;
  /** Papers of files that could not be read this time, kept as stored (re-chunked from the store if needed). */
  carried: string[];
  /** Why everything is re-chunked, if it is. */
  reason: string | null;
}

/** What the first pass keeps of a corpus paper: enough to plan, none of its text. */
export interface CorpusPaper {
  file: string;
  line: number;
  contentHash: Buffer;
  /** Digest of the metadata JSON, or null without metadata. */
  meta: string | null;
}

export type StoredIdentity = Pick<StoredPaper, "id" | "file" | "line" | "meta" | "contentHash">;

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
  /** Of those, the time spent in the model. */
  embedSeconds: number;
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

/** The first 16 bytes of the digest that also gives derived ids their suffix (contentSuffix). */
export function contentHash(paper: Pick<Paper, "title" | "abstract">): Buffer {
  return Buffer.from(contentSuffix(paper.title, paper.abstract, 32), "hex");
}

const metaJson = (meta: Record<string, unknown> | undefined) => (meta ? JSON.stringify(meta) : null);
/** A stored paper as the corpus would give it (for papers of files that could not be read this time). */
const storedPaper = (s: StoredPaper): Paper => ({
  id: s.id,
  title: s.title,
  abstract: s.abstract,
  source: { file: s.file, line: s.line },
  ...(s.meta ? { meta: JSON.parse(s.meta) as Record<string, unknown> } : {}),
});

const metaDigest = (json: string | null) => (json === null ? null : hash("sha1", json, "base64"));

/**
 * Compare the corpus with what the store holds. Pure: no I/O. Stored papers are streamed past once; papers
 * of unreadable files are kept (carried), and re-chunked like the rest when everything is.
 */
export function plan(
  corpus: Map<string, CorpusPaper>,
  stored: Iterable<StoredIdentity>,
  options: { reason: string | null; unreadable?: string[]; rebuild?: boolean },
): Plan {
  // --rebuild starts over: every paper is written (and counted) as new, reusing vectors by content key.
  const reason = options.rebuild ? "--rebuild" : options.reason;
  const rewritten = options.rebuild ? "added" : "changed";
  const result: Plan = { added: [], changed: [], moved: [], removed: [], unchanged: 0, carried: [], reason };
  const inStore = new Set<string>();
  for (const s of stored) {
    const paper = corpus.get(s.id);
    if (!paper) {
      if (!isUnder(options.unreadable ?? [], s.file)) result.removed.push(s.id);
      else {
        result.carried.push(s.id);
        if (reason) result[rewritten].push(s.id);
        else result.unchanged++;
      }
      continue;
    }
    if (options.rebuild) continue;
    inStore.add(s.id);
    if (reason || !s.contentHash.equals(paper.contentHash)) result.changed.push(s.id);
    else if (s.file !== paper.file || s.line !== paper.line || metaDigest(s.meta) !== paper.meta) result.moved.push(s.id);
    else result.unchanged++;
  }
  for (const id of corpus.keys()) if (!inStore.has(id)) result.added.push(id);
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

function toWrite(paper: Paper, digest: Buffer, chunks?: NewChunk[]): PaperWrite {
  return {
    id: paper.id,
    title: paper.title,
    abstract: paper.abstract,
    file: paper.source.file,
    line: paper.source.line,
    meta: metaJson(paper.meta),
    contentHash: digest,
    chunks,
  };
}

/** Chunks embedded and stored per step: what is stored survives a killed ingest. */
const EMBED_STEP = 64;
/**
 * Papers written per transaction. Memory holds one batch of text and chunks, whatever the corpus size, and
 * every batch committed survives a killed ingest. An ingest writing this few papers is one transaction.
 */
export const BATCH_PAPERS = 256;

export async function ingest(input: IngestOptions = {}, hooks: IngestHooks = {}): Promise<IngestSummary> {
  try {
    return await sync(input, hooks);
  } catch (error) {
    if (!isCorruption(error)) throw error;
    const index = (input as { index?: string }).index ?? DEFAULT_INDEX_DIR;
    throw new PapersiftError("INDEX_CORRUPT", `the index at ${index} is damaged (${(error as Error).message})`, { cause: error });
  }
}

/** The corpus after the first pass: which files to read again, and each paper's identity. */
interface Scan {
  files: { full: string; file: string }[];
  papers: Map<string, CorpusPaper>;
  report: CorpusReport;
}

/** First pass: every entry streamed past once, keeping ids, content hashes and locations only. */
function scanCorpus(dir: string, progress: (p: IngestProgress) => void): Scan {
  const report: CorpusReport = { problems: [], notices: [], unreadable: [] };
  const files = corpusFiles(dir, report);
  const identities: Identity[] = [];
  const metas: (string | null)[] = [];
  for (const { full, file } of files) {
    const start = identities.length;
    for (const entry of fileEntries(full, file, report)) {
      identities.push(identityOf(entry));
      metas.push(metaDigest(metaJson(entry.meta)));
      if (identities.length % 1000 === 0) progress({ phase: "read", done: identities.length, total: 0 });
    }
    if (report.unreadable.includes(file)) {
      identities.length = start;
      metas.length = start;
    }
  }
  const papers = new Map<string, CorpusPaper>();
  assignIds(identities, report.notices).forEach((id, i) => {
    if (id === null) return;
    const { source, digest } = identities[i]!;
    papers.set(id, { file: source.file, line: source.line, contentHash: Buffer.from(digest.slice(0, 32), "hex"), meta: metas[i]! });
  });
  progress({ phase: "read", done: papers.size, total: papers.size });
  return { files, papers, report };
}

async function sync(input: IngestOptions, hooks: IngestHooks): Promise<IngestSummary> {
  const started = performance.now();
  const options = parseOptions(IngestOptions, input);
  const progress = hooks.onProgress ?? (() => {});
  refuseIndexInCorpus(options.corpus, options.index);
  const scan = scanCorpus(options.corpus, progress);
  const { report } = scan;
  failIfStrict(report, options);
  if (scan.papers.size === 0) {
    // Nothing was read, so nothing is removed either: the index stays as it was.
    const unreadable = report.unreadable.length ? ` (${report.unreadable.length} unreadable: ${report.unreadable.slice(0, 3).join(", ")})` : "";
    throw new PapersiftError("CORPUS_EMPTY", `no papers found in ${options.corpus}${unreadable}`);
  }
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
      const reason = staleReason(state, model, options.chunking);
      const notices = [...report.notices, ...[reason, reset, lock?.tookOver].filter((n): n is string => !!n)];
      // An ingest never deletes what it could not read: papers of unreadable files stay as they were.
      const work = plan(scan.papers, store?.paperIdentities() ?? [], {
        reason,
        rebuild: options.rebuild,
        unreadable: report.unreadable,
      });
      const summary = (done: { embedded: number; reused: number; chunks: number; embedSeconds: number }): IngestSummary => ({
        papers: scan.papers.size + work.carried.length,
        chunks: done.chunks,
        added: work.added.length,
        updated: work.changed.length + work.moved.length,
        removed: work.removed.length,
        unchanged: work.unchanged,
        embedded: done.embedded,
        reused: done.reused,
        seconds: Math.round((performance.now() - started) / 10) / 100,
        embedSeconds: Math.round(done.embedSeconds * 100) / 100,
        dryRun: options.dryRun,
        problems: report.problems,
        notices,
        plan: { added: work.added, changed: work.changed, moved: work.moved, removed: work.removed },
      });
      const nothingToDo = !options.rebuild && !work.added.length && !work.changed.length && !work.moved.length && !work.removed.length;
      if (options.dryRun || (nothingToDo && store && state)) {
        if (store && state && !options.dryRun) {
          // Make sure the cache file is there (rebuilt if deleted). Its size is checked, not its sha256: that
          // would read hundreds of MB on a large corpus, and every reader checks it before use anyway.
          if (!store.hnswFilePresent()) store.hnsw();
          removeStaleHnswFiles(indexDir, state.generation);
        }
        return summary({ embedded: 0, reused: 0, chunks: store ? store.counts().chunks : 0, embedSeconds: 0 });
      }
      return await apply(store!, work, scan, { ...options, model, getEmbedder, progress, state, summary, notices });
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

/**
 * Second pass: stream the papers the plan names, chunk them, embed the chunks that have no vector yet and
 * write them in batches; the last batch also removes papers and moves the generation. Then the HNSW file.
 */
async function apply(
  store: Store,
  work: Plan,
  scan: Scan,
  ctx: {
    model: ModelInfo;
    chunking: ChunkParams;
    rebuild: boolean;
    state: StoreState | null;
    notices: string[];
    getEmbedder: () => Promise<Embedder>;
    progress: (p: IngestProgress) => void;
    summary: (done: { embedded: number; reused: number; chunks: number; embedSeconds: number }) => IngestSummary;
  },
): Promise<IngestSummary> {
  const rechunk = new Set([...work.added, ...work.changed]);
  const todo = new Map<string, { id: string; chunk: boolean }>();
  for (const [ids, chunk] of [[work.added, true], [work.changed, true], [work.moved, false]] as const) {
    for (const id of ids) {
      const paper = scan.papers.get(id);
      if (paper) todo.set(`${paper.file}\n${paper.line}`, { id, chunk });
    }
  }
  const carried = work.carried.filter((id) => rechunk.has(id));
  const toChunk = work.added.length + work.changed.length;
  const changedMeanwhile = new Set<string>();

  /** The planned papers, read again in corpus order (then carried ones from the store), with their content hash. */
  function* plannedPapers(): Generator<{ paper: Paper; chunk: boolean; digest: Buffer }> {
    const quiet: CorpusReport = { problems: [], notices: [], unreadable: [] }; // reported by the first pass
    for (const { full, file } of scan.files) {
      if (scan.report.unreadable.includes(file)) continue;
      for (const entry of fileEntries(full, file, quiet)) {
        const planned = todo.get(`${file}\n${entry.source.line}`);
        if (!planned) continue;
        const digest = scan.papers.get(planned.id)!.contentHash;
        if (!contentHash(entry).equals(digest)) {
          changedMeanwhile.add(`${file}:${entry.source.line}`);
          continue;
        }
        yield { paper: { ...entry, id: planned.id }, chunk: planned.chunk, digest };
      }
    }
    for (const id of carried) {
      const stored = store.paperById(id);
      if (stored) yield { paper: storedPaper(stored), chunk: true, digest: stored.contentHash };
    }
  }

  const embedder = toChunk ? await ctx.getEmbedder() : null;
  const count = (text: string) => embedder!.tokenize(text).length - 2;
  const chunksOf = (paper: Paper): NewChunk[] =>
    chunkPaper(paper, count, ctx.chunking).map((c) => ({ ...c, key: contentKey(ctx.model.fingerprint, c.text) }));

  // Chunk first, so the plan ("embedding N new chunks (~T)") is known before the slow part starts. Only
  // the chunks' spans and keys are kept (their text is cut from the paper again when it is written).
  const missing = new Set<string>();
  const spans = new Map<string, (Omit<NewChunk, "text" | "key"> & { key: string })[]>();
  let totalChunks = 0;
  if (toChunk) {
    let done = 0;
    for (const { paper, chunk } of plannedPapers()) {
      if (!chunk) continue;
      const chunks = chunksOf(paper);
      totalChunks += chunks.length;
      spans.set(paper.id, chunks.map(({ text: _text, key, ...span }) => ({ ...span, key: key.toString("base64") })));
      for (const key of store.missingVectors(chunks.map((c) => c.key))) missing.add(key.toString("base64"));
      ctx.progress({ phase: "chunk", done: ++done, total: toChunk });
    }
  }
  const plannedChunks = (paper: Paper): NewChunk[] => {
    const planned = spans.get(paper.id);
    spans.delete(paper.id);
    if (!planned) return chunksOf(paper);
    return planned.map((c) => ({
      ...c,
      key: Buffer.from(c.key, "base64"),
      text: chunkText(paper.title, c.titleChars, paper.abstract, c.start, c.end),
    }));
  };
  const toEmbed = missing.size;
  if (toEmbed) ctx.progress({ phase: "plan", done: toEmbed, total: totalChunks, rate: store.embedRate(ctx.model.fingerprint) ?? undefined });

  const previous = ctx.state;
  const params = previous?.hnsw ?? DEFAULT_HNSW;
  const finalState = { model: { id: ctx.model.id, dims: ctx.model.dims, fingerprint: ctx.model.fingerprint }, chunking: ctx.chunking, hnsw: params };
  const writeTotal = todo.size + carried.length;
  const addedLabels: number[] = [];
  const removedLabels: number[] = [];
  let generation = 0;
  let embedded = 0;
  let written = 0;
  let embedSeconds = 0;
  const batch: PaperWrite[] = [];

  const flush = async (last: boolean) => {
    const need = new Map<string, { key: Buffer; text: string }>();
    for (const write of batch) {
      for (const c of write.chunks ?? []) {
        const k = c.key.toString("base64");
        if (missing.has(k)) need.set(k, { key: c.key, text: c.text });
      }
    }
    const steps = [...need.values()];
    for (let i = 0; i < steps.length; i += EMBED_STEP) {
      const step = steps.slice(i, i + EMBED_STEP);
      const before = embedded;
      const t = performance.now();
      const vectors = await embedder!.embed(
        step.map((s) => s.text),
        (done) => ctx.progress({ phase: "embed", done: before + done, total: toEmbed }),
      );
      embedSeconds += (performance.now() - t) / 1000;
      store.putVectors(step.map((s, j) => ({ key: s.key, vector: vectors[j]! })));
      embedded += step.length;
      if (before === 0) failpoint("after-first-embed-step");
    }
    for (const k of need.keys()) missing.delete(k);
    const result = store.apply({ write: batch, remove: last ? work.removed : [], state: last ? finalState : null });
    addedLabels.push(...result.addedLabels);
    removedLabels.push(...result.removedLabels);
    written += batch.length;
    batch.length = 0;
    ctx.progress({ phase: "write", done: written, total: writeTotal });
    if (last) generation = result.generation!;
    else failpoint("after-batch-commit");
  };

  for (const { paper, chunk, digest } of plannedPapers()) {
    batch.push(toWrite(paper, digest, chunk ? plannedChunks(paper) : undefined));
    if (batch.length >= BATCH_PAPERS) await flush(false);
  }
  await flush(true);
  if (toEmbed >= EMBED_STEP && embedSeconds > 0) store.recordEmbedRate(ctx.model.fingerprint, embedded / embedSeconds);
  if (changedMeanwhile.size) {
    const where = [...changedMeanwhile];
    ctx.notices.push(`${where.length} entries changed while this ingest ran (${where.slice(0, 3).join(", ")}): run ingest again to take them in`);
  }

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
      // A previous ingest killed between batches left chunks that file never got: then rebuild.
      if (store.covers(old, chunkCount)) hnsw = old;
    } catch {
      // The old file did not match its generation after all: fall through to a rebuild.
    }
  }
  hnsw ??= store.buildHnsw(ctx.model.dims, params, chunkCount);
  failpoint("after-commit");
  store.persistHnsw(hnsw, generation, chunkCount, { writer: true });
  ctx.progress({ phase: "index", done: 1, total: 1 });
  return ctx.summary({ embedded, reused: totalChunks - toEmbed, chunks: chunkCount, embedSeconds });
}
