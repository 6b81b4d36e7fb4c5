// Incremental ingest with the real model and real index, in temp folders.
import { readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { beforeAll, describe, expect, it } from "vitest";
import type { Embedder } from "../src/embed.ts";
import { ingest, openIndex } from "../src/index.ts";
import { bundledPapers, sharedEmbedder, tempDir, writeTxt } from "./helpers.ts";

let embedder: Embedder;
beforeAll(async () => {
  embedder = await sharedEmbedder();
});

/** A corpus of 8 real papers: 5 in a .txt file, 3 in a .jsonl file. */
function makeCorpus(): string {
  const dir = tempDir();
  const papers = bundledPapers();
  writeTxt(path.join(dir, "a.txt"), papers.slice(0, 5));
  writeFileSync(
    path.join(dir, "b.jsonl"),
    papers.slice(5, 8).map((p) => JSON.stringify({ id: `paper-${p.id.slice(0, 10)}`, title: p.title, abstract: p.abstract })).join("\n"),
  );
  return dir;
}

const run = (corpus: string, index: string, extra: Record<string, unknown> = {}) =>
  ingest({ corpus, index, ...extra }, { embedder });

const topIds = async (index: string, question: string) => {
  const idx = await openIndex(index, { embedder });
  try {
    return (await idx.search(question, { k: 3 })).results.map((r) => r.id);
  } finally {
    idx.close();
  }
};

describe("ingest", () => {
  it("embeds everything once, then nothing when the corpus is unchanged", async () => {
    const corpus = makeCorpus();
    const index = tempDir();
    const first = await run(corpus, index);
    expect(first).toMatchObject({ papers: 8, added: 8, updated: 0, removed: 0, unchanged: 0, reused: 0 });
    expect(first.embedded).toBe(first.chunks);
    expect(first.chunks).toBeGreaterThanOrEqual(8);

    const dbFile = path.join(index, "papersift.db");
    const before = statSync(dbFile).mtimeMs;
    const again = await run(corpus, index);
    expect(again).toMatchObject({ papers: 8, added: 0, updated: 0, removed: 0, unchanged: 8, embedded: 0, chunks: first.chunks });
    expect(statSync(dbFile).mtimeMs).toBe(before);
  });

  it("embeds only the new paper's chunks when one is added, and search finds it", async () => {
    const corpus = makeCorpus();
    const index = tempDir();
    await run(corpus, index);
    const extra = bundledPapers()[40]!;
    writeTxt(path.join(corpus, "c.txt"), [extra]);
    const summary = await run(corpus, index);
    const chunks = (await openIndex(index)).stats().chunks;
    expect(summary).toMatchObject({ added: 1, unchanged: 8, removed: 0 });
    expect(summary.embedded).toBeGreaterThan(0);
    expect(summary.embedded).toBeLessThanOrEqual(3);
    expect(summary.chunks).toBe(chunks);
    expect(await topIds(index, extra.title)).toContain(extra.id);
  });

  it("re-embeds only the chunks whose text changed when an abstract is edited", async () => {
    const corpus = makeCorpus();
    const index = tempDir();
    await run(corpus, index, { chunking: { windowTokens: 96, overlapTokens: 0 } });
    const papers = bundledPapers().slice(0, 5);
    const edited = papers.map((p, i) =>
      i === 2 ? { ...p, abstract: `${p.abstract} We also release a benchmark of underwater basket weaving robots.` } : p,
    );
    writeTxt(path.join(corpus, "a.txt"), edited);
    const summary = await run(corpus, index, { chunking: { windowTokens: 96, overlapTokens: 0 } });
    expect(summary).toMatchObject({ added: 0, updated: 1, unchanged: 7 });
    // Only the last window of the paper holds the new sentence; earlier windows keep their text and vectors.
    expect(summary.embedded).toBe(1);
    expect(summary.reused).toBeGreaterThan(0);
    expect(await topIds(index, "underwater basket weaving robots")).toEqual(expect.arrayContaining([papers[2]!.id]));
  });

  it("removes a deleted file's papers from every query", async () => {
    const corpus = makeCorpus();
    const index = tempDir();
    await run(corpus, index);
    const gone = bundledPapers()[6]!;
    expect((await topIds(index, gone.title))[0]).toBe(`paper-${gone.id.slice(0, 10)}`);
    rmSync(path.join(corpus, "b.jsonl"));
    const summary = await run(corpus, index);
    expect(summary).toMatchObject({ papers: 5, removed: 3, embedded: 0 });
    const idx = await openIndex(index, { embedder });
    const results = (await idx.search(gone.title, { k: 10 })).results.map((r) => r.id);
    expect(results.some((id) => id.startsWith("paper-"))).toBe(false);
    expect(idx.clusters({ threshold: 0 }).clusters.flatMap((c) => c.papers).some((p) => p.id.startsWith("paper-"))).toBe(false);
    expect(() => idx.related(`paper-${gone.id.slice(0, 10)}`)).toThrowError(/no paper matches/);
    idx.close();
  });

  it("--rebuild starts over but reuses every vector whose content key matches", async () => {
    const corpus = makeCorpus();
    const index = tempDir();
    const first = await run(corpus, index);
    const rebuilt = await run(corpus, index, { rebuild: true });
    expect(rebuilt).toMatchObject({ added: 8, embedded: 0, reused: first.chunks, chunks: first.chunks });
  });

  it("re-chunks when the chunking changes, reusing vectors of unchanged text, with a notice", async () => {
    const corpus = makeCorpus();
    const index = tempDir();
    await run(corpus, index, { chunking: { windowTokens: 128, overlapTokens: 0 } });
    const wider = await run(corpus, index, { chunking: { windowTokens: 256, overlapTokens: 0 } });
    expect(wider.updated).toBe(8);
    expect(wider.notices.join("\n")).toMatch(/chunking changed/);
    const back = await run(corpus, index, { chunking: { windowTokens: 128, overlapTokens: 0 } });
    expect(back.updated).toBe(8);
    // The 256-token ingest dropped the 128-token vectors, except chunks whose text is identical in both.
    expect(back.embedded + back.reused).toBe(back.chunks);
  });

  it("--dry-run reports the plan and writes nothing", async () => {
    const corpus = makeCorpus();
    const index = tempDir();
    const fresh = await run(corpus, index, { dryRun: true });
    expect(fresh).toMatchObject({ dryRun: true, added: 8, embedded: 0 });
    expect(() => statSync(path.join(index, "papersift.db"))).toThrow();

    await run(corpus, index);
    rmSync(path.join(corpus, "b.jsonl"));
    const plan = await run(corpus, index, { dryRun: true });
    expect(plan.plan.removed).toHaveLength(3);
    expect((await openIndex(index)).stats().papers).toBe(8);
  });

  it("is deterministic: two ingests of one corpus give identical stores and HNSW files", async () => {
    const corpus = makeCorpus();
    const [a, b] = [tempDir(), tempDir()];
    await run(corpus, a);
    await run(corpus, b);
    const dump = (dir: string) => {
      const db = new Database(path.join(dir, "papersift.db"), { readonly: true });
      const rows = {
        papers: db.prepare("SELECT * FROM papers ORDER BY rowid").all(),
        chunks: db.prepare("SELECT * FROM chunks ORDER BY rowid").all(),
        vectors: db.prepare("SELECT hex(key), hex(data) FROM vectors ORDER BY key").all(),
      };
      db.close();
      return rows;
    };
    expect(dump(a)).toEqual(dump(b));
    expect(readFileSync(path.join(a, "vectors-1.hnsw")).equals(readFileSync(path.join(b, "vectors-1.hnsw")))).toBe(true);
  });

  it("fails clearly on an empty corpus and leaves no index behind", async () => {
    const corpus = tempDir();
    const index = path.join(tempDir(), "idx");
    await expect(run(corpus, index)).rejects.toThrowError(/no papers found/);
    expect(() => statSync(path.join(index, "papersift.db"))).toThrow();
  });
});
