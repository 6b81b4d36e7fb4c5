// docs/storage.md describes what the code writes: its table list and index list are the database's.
import { readFileSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { migrate, SCHEMA_VERSION } from "../src/store/schema.ts";
import { ROOT } from "./helpers.ts";

describe("docs/storage.md", () => {
  const doc = readFileSync(path.join(ROOT, "docs", "storage.md"), "utf8");
  const db = new Database(":memory:");
  migrate(db, ":memory:");
  const names = (type: string) =>
    (db.prepare("SELECT name FROM sqlite_master WHERE type = ? AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'chunks_fts_%'").pluck().all(type) as string[]).sort();

  it("lists exactly the tables the migrations create, with their columns", () => {
    const documented = [...doc.matchAll(/^\| `(\w+)` \| /gm)].map((m) => m[1]!).filter((n) => !n.includes(".")).sort();
    expect(documented).toEqual(names("table"));
    for (const table of names("table").filter((t) => t !== "chunks_fts")) {
      const row = doc.split("\n").find((l) => l.startsWith(`| \`${table}\` |`))!;
      for (const { name } of db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]) {
        expect(row, `${table}.${name}`).toMatch(new RegExp(`\\b${name}\\b`));
      }
    }
  });

  it("names every index and the schema version", () => {
    for (const index of names("index")) expect(doc, index).toContain(`\`${index}\``);
    expect(doc).toContain(`PRAGMA user_version = ${SCHEMA_VERSION}`);
  });
});
