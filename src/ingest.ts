// Ingest = plan (pure: what changed between the corpus and the store, from a first streamed pass that keeps
// no text) then apply (read the planned papers again, embed only chunks whose content key has no vector yet,
// write them in batches of one transaction each, update the HNSW cache). The steps live in ingest/: scan.ts
// (first pass), plan.ts (pure), apply.ts (batches and the HNSW file). See docs/architecture.md.
import { existsSync, realpathSync } from "node:fs";
import path from "node:path";
import { DEFAULT_INDEX_DIR, defaultWorkers, IngestOptions, parseOptions } from "./config.ts";
import { failIfStrict, kindOf, type CorpusProblem, type CorpusReport, type FileReport } from "./corpus/index.ts";
import type { Embedder } from "./embed.ts";
import { PapersiftError } from "./errors.ts";
import { apply, type Done } from "./ingest/apply.ts";
import { plan, staleReason } from "./ingest/plan.ts";
import { identify, readIdentities } from "./ingest/scan.ts";
import type { RemoteEmbedder } from "./embed/remote.ts";
import { resolveModel, vendoredModelDir, type EmbedderSource, type ModelInfo } from "./model.ts";
import { DB_FILE, diskError, isCorruption, prepareIndexDir } from "./store/folder.ts";
import { acquireLock } from "./store/lock.ts";
import { moveAside, salvageVectors } from "./store/salvage.ts";
import { Store, type StoreState } from "./store/store.ts";
import { ALIASES, knownIds } from "./store/lookups.ts";
import { putVectors } from "./store/write.ts";

export { BATCH_PAPERS } from "./ingest/apply.ts";
export type { Plan } from "./ingest/plan.ts";

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
  /** Each file read: its format, entries, and entries skipped (no abstract, malformed). */
  files: FileReport[];
  /** The ids written, by kind (what would be, with dryRun). */
  plan: { added: string[]; changed: string[]; moved: string[]; removed: string[] };
}

/**
 * "library.bib: 37 entries have no abstract, 2 malformed entries": one line per file that lost entries (no
 * abstract, malformed, duplicates of another entry) or was not read, so no file with losses goes unnamed.
 */
export function lossLines(files: FileReport[]): string[] {
  const n = (count: number, one: string, many: string) => `${count} ${count === 1 ? one : many}`;
  return files.flatMap((f) => {
    const parts = [
      f.noAbstract > 0 && n(f.noAbstract, "entry has no abstract", "entries have no abstract"),
      f.malformed > 0 && n(f.malformed, "malformed entry", "malformed entries"),
      f.duplicates > 0 && n(f.duplicates, "duplicate of another entry", "duplicates of other entries"),
      // A file of a type papersift does not read is no export: its notice says so already.
      f.skipped !== undefined && f.skipped !== "unknown file type" && `not read (${f.skipped})`,
    ].filter((x): x is string => !!x);
    return parts.length ? [`${f.file}: ${parts.join(", ")}`] : [];
  });
}

/** Why a corpus gave no papers, file by file (issue 17 §18). */
function whyEmpty(corpus: string, report: CorpusReport): string {
  if (!report.files.length) return `no papers found in ${corpus}: the folder holds no files`;
  const reasons = report.files.map((f) => {
    const first = report.problems.find((p) => p.file === f.file && p.kind !== "no-abstract");
    const why = f.skipped
      ? f.skipped
      : f.noAbstract && !f.malformed
        ? `${f.noAbstract} ${f.noAbstract === 1 ? "entry" : "entries"}, none with an abstract`
        : f.malformed
          ? `${f.malformed} malformed ${f.malformed === 1 ? "entry" : "entries"}${f.noAbstract ? ` and ${f.noAbstract} without an abstract` : ""} (line ${first?.line}: ${first?.message})`
          : "no entries";
    return `\n  ${f.file}: ${why}`;
  });
  const shown = reasons.slice(0, 20).join("");
  return `no papers found in ${corpus}:${shown}${reasons.length > 20 ? `\n  … and ${reasons.length - 20} more files` : ""}`;
}

export interface IngestHooks {
  onProgress?: (progress: IngestProgress) => void;
  /** Told at once when the ingest has to wait for another one holding the writer lock. */
  onWait?: (message: string) => void;
  /** Told each time a request to an embeddings endpoint is retried (429, 5xx, a timeout), with why. */
  onRetry?: (message: string) => void;
  /** Reuse an Embedder the caller already loaded (the model is loaded once per process). */
  embedder?: Embedder;
}

/** The state of an existing index, if it can be read. */
function recordedState(indexDir: string): StoreState | undefined {
  if (!existsSync(path.join(indexDir, DB_FILE))) return undefined;
  try {
    const store = Store.open(indexDir);
    try {
      return store.state() ?? undefined;
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


export async function ingest(input: IngestOptions = {}, hooks: IngestHooks = {}): Promise<IngestSummary> {
  try {
    return await sync(input, hooks);
  } catch (error) {
    const index = (input as { index?: string }).index ?? DEFAULT_INDEX_DIR;
    if (!isCorruption(error)) throw diskError(error, index) ?? error;
    throw new PapersiftError("INDEX_CORRUPT", `the index at ${index} is damaged (${(error as Error).message})`, { cause: error });
  }
}

async function sync(input: IngestOptions, hooks: IngestHooks): Promise<IngestSummary> {
  const started = performance.now();
  const options = parseOptions(IngestOptions, input);
  const progress = hooks.onProgress ?? (() => {});
  refuseIndexInCorpus(options.corpus, options.index);
  const read = readIdentities(options.corpus, progress);
  const { report } = read;
  failIfStrict(report, options);
  // Nothing was read, so nothing is removed either: the index stays as it was.
  if (read.identities.length === 0) throw new PapersiftError("CORPUS_EMPTY", whyEmpty(options.corpus, report));
  // Without --model, an index keeps the vendored model it was built with; a new one gets the default.
  const recorded = recordedState(options.index);
  const modelName = options.model ?? (recorded && vendoredModelDir(recorded.model.id));
  const resolved = hooks.embedder?.model ?? resolveModel({ model: modelName });
  // A hub model has no local files until the Embedder fetched it.
  let embedder: Embedder | undefined = hooks.embedder;
  let loaded: Embedder | undefined; // ours to close: its worker threads
  const getEmbedder = async () => {
    if (!embedder) {
      const { loadEmbedder } = await import("./embed.ts");
      embedder = loaded = await loadEmbedder({ model: modelName, workers: options.workers ?? defaultWorkers() });
    }
    return embedder;
  };
  // Likewise an index embedded by an endpoint keeps using it, unless --model asks for a vendored model.
  const endpoint = options.embedder ?? (options.model ? undefined : recorded?.embedder?.url);
  let remote: RemoteEmbedder | undefined;
  let presumed: { model: ModelInfo; source: EmbedderSource; recorded: boolean } | undefined;
  let connectRemote = async (): Promise<RemoteEmbedder> => remote!;
  if (endpoint) {
    const { connectEndpoint, presumedEndpoint } = await import("./embed/remote.ts");
    const { endpointUrl } = await import("./embed/endpoint.ts");
    const url = endpointUrl(endpoint);
    const defaultModel = "remoteId" in resolved ? resolved.remoteId : resolved.id;
    const name = options.embedderModel ?? (recorded?.embedder?.url === url ? recorded.embedder.model : undefined) ?? defaultModel;
    const spec = { url: endpoint, model: name, key: options.embedderKey, timeoutMs: options.embedderTimeoutMs, onRetry: hooks.onRetry };
    connectRemote = async () => {
      remote ??= await connectEndpoint(spec, { local: hooks.embedder, recorded: recorded?.embedder, defaultModel });
      embedder = remote;
      return remote;
    };
    // The endpoint is contacted (its probe) only when there is something to embed. The one the index
    // recorded is presumed unchanged until then; another one re-embeds every paper, so it is probed now,
    // before anything is written (a dry run never contacts it).
    presumed = presumedEndpoint(url, name, recorded);
    if (!presumed.recorded && !options.dryRun) await connectRemote();
  }
  let model: ModelInfo = remote?.model ?? presumed?.model ?? ("remoteId" in resolved ? (await getEmbedder()).model : resolved);

  const indexDir = options.index;
  let lock: Awaited<ReturnType<typeof acquireLock>> | null = null;
  try {
    if (!options.dryRun) prepareIndexDir(indexDir);
    lock = options.dryRun ? null : await acquireLock(indexDir, options.lockWaitMs, hooks.onWait);
    const reset = options.rebuild && !options.dryRun ? resetIfDamaged(indexDir) : null;
    const store = options.dryRun && !existsSync(path.join(indexDir, "papersift.db")) ? null : Store.open(indexDir, { create: true });
    try {
      // Checked under the lock: a first ingest may have committed batches while this one waited for it.
      if (options.onlyIfEmpty && store && store.counts().papers > 0) {
        throw new PapersiftError("INDEX_NOT_EMPTY", `the index at ${indexDir} already holds ${store.counts().papers} papers`);
      }
      // With the index's ids at hand, no id it gave moves (corpus/ids.ts).
      const scan = identify(read, progress, store ? knownIds(store) : undefined);
      const state = store?.state() ?? null;
      // An ingest never deletes what it could not read: papers of unreadable files stay as they were.
      const planned = () => {
        const reason = staleReason(state, model, options.chunking, remote?.source ?? presumed?.source);
        return { reason, work: plan(scan.papers, store?.paperIdentities() ?? [], { reason, rebuild: options.rebuild, unreadable: report.unreadable }) };
      };
      let { reason, work } = planned();
      if (presumed && !remote && !options.dryRun && (work.added.length || work.changed.length)) {
        // Chunks to embed: now the endpoint is asked, and if it no longer embeds as recorded, everything is.
        model = (await connectRemote()).model;
        if (model.fingerprint !== presumed.model.fingerprint) ({ reason, work } = planned());
      }
      // A dry run says what an ingest would do.
      const said = options.dryRun && reason ? reason.replace(/: re-embedding$/, ": an ingest would re-embed everything").replace(/: re-chunking, /, ": an ingest would re-chunk, ") : reason;
      const notices = [...report.notices, ...[said, reset, lock?.tookOver].filter((n): n is string => !!n)];
      // Counts are of what was written, which can be less than planned when the corpus changes meanwhile.
      const summary = (done: Done): IngestSummary => ({
        papers: done.papers,
        chunks: done.chunks,
        added: done.written.added.length,
        updated: done.written.changed.length + done.written.moved.length,
        removed: done.written.removed.length,
        unchanged: work.unchanged,
        embedded: done.embedded,
        reused: done.reused,
        seconds: Math.round((performance.now() - started) / 10) / 100,
        embedSeconds: Math.round(done.embedSeconds * 100) / 100,
        dryRun: options.dryRun,
        // Each with its kind, so a script can tell a missing abstract from a broken entry (review-newuser18 #5).
        problems: report.problems.map((p) => ({ ...p, kind: kindOf(p, report) })),
        notices,
        files: report.files,
        plan: done.written,
      });
      // Written only when it changed: a no-change ingest leaves the database untouched.
      const files = JSON.stringify(report.files);
      if (store && !options.dryRun && store.meta("files") !== files) store.setMeta("files", files);
      // The ids of duplicates, so that the key a user knows a folded record by still finds its paper.
      const aliases = JSON.stringify(Object.fromEntries([...(report.aliases ?? [])].sort()));
      if (store && !options.dryRun && (store.meta(ALIASES) ?? "{}") !== aliases) store.setMeta(ALIASES, aliases);
      const nothingToDo = !options.rebuild && !work.added.length && !work.changed.length && !work.moved.length && !work.removed.length;
      if (options.dryRun || (nothingToDo && store && state)) {
        if (store && state && !options.dryRun) {
          // Make sure the segment files are there and hold every chunk (rebuilt or completed if not: a file
          // deleted, an ingest killed before it wrote its own). Sizes are checked, not sha256s: that would read
          // hundreds of MB on a large corpus, and every reader checks them before use anyway.
          if (!store.hnsw.complete()) store.hnsw.current();
          store.hnsw.tidy(state.generation);
        }
        const planned = { added: work.added, changed: work.changed, moved: work.moved, removed: work.removed };
        const papers = scan.papers.size + work.carried.length;
        return summary({ written: planned, papers, embedded: 0, reused: 0, chunks: store ? store.counts().chunks : 0, embedSeconds: 0 });
      }
      const done = await apply(store!, work, scan, { ...options, model, source: remote?.source ?? presumed?.source, getEmbedder, progress, state, summary, notices });
      if (remote?.endpoint.retried) notices.push(`${remote.endpoint.retried} requests to ${remote.endpoint.url} were retried`);
      return done;
    } finally {
      store?.close();
    }
  } finally {
    lock?.release();
    await loaded?.close?.();
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
  const vectors = salvageVectors(dir);
  const aside = moveAside(dir);
  const store = Store.open(dir, { create: true });
  try {
    putVectors(store, vectors);
  } finally {
    store.close();
  }
  return `the index was damaged (${problem.split("\n")[0]}): moved it aside to ${aside} and started over; ${vectors.length} stored vectors were salvaged, so their text is not embedded again`;
}
