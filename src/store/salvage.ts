// --rebuild of a damaged store: read what can still be read, and move the damaged files aside.
import { existsSync, renameSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { DB_FILE } from "./folder.ts";
import { decodeVector } from "./vectors.ts";

/**
 * Every vector that can still be read from a damaged store, row by row: a bad page costs the rows on it.
 * Keys embed the model fingerprint, so vectors of another model are carried along but never matched.
 */
export function salvageVectors(dir: string): { key: Buffer; vector: Float32Array }[] {
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
export function moveAside(dir: string): string {
  const aside = `${DB_FILE}.damaged-${new Date().toISOString().replace(/[:.]/g, "-")}`;
  for (const suffix of ["", "-wal", "-shm"]) {
    if (existsSync(path.join(dir, DB_FILE + suffix))) renameSync(path.join(dir, DB_FILE + suffix), path.join(dir, aside + suffix));
  }
  return path.join(dir, aside);
}
