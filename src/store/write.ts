// What an ingest writes into the store: vectors (a content-addressed cache, committed on their own), then
// each batch of papers with their chunks, FTS rows, facets and paper vectors as one transaction. Readers
// never see half a batch. See docs/storage.md.
import { chunkText } from "../chunk.ts";
import { fromJsonl, parseBib } from "../corpus/bibliographic.ts";
import { facetsOf } from "../corpus/facets.ts";
import { failpoint } from "../failpoint.ts";
import { normalisedMean } from "../similarity.ts";
import { encodeTermCounts, termCounts } from "../term-vectors.ts";
import type { Change, Store, StoreState } from "./store.ts";
import { decodeVector, encodeFloat32, encodeVector } from "./vectors.ts";

/** Which of these content keys have no vector yet. */
export function missingVectors(store: Store, keys: Buffer[]): Buffer[] {
  const has = store.sql("SELECT 1 FROM vectors WHERE key = ?").pluck();
  return keys.filter((key) => has.get(key) === undefined);
}

/**
 * Store finished vectors in their own small transaction. They are a content-addressed cache that no query
 * sees until a change references them, so an ingest killed later still keeps this work.
 */
export function putVectors(store: Store, items: { key: Buffer; vector: Float32Array }[]): void {
  const insert = store.sql("INSERT OR IGNORE INTO vectors (key, data) VALUES (?, ?)");
  store.db.transaction(() => {
    for (const { key, vector } of items) insert.run(key, encodeVector(vector));
  })();
}

/**
 * Apply one step of an ingest as a single transaction that moves the generation by one; returns the new
 * generation, the HNSW edits it implies and the ids of the papers it removed.
 */
export function applyChange(
  store: Store,
  change: Change,
): { generation: number; removedLabels: number[]; addedLabels: number[]; removed: string[] } {
  const removed: string[] = [];
  const removedLabels: number[] = [];
  const addedLabels: number[] = [];
  const sql = (text: string) => store.sql(text);
  // The FTS row of a chunk is deleted with the text it was indexed with (the paper's title and abstract as
  // they still are in its row), so FTS5 lowers its row count and token total: BM25 stays a fresh index's.
  const oldChunks = sql(`SELECT c.rowid, c.title_chars AS titleChars, c.start, c.end, p.title, p.abstract FROM chunks c JOIN papers p ON p.rowid = c.paper WHERE c.paper = ?`);
  const deleteFts = sql("INSERT INTO chunks_fts (chunks_fts, rowid, text) VALUES ('delete', ?, ?)");
  const deleteChunkRows = sql("DELETE FROM chunks WHERE paper = ?");
  const deletePaper = sql("DELETE FROM papers WHERE rowid = ?");
  const vectorRow = sql("SELECT rowid, data FROM vectors WHERE key = ?");
  const insertFts = sql("INSERT INTO chunks_fts (rowid, text) VALUES (?, ?)");
  const paperRow = sql("SELECT rowid FROM papers WHERE id = ?").pluck();
  const insertPaper = sql(
    "INSERT INTO papers (id, title, abstract, file, line, meta, bib, content_hash) VALUES (@id, @title, @abstract, @file, @line, @meta, @bib, @contentHash)",
  );
  const updatePaper = sql(
    "UPDATE papers SET title = @title, abstract = @abstract, file = @file, line = @line, meta = @meta, bib = @bib, content_hash = @contentHash WHERE rowid = @rowid",
  );
  const insertChunk = sql("INSERT INTO chunks (paper, ord, title_chars, start, end, tokens, vector) VALUES (?, ?, ?, ?, ?, ?, ?)");
  const deletePaperVector = sql("DELETE FROM paper_vectors WHERE paper = ?");
  const insertPaperVector = sql("INSERT INTO paper_vectors (paper, data) VALUES (?, ?)");
  const writeTerms = sql("INSERT OR REPLACE INTO paper_terms (paper, data) VALUES (?, ?)");
  const dropChunks = (paper: number) => {
    for (const c of oldChunks.all(paper) as OldChunk[]) {
      removedLabels.push(c.rowid);
      deleteFts.run(c.rowid, chunkText(c.title, c.titleChars, c.abstract, c.start, c.end));
    }
    deleteChunkRows.run(paper);
    deletePaperVector.run(paper);
  };

  const generation = store.db.transaction(() => {
    for (const id of change.remove) {
      const rowid = paperRow.get(id) as number | undefined;
      if (rowid === undefined) continue;
      dropChunks(rowid);
      deletePaper.run(rowid);
      removed.push(id);
    }
    for (const paper of change.write) {
      const { chunks, ...fields } = paper;
      let rowid = paperRow.get(paper.id) as number | undefined;
      // A new paper has no chunks, categories or vector to drop: most of a first ingest's papers. An edited
      // one's old chunks go first, while its row still holds the text they were indexed with.
      const isNew = rowid === undefined;
      if (!isNew && chunks) dropChunks(rowid!);
      if (isNew) {
        rowid = Number(insertPaper.run(fields).lastInsertRowid);
      } else {
        updatePaper.run({ ...fields, rowid });
      }
      writeFacets(store, rowid!, fields.bib, isNew);
      if (!chunks) continue;
      // The paper's vector is the mean of its chunks' vectors in chunk order, decoded as readers decode them.
      const vectors: Float32Array[] = [];
      for (const c of chunks) {
        const vector = vectorRow.get(c.key) as { rowid: number; data: Buffer };
        const label = Number(insertChunk.run(rowid, c.ord, c.titleChars, c.start, c.end, c.tokens, vector.rowid).lastInsertRowid);
        insertFts.run(label, c.text);
        addedLabels.push(label);
        vectors.push(decodeVector(vector.data));
      }
      insertPaperVector.run(rowid, encodeFloat32(normalisedMean(vectors, vectors[0]?.length ?? 0)));
      // Chunks are rewritten exactly when the title or abstract changed, and so are the terms.
      writeTerms.run(rowid, encodeTermCounts(termCounts(fields.title, fields.abstract)));
    }
    failpoint("inside-transaction");
    // Vectors no chunk uses any more (old model, edited text) are dropped at the end of the ingest that
    // orphaned them: not earlier, as a later step may still reuse one (a paper that moved to a new id).
    if (change.last) sql("DELETE FROM vectors WHERE rowid NOT IN (SELECT vector FROM chunks)").run();
    // Every committed step is a generation, so long-running readers and their caches notice it (issue 17).
    const generation = (store.state()?.generation ?? 0) + 1;
    const state: StoreState = { ...change.state, generation, lastIngest: new Date().toISOString() };
    store.setMeta("state", JSON.stringify(state));
    return generation;
  })();
  return { generation, removedLabels, addedLabels, removed };
}

interface OldChunk {
  rowid: number;
  titleChars: number;
  start: number;
  end: number;
  title: string;
  abstract: string;
}

/** Fill the full-text index from the chunks (migration 4 recreated it). */
export function fillFts(store: Store): void {
  const insert = store.sql("INSERT INTO chunks_fts (rowid, text) VALUES (?, ?)");
  // In pages: a statement cannot write while another one is being iterated.
  const page = store.sql(
    `SELECT c.rowid, c.title_chars AS titleChars, c.start, c.end, p.title, p.abstract FROM chunks c JOIN papers p ON p.rowid = c.paper
     WHERE c.rowid > ? ORDER BY c.rowid LIMIT 1000`,
  );
  for (let after = 0, rows = page.all(after) as OldChunk[]; rows.length; after = rows.at(-1)!.rowid, rows = page.all(after) as OldChunk[]) {
    for (const c of rows) insert.run(c.rowid, chunkText(c.title, c.titleChars, c.abstract, c.start, c.end));
  }
}

function meanOfChunks(store: Store, paperRowid: number): Float32Array {
  const vectors = store.paperChunks(paperRowid).map((c) => c.vector);
  return normalisedMean(vectors, vectors[0]?.length ?? 0);
}

/**
 * Fill what newer schemas derive from an older store's data: paper vectors (2), the normalised metadata
 * and filter columns (3), the term counts (4), the full-text index (5). A store before schema 3 holds only
 * JSONL, .txt and .md papers, whose metadata is derived from `meta` exactly as their reader derives it.
 */
export function fillDerived(store: Store, from: number): void {
  if (from < 2) {
    const missing = store.sql("SELECT rowid FROM papers WHERE rowid NOT IN (SELECT paper FROM paper_vectors)").pluck().all() as number[];
    const insert = store.sql("INSERT INTO paper_vectors (paper, data) VALUES (?, ?)");
    for (const rowid of missing) insert.run(rowid, encodeFloat32(meanOfChunks(store, rowid)));
  }
  if (from < 3) {
    const rows = store.sql("SELECT rowid, id, meta FROM papers WHERE meta IS NOT NULL").all() as { rowid: number; id: string; meta: string }[];
    const setBib = store.sql("UPDATE papers SET bib = ? WHERE rowid = ?");
    for (const row of rows) {
      const bib = JSON.stringify(fromJsonl(JSON.parse(row.meta) as Record<string, unknown>, row.id));
      setBib.run(bib, row.rowid);
      writeFacets(store, row.rowid, bib);
    }
  }
  if (from < 4) {
    const insert = store.sql("INSERT OR REPLACE INTO paper_terms (paper, data) VALUES (?, ?)");
    const rows = store.sql("SELECT rowid, title, abstract FROM papers").all() as { rowid: number; title: string; abstract: string }[];
    for (const row of rows) insert.run(row.rowid, encodeTermCounts(termCounts(row.title, row.abstract)));
  }
  if (from < 5) fillFts(store);
}

/**
 * The filter and identifier columns and the categories of one paper, from its normalised metadata JSON
 * (`isNew`: a paper just inserted, which has no categories to drop).
 */
function writeFacets(store: Store, rowid: number, json: string | null, isNew = false): void {
  const bib = parseBib(json);
  const facets = facetsOf(bib);
  store
    .sql("UPDATE papers SET date = ?, authors_key = ?, doi = ?, arxiv = ?, pmid = ? WHERE rowid = ?")
    .run(facets.date, facets.authorsKey, bib?.doi ?? null, bib?.arxiv ?? null, bib?.pmid ?? null, rowid);
  if (!isNew) store.sql("DELETE FROM paper_categories WHERE paper = ?").run(rowid);
  const insert = store.sql("INSERT INTO paper_categories (paper, category) VALUES (?, ?)");
  for (const category of facets.categories) insert.run(rowid, category);
}
