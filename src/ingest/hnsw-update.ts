// The writer's side of the HNSW index during an ingest: which segments of the previous generation stay as
// they are, and the one new segment that replaces the rest, built beside the batches in a worker thread (a
// large ingest) or in this one (a small one). See docs/storage.md.
import { statSync } from "node:fs";
import path from "node:path";
import { failpoint } from "../failpoint.ts";
import { MAX_SEGMENTS, MAX_TOMBSTONE_SHARE, placeSegment, removeStaleHnswFiles, segmentFile, type HnswParams, type HnswSegment } from "../store/hnsw.ts";
import { SegmentBuilder, type Built, type BuildSpec } from "../store/hnsw-build.ts";
import type { WorkerReply, WorkerRequest } from "../store/hnsw-worker.ts";
import type { Store } from "../store/store.ts";
import { onInterrupt } from "../interrupt.ts";
import { startWorker } from "../worker.ts";

interface Builder {
  add(labels: number[]): void;
  finish(file: string): Promise<Built>;
  /** Stop building; resolves with the worker's exit code (0: it ended by itself), 0 for a thread builder. */
  close(): Promise<number>;
}

/** The build in a worker thread: `add` only posts the labels, so the batches never wait for it. */
export function workerBuilder(spec: BuildSpec): Builder {
  const stop = new Int32Array(new SharedArrayBuffer(4));
  const worker = startWorker("store/hnsw-worker", { workerData: { ...spec, stop } satisfies BuildSpec });
  let exited: string | null = null;
  const gone = new Promise<number>((resolve) => worker.once("exit", resolve));
  const reply = new Promise<Built>((resolve, reject) => {
    worker.on("message", (message: WorkerReply) => ("error" in message ? reject(new Error(message.error)) : resolve(message.built)));
    worker.on("error", reject);
    worker.on("exit", (code) => {
      exited = `the HNSW worker stopped (exit ${code})`;
      reject(new Error(exited));
    });
  });
  reply.catch(() => {}); // awaited by finish; an early failure must not go unhandled meanwhile
  const builder: Builder = {
    add: (labels) => {
      if (!exited) worker.postMessage({ add: labels } satisfies WorkerRequest);
    },
    finish: async (file) => {
      worker.postMessage({ finish: file } satisfies WorkerRequest);
      return reply;
    },
    // Never terminate() it: inside hnswlib's addPoint that aborts the process (exit 134). It stops at the
    // next point instead, and its thread ends once it has closed its connection.
    close: async () => {
      unregister();
      if (!exited) {
        Atomics.store(stop, 0, 1);
        worker.postMessage({ stop: true } satisfies WorkerRequest);
      }
      return gone;
    },
  };
  // Ctrl-C waits for it to stop too (interrupt.ts).
  const unregister = onInterrupt(async () => void (await builder.close()));
  return builder;
}

function threadBuilder(spec: BuildSpec): Builder {
  const builder = new SegmentBuilder(spec);
  return {
    add: (labels) => builder.add(labels),
    finish: async (file) => builder.finish(file),
    close: async () => {
      builder.close();
      return 0;
    },
  };
}

/**
 * Plan and run an ingest's HNSW update. Segments of the previous list stay unless the new chunks are of
 * their order of size (then they are merged into the new segment, so sizes fall geometrically and a list
 * never passes MAX_SEGMENTS); everything starts over after --rebuild, a change of dims, a missing or resized
 * file, or once deleted chunks pass MAX_TOMBSTONE_SHARE.
 */
export class HnswUpdate {
  private constructor(
    private readonly store: Store,
    private readonly kept: HnswSegment[],
    private readonly builder: Builder,
  ) {}

  /**
   * `newChunks`: how many chunks the ingest will write (the plan's count); `replacedChunks`: how many stored
   * chunks it drops (of the papers it removes or re-chunks); `inWorker`: build beside the batches in a worker
   * thread (worth its start-up cost when the ingest writes several batches).
   */
  static start(
    store: Store,
    options: { dims: number; params: HnswParams; previousGeneration: number | null; newChunks: number; replacedChunks: number; inWorker: boolean },
  ): HnswUpdate {
    let list = options.previousGeneration === null ? [] : (store.hnsw.recorded(options.previousGeneration)?.segments ?? []);
    const present = (s: HnswSegment) => {
      try {
        return statSync(path.join(store.dir, s.file)).size === s.size;
      } catch {
        return false;
      }
    };
    // The chunks that stay: those of the papers this ingest removes or re-chunks are gone once it commits.
    const live = store.counts().chunks - options.replacedChunks;
    const held = list.reduce((n, s) => n + s.count, 0);
    if (!list.every(present) || held - live > MAX_TOMBSTONE_SHARE * held) list = [];
    let j = list.length;
    let merged = options.newChunks;
    while (j > 0 && (list[j - 1]!.count <= 2 * merged || j >= MAX_SEGMENTS)) merged += list[--j]!.count;
    const kept = list.slice(0, j);
    const extend = list[j] ?? null;
    const spec: BuildSpec = {
      dir: store.dir,
      dims: options.dims,
      params: options.params,
      after: kept.at(-1)?.to ?? 0,
      extend,
      // A new first segment also takes every chunk already in the store.
      capacity: (extend || j > 0 ? merged : live + options.newChunks) + 16,
    };
    let builder: Builder;
    try {
      builder = options.inWorker ? workerBuilder(spec) : threadBuilder(spec);
    } catch {
      builder = threadBuilder(spec); // no worker thread here (a bundle without the worker's file): same work, in this thread
    }
    return new HnswUpdate(store, kept, builder);
  }

  /** Chunks a batch just committed. */
  added(labels: number[]): void {
    this.builder.add(labels);
  }

  /**
   * After the ingest's last commit: finish the new segment, rename it into place, record the generation's
   * list and drop the files and rows of every other one (the writer holds the lock: no one else writes them).
   */
  async finish(generation: number): Promise<void> {
    failpoint("after-commit");
    const file = segmentFile(generation);
    const built = await this.builder.finish(file);
    const segments = built ? [...this.kept, built.segment] : this.kept;
    if (built) placeSegment(built.tmp, this.store.dir, file);
    this.store.hnsw.record(generation, segments, { writer: true });
    removeStaleHnswFiles(this.store.dir, new Set(segments.map((s) => s.file)));
  }

  /** Stop the worker; an ingest that failed leaves the segments as they were (readers add what they lack). */
  async close(): Promise<void> {
    await this.builder.close();
  }
}
