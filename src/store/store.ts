// The on-disk index: SQLite (papersift.db) is the source of truth for papers, chunks and vectors; the HNSW
// file is a cache derived from it. Every change is one SQLite transaction, so a reader sees the old index
// or the new one, never a mix. Writes are in write.ts, the HNSW cache in hnsw-cache.ts. See docs/storage.md.
import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { z } from "zod";
import { chunkText } from "../chunk.ts";
import { PapersiftError } from "../errors.ts";
import { EmbedderSource } from "../model.ts";
import { DB_FILE, isCorruption, isReadOnly, parseJson, prepareIndexDir, writable } from "./folder.ts";
import { HnswCache } from "./hnsw-cache.ts";
import { checkSchema, migrate } from "./schema.ts";
import { decodeFloat32, decodeVector } from "./vectors.ts";
import { fillDerived } from "./write.ts";

// Where they were before folder.ts held them.
export { DB_FILE, isCorruption, prepareIndexDir } from "./folder.ts";

const StoreState = z.object({
  model: z.object({ id: z.string(), dims: z.number().int().positive(), fingerprint: z.string() }),
  /** Absent when the vendored model embedded the vectors. */
  embedder: EmbedderSource.optional(),
  chunking: z.object({ windowTokens: z.number().int().positive(), overlapTokens: z.number().int().nonnegative() }),
  hnsw: z.object({ M: z.number().int().positive(), efConstruction: z.number().int().positive(), efSearch: z.number().int().positive() }),
  /**
   * Set while a batched ingest moves the index to another model, endpoint or chunking (targetOf): its
   * committed batches hold chunks of that target until its last batch. An ingest to any other target must
   * then re-check every paper (ingest/plan.ts staleReason), or the index would stay mixed.
   */
  moving: z.string().optional(),
  generation: z.number().int().nonnegative(),
  lastIngest: z.string(),
});
export type StoreState = z.infer<typeof StoreState>;

const TopicRow = z.array(z.tuple([z.number().int(), z.array(z.string())]));

export interface StoredPaper {
  rowid: number;
  id: string;
  title: string;
  abstract: string;
  file: string;
  line: number;
  meta: string | null;
  /** The normalised metadata as JSON (Bibliographic), or null for a paper without any. */
  bib: string | null;
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
   * The state this step leaves; every step moves the generation by one. A large ingest's earlier steps keep
   * the model and chunking of the index they started from (a killed ingest keeps its batches, and the next
   * one still sees what it must re-embed); the first steps of a new index record the ones in use.
   */
  state: Omit<StoreState, "generation" | "lastIngest">;
  /** The ingest's last step: it also drops the vectors no chunk uses any more. */
  last: boolean;
}

export interface ChunkRow {
  rowid: number;
  paper: number;
  ord: number;
  text: string;
  start: number;
  end: number;
}

const PAPER_COLUMNS = "rowid, id, title, abstract, file, line, meta, bib, content_hash AS contentHash";
const CHUNK_COLUMNS = "c.rowid, c.paper, c.ord, c.title_chars AS titleChars, c.start, c.end, p.title, p.abstract";
type RawChunk = Omit<ChunkRow, "text"> & { titleChars: number; title: string; abstract: string };
const toChunkRow = ({ titleChars, title, abstract, ...row }: RawChunk): ChunkRow => ({
  ...row,
  text: chunkText(title, titleChars, abstract, row.start, row.end),
});

export class Store {
  readonly dir: string;
  readonly dbFile: string;
  readonly db: Database.Database;
  /** The HNSW index of the current generation (loaded or rebuilt on first use). */
  readonly hnsw: HnswCache = new HnswCache(this);
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

  /** A prepared statement, compiled once per store (for the modules of store/). */
  sql(text: string): Database.Statement {
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
      migrate(db, file, (from) => fillDerived(store, from));
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
  meta(key: string): string | undefined {
    return this.sql("SELECT value FROM meta WHERE key = ?").pluck().get(key) as string | undefined;
  }

  setMeta(key: string, value: string): void {
    this.sql("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)").run(key, value);
  }

  state(): StoreState | null {
    const value = this.meta("state");
    if (value === undefined) return null;
    const json = parseJson(value);
    if (json === undefined) throw new PapersiftError("INDEX_CORRUPT", `${this.dbFile} has a damaged state row (not JSON)`);
    const parsed = StoreState.safeParse(json);
    if (!parsed.success) throw new PapersiftError("INDEX_INCOMPATIBLE", `${this.dbFile} has a state row this papersift does not understand`);
    return parsed.data;
  }

  papers(): StoredPaper[] {
    return this.sql(`SELECT ${PAPER_COLUMNS} FROM papers ORDER BY rowid`)
      .all() as StoredPaper[];
  }

  /** What ingest compares with the corpus, paper by paper, without the text: read lazily, in rowid order. */
  paperIdentities(): Iterable<Pick<StoredPaper, "id" | "file" | "line" | "meta" | "bib" | "contentHash">> {
    return this.sql("SELECT id, file, line, meta, bib, content_hash AS contentHash FROM papers ORDER BY rowid").iterate() as Iterable<
      Pick<StoredPaper, "id" | "file" | "line" | "meta" | "bib" | "contentHash">
    >;
  }

  paperById(id: string): StoredPaper | undefined {
    return this.sql(`SELECT ${PAPER_COLUMNS} FROM papers WHERE id = ?`).get(id) as StoredPaper | undefined;
  }

  counts(): { papers: number; chunks: number; vectors: number } {
    return this.read(() => ({
      papers: this.sql("SELECT count(*) FROM papers").pluck().get() as number,
      chunks: this.sql("SELECT count(*) FROM chunks").pluck().get() as number,
      vectors: this.sql("SELECT count(*) FROM vectors").pluck().get() as number,
    }));
  }

  /** How many chunks these papers (by id) have. */
  chunksOf(ids: string[]): number {
    if (!ids.length) return 0;
    return this.sql("SELECT count(*) FROM chunks WHERE paper IN (SELECT rowid FROM papers WHERE id IN (SELECT value FROM json_each(?)))")
      .pluck()
      .get(JSON.stringify(ids)) as number;
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
    const parsed = row === undefined ? null : TopicRow.safeParse(parseJson(row));
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
}
