// The store's HNSW index: the newest file written at or before the current generation, loaded once, brought
// up to date with the store (no model inference), or rebuilt from the vectors in SQLite when it is missing,
// unreadable or does not match the store.
import { statSync } from "node:fs";
import { z } from "zod";
import { PapersiftError } from "../errors.ts";
import { addPoints, createHnsw, hnswFile, readHnsw, writeHnsw, type Hnsw, type HnswDigest, type HnswParams, type LoadedHnsw } from "./hnsw.ts";
import { ingestRunning } from "./lock.ts";
import { parseJson } from "./folder.ts";
import type { Store } from "./store.ts";

const HnswDigestRow = z.object({ size: z.number().int().nonnegative(), sha256: z.string() });

/** An index in memory: the generation it answers for, the file generation it came from, its deleted labels. */
interface Loaded extends LoadedHnsw {
  generation: number;
  /** The generation of the file it was read from or written as. */
  file: number;
  /** How many chunks a search may ask it for. */
  chunks: number;
}

export class HnswCache {
  private loaded: Loaded | null = null;

  constructor(private readonly store: Store) {}

  /**
   * The index of the current generation, and how many chunks a search may ask it for. Every committed batch
   * of an ingest is a generation, and the file is written when the ingest ends: in between, the newest
   * earlier file is used as it is (the papers written since are found by their words), so readers do not
   * redo the ingest's work after every batch. Once no ingest is running (one was killed), the index is
   * brought up to the store: chunks it lacks are added, labels of removed chunks marked deleted.
   */
  current(): { hnsw: Hnsw; chunks: number } {
    const store = this.store;
    return store.read(() => {
      const state = store.state();
      if (!state) throw new PapersiftError("INDEX_MISSING", `the index at ${store.dir} is empty`);
      if (this.loaded?.generation === state.generation) return this.loaded;
      const chunks = store.sql("SELECT count(*) FROM chunks").pluck().get() as number;
      const recorded = this.recorded(state.generation);
      let index: LoadedHnsw | null = null;
      let file = recorded?.generation ?? state.generation;
      if (recorded && this.loaded?.file === recorded.generation) index = this.loaded;
      else if (recorded) index = readHnsw(hnswFile(store.dir, recorded.generation), state.model.dims, state.hnsw, recorded.digest);
      if (!index) {
        index = { hnsw: this.build(state.model.dims, state.hnsw, chunks), deleted: new Set() };
        file = this.persist(index.hnsw, state.generation) ? state.generation : -1;
      } else {
        const missing = this.reconcile(index);
        if (missing.length && !ingestRunning(store.dir)) {
          addPoints(index.hnsw, store.chunkVectors(missing));
          file = this.persist(index.hnsw, state.generation) ? state.generation : -1;
        }
      }
      // Searches ask for at most as many chunks as the index holds (fewer than the store's while an ingest runs).
      const live = index.hnsw.getCurrentCount() - index.deleted.size;
      this.loaded = { ...index, generation: state.generation, file, chunks: Math.min(chunks, live) };
      return this.loaded;
    });
  }

  /**
   * Bring an index read from an older generation's file up to the store, part one: mark the labels of chunks
   * that are gone deleted. Returns the chunks it lacks, for the caller to add (labels are never reused, so a
   * label's vector never changes).
   */
  reconcile(index: LoadedHnsw): number[] {
    const labels = new Set(index.hnsw.getIdsList());
    const missing: number[] = [];
    for (const rowid of this.store.sql("SELECT rowid FROM chunks").pluck().iterate() as Iterable<number>) {
      if (!labels.delete(rowid)) missing.push(rowid);
    }
    for (const label of labels) {
      if (index.deleted.has(label)) continue;
      index.hnsw.markDelete(label);
      index.deleted.add(label);
    }
    return missing;
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

  /** A new index of every chunk vector in the store. */
  build(dims: number, params: HnswParams, capacity: number): Hnsw {
    const hnsw = createHnsw(dims, params, capacity);
    addPoints(hnsw, this.store.chunkVectors());
    return hnsw;
  }

  /** Is the newest HNSW file of the current generation on disk, at the size recorded when it was written? */
  filePresent(): boolean {
    const generation = this.store.state()?.generation;
    const recorded = generation === undefined ? null : this.recorded(generation);
    try {
      return recorded !== null && statSync(hnswFile(this.store.dir, recorded.generation)).size === recorded.digest.size;
    } catch {
      return false;
    }
  }

  /** The newest HNSW file written at or before a generation, with its size and sha256 as its writer recorded them. */
  recorded(generation: number): { generation: number; digest: HnswDigest } | null {
    const rows = this.store.sql("SELECT key, value FROM meta WHERE key LIKE 'hnsw-%'").all() as { key: string; value: string }[];
    let best: { generation: number; digest: HnswDigest } | null = null;
    for (const { key, value } of rows) {
      const g = Number(key.slice("hnsw-".length));
      if (!Number.isInteger(g) || g > generation || (best && best.generation > g)) continue;
      // A damaged row counts as missing: the file is rebuilt.
      const parsed = HnswDigestRow.safeParse(parseJson(value));
      if (parsed.success) best = { generation: g, digest: parsed.data };
    }
    return best;
  }

  /**
   * Write the HNSW file for a generation and record its digest. The writer must succeed (and drops other
   * generations' files and digests); for a reader it is best effort (in a read-only folder it just rebuilds
   * again next time). Returns whether the file was written.
   */
  persist(hnsw: Hnsw, generation: number, options: { writer?: boolean } = {}): boolean {
    const store = this.store;
    try {
      const digest = writeHnsw(hnsw, store.dir, generation, options.writer === true);
      store.db.transaction(() => {
        store.setMeta(`hnsw-${generation}`, JSON.stringify(digest));
        if (options.writer) store.sql("DELETE FROM meta WHERE key LIKE 'hnsw-%' AND key <> ?").run(`hnsw-${generation}`);
      })();
      return true;
    } catch (error) {
      if (options.writer) throw error;
      return false;
    }
  }

  /** After the writer persisted a generation's index: serve it from memory rather than reading the file back. */
  adopt(index: LoadedHnsw, generation: number, chunks: number): void {
    this.loaded = { ...index, generation, file: generation, chunks };
  }
}
