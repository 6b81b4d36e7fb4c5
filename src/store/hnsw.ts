// The HNSW index is a derived cache of the vectors in SQLite, kept as a few files ("segments"), each an
// hnswlib index of part of the chunks, searched together. A generation's list of segments is recorded in
// SQLite (meta `hnsw-<generation>`) with each file's size and sha256, so a file of another generation or
// index is never mistaken for one of its own; each is written as a finished temp file renamed into place.
// Segments let an ingest that adds a few papers write a small file beside the large one instead of rewriting
// it (issue 21). See docs/storage.md.
import { createHash } from "node:crypto";
import { closeSync, openSync, readdirSync, readSync, renameSync, rmSync } from "node:fs";
import path from "node:path";
import hnswlib from "hnswlib-node";
import { z } from "zod";
import { failpoint } from "../failpoint.ts";

const { HierarchicalNSW } = hnswlib;
export type Hnsw = InstanceType<typeof HierarchicalNSW>;

export interface HnswParams {
  M: number;
  efConstruction: number;
  /**
   * hnswlib's default is 10, far too low. `npm run bench:query` on 100,000 of the model's own embeddings:
   * recall@10 ≥ 0.99 from 128 (≈25× faster than exact search); 256 buys little more recall at half the speed.
   */
  efSearch: number;
}

/**
 * efConstruction 64: HNSW insertion is most of a large ingest's work without inference (issue 21), and on
 * the 24,897 bge chunks of the arXiv sample 64 builds in 7.9 s against 12.0 s at 100 (18.4 s at 200), for
 * recall@10 0.978 against 0.979 (0.981) at efSearch 128; `npm run bench:query` compares 64 and 100 on
 * 100,000 of the model's embeddings (docs/benchmarks.md). Indexes keep the parameters they were built with.
 */
export const DEFAULT_HNSW: HnswParams = { M: 16, efConstruction: 64, efSearch: 128 };

/** Rebuild compactly once deleted points make up more than this share of the index. */
export const MAX_TOMBSTONE_SHARE = 0.25;

/**
 * Most segments a generation keeps: a query searches every one (each costs about as much as one index of all
 * the chunks would), so an ingest merges the newest ones once a list would grow past this.
 */
export const MAX_SEGMENTS = 4;

const SEED = 100;

const SEGMENT_FILE = /^vectors-\d+(-\d+)?\.hnsw$/;

/** `vectors-<generation>.hnsw`; a reader that adds a segment of its own to a list puts its pid in the name. */
export function segmentFile(generation: number, readerPid?: number): string {
  return `vectors-${generation}${readerPid === undefined ? "" : `-${readerPid}`}.hnsw`;
}

/** One segment as recorded: its file, checked before hnswlib may read it, and what it holds. */
export const HnswSegment = z.object({
  file: z.string().regex(SEGMENT_FILE),
  size: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** Elements in the file, deleted ones included. */
  count: z.number().int().nonnegative(),
  /**
   * Every chunk with a label (rowid) up to this, above the previous segment's `to`, that was in the store when
   * the file was written is in it. Chunks written later get larger labels (AUTOINCREMENT), so an ingest knows
   * which chunks no segment holds without reading the files.
   */
  to: z.number().int().nonnegative(),
});
export type HnswSegment = z.infer<typeof HnswSegment>;

export function createHnsw(dims: number, params: HnswParams, capacity: number): Hnsw {
  const index = new HierarchicalNSW("cosine", dims);
  index.initIndex({ maxElements: Math.max(16, capacity), m: params.M, efConstruction: params.efConstruction, randomSeed: SEED });
  index.setEf(params.efSearch);
  return index;
}

/** Read a file front to back in blocks whose length `next` chooses; `each` sees every block in order. */
function forEachBlock(file: string, next: (offset: number) => number, each: (block: Buffer, offset: number) => void): void {
  const fd = openSync(file, "r");
  let buffer = Buffer.alloc(0);
  try {
    for (let offset = 0; ; ) {
      const want = next(offset);
      if (buffer.length < want) buffer = Buffer.alloc(want);
      const n = readSync(fd, buffer, 0, want, offset);
      if (n <= 0) return;
      each(buffer.subarray(0, n), offset);
      offset += n;
    }
  } finally {
    closeSync(fd);
  }
}

const HEADER = 96;
const BLOCK = 4 << 20;

/**
 * Does the header agree with the vectors' dims and the file's size? hnswlib trusts its input: a damaged
 * file can crash the process (SIGSEGV) rather than throw, so nothing reaches it unchecked.
 * Header (hnswalg.h saveIndex): offsetLevel0, maxElements, count, sizeDataPerElement, labelOffset, offsetData
 * (u64 each), maxLevel (i32), entryPoint (u32), maxM, maxM0, M (u64), mult (f64), efConstruction (u64).
 */
function headerFits(bytes: Buffer, size: number, dims: number): boolean {
  if (bytes.length < HEADER) return false;
  const u64 = (at: number) => Number(bytes.readBigUInt64LE(at));
  const [maxElements, count, perElement, labelOffset, offsetData] = [u64(8), u64(16), u64(24), u64(32), u64(40)];
  const maxM0 = u64(64);
  return (
    count <= maxElements &&
    perElement === maxM0 * 4 + 4 + dims * 4 + 8 &&
    labelOffset === offsetData + dims * 4 &&
    size >= HEADER + count * (perElement + 4)
  );
}

/** What one pass over a segment file finds: its labels, and those it marks deleted (hnswlib cannot be asked). */
export interface SegmentScan {
  labels: number[];
  deleted: Set<number>;
}

/**
 * Check a segment file against its record (size, sha256, a header that fits the dims) and list its labels;
 * null if it is missing or does not match: damaged, truncated, or some other index's file. One pass reads the
 * level-0 block element by element: byte 2 of an element's link header is hnswlib's deleted mark
 * (hnswalg.h isMarkedDeleted), and its label is the u64 at labelOffset.
 */
export function scanSegment(dir: string, segment: HnswSegment, dims: number): SegmentScan | null {
  const hash = createHash("sha256");
  const labels: number[] = [];
  const deleted = new Set<number>();
  let layout: { end: number; perElement: number; labelOffset: number } | null = null;
  let size = 0;
  try {
    forEachBlock(
      path.join(dir, segment.file),
      // The header alone, then whole elements of the level-0 block, then the rest.
      (offset) => (offset === 0 ? HEADER : layout && offset < layout.end ? Math.max(1, Math.floor(BLOCK / layout.perElement)) * layout.perElement : BLOCK),
      (block, offset) => {
        hash.update(block);
        size += block.length;
        if (size > segment.size) throw new Error("longer than recorded");
        if (offset === 0) {
          if (!headerFits(block, segment.size, dims)) throw new Error("header does not fit");
          const perElement = Number(block.readBigUInt64LE(24));
          layout = { end: HEADER + Number(block.readBigUInt64LE(16)) * perElement, perElement, labelOffset: Number(block.readBigUInt64LE(32)) };
          return;
        }
        if (!layout || offset >= layout.end) return;
        const level0 = Math.min(block.length, layout.end - offset);
        for (let at = 0; at + layout.perElement <= level0; at += layout.perElement) {
          const label = Number(block.readBigUInt64LE(at + layout.labelOffset));
          labels.push(label);
          if (block[at + 2]! & 1) deleted.add(label);
        }
      },
    );
  } catch {
    return null;
  }
  if (size !== segment.size || hash.digest("hex") !== segment.sha256 || labels.length !== segment.count) return null;
  return { labels, deleted };
}

/** A segment in memory: the index, its labels, and those marked deleted (by its file, or since it was read). */
export interface LoadedSegment {
  hnsw: Hnsw;
  labels: Set<number>;
  deleted: Set<number>;
}

/** Check a segment file (scanSegment), then let hnswlib read it; null if it does not match its record. */
export function readSegment(dir: string, segment: HnswSegment, dims: number, params: HnswParams): LoadedSegment | null {
  const scan = scanSegment(dir, segment, dims);
  if (!scan) return null;
  try {
    const hnsw = new HierarchicalNSW("cosine", dims);
    hnsw.readIndexSync(path.join(dir, segment.file));
    hnsw.setEf(params.efSearch);
    return { hnsw, labels: new Set(scan.labels), deleted: scan.deleted };
  } catch {
    return null;
  }
}

export function addPoints(index: Hnsw, points: Iterable<{ label: number; vector: Float32Array }>): void {
  // One array for every point (hnswlib copies it): a fresh Array.from per point left ~3 KB of garbage each,
  // which a worker thread building 200k points let pile up into a gigabyte before collecting it.
  let point: number[] = [];
  for (const { label, vector } of points) {
    if (index.getCurrentCount() >= index.getMaxElements()) index.resizeIndex(Math.ceil(index.getMaxElements() * 1.5) + 16);
    if (point.length !== vector.length) point = new Array<number>(vector.length).fill(0);
    for (let d = 0; d < vector.length; d++) point[d] = vector[d]!;
    index.addPoint(point, label);
  }
}

/**
 * Write an index to a temp file beside its final name (`<file>.tmp-<pid>`) and digest it: slow for a large
 * index, so an ingest does it in its worker thread; placeSegment then renames it into place.
 */
export function writeTemp(index: Hnsw, dir: string, file: string): { tmp: string; size: number; sha256: string } {
  const tmp = path.join(dir, `${file}.tmp-${process.pid}`);
  index.writeIndexSync(tmp);
  const hash = createHash("sha256");
  let size = 0;
  forEachBlock(tmp, () => BLOCK, (block) => {
    hash.update(block);
    size += block.length;
  });
  return { tmp, size, sha256: hash.digest("hex") };
}

export function placeSegment(tmp: string, dir: string, file: string): void {
  failpoint("before-hnsw-rename");
  renameSync(tmp, path.join(dir, file));
}

/** Segment files not in `keep`, and temp files a killed process left behind. Only the lock holder calls this. */
export function removeStaleHnswFiles(dir: string, keep: Set<string>): void {
  for (const name of readdirSync(dir)) {
    if (/^vectors-\d+(-\d+)?\.hnsw(\.tmp-\d+)?$/.test(name) && !keep.has(name)) rmSync(path.join(dir, name), { force: true });
  }
}
