// Issue 11: metadata filters, checked against a brute-force oracle that reads the raw records, not the index.
// The records are a synthetic arXiv export (fixtures/synthetic-arxiv.ts: 8,000 papers, so that wide filters
// pass more papers than are ranked exactly), or with PAPERSIFT_ARXIV=<arXiv metadata export, JSON Lines>
// a real one (`npm run test:data`, issue 17: `npm test` needs nothing beside the clone). Vectors come from a
// deterministic stand-in embedder: what is tested is which papers may be returned and in what order, not
// what they mean.
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { dayOf, parseDate } from "../src/corpus/bibliographic.ts";
import { foldText } from "../src/corpus/facets.ts";
import { ingest, openIndex, type PapersiftIndex } from "../src/index.ts";
import { EXACT_FILTER_LIMIT } from "../src/query/search.ts";
import { dot, normalisedMean } from "../src/similarity.ts";
import { SCHEMA_VERSION } from "../src/store/schema.ts";
import { Store } from "../src/store/store.ts";
import { syntheticArxiv, type ArxivRecord } from "./fixtures/synthetic-arxiv.ts";
import { runCli, standInEmbedder, tempDir } from "./helpers.ts";

const isoDate = (value: unknown) => dayOf(parseDate(value).date);
const REAL = process.env.PAPERSIFT_ARXIV;
const embedder = standInEmbedder();
let records: ArxivRecord[];
let indexDir: string;
let index: PapersiftIndex;
let store: Store;

beforeAll(async () => {
  const file = REAL && (REAL.endsWith(".jsonl") ? REAL : path.join(REAL, "corpus.jsonl"));
  const lines = file ? readFileSync(file, "utf8").split("\n").filter(Boolean) : syntheticArxiv(8000).map((r) => JSON.stringify(r));
  records = lines.map((l) => JSON.parse(l) as ArxivRecord);
  const corpus = tempDir();
  writeFileSync(path.join(corpus, "arxiv.jsonl"), lines.join("\n"));
  indexDir = tempDir();
  await ingest({ corpus, index: indexDir }, { embedder });
  index = await openIndex(indexDir, { embedder });
  store = Store.open(indexDir);
}, 120_000);

type Filter = { category?: string[]; since?: string; until?: string; author?: string };

/** The oracle's filter: from the raw records. */
function passes(r: ArxivRecord, f: Filter): boolean {
  const cats = r.categories.split(" ");
  if (f.category && !f.category.some((prefix) => cats.some((c) => c.startsWith(prefix)))) return false;
  const date = isoDate(r.listing_date)!;
  if (f.since && date < (f.since.length === 7 ? `${f.since}-01` : f.since)) return false;
  if (f.until && date > (f.until.length === 7 ? `${f.until}-31` : f.until)) return false;
  if (f.author && !foldText(r.authors).includes(foldText(f.author))) return false;
  return true;
}

/** The oracle's ranking: every passing paper scored exactly as dense search scores (best chunk, paper). */
async function oracle(question: string, f: Filter, k: number): Promise<{ id: string; similarity: number }[]> {
  const [q] = await embedder.embed([question], undefined, "query");
  const rowids = new Map(store.titles().map((t) => [t.id, t.rowid]));
  return records
    .filter((r) => passes(r, f))
    .map((r) => {
      const chunks = store.paperChunks(rowids.get(r.id)!);
      const best = Math.max(...chunks.map((c) => dot(q!, c.vector)));
      const paper = dot(q!, normalisedMean(chunks.map((c) => c.vector), q!.length));
      return { id: r.id, similarity: Math.round(((best + paper) / 2) * 1e6) / 1e6 };
    })
    .sort((a, b) => b.similarity - a.similarity)
    .slice(0, k);
}

const share = (f: Filter) => records.filter((r) => passes(r, f)).length / records.length;
const QUESTIONS = ["vision language models for robot manipulation", "retrieval augmented generation with knowledge graphs", "diffusion models for video generation"];

describe("filters", () => {
  it("a filter keeping about 1% of papers: dense results are exactly the oracle's best k", async () => {
    const rare = { category: ["cs.CR"] };
    expect(share(rare)).toBeGreaterThan(0.005);
    expect(share(rare)).toBeLessThan(0.02);
    for (const q of QUESTIONS) {
      const { results } = await index.search(q, { mode: "dense", k: 10, ...rare });
      const expected = await oracle(q, rare, 10);
      expect(results.map((r) => [r.id, r.similarity])).toEqual(expected.map((e) => [e.id, e.similarity]));
    }
  });

  it("wide filters (category prefix, date range, author) over HNSW: only passing papers, scored exactly, recall >= 0.9", async () => {
    const filters: Filter[] = [{ category: ["cs.CL"] }, { category: ["cs."], since: "2026-06" }, { category: ["cs.CV", "cs.GR"], until: "2026-05" }];
    let found = 0;
    let wanted = 0;
    for (const f of filters) {
      expect(share(f) * records.length, "a filter this wide goes through the HNSW graph").toBeGreaterThan(EXACT_FILTER_LIMIT);
      for (const q of QUESTIONS) {
        const { results } = await index.search(q, { mode: "dense", k: 10, ...f });
        const expected = await oracle(q, f, 10);
        const byId = new Map(records.map((r) => [r.id, r]));
        for (const r of results) expect(passes(byId.get(r.id)!, f), `${r.id} passes ${JSON.stringify(f)}`).toBe(true);
        const truth = new Map(expected.map((e) => [e.id, e.similarity]));
        found += results.filter((r) => truth.has(r.id)).length;
        wanted += expected.length;
      }
    }
    expect(found / wanted).toBeGreaterThanOrEqual(0.9);
  });

  it("lexical and hybrid: the same papers as the unfiltered ranking with the others taken out", async () => {
    const f = { category: ["cs.CL"], since: "2026-06-01" };
    const byId = new Map(records.map((r) => [r.id, r]));
    for (const q of QUESTIONS) {
      const all = (await index.search(q, { mode: "lexical", k: 2000 })).results.filter((r) => passes(byId.get(r.id)!, f));
      const filtered = (await index.search(q, { mode: "lexical", k: 10, ...f })).results;
      expect(filtered.map((r) => r.id)).toEqual(all.slice(0, 10).map((r) => r.id));
      const hybrid = (await index.search(q, { mode: "hybrid", k: 10, ...f })).results;
      for (const r of hybrid) expect(passes(byId.get(r.id)!, f)).toBe(true);
    }
  });

  it("author: part of a name, case and accents ignored; related and clusters take the same filters", async () => {
    const withAccent = records.find((r) => r.authors.includes("Şahin"))!;
    const { results } = await index.search(withAccent.title, { k: 5, author: "SAHIN" });
    expect(results.map((r) => r.id)).toContain(withAccent.id);
    for (const r of results) expect(foldText(records.find((x) => x.id === r.id)!.authors)).toContain("sahin");
    const related = index.related(records[0]!.id, { k: 10, category: ["cs.CL"] });
    for (const r of related.results) expect(records.find((x) => x.id === r.id)!.categories.split(" ").some((c) => c.startsWith("cs.CL"))).toBe(true);
    const clusters = index.clusters({ category: ["cs.GT"] });
    const members = [...clusters.clusters.flatMap((c) => c.papers), ...clusters.unclustered];
    expect(members.length).toBe(records.filter((r) => passes(r, { category: ["cs.GT"] })).length);
  });

  it("a filter nothing passes returns nothing; stats shows categories and the date range", async () => {
    expect((await index.search("anything", { k: 5, author: "no such author zzz" })).results).toEqual([]);
    const stats = index.stats();
    const dates = records.map((r) => isoDate(r.listing_date)!).sort();
    expect(stats.dates).toEqual({ from: dates[0], to: dates.at(-1), papers: records.length });
    const cs = stats.categories.find((c) => c.category === "cs.CL")!;
    expect(cs.papers).toBe(records.filter((r) => r.categories.split(" ").includes("cs.CL")).length);
  });

  it("bad filter values exit 2 naming the value", () => {
    for (const [args, message] of [
      [["--since", "2026-13"], /--since "2026-13" must be a date/],
      [["--until", "June"], /--until "June" must be a date/],
      [["--since", "2026-07", "--until", "2026-05"], /--since 2026-07 is after --until 2026-05/],
    ] as [string[], RegExp][]) {
      const r = runCli(["search", "x", "--mode", "lexical", "--index", indexDir, ...args]);
      expect(r.status, args.join(" ")).toBe(2);
      expect(r.stderr).toMatch(message);
    }
  });
});

describe("an index from schema 1", () => {
  it("is migrated on open, with the filter columns, metadata, paper vectors and term counts filled in from what it holds", async () => {
    const corpus = tempDir();
    writeFileSync(path.join(corpus, "p.jsonl"), records.slice(0, 50).map((r) => JSON.stringify(r)).join("\n"));
    const dir = tempDir();
    await ingest({ corpus, index: dir }, { embedder });
    const expected = (await openIndex(dir, { embedder })).search("language models", { k: 5, mode: "dense", category: ["cs.CL"] });
    // Take it back to what schema 1 wrote.
    const { default: Database } = await import("better-sqlite3");
    const db = new Database(path.join(dir, "papersift.db"));
    const terms = db.prepare("SELECT data FROM paper_terms ORDER BY paper").pluck().all();
    db.exec(
      "DROP TABLE paper_terms; DROP INDEX papers_doi; DROP INDEX papers_arxiv; DROP INDEX papers_pmid; ALTER TABLE papers DROP COLUMN bib; ALTER TABLE papers DROP COLUMN doi; " +
        "ALTER TABLE papers DROP COLUMN arxiv; ALTER TABLE papers DROP COLUMN pmid; " +
        "DROP TABLE paper_vectors; DROP TABLE paper_categories; DROP INDEX papers_date; ALTER TABLE papers DROP COLUMN date; ALTER TABLE papers DROP COLUMN authors_key; PRAGMA user_version = 1;",
    );
    db.close();
    const migrated = await openIndex(dir, { embedder });
    expect((await migrated.search("language models", { k: 5, mode: "dense", category: ["cs.CL"] })).results).toEqual((await expected).results);
    expect(migrated.stats().categories.length).toBeGreaterThan(0);
    expect((await expected).results[0]!.authors.length).toBeGreaterThan(0);
    const check = new Database(path.join(dir, "papersift.db"), { readonly: true });
    expect(check.pragma("user_version", { simple: true })).toBe(SCHEMA_VERSION);
    expect(check.prepare("SELECT count(*) FROM paper_vectors").pluck().get()).toBe(50);
    expect(check.prepare("SELECT data FROM paper_terms ORDER BY paper").pluck().all()).toEqual(terms);
    check.close();
    migrated.close();
  });
});
