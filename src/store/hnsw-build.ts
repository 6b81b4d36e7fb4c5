// Building one HNSW segment: every live chunk whose label is above `after`, starting from a segment of the
// previous list where that saves work (its graph is kept, its removed chunks marked deleted). An ingest runs
// it in a worker thread (hnsw-worker.ts) that follows the batches as they commit, or in its own thread when
// the ingest is small. It reads the vectors itself, from its own read-only connection to the store.
import path from "node:path";
import Database from "better-sqlite3";
import { addPoints, createHnsw, MAX_TOMBSTONE_SHARE, readSegment, writeTemp, type HnswParams, type HnswSegment, type LoadedSegment } from "./hnsw.ts";
import { decodeVector } from "./vectors.ts";

export interface BuildSpec {
  /** The index folder. */
  dir: string;
  dims: number;
  params: HnswParams;
  /** The new segment holds the live chunks whose label is above this (the last kept segment's `to`). */
  after: number;
  /** A segment of the previous list to start from, or null to start empty. */
  extend: HnswSegment | null;
  /** Elements expected: room is made for them at once (hnswlib copies the whole index to grow it). */
  capacity: number;
  /**
   * Set to 1 (shared with the thread that started a worker) to stop adding at the next point: a worker must
   * never be terminated inside hnswlib's addPoint (the process aborts), so it is asked to stop instead.
   */
  stop?: Int32Array;
}

/** A finished segment in its temp file, for placeSegment; null when no live chunk is above `after`. */
export type Built = { tmp: string; segment: HnswSegment } | null;

export class SegmentBuilder {
  private readonly db: Database.Database;
  private readonly index: LoadedSegment;
  private readonly vector: Database.Statement;

  constructor(private readonly spec: BuildSpec) {
    this.db = new Database(path.join(spec.dir, "papersift.db"), { readonly: true, fileMustExist: true });
    this.db.pragma("busy_timeout = 10000");
    this.vector = this.db.prepare("SELECT v.data FROM chunks c JOIN vectors v ON v.rowid = c.vector WHERE c.rowid = ?").pluck();
    const extended = spec.extend && readSegment(spec.dir, spec.extend, spec.dims, spec.params);
    // A segment whose chunks are mostly gone is not worth keeping: its graph is rebuilt without them.
    const live = extended ? this.liveAbove() : null;
    let dead = 0;
    if (extended) for (const label of extended.labels) if (!live!.has(label)) dead++;
    if (extended && dead <= MAX_TOMBSTONE_SHARE * extended.labels.size) {
      const room = extended.labels.size + spec.capacity;
      if (extended.hnsw.getMaxElements() < room) extended.hnsw.resizeIndex(room);
      this.index = extended;
    } else {
      this.index = { hnsw: createHnsw(spec.dims, spec.params, spec.capacity), labels: new Set(), deleted: new Set() };
    }
  }

  private liveAbove(): Set<number> {
    return new Set(this.db.prepare("SELECT rowid FROM chunks WHERE rowid > ?").pluck().all(this.spec.after) as number[]);
  }

  /** Add these chunks (those above `after` that it lacks), reading their vectors from the store. */
  add(labels: Iterable<number>): void {
    const { after } = this.spec;
    const { labels: held } = this.index;
    const vector = this.vector;
    const stop = this.spec.stop;
    function* points() {
      for (const label of labels) {
        if (stop && Atomics.load(stop, 0)) return;
        if (label <= after || held.has(label)) continue;
        const data = vector.get(label) as Buffer | undefined;
        if (!data) continue; // removed by a later batch
        held.add(label);
        yield { label, vector: decodeVector(data) };
      }
    }
    addPoints(this.index.hnsw, points());
  }

  /**
   * Bring the segment up to the store as it is now (add the live chunks above `after` it lacks, mark those
   * that are gone deleted) and write it to a temp file for `file`.
   */
  finish(file: string): Built {
    const live = this.liveAbove();
    this.add(live);
    for (const label of this.index.labels) {
      if (live.has(label) || this.index.deleted.has(label)) continue;
      this.index.hnsw.markDelete(label);
      this.index.deleted.add(label);
    }
    this.db.close();
    if (live.size === 0) return null;
    let to = this.spec.after;
    for (const label of this.index.labels) if (label > to) to = label;
    const { tmp, size, sha256 } = writeTemp(this.index.hnsw, this.spec.dir, file);
    return { tmp, segment: { file, size, sha256, count: this.index.labels.size, to } };
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
