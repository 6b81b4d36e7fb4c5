// The store's HNSW index: the file of the current generation, loaded once per generation, or rebuilt from
// the vectors in SQLite (no model inference) when it is missing, unreadable or does not match the store.
import { statSync } from "node:fs";
import { z } from "zod";
import { PapersiftError } from "../errors.ts";
import { addPoints, createHnsw, hnswFile, readHnsw, writeHnsw, type Hnsw, type HnswDigest, type HnswParams } from "./hnsw.ts";
import { ingestRunning } from "./lock.ts";
import type { Store } from "./store.ts";

const HnswDigestRow = z.object({ size: z.number().int().nonnegative(), sha256: z.string() });

export class HnswCache {
  /** The HNSW index loaded for a generation, with that generation's chunk count. */
  private loaded: { generation: number; hnsw: Hnsw; chunks: number } | null = null;

  constructor(private readonly store: Store) {}

  /** The index of the current generation, and how many chunks a search may ask it for. */
  current(): { hnsw: Hnsw; chunks: number } {
    const store = this.store;
    return store.read(() => {
      const state = store.state();
      if (!state) throw new PapersiftError("INDEX_MISSING", `the index at ${store.dir} is empty`);
      if (this.loaded?.generation === state.generation) return this.loaded;
      const chunks = store.sql("SELECT count(*) FROM chunks").pluck().get() as number;
      let hnsw = readHnsw(hnswFile(store.dir, state.generation), state.model.dims, state.hnsw, this.digest(state.generation));
      // A large ingest commits papers in steps and updates the HNSW file at its end. While it runs, the file
      // lacks the chunks written so far: readers use it as it is (those papers are found by their words until
      // the ingest ends) instead of rebuilding after every step. A killed ingest leaves no live lock: rebuild.
      if (!hnsw || (!this.covers(hnsw, chunks) && !ingestRunning(store.dir))) {
        hnsw = this.build(state.model.dims, state.hnsw, chunks);
        this.persist(hnsw, state.generation, chunks);
      }
      // Searches ask for at most as many chunks as the file holds (fewer than the store's while an ingest runs).
      this.loaded = { generation: state.generation, hnsw, chunks: Math.min(chunks, hnsw.getCurrentCount()) };
      return this.loaded;
    });
  }

  /**
   * Labels of the k chunks nearest to a vector (fewer if the index holds fewer), nearest first. `ef` lowers
   * the search breadth for bulk work whose candidates are re-scored exactly (clusters).
   */
  nearest(vector: Float32Array, k: number, options: { ef?: number; papers?: Set<number> | null } = {}): number[] {
    const { hnsw, chunks } = this.current();
    const n = Math.min(k, chunks);
    if (n <= 0) return [];
    // With a filter, hnswlib keeps searching until it has n chunks of the allowed papers.
    const allowed = options.papers;
    const paperOf = allowed ? this.store.chunkPapers() : null;
    const filter = allowed ? (label: number) => allowed.has(paperOf!.get(label) ?? -1) : undefined;
    const before = hnsw.getEf();
    if (options.ef !== undefined) hnsw.setEf(Math.max(options.ef, n));
    try {
      return hnsw.searchKnn(Array.from(vector), n, filter).neighbors;
    } finally {
      hnsw.setEf(before);
    }
  }

  /**
   * Does this HNSW file hold every chunk of the store? Labels are never reused, so a file that has them all
   * can only differ by extra labels of removed chunks, which queries drop when they look the label up.
   */
  covers(hnsw: Hnsw, chunks: number): boolean {
    if (hnsw.getCurrentCount() < chunks) return false;
    const labels = new Set(hnsw.getIdsList());
    const rows = this.store.sql("SELECT rowid FROM chunks").pluck().iterate() as Iterable<number>;
    for (const rowid of rows) if (!labels.has(rowid)) return false;
    return true;
  }

  /** A new index of every chunk vector in the store. */
  build(dims: number, params: HnswParams, capacity: number): Hnsw {
    const hnsw = createHnsw(dims, params, capacity);
    addPoints(hnsw, this.store.chunkVectors());
    return hnsw;
  }

  /** Is the current generation's HNSW file on disk, at the size recorded when it was written? */
  filePresent(): boolean {
    const generation = this.store.state()?.generation;
    const digest = generation === undefined ? null : this.digest(generation);
    try {
      return digest !== null && statSync(hnswFile(this.store.dir, generation!)).size === digest.size;
    } catch {
      return false;
    }
  }

  /** Size and sha256 of the HNSW file written for a generation, as recorded by whoever wrote it. */
  digest(generation: number): HnswDigest | null {
    const row = this.store.meta(`hnsw-${generation}`);
    const parsed = row === undefined ? null : HnswDigestRow.safeParse(JSON.parse(row));
    return parsed?.success ? parsed.data : null;
  }

  /**
   * Write the HNSW file for a generation and record its digest. The writer must succeed (and drops other
   * generations' files and digests); for a reader it is best effort (in a read-only folder it just rebuilds
   * again next time).
   */
  persist(hnsw: Hnsw, generation: number, chunks: number, options: { writer?: boolean } = {}): void {
    const store = this.store;
    try {
      const digest = writeHnsw(hnsw, store.dir, generation, options.writer === true);
      store.db.transaction(() => {
        store.setMeta(`hnsw-${generation}`, JSON.stringify(digest));
        if (options.writer) store.sql("DELETE FROM meta WHERE key LIKE 'hnsw-%' AND key <> ?").run(`hnsw-${generation}`);
      })();
    } catch (error) {
      if (options.writer) throw error;
    }
    this.loaded = { generation, hnsw, chunks };
  }
}
