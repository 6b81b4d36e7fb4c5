// The store's HNSW index as readers use it: the segments listed for the newest generation at or before the
// current one, each checked before hnswlib reads it, loaded once, brought up to date with the store (no
// model inference), or rebuilt from the vectors in SQLite when a file is missing or does not match.
import { statSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { PapersiftError } from "../errors.ts";
import {
  addPoints,
  createHnsw,
  HnswSegment,
  placeSegment,
  readSegment,
  removeStaleHnswFiles,
  segmentFile,
  writeTemp,
  type Hnsw,
  type HnswParams,
  type LoadedSegment,
} from "./hnsw.ts";
import { ingestRunning } from "./lock.ts";
import { parseJson } from "./folder.ts";
import type { Store } from "./store.ts";

const HnswRow = z.object({ segments: z.array(HnswSegment) });

interface Loaded {
  generation: number;
  segments: (LoadedSegment & { record: HnswSegment | null })[];
  /** Chunks a search can find: the segments' labels that are not deleted. */
  chunks: number;
}

export class HnswCache {
  private loaded: Loaded | null = null;

  constructor(private readonly store: Store) {}

  /**
   * The segments of the current generation, and how many chunks a search may ask for. Every committed batch
   * of an ingest is a generation, and the ingest writes its segment when it ends: in between, the newest
   * earlier list is used as it is (papers written since are found by their words), so readers do not redo
   * the ingest's work after every batch. Once no ingest is running (one was killed), a reader adds the
   * chunks no segment holds as a segment of their own.
   */
  current(): Loaded {
    const store = this.store;
    return store.read(() => {
      const state = store.state();
      if (!state) throw new PapersiftError("INDEX_MISSING", `the index at ${store.dir} is empty`);
      if (this.loaded?.generation === state.generation) return this.loaded;
      const { dims } = state.model;
      const recorded = this.recorded(state.generation);
      // Segments already in memory are kept as they are (their deleted marks included).
      const inMemory = new Map((this.loaded?.segments ?? []).flatMap((s) => (s.record ? [[`${s.record.file}@${s.record.sha256}`, s]] : [])));
      const segments: Loaded["segments"] = [];
      for (const record of recorded?.segments ?? []) {
        const segment = inMemory.get(`${record.file}@${record.sha256}`) ?? readSegment(store.dir, record, dims, state.hnsw);
        if (!segment) break;
        segments.push({ ...segment, record });
      }
      let loaded: Loaded["segments"];
      if (!recorded || segments.length < recorded.segments.length) {
        const live = store.sql("SELECT count(*) FROM chunks").pluck().get() as number;
        const all = this.build(dims, state.hnsw, live);
        loaded = [{ ...all, record: this.persist(state.generation, [], all) }];
      } else {
        const missing = this.reconcile(segments);
        loaded = segments;
        if (missing.length && !ingestRunning(store.dir)) {
          const tail = this.build(dims, state.hnsw, missing.length, missing);
          loaded = [...segments, { ...tail, record: this.persist(state.generation, recorded.segments, tail) }];
        }
      }
      const chunks = loaded.reduce((n, s) => n + s.labels.size - s.deleted.size, 0);
      this.loaded = { generation: state.generation, segments: loaded, chunks };
      return this.loaded;
    });
  }

  /**
   * Mark deleted the labels of chunks the store no longer has (labels are never reused, so a label's vector
   * never changes); returns the chunks no segment holds.
   */
  private reconcile(segments: LoadedSegment[]): number[] {
    const live = new Set(this.store.sql("SELECT rowid FROM chunks").pluck().all() as number[]);
    for (const segment of segments) {
      for (const label of segment.labels) {
        if (live.delete(label) || segment.deleted.has(label)) continue;
        segment.hnsw.markDelete(label);
        segment.deleted.add(label);
      }
    }
    return [...live];
  }

  /** A segment of the given chunks (every chunk when `labels` is not given), built in this thread. */
  private build(dims: number, params: HnswParams, capacity: number, labels?: number[]): LoadedSegment {
    const hnsw = createHnsw(dims, params, capacity);
    const held = new Set<number>();
    addPoints(hnsw, (function* (vectors) {
      for (const point of vectors) {
        held.add(point.label);
        yield point;
      }
    })(this.store.chunkVectors(labels)));
    return { hnsw, labels: held, deleted: new Set() };
  }

  /**
   * Labels of the k chunks nearest to a vector (fewer if the index holds fewer), nearest first, over every
   * segment. `ef` lowers the search breadth for bulk work whose candidates are re-scored exactly (clusters).
   */
  nearest(vector: Float32Array, k: number, options: { ef?: number; papers?: Set<number> | null } = {}): number[] {
    const { segments } = this.current();
    // With a filter, hnswlib keeps searching until it has n chunks of the allowed papers.
    const allowed = options.papers;
    const paperOf = allowed ? this.store.chunkPapers() : null;
    const filter = allowed ? (label: number) => allowed.has(paperOf!.get(label) ?? -1) : undefined;
    const query = Array.from(vector);
    const found: { label: number; distance: number }[] = [];
    for (const { hnsw, labels, deleted } of segments) {
      const n = Math.min(k, labels.size - deleted.size);
      if (n <= 0) continue;
      const before = hnsw.getEf();
      if (options.ef !== undefined) hnsw.setEf(Math.max(options.ef, n));
      try {
        const { neighbors, distances } = hnsw.searchKnn(query, n, filter);
        neighbors.forEach((label, i) => found.push({ label, distance: distances[i]! }));
      } finally {
        hnsw.setEf(before);
      }
    }
    if (segments.length > 1) found.sort((a, b) => a.distance - b.distance || a.label - b.label);
    return found.slice(0, k).map((f) => f.label);
  }

  /**
   * Do the segments of the current generation hold every chunk, with their files on disk at the sizes
   * recorded? Cheap: no file is read (labels above the last segment's `to` are the chunks none holds).
   */
  complete(): boolean {
    const generation = this.store.state()?.generation;
    const recorded = generation === undefined ? null : this.recorded(generation);
    if (!recorded) return false;
    const newest = (this.store.sql("SELECT max(rowid) FROM chunks").pluck().get() as number | null) ?? 0;
    return newest <= (recorded.segments.at(-1)?.to ?? 0) && recorded.segments.every((s) => {
      try {
        return statSync(path.join(this.store.dir, s.file)).size === s.size;
      } catch {
        return false;
      }
    });
  }

  /** The newest segment list recorded at or before a generation (a row this papersift cannot read counts as none). */
  recorded(generation: number): { generation: number; segments: HnswSegment[] } | null {
    const rows = this.store.sql("SELECT key, value FROM meta WHERE key LIKE 'hnsw-%'").all() as { key: string; value: string }[];
    let best: { generation: number; segments: HnswSegment[] } | null = null;
    for (const { key, value } of rows) {
      const g = Number(key.slice("hnsw-".length));
      if (!Number.isInteger(g) || g > generation || (best && best.generation > g)) continue;
      // A damaged row counts as missing: the segments are rebuilt.
      const parsed = HnswRow.safeParse(parseJson(value));
      if (parsed.success) best = { generation: g, segments: parsed.data.segments };
    }
    return best;
  }

  /**
   * The lock holder's cleanup when an ingest changed nothing: keep the newest list at or before this
   * generation, and drop the other rows and every file it does not list.
   */
  tidy(generation: number): void {
    const recorded = this.recorded(generation);
    if (!recorded) return;
    // Only when there is something to drop: an ingest that changes nothing leaves the database untouched.
    const others = this.store.sql("SELECT count(*) FROM meta WHERE key LIKE 'hnsw-%' AND key <> ?").pluck().get(`hnsw-${recorded.generation}`) as number;
    if (others) this.record(recorded.generation, recorded.segments, { writer: true });
    removeStaleHnswFiles(this.store.dir, new Set(recorded.segments.map((s) => s.file)));
  }

  /** Record a generation's segments; the writer also drops every other generation's row. */
  record(generation: number, segments: HnswSegment[], options: { writer?: boolean } = {}): void {
    this.store.db.transaction(() => {
      this.store.setMeta(`hnsw-${generation}`, JSON.stringify({ segments }));
      if (options.writer) this.store.sql("DELETE FROM meta WHERE key LIKE 'hnsw-%' AND key <> ?").run(`hnsw-${generation}`);
    })();
  }

  /**
   * A reader writes back what it built, best effort (in a read-only folder it builds again next time): a
   * rebuild of every chunk as vectors-<generation>.hnsw (two readers rebuilding one snapshot write the same
   * bytes), a segment of the chunks the list lacks as a file of its own, vectors-<generation>-<pid>.hnsw,
   * listed after `before`. Readers never delete files.
   */
  private persist(generation: number, before: HnswSegment[], segment: LoadedSegment): HnswSegment | null {
    const file = segmentFile(generation, before.length ? process.pid : undefined);
    try {
      const { tmp, size, sha256 } = writeTemp(segment.hnsw, this.store.dir, file);
      placeSegment(tmp, this.store.dir, file);
      let to = before.at(-1)?.to ?? 0;
      for (const label of segment.labels) if (label > to) to = label;
      const record = { file, size, sha256, count: segment.labels.size, to };
      this.record(generation, [...before, record]);
      return record;
    } catch {
      return null;
    }
  }
}

export type { Hnsw };
