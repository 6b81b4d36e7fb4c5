// The on-disk index: SQLite (papersift.db) is the source of truth for papers, chunks and vectors; the HNSW
// file is a cache derived from it. Every change is one SQLite transaction, so a reader sees the old index
// or the new one, never a mix. See docs/storage.md.
import { accessSync, constants, existsSync, mkdirSync, readFileSync, renameSync, statSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { z } from "zod";
import { chunkText } from "../chunk.ts";
import { PapersiftError } from "../errors.ts";
import { failpoint } from "../failpoint.ts";
import { ingestRunning } from "./lock.ts";
import { addPoints, createHnsw, hnswFile, readHnsw, writeHnsw, type Hnsw, type HnswDigest, type HnswParams } from "./hnsw.ts";
import { facetsOf } from "../corpus/facets.ts";
import { checkSchema, migrate } from "./schema.ts";
import { normalisedMean } from "../similarity.ts";
import { decodeFloat32, decodeVector, encodeFloat32, encodeVector } from "./vectors.ts";

export const DB_FILE = "papersift.db";

const StoreState = z.object({
  model: z.object({ id: z.string(), dims: z.number().int().positive(), fingerprint: z.string() }),
  chunking: z.object({ windowTokens: z.number().int().positive(), overlapTokens: z.number().int().nonnegative() }),
  hnsw: z.object({ M: z.number().int().positive(), efConstruction: z.number().int().positive(), efSearch: z.number().int().positive() }),
  generation: z.number().int().nonnegative(),
  lastIngest: z.string(),
});
export type StoreState = z.infer<typeof StoreState>;

const TopicRow = z.array(z.tuple([z.number().int(), z.array(z.string())]));

const HnswDigestRow = z.object({ size: z.number().int().nonnegative(), sha256: z.string() });

export interface StoredPaper {
  rowid: number;
  id: string;
  title: string;
  abstract: string;
  file: string;
  line: number;
  meta: string | null;
  contentHash: Buffer;
}

export interface NewChunk {
  ord: number;
  /** Indexed for lexical search; not stored (it is rebuilt from the paper, see chunkText). */
  text: string;
  titleChars: number;
  start: number;
  end: number;
  tokens: number;
  key: Buffer;
}

export type PaperWrite = Omit<StoredPaper, "rowid"> & {
  /** New chunks replace the paper's old ones; undefined keeps them (a metadata-only change). */
  chunks?: NewChunk[] | undefined;
};

export interface Change {
  write: PaperWrite[];
  remove: string[];
  /**
   * Given on an ingest's last step: the state it leaves (a new generation). Earlier steps of a large ingest
   * commit their papers without it, so a killed ingest keeps them; the generation moves once, at the end.
   */
  state: Omit<StoreState, "generation" | "lastIngest"> | null;
}

export interface ChunkRow {
  rowid: number;
  paper: number;
  ord: number;
  text: string;
  start: number;
  end: number;
}

const PAPER_COLUMNS = "rowid, id, title, abstract, file, line, meta, content_hash AS contentHash";
const CHUNK_COLUMNS = "c.rowid, c.paper, c.ord, c.title_chars AS titleChars, c.start, c.end, p.title, p.abstract";
type RawChunk = Omit<ChunkRow, "text"> & { titleChars: number; title: string; abstract: string };
const toChunkRow = ({ titleChars, title, abstract, ...row }: RawChunk): ChunkRow => ({
  ...row,
  text: chunkText(title, titleChars, abstract, row.start, row.end),
});

const isReadOnly = (error: unknown) => /^SQLITE_(READONLY|CANTOPEN)|^EACCES|^EPERM|^EROFS/.test((error as { code?: string }).code ?? "");

function writable(file: string): boolean {
  try {
    accessSync(file, constants.W_OK);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ENOENT";
  }
}

/** The writer's folder: created if missing; a file in its place, or no write access, is the user's to fix. */
export function prepareIndexDir(dir: string): void {
  if (existsSync(dir) && !statSync(dir).isDirectory()) {
    throw new PapersiftError("INDEX_NOT_A_FOLDER", `--index ${dir} is a file, not a folder`);
  }
  try {
    mkdirSync(dir, { recursive: true });
  } catch (error) {
    throw new PapersiftError("INDEX_READ_ONLY", `cannot create the index folder ${dir} (${(error as NodeJS.ErrnoException).code})`);
  }
  if (!writable(dir) || !writable(path.join(dir, DB_FILE))) {
    throw new PapersiftError("INDEX_READ_ONLY", `cannot write to the index folder ${dir} (permission denied)`);
  }
}

export function isCorruption(error: unknown): boolean {
  const code = (error as { code?: string }).code ?? "";
  return code.startsWith("SQLITE_CORRUPT") || code === "SQLITE_NOTADB";
}

export class Store {
  readonly dir: string;
  readonly dbFile: string;
  readonly db: Database.Database;
  /** The HNSW index loaded for a generation, with that generation's chunk count. */
  private index: { generation: number; hnsw: Hnsw; chunks: number } | null = null;
  private paperOfChunk: { generation: number; map: Map<number, number> } | null = null;
  /** Compiled statements, by SQL text: compiling one costs more than running it (a query runs dozens). */
  private statements = new Map<string, Database.Statement>();
  private readonly inTransaction: (fn: () => unknown) => unknown;

  private constructor(dir: string, db: Database.Database) {
    this.dir = dir;
    this.dbFile = path.join(dir, DB_FILE);
    this.db = db;
    this.inTransaction = db.transaction((fn: () => unknown) => fn());
  }

  /** A prepared statement, compiled once per store. */
  private sql(text: string): Database.Statement {
    let statement = this.statements.get(text);
    if (!statement) {
      statement = this.db.prepare(text);
      this.statements.set(text, statement);
    }
    return statement;
  }

  /**
   * Open an index folder. `create` (the writer) makes the folder and an empty store, and needs write access;
   * otherwise a missing store is an error, and a store in a folder this user cannot write is read from a
   * snapshot in memory (SQLite cannot open a WAL database read-only in a read-only folder).
   */
  static open(dir: string, options: { create?: boolean } = {}): Store {
    const file = path.join(dir, DB_FILE);
    if (options.create) prepareIndexDir(dir);
    else if (existsSync(dir) && !statSync(dir).isDirectory()) {
      throw new PapersiftError("INDEX_NOT_A_FOLDER", `--index ${dir} is a file, not a folder`);
    }
    if (!existsSync(file)) {
      if (!options.create) throw new PapersiftError("INDEX_MISSING", `no index at ${dir}`);
    }
    const readOnly = !options.create && !(writable(dir) && writable(file));
    let db: Database.Database | undefined;
    try {
      if (readOnly) {
        // A snapshot in memory, with the header's WAL flag cleared (a deserialized database cannot be in WAL
        // mode); migrations apply to the snapshot only.
        const bytes = readFileSync(file);
        if (bytes.length >= 20) bytes[18] = bytes[19] = 1;
        db = new Database(bytes);
      } else {
        db = new Database(file);
        db.pragma("journal_mode = WAL");
        db.pragma("synchronous = NORMAL");
        db.pragma("busy_timeout = 10000");
      }
      db.pragma("foreign_keys = ON");
      const store = new Store(dir, db);
      migrate(db, file, (from) => {
        if (from < 2) store.fillDerived();
      });
      checkSchema(db, file);
      store.state();
      return store;
    } catch (error) {
      db?.close();
      if (error instanceof PapersiftError) throw error;
      if (isCorruption(error)) {
        throw new PapersiftError("INDEX_CORRUPT", `${file} is not a readable papersift index (${(error as Error).message})`, { cause: error });
      }
      if (isReadOnly(error)) throw new PapersiftError("INDEX_READ_ONLY", `cannot write to ${file} (${(error as Error).message})`);
      throw error;
    }
  }

  close(): void {
    this.db.close();
  }

  /** Run a read under one snapshot, translating corruption into a clear error. */
  read<T>(fn: () => T): T {
    try {
      return this.inTransaction(fn) as T;
    } catch (error) {
      if (isCorruption(error)) {
        throw new PapersiftError("INDEX_CORRUPT", `${this.dbFile} is damaged (${(error as Error).message})`, { cause: error });
      }
      throw error;
    }
  }

  /** One `meta` row's value (see docs/storage.md for the keys). */
  private meta(key: string): string | undefined {
    return this.sql("SELECT value FROM meta WHERE key = ?").pluck().get(key) as string | undefined;
  }

  private setMeta(key: string, value: string): void {
    this.sql("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)").run(key, value);
  }

  state(): StoreState | null {
    const value = this.meta("state");
    if (value === undefined) return null;
    const parsed = StoreState.safeParse(JSON.parse(value));
    if (!parsed.success) throw new PapersiftError("INDEX_INCOMPATIBLE", `${this.dbFile} has a state row this papersift does not understand`);
    return parsed.data;
  }

  papers(): StoredPaper[] {
    return this.sql(`SELECT ${PAPER_COLUMNS} FROM papers ORDER BY rowid`)
      .all() as StoredPaper[];
  }

  /** What ingest compares with the corpus, paper by paper, without the text: read lazily, in rowid order. */
  paperIdentities(): Iterable<Pick<StoredPaper, "id" | "file" | "line" | "meta" | "contentHash">> {
    return this.sql("SELECT id, file, line, meta, content_hash AS contentHash FROM papers ORDER BY rowid").iterate() as Iterable<
      Pick<StoredPaper, "id" | "file" | "line" | "meta" | "contentHash">
    >;
  }

  paperById(id: string): StoredPaper | undefined {
    return this.sql(`SELECT ${PAPER_COLUMNS} FROM papers WHERE id = ?`).get(id) as StoredPaper | undefined;
  }

  /** Which of these content keys have no vector yet. */
  missingVectors(keys: Buffer[]): Buffer[] {
    const has = this.sql("SELECT 1 FROM vectors WHERE key = ?").pluck();
    return keys.filter((key) => has.get(key) === undefined);
  }

  /**
   * Store finished vectors in their own small transaction. They are a content-addressed cache that no query
   * sees until a change references them, so an ingest killed later still keeps this work.
   */
  putVectors(items: { key: Buffer; vector: Float32Array }[]): void {
    const insert = this.sql("INSERT OR IGNORE INTO vectors (key, data) VALUES (?, ?)");
    this.db.transaction(() => {
      for (const { key, vector } of items) insert.run(key, encodeVector(vector));
    })();
  }

  /**
   * Apply one step of an ingest as a single transaction; returns the HNSW edits it implies and, on the last
   * step, the new generation.
   */
  apply(change: Change): { generation: number | null; removedLabels: number[]; addedLabels: number[] } {
    const removedLabels: number[] = [];
    const addedLabels: number[] = [];
    const db = this.db;
    const chunkLabels = db.prepare("SELECT rowid FROM chunks WHERE paper = ?").pluck();
    const deleteFts = db.prepare("DELETE FROM chunks_fts WHERE rowid IN (SELECT rowid FROM chunks WHERE paper = ?)");
    const deleteChunkRows = db.prepare("DELETE FROM chunks WHERE paper = ?");
    const deletePaper = db.prepare("DELETE FROM papers WHERE rowid = ?");
    const vectorRow = db.prepare("SELECT rowid FROM vectors WHERE key = ?").pluck();
    const insertFts = db.prepare("INSERT INTO chunks_fts (rowid, text) VALUES (?, ?)");
    const paperRow = db.prepare("SELECT rowid FROM papers WHERE id = ?").pluck();
    const insertPaper = db.prepare(
      "INSERT INTO papers (id, title, abstract, file, line, meta, content_hash) VALUES (@id, @title, @abstract, @file, @line, @meta, @contentHash)",
    );
    const updatePaper = db.prepare(
      "UPDATE papers SET title = @title, abstract = @abstract, file = @file, line = @line, meta = @meta, content_hash = @contentHash WHERE rowid = @rowid",
    );
    const insertChunk = db.prepare(
      "INSERT INTO chunks (paper, ord, title_chars, start, end, tokens, vector) VALUES (?, ?, ?, ?, ?, ?, ?)",
    );
    const deletePaperVector = db.prepare("DELETE FROM paper_vectors WHERE paper = ?");
    const dropChunks = (paper: number) => {
      removedLabels.push(...(chunkLabels.all(paper) as number[]));
      deleteFts.run(paper);
      deleteChunkRows.run(paper);
      deletePaperVector.run(paper);
    };
    const dropPaper = (rowid: number) => {
      dropChunks(rowid);
      deletePaper.run(rowid);
    };

    const insertPaperVector = this.sql("INSERT INTO paper_vectors (paper, data) VALUES (?, ?)");

    const generation = db.transaction(() => {
      for (const id of change.remove) {
        const rowid = paperRow.get(id) as number | undefined;
        if (rowid !== undefined) dropPaper(rowid);
      }
      for (const paper of change.write) {
        const { chunks, ...fields } = paper;
        let rowid = paperRow.get(paper.id) as number | undefined;
        if (rowid === undefined) {
          rowid = Number(insertPaper.run(fields).lastInsertRowid);
        } else {
          updatePaper.run({ ...fields, rowid });
        }
        this.writeFacets(rowid, fields.meta);
        if (!chunks) continue;
        dropChunks(rowid);
        for (const c of chunks) {
          const vector = vectorRow.get(c.key) as number;
          const label = Number(insertChunk.run(rowid, c.ord, c.titleChars, c.start, c.end, c.tokens, vector).lastInsertRowid);
          insertFts.run(label, c.text);
          addedLabels.push(label);
        }
        insertPaperVector.run(rowid, encodeFloat32(this.meanOfChunks(rowid)));
      }
      failpoint("inside-transaction");
      if (!change.state) return null;
      // Vectors no chunk uses any more (old model, edited text) are dropped at the end of the ingest that
      // orphaned them: not earlier, as a later step may still reuse one (a paper that moved to a new id).
      db.prepare("DELETE FROM vectors WHERE rowid NOT IN (SELECT vector FROM chunks)").run();
      const generation = (this.state()?.generation ?? 0) + 1;
      const state: StoreState = { ...change.state, generation, lastIngest: new Date().toISOString() };
      this.setMeta("state", JSON.stringify(state));
      return generation;
    })();
    return { generation, removedLabels, addedLabels };
  }

  counts(): { papers: number; chunks: number; vectors: number } {
    return this.read(() => ({
      papers: this.sql("SELECT count(*) FROM papers").pluck().get() as number,
      chunks: this.sql("SELECT count(*) FROM chunks").pluck().get() as number,
      vectors: this.sql("SELECT count(*) FROM vectors").pluck().get() as number,
    }));
  }

  chunksByLabel(labels: number[]): Map<number, ChunkRow> {
    const get = this.sql(`SELECT ${CHUNK_COLUMNS} FROM chunks c JOIN papers p ON p.rowid = c.paper WHERE c.rowid = ?`);
    const rows = new Map<number, ChunkRow>();
    for (const label of labels) {
      const row = get.get(label) as RawChunk | undefined;
      if (row) rows.set(label, toChunkRow(row));
    }
    return rows;
  }

  /** id and title of every paper, in ingest order. */
  titles(): { rowid: number; id: string; title: string }[] {
    return this.sql("SELECT rowid, id, title FROM papers ORDER BY rowid").all() as { rowid: number; id: string; title: string }[];
  }

  /** Every paper's abstract by rowid, in one query (cluster labels read them all). */
  abstracts(): Map<number, string> {
    return new Map(this.sql("SELECT rowid, abstract FROM papers").raw().all() as [number, string][]);
  }

  paperByRowid(rowid: number): StoredPaper {
    return this.sql(`SELECT ${PAPER_COLUMNS} FROM papers WHERE rowid = ?`)
      .get(rowid) as StoredPaper;
  }

  /** BM25 over chunk text (FTS5); score is -bm25, so higher is better. `papers` limits it to those papers. */
  lexical(match: string, limit: number, papers?: Set<number> | null): { chunk: ChunkRow; score: number }[] {
    const hits = (
      papers
        ? this.sql(
              `SELECT f.rowid AS label, -bm25(chunks_fts) AS score FROM chunks_fts f JOIN chunks c ON c.rowid = f.rowid
               WHERE chunks_fts MATCH ? AND c.paper IN (SELECT value FROM json_each(?)) ORDER BY bm25(chunks_fts) LIMIT ?`,
            )
            .all(match, JSON.stringify([...papers]), limit)
        : this.sql("SELECT rowid AS label, -bm25(chunks_fts) AS score FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY bm25(chunks_fts) LIMIT ?")
            .all(match, limit)
    ) as { label: number; score: number }[];
    const chunks = this.chunksByLabel(hits.map((h) => h.label));
    return hits.flatMap((h) => {
      const chunk = chunks.get(h.label);
      return chunk ? [{ chunk, score: h.score }] : [];
    });
  }

  /** A paper's chunks with their vectors, in order. */
  paperChunks(paperRowid: number): (ChunkRow & { vector: Float32Array })[] {
    const rows = this.sql(
        `SELECT ${CHUNK_COLUMNS}, v.data FROM chunks c JOIN papers p ON p.rowid = c.paper JOIN vectors v ON v.rowid = c.vector
         WHERE c.paper = ? ORDER BY c.ord`,
      )
      .all(paperRowid) as (RawChunk & { data: Buffer })[];
    return rows.map(({ data, ...chunk }) => ({ ...toChunkRow(chunk), vector: decodeVector(data) }));
  }

  /**
   * A paper's own vector (the normalised mean of its chunks' vectors), as stored at ingest; every paper has
   * one, since ingest writes it with the chunks and migration 2 fills it in for older stores.
   */
  paperVector(paperRowid: number): Float32Array {
    return decodeFloat32(this.sql("SELECT data FROM paper_vectors WHERE paper = ?").pluck().get(paperRowid) as Buffer);
  }

  /** Every paper's own vector, by paper rowid, in rowid order. */
  paperVectors(): Map<number, Float32Array> {
    const vectors = new Map<number, Float32Array>();
    const rows = this.sql("SELECT paper, data FROM paper_vectors ORDER BY paper").raw().iterate() as Iterable<[number, Buffer]>;
    for (const [paper, data] of rows) vectors.set(paper, decodeFloat32(data));
    return vectors;
  }

  private meanOfChunks(paperRowid: number): Float32Array {
    const vectors = this.paperChunks(paperRowid).map((c) => c.vector);
    return normalisedMean(vectors, vectors[0]?.length ?? 0);
  }

  /** Fill what schema 2 derives from older data: paper vectors, and the filter columns from `meta`. */
  private fillDerived(): void {
    this.fillPaperVectors();
    const rows = this.sql("SELECT rowid, meta FROM papers WHERE meta IS NOT NULL").all() as { rowid: number; meta: string }[];
    for (const row of rows) this.writeFacets(row.rowid, row.meta);
  }

  /** The filter columns and categories of one paper, from its metadata JSON. */
  private writeFacets(rowid: number, meta: string | null): void {
    const facets = facetsOf(meta ? (JSON.parse(meta) as Record<string, unknown>) : undefined);
    this.sql("UPDATE papers SET date = ?, authors_key = ? WHERE rowid = ?").run(facets.date, facets.authorsKey, rowid);
    this.sql("DELETE FROM paper_categories WHERE paper = ?").run(rowid);
    const insert = this.sql("INSERT INTO paper_categories (paper, category) VALUES (?, ?)");
    for (const category of facets.categories) insert.run(rowid, category);
  }

  /** Store the paper vector of every paper that has none (new or re-chunked papers; older indexes). */
  private fillPaperVectors(): void {
    const missing = this.sql("SELECT rowid FROM papers WHERE rowid NOT IN (SELECT paper FROM paper_vectors)").pluck().all() as number[];
    const insert = this.sql("INSERT INTO paper_vectors (paper, data) VALUES (?, ?)");
    for (const rowid of missing) insert.run(rowid, encodeFloat32(this.meanOfChunks(rowid)));
  }

  /** Chunks per second this model embedded at the last ingest that embedded any, for the next estimate. */
  embedRate(fingerprint: string): number | null {
    const value = this.meta(`embed-rate:${fingerprint}`);
    return value === undefined ? null : Number(value) || null;
  }

  recordEmbedRate(fingerprint: string, chunksPerSecond: number): void {
    this.setMeta(`embed-rate:${fingerprint}`, String(Math.round(chunksPerSecond * 10) / 10));
  }

  /**
   * The k-NN paper graph of this generation, as paper rowids (k per paper in rowid order, -1 where a paper
   * has fewer), if a command computed it since the last ingest.
   */
  cachedNeighbours(k: number): Int32Array | null {
    const value = this.meta(`knn:${this.state()?.generation ?? 0}:${k}`);
    if (value === undefined) return null;
    const bytes = Buffer.from(value, "base64");
    if (bytes.length % 4 !== 0) return null;
    return new Int32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
  }

  /** Best effort, like the topics: a read-only index computes the graph again next time. */
  recordNeighbours(k: number, rowids: Int32Array): void {
    const generation = this.state()?.generation ?? 0;
    try {
      this.db.transaction(() => {
        this.sql("DELETE FROM meta WHERE key LIKE 'knn:%' AND key NOT LIKE ?").run(`knn:${generation}:%`);
        this.setMeta(`knn:${generation}:${k}`, Buffer.from(rowids.buffer, rowids.byteOffset, rowids.byteLength).toString("base64"));
      })();
    } catch {
      // Read-only, or a writer holds the database: computed again next time.
    }
  }

  /** The topics a `clusters` run with these parameters found last time: topic id → member paper ids. */
  topicMembers(key: string): Map<number, string[]> {
    const row = this.meta(key);
    const parsed = row === undefined ? null : TopicRow.safeParse(JSON.parse(row));
    return new Map(parsed?.success ? parsed.data.map(([id, members]) => [id, members] as [number, string[]]) : []);
  }

  /** Remember this run's topics, so the next run can keep their ids. Best effort: a read-only index skips it. */
  recordTopicMembers(key: string, topics: Map<number, string[]>): void {
    try {
      this.setMeta(key, JSON.stringify([...topics]));
    } catch {
      // Read-only: ids are still matched to the last recorded run.
    }
  }

  /** Categories by number of papers, and the date range: what a filter can select. */
  facetSummary(): { categories: { category: string; papers: number }[]; dates: { from: string | null; to: string | null; papers: number } } {
    return this.read(() => ({
      categories: this.sql("SELECT category, count(*) AS papers FROM paper_categories GROUP BY category ORDER BY papers DESC, category")
        .all() as { category: string; papers: number }[],
      dates: this.sql("SELECT min(date) AS \"from\", max(date) AS \"to\", count(date) AS papers FROM papers").get() as {
        from: string | null;
        to: string | null;
        papers: number;
      },
    }));
  }

  /** The paper of every chunk label (kept for the generation it was read in). */
  chunkPapers(): Map<number, number> {
    const generation = this.state()?.generation ?? 0;
    if (this.paperOfChunk?.generation !== generation) {
      const rows = this.sql("SELECT rowid, paper FROM chunks").raw().iterate() as Iterable<[number, number]>;
      this.paperOfChunk = { generation, map: new Map(rows) };
    }
    return this.paperOfChunk.map;
  }

  /** Chunk labels and vectors, in label order (the order an HNSW rebuild adds them in). */
  *chunkVectors(labels?: number[]): Generator<{ label: number; vector: Float32Array }> {
    if (labels) {
      const one = this.sql("SELECT v.data FROM chunks c JOIN vectors v ON v.rowid = c.vector WHERE c.rowid = ?").pluck();
      for (const label of labels) yield { label, vector: decodeVector(one.get(label) as Buffer) };
      return;
    }
    const all = this.sql("SELECT c.rowid AS label, v.data FROM chunks c JOIN vectors v ON v.rowid = c.vector ORDER BY c.rowid");
    for (const row of all.iterate() as Iterable<{ label: number; data: Buffer }>) {
      yield { label: row.label, vector: decodeVector(row.data) };
    }
  }

  /**
   * The HNSW index of the current generation: read from its file, or rebuilt from the vectors in SQLite
   * (no model inference) when the file is missing, unreadable or does not match the store.
   */
  hnsw(): { hnsw: Hnsw; chunks: number } {
    return this.read(() => {
      const state = this.state();
      if (!state) throw new PapersiftError("INDEX_MISSING", `the index at ${this.dir} is empty`);
      if (this.index?.generation === state.generation) return this.index;
      const chunks = this.sql("SELECT count(*) FROM chunks").pluck().get() as number;
      let hnsw = readHnsw(hnswFile(this.dir, state.generation), state.model.dims, state.hnsw, this.hnswDigest(state.generation));
      // A large ingest commits papers in steps and updates the HNSW file at its end. While it runs, the file
      // lacks the chunks written so far: readers use it as it is (those papers are found by their words until
      // the ingest ends) instead of rebuilding after every step. A killed ingest leaves no live lock: rebuild.
      if (!hnsw || (!this.covers(hnsw, chunks) && !ingestRunning(this.dir))) {
        hnsw = this.buildHnsw(state.model.dims, state.hnsw, chunks);
        this.persistHnsw(hnsw, state.generation, chunks);
      }
      // Searches ask for at most as many chunks as the file holds (fewer than the store's while an ingest runs).
      this.index = { generation: state.generation, hnsw, chunks: Math.min(chunks, hnsw.getCurrentCount()) };
      return this.index;
    });
  }

  /**
   * Labels of the k chunks nearest to a vector (fewer if the index holds fewer), nearest first. `ef` lowers
   * the search breadth for bulk work whose candidates are re-scored exactly (clusters).
   */
  nearestChunks(vector: Float32Array, k: number, options: { ef?: number; papers?: Set<number> | null } = {}): number[] {
    const { hnsw, chunks } = this.hnsw();
    const n = Math.min(k, chunks);
    if (n <= 0) return [];
    // With a filter, hnswlib keeps searching until it has n chunks of the allowed papers.
    const allowed = options.papers;
    const paperOf = allowed ? this.chunkPapers() : null;
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
    const rows = this.sql("SELECT rowid FROM chunks").pluck().iterate() as Iterable<number>;
    for (const rowid of rows) if (!labels.has(rowid)) return false;
    return true;
  }

  buildHnsw(dims: number, params: HnswParams, capacity: number): Hnsw {
    const hnsw = createHnsw(dims, params, capacity);
    addPoints(hnsw, this.chunkVectors());
    return hnsw;
  }

  /** Is the current generation's HNSW file on disk, at the size recorded when it was written? */
  hnswFilePresent(): boolean {
    const generation = this.state()?.generation;
    const digest = generation === undefined ? null : this.hnswDigest(generation);
    try {
      return digest !== null && statSync(hnswFile(this.dir, generation!)).size === digest.size;
    } catch {
      return false;
    }
  }

  /** Size and sha256 of the HNSW file written for a generation, as recorded by whoever wrote it. */
  hnswDigest(generation: number): HnswDigest | null {
    const row = this.meta(`hnsw-${generation}`);
    const parsed = row === undefined ? null : HnswDigestRow.safeParse(JSON.parse(row));
    return parsed?.success ? parsed.data : null;
  }

  /**
   * Write the HNSW file for a generation and record its digest. The writer must succeed (and drops other
   * generations' files and digests); for a reader it is best effort (in a read-only folder it just rebuilds
   * again next time).
   */
  persistHnsw(hnsw: Hnsw, generation: number, chunks: number, options: { writer?: boolean } = {}): void {
    try {
      const digest = writeHnsw(hnsw, this.dir, generation, options.writer === true);
      this.db.transaction(() => {
        this.setMeta(`hnsw-${generation}`, JSON.stringify(digest));
        if (options.writer) this.sql("DELETE FROM meta WHERE key LIKE 'hnsw-%' AND key <> ?").run(`hnsw-${generation}`);
      })();
    } catch (error) {
      if (options.writer) throw error;
    }
    this.index = { generation, hnsw, chunks };
  }

  /**
   * Every vector that can still be read from a damaged store, row by row: a bad page costs the rows on it.
   * Keys embed the model fingerprint, so vectors of another model are carried along but never matched.
   */
  static salvageVectors(dir: string): { key: Buffer; vector: Float32Array }[] {
    const found: { key: Buffer; vector: Float32Array }[] = [];
    let db: Database.Database | undefined;
    try {
      db = new Database(path.join(dir, DB_FILE), { readonly: true, fileMustExist: true });
      const max = (db.prepare("SELECT max(rowid) FROM vectors").pluck().get() as number | null) ?? 0;
      const row = db.prepare("SELECT key, data FROM vectors WHERE rowid = ?");
      for (let rowid = 1; rowid <= max; rowid++) {
        try {
          const r = row.get(rowid) as { key: Buffer; data: Buffer } | undefined;
          if (r && r.key.length === 16 && r.data.length > 4) found.push({ key: r.key, vector: decodeVector(r.data) });
        } catch {
          // A damaged page: skip the row.
        }
      }
    } catch {
      // Not readable at all (not a database, or the vectors table is gone): nothing to salvage.
    } finally {
      db?.close();
    }
    return found;
  }

  /** Move the store's files aside as papersift.db.damaged-<time>[-wal|-shm]; returns the new name. */
  static moveAside(dir: string): string {
    const aside = `${DB_FILE}.damaged-${new Date().toISOString().replace(/[:.]/g, "-")}`;
    for (const suffix of ["", "-wal", "-shm"]) {
      if (existsSync(path.join(dir, DB_FILE + suffix))) renameSync(path.join(dir, DB_FILE + suffix), path.join(dir, aside + suffix));
    }
    return path.join(dir, aside);
  }
}
