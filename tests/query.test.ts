// search, related, clusters and stats through the library API, on a real index of the bundled corpus.
import Database from "better-sqlite3";
import path from "node:path";
import { beforeAll, afterAll, describe, expect, it } from "vitest";
import type { Embedder } from "../src/embed.ts";
import { ingest, openIndex, type PapersiftIndex } from "../src/index.ts";
import { SCHEMA_VERSION } from "../src/store/schema.ts";
import { Store } from "../src/store/store.ts";
import { decodeVector, encodeVector } from "../src/store/vectors.ts";
import { BUNDLED_CORPUS, bundledPapers, sharedEmbedder, tempDir } from "./helpers.ts";

let embedder: Embedder;
let indexDir: string;
let index: PapersiftIndex;
beforeAll(async () => {
  embedder = await sharedEmbedder();
  indexDir = tempDir();
  await ingest({ corpus: BUNDLED_CORPUS, index: indexDir }, { embedder });
  index = await openIndex(indexDir, { embedder });
});
afterAll(() => index?.close());

describe("search", () => {
  it("puts the paper first when asked about its own content, in every mode", async () => {
    const papers = bundledPapers();
    for (const paper of [papers[3]!, papers[30]!, papers[60]!]) {
      // The abstract's second sentence, reworded as a question.
      const sentence = paper.abstract.split(/(?<=\.)\s+/)[1]!;
      for (const mode of ["dense", "lexical", "hybrid"] as const) {
        const { results } = await index.search(`What work says: ${sentence}`, { k: 5, mode });
        expect(results[0]?.id, `${mode}: ${sentence}`).toBe(paper.id);
      }
    }
  });

  it("returns k papers, each once, best first, with snippet and source", async () => {
    const { results, query } = await index.search("  reward hacking in RLHF  ", { k: 7 });
    expect(query).toBe("reward hacking in RLHF");
    expect(results).toHaveLength(7);
    expect(new Set(results.map((r) => r.id)).size).toBe(7);
    for (let i = 1; i < results.length; i++) expect(results[i]!.score).toBeLessThanOrEqual(results[i - 1]!.score);
    for (const r of results) {
      expect(r.snippet.length).toBeGreaterThan(20);
      expect(r.source.file).toBe("trending-papers-abstracts.txt");
      expect(r.similarity).toBeGreaterThan(-1);
    }
  });

  it("scores dense results by cosine similarity, and --min-score filters on it", async () => {
    const dense = await index.search("diffusion models", { k: 71, mode: "dense" });
    expect(dense.results).toHaveLength(71);
    expect(dense.results[0]!.score).toBe(dense.results[0]!.similarity);
    expect(dense.results[0]!.score).toBeLessThanOrEqual(1);
    const cut = (dense.results[2]!.score + dense.results[3]!.score) / 2;
    const filtered = await index.search("diffusion models", { k: 71, mode: "dense", minScore: cut });
    expect(filtered.results.map((r) => r.id)).toEqual(dense.results.slice(0, 3).map((r) => r.id));
  });

  it("lexical mode needs no model: similarity is null", async () => {
    const lexical = await (await openIndex(indexDir)).search("submodular", { mode: "lexical", k: 3 });
    expect(lexical.results[0]!.similarity).toBeNull();
    expect(lexical.results[0]!.title).toMatch(/Submodular/);
  });

  it("rejects an empty question and bad options, and notes a truncated question", async () => {
    await expect(index.search(" \n\t ")).rejects.toMatchObject({ code: "EMPTY_QUESTION" });
    await expect(index.search("x", { k: 0 })).rejects.toMatchObject({ code: "BAD_OPTION" });
    await expect(index.search("x", { k: 1.5 })).rejects.toMatchObject({ code: "BAD_OPTION" });
    await expect(index.search("x", { mode: "fuzzy" as "dense" })).rejects.toMatchObject({ code: "BAD_OPTION" });
    const long = await index.search("reward models ".repeat(300), { k: 3 });
    expect(long.notices[0]).toMatch(/only the first 256 were used/);
    expect(long.results).toHaveLength(3);
  });
});

describe("related", () => {
  it("finds similar papers, never the paper itself", () => {
    const paper = bundledPapers()[0]!;
    const { paper: resolved, results } = index.related(paper.id, { k: 5 });
    expect(resolved).toEqual({ id: paper.id, title: paper.title });
    expect(results).toHaveLength(5);
    expect(results.map((r) => r.id)).not.toContain(paper.id);
    for (let i = 1; i < results.length; i++) expect(results[i]!.score).toBeLessThanOrEqual(results[i - 1]!.score);
  });

  it("accepts an exact title or an unambiguous part of one, case-insensitive", () => {
    const paper = bundledPapers()[0]!;
    expect(index.related(paper.title.toUpperCase()).paper.id).toBe(paper.id);
    expect(index.related("submodular reinforcement").paper.id).toBe(paper.id);
  });

  it("lists the candidates of an ambiguous reference, and rejects an unknown one", () => {
    expect(() => index.related("reward")).toThrowError(/matches \d+ papers/);
    try {
      index.related("diffusion");
    } catch (error) {
      expect((error as { code: string }).code).toBe("AMBIGUOUS_PAPER");
      expect((error as Error).message).toMatch(/using-human-feedback-to-fine-tune-diffusion-models/);
    }
    expect(() => index.related("no such paper at all")).toThrowError(/no paper matches/);
  });
});

describe("clusters", () => {
  it("covers every paper exactly once and is deterministic", () => {
    const a = index.clusters();
    const b = index.clusters();
    expect(b).toEqual(a);
    const ids = [...a.clusters.flatMap((c) => c.papers.map((p) => p.id)), ...a.unclustered.map((p) => p.id)];
    expect(ids.sort()).toEqual(bundledPapers().map((p) => p.id).sort());
    expect(a.clusters.length).toBeGreaterThan(1);
  });

  it("orders members by centrality and reports cohesion as the mean pairwise similarity", () => {
    const store = Store.open(indexDir);
    const rowids = new Map(store.titles().map((t) => [t.id, t.rowid]));
    const { clusters } = index.clusters();
    for (const cluster of clusters) {
      expect(cluster.size).toBe(cluster.papers.length);
      expect(cluster.size).toBeGreaterThanOrEqual(2);
      expect(cluster.label.length).toBeGreaterThan(0);
      for (let i = 1; i < cluster.papers.length; i++) {
        expect(cluster.papers[i]!.centrality).toBeLessThanOrEqual(cluster.papers[i - 1]!.centrality);
      }
      const vectors = cluster.papers.map((p) => store.paperVector(rowids.get(p.id)!));
      let sum = 0;
      let pairs = 0;
      for (let i = 0; i < vectors.length; i++) {
        for (let j = i + 1; j < vectors.length; j++) {
          sum += vectors[i]!.reduce((s, x, d) => s + x * vectors[j]![d]!, 0);
          pairs++;
        }
      }
      expect(cluster.cohesion).toBeCloseTo(sum / pairs, 3);
    }
    store.close();
  });

  it("a higher threshold never makes clusters bigger; --min-size drops small groups", () => {
    const loose = index.clusters({ threshold: 0.4 });
    const tight = index.clusters({ threshold: 0.7 });
    const largest = (c: typeof loose) => Math.max(0, ...c.clusters.map((x) => x.size));
    expect(largest(tight)).toBeLessThanOrEqual(largest(loose));
    expect(tight.unclustered.length).toBeGreaterThanOrEqual(loose.unclustered.length);
    const big = index.clusters({ threshold: 0.4, minSize: 5 });
    expect(big.clusters.every((c) => c.size >= 5)).toBe(true);
  });
});

describe("stats and schema", () => {
  it("reports counts, model, parameters and sizes", () => {
    const stats = index.stats();
    expect(stats).toMatchObject({ papers: 71, model: { id: "sentence-transformers/all-MiniLM-L6-v2", dims: 384 }, schemaVersion: SCHEMA_VERSION });
    expect(stats.chunks).toBeGreaterThanOrEqual(71);
    expect(stats.hnsw.efSearch).toBeGreaterThan(10);
    expect(stats.bytes.total).toBe(stats.bytes.db + stats.bytes.hnsw);
    expect(stats.bytes.hnsw).toBeGreaterThan(0);
  });

  it("migrations produce the documented schema", () => {
    const db = new Database(path.join(indexDir, "papersift.db"), { readonly: true });
    expect(db.pragma("user_version", { simple: true })).toBe(SCHEMA_VERSION);
    const columns = (table: string) => (db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name);
    expect(columns("papers")).toEqual(["rowid", "id", "title", "abstract", "file", "line", "meta", "content_hash"]);
    expect(columns("chunks")).toEqual(["rowid", "paper", "ord", "title_chars", "start", "end", "tokens", "vector"]);
    expect(columns("vectors")).toEqual(["rowid", "key", "data"]);
    expect(columns("meta")).toEqual(["key", "value"]);
    const fts = db.prepare("SELECT sql FROM sqlite_master WHERE name = 'chunks_fts'").pluck().get() as string;
    expect(fts).toMatch(/fts5/);
    db.close();
  });

  it("stores vectors as int8 + scale, within cosine 0.9999 of the embedding", async () => {
    const [v] = await embedder.embed(["quantized storage of sentence embeddings"]);
    const blob = encodeVector(v!);
    expect(blob.length).toBe(4 + 384);
    const back = decodeVector(blob);
    let dot = 0;
    let norm = 0;
    for (let i = 0; i < 384; i++) {
      dot += v![i]! * back[i]!;
      norm += back[i]! * back[i]!;
    }
    expect(dot / Math.sqrt(norm)).toBeGreaterThan(0.9999);
    expect(decodeVector(encodeVector(back))).toEqual(back); // decoding is a fixed point: rebuilds are exact
  });
});
