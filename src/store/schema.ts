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
    content_hash TEXT NOT NULL
  );
  -- Content-addressed: key = sha256(model fingerprint, chunk text)[0..16]; data = float32 little-endian.
  CREATE TABLE vectors (key BLOB PRIMARY KEY, data BLOB NOT NULL) WITHOUT ROWID;
  -- rowid is the chunk's label in the HNSW file; AUTOINCREMENT so a label is never reused.
  CREATE TABLE chunks (
    rowid INTEGER PRIMARY KEY AUTOINCREMENT,
    paper INTEGER NOT NULL REFERENCES papers(rowid),
    ord INTEGER NOT NULL,
    text TEXT NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    tokens INTEGER NOT NULL,
    vector_key BLOB NOT NULL REFERENCES vectors(key),
    UNIQUE (paper, ord)
  );
  CREATE INDEX chunks_vector_key ON chunks(vector_key);
  CREATE VIRTUAL TABLE chunks_fts USING fts5(
    text, content='chunks', content_rowid='rowid', tokenize='porter unicode61 remove_diacritics 2'
  );
  CREATE TRIGGER chunks_fts_insert AFTER INSERT ON chunks BEGIN
    INSERT INTO chunks_fts(rowid, text) VALUES (new.rowid, new.text);
  END;
  CREATE TRIGGER chunks_fts_delete AFTER DELETE ON chunks BEGIN
    INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', old.rowid, old.text);
  END;
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** Bring the schema up to date in one transaction; refuse a store written by a newer papersift. */
export function migrate(db: Database.Database, file: string): void {
  const version = db.pragma("user_version", { simple: true }) as number;
  if (version > SCHEMA_VERSION) {
    throw new PapersiftError(
      "INDEX_INCOMPATIBLE",
      `${file} has schema version ${version}; this papersift reads up to ${SCHEMA_VERSION}`,
    );
  }
  if (version === SCHEMA_VERSION) return;
  db.transaction(() => {
    for (let v = version; v < SCHEMA_VERSION; v++) db.exec(MIGRATIONS[v]!);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  })();
}
