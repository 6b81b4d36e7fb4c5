// Numbered, append-only migrations; PRAGMA user_version says how many have been applied.
// docs/storage.md describes the result.
import type Database from "better-sqlite3";
import { PapersiftError } from "../errors.ts";

export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  CREATE TABLE papers (
    rowid INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    abstract TEXT NOT NULL,
    file TEXT NOT NULL,
    line INTEGER NOT NULL,
    meta TEXT,
    content_hash BLOB NOT NULL
  );
  -- Content-addressed: key = sha256(model fingerprint, chunk text)[0..16]; data = int8 vector + scale
  -- (see vectors.ts). A rowid table: large rows in a WITHOUT ROWID table spill into overflow pages.
  CREATE TABLE vectors (rowid INTEGER PRIMARY KEY, key BLOB NOT NULL UNIQUE, data BLOB NOT NULL);
  -- A chunk's text is title[0:title_chars] + newline + abstract[start:end] of its paper (UTF-16 offsets),
  -- so abstracts are stored once. rowid is the chunk's HNSW label; AUTOINCREMENT never reuses one.
  CREATE TABLE chunks (
    rowid INTEGER PRIMARY KEY AUTOINCREMENT,
    paper INTEGER NOT NULL REFERENCES papers(rowid),
    ord INTEGER NOT NULL,
    title_chars INTEGER NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    tokens INTEGER NOT NULL,
    vector INTEGER NOT NULL REFERENCES vectors(rowid),
    UNIQUE (paper, ord)
  );
  CREATE INDEX chunks_vector ON chunks(vector);
  -- Contentless: only the inverted index is stored; rows are added and deleted with their chunks.
  CREATE VIRTUAL TABLE chunks_fts USING fts5(
    text, content='', contentless_delete=1, tokenize='porter unicode61 remove_diacritics 2'
  );
  `,
  // Each paper's own vector (the normalised mean of its chunks' vectors, encoded as chunk vectors are), kept
  // at ingest so that related and clusters read one row per paper instead of every chunk (issue 13).
  `
  CREATE TABLE paper_vectors (
    paper INTEGER PRIMARY KEY REFERENCES papers(rowid) ON DELETE CASCADE,
    data BLOB NOT NULL
  );
  -- Filters (issue 11), derived from papers.meta at write time (corpus/facets.ts).
  ALTER TABLE papers ADD COLUMN date TEXT;
  ALTER TABLE papers ADD COLUMN authors_key TEXT;
  CREATE INDEX papers_date ON papers(date);
  CREATE TABLE paper_categories (
    paper INTEGER NOT NULL REFERENCES papers(rowid) ON DELETE CASCADE,
    category TEXT NOT NULL,
    PRIMARY KEY (category, paper)
  ) WITHOUT ROWID;
  CREATE INDEX paper_categories_paper ON paper_categories(paper);
  `,
  // Library metadata (issue 18): the normalised record of every format, and the identifiers papers are
  // matched and looked up by (a DOI given to `related` or /api/papers/), as indexed columns.
  `
  ALTER TABLE papers ADD COLUMN bib TEXT;
  ALTER TABLE papers ADD COLUMN doi TEXT;
  ALTER TABLE papers ADD COLUMN arxiv TEXT;
  ALTER TABLE papers ADD COLUMN pmid TEXT;
  CREATE INDEX papers_doi ON papers(doi) WHERE doi IS NOT NULL;
  CREATE INDEX papers_arxiv ON papers(arxiv) WHERE arxiv IS NOT NULL;
  CREATE INDEX papers_pmid ON papers(pmid) WHERE pmid IS NOT NULL;
  `,
  // Each paper's terms and adjacent pairs of terms, hashed, with counts (term-vectors.ts): the lexical side
  // of recommendations (issue 19), kept at ingest so a recommendation never tokenises the whole corpus.
  `
  CREATE TABLE paper_terms (
    paper INTEGER PRIMARY KEY REFERENCES papers(rowid) ON DELETE CASCADE,
    data BLOB NOT NULL
  );
  `,
  // BM25 weighs terms by the row count and average length FTS5 keeps. A contentless_delete table never
  // lowers them when rows go, so every removal, edit and --rebuild skewed lexical ranking (issue 17). A
  // plain contentless table deletes with FTS5's 'delete' command given the row's text, which keeps them
  // exact; migrating refills it from the chunks (write.ts, fillFts).
  `
  DROP TABLE chunks_fts;
  CREATE VIRTUAL TABLE chunks_fts USING fts5(text, content='', tokenize='porter unicode61 remove_diacritics 2');
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** Every column the code reads, per table: a store missing one was written by some other build. */
const COLUMNS: Record<string, string> = {
  meta: "key, value",
  papers: "rowid, id, title, abstract, file, line, meta, content_hash, date, authors_key, bib, doi, arxiv, pmid",
  vectors: "rowid, key, data",
  chunks: "rowid, paper, ord, title_chars, start, end, tokens, vector",
  chunks_fts: "rowid, text",
  paper_vectors: "paper, data",
  paper_categories: "paper, category",
  paper_terms: "paper, data",
};

/** Refuse (INDEX_INCOMPATIBLE) a store whose tables lack a column this papersift reads. */
export function checkSchema(db: Database.Database, file: string): void {
  for (const [table, columns] of Object.entries(COLUMNS)) {
    try {
      db.prepare(`SELECT ${columns} FROM ${table} LIMIT 0`);
    } catch (error) {
      throw new PapersiftError("INDEX_INCOMPATIBLE", `${file} was written by another version of papersift (${(error as Error).message})`);
    }
  }
}

/**
 * Bring the schema up to date in one transaction, with `derive` filling in what new tables derive from old
 * data; refuse a store written by a newer papersift. Returns the version the store had (0 for a new one).
 */
export function migrate(db: Database.Database, file: string, derive?: (from: number) => void): number {
  const version = db.pragma("user_version", { simple: true }) as number;
  if (version > SCHEMA_VERSION) {
    throw new PapersiftError(
      "INDEX_INCOMPATIBLE",
      `${file} has schema version ${version}; this papersift reads up to ${SCHEMA_VERSION}`,
    );
  }
  if (version === SCHEMA_VERSION) return version;
  // IMMEDIATE, and the version read again inside: two processes opening an old store at once must not both
  // migrate it (readers open stores too, without the ingest lock).
  return db
    .transaction(() => {
      const current = db.pragma("user_version", { simple: true }) as number;
      for (let v = current; v < SCHEMA_VERSION; v++) db.exec(MIGRATIONS[v]!);
      // Data the new schema derives from what the store already holds, in the same transaction.
      if (current > 0) derive?.(current);
      db.pragma(`user_version = ${SCHEMA_VERSION}`);
      return current;
    })
    .immediate();
}
