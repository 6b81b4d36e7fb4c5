// Issue 19: "papers like these". Behaviour on a small JSONL library cut from the bundled corpus (with
// made-up dates, categories and DOIs). Rankings come from the stand-in embedder plus the real lexical side:
// what is tested is which papers may come back and how examples move them, not what they mean (the quality
// numbers are in `npm run eval -- --recommend`). The tags tests run the real CLI and the real model through
// the three events a saved set must survive.
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ingest, openIndex, type PapersiftIndex } from "../src/index.ts";
import { normaliseArxiv, normaliseDoi } from "../src/query/liked.ts";
import { snippet } from "../src/query/snippet.ts";
import { bundledPapers, runCli, standInEmbedder, tempDir } from "./helpers.ts";

const papers = bundledPapers().slice(0, 40).map((p, i) => ({
  id: `p${i}`,
  title: p.title,
  abstract: p.abstract,
  doi: `10.5555/PS.${i}`,
  date: `2026-06-${String((i % 28) + 1).padStart(2, "0")}`,
  categories: i % 2 ? "cs.CL cs.LG" : "cs.LG",
}));
const jsonl = (rows: object[]) => rows.map((r) => JSON.stringify(r)).join("\n") + "\n";

let corpus: string;
let indexDir: string;
let index: PapersiftIndex;
beforeAll(async () => {
  corpus = tempDir();
  writeFileSync(path.join(corpus, "library.jsonl"), jsonl(papers));
  indexDir = tempDir();
  await ingest({ corpus, index: indexDir }, { embedder: standInEmbedder() });
  index = await openIndex(indexDir, { embedder: standInEmbedder() });
});

const ids = (results: { id: string }[]) => results.map((r) => r.id);

describe("index.recommend", () => {
  it("never returns a liked or disliked paper, and gives each result its reason", async () => {
    const { results, liked } = await index.recommend({ liked: ["p0", "p1", "p2"], not: ["p3"], k: 40 });
    expect(ids(liked)).toEqual(["p0", "p1", "p2"]);
    expect(results).toHaveLength(40 - 4);
    expect(ids(results)).not.toContain("p0");
    expect(ids(results)).not.toContain("p3");
    const text = (id: string) => {
      const p = papers.find((x) => x.id === id)!;
      return `${p.title} ${p.abstract}`.toLowerCase();
    };
    for (const r of results) {
      expect(r.reason.closest.length).toBeGreaterThan(0);
      for (const c of r.reason.closest) expect(["p0", "p1", "p2"]).toContain(c.id);
      // A shared term is in the result and in one of the liked papers it is closest to.
      for (const term of r.reason.terms) {
        const words = term.split(" ");
        expect(words.every((w) => text(r.id).includes(w))).toBe(true);
        expect(r.reason.closest.some((c) => words.every((w) => text(c.id).includes(w)))).toBe(true);
      }
    }
    expect(results.some((r) => r.reason.terms.length > 0)).toBe(true);
  });

  it("matches papers by id, DOI (any case, with or without resolver) and exact title, and reports the rest", async () => {
    const r = await index.recommend({ liked: ["p4", "https://doi.org/10.5555/ps.5", papers[6]!.title.toUpperCase(), "no-such-paper", "10.9999/nothing"], k: 3 });
    expect(r.liked.map((m) => [m.id, m.by])).toEqual([["p4", "id"], ["p5", "doi"], ["p6", "title"]]);
    expect(r.unmatched.map((u) => u.ref)).toEqual(["no-such-paper", "10.9999/nothing"]);
    await expect(index.recommend({ liked: ["no-such-paper"] })).rejects.toMatchObject({ code: "NO_EXAMPLES" });
  });

  it("a disliked paper pushes its neighbours down", async () => {
    const before = await index.recommend({ liked: ["p0", "p1"], k: 38 });
    const top = before.results[0]!;
    // The disliked paper: the one nearest to the top result.
    const neighbour = index.related(top.id, { k: 5 }).results.find((r) => !["p0", "p1"].includes(r.id))!;
    const after = await index.recommend({ liked: ["p0", "p1"], not: [neighbour.id], k: 38 });
    const rank = (result: typeof before, id: string) => ids(result.results).indexOf(id);
    expect(rank(after, top.id)).toBeGreaterThan(rank(before, top.id));
  });

  it("applies filters: only papers that pass them come back", async () => {
    const { results } = await index.recommend({ liked: ["p0", "p1"], category: ["cs.CL"], since: "2026-06-10", k: 40 });
    expect(results.length).toBeGreaterThan(0);
    for (const r of results) {
      const p = papers.find((x) => x.id === r.id)!;
      expect(p.categories).toContain("cs.CL");
      expect(p.date >= "2026-06-10").toBe(true);
    }
  });
});

describe("index.digest", () => {
  it("holds only papers since the date, grouped under the topics `clusters` gives, the best paper's topic first", async () => {
    const digest = await index.digest({ liked: ["p0", "p1"], since: "2026-06-15", k: 20 });
    const all = digest.topics.flatMap((t) => t.results);
    expect(all.length).toBeGreaterThan(0);
    for (const r of all) expect(papers.find((p) => p.id === r.id)!.date >= "2026-06-15").toBe(true);
    const topics = index.clusters().topics;
    for (const t of digest.topics) {
      for (const r of t.results) expect(t.id === null ? topics.every((x) => !x.papers.some((p) => p.id === r.id)) : topics.find((x) => x.id === t.id)!.papers.some((p) => p.id === r.id)).toBe(true);
    }
    expect(digest.topics[0]!.results[0]!.score).toBe(Math.max(...all.map((r) => r.score)));
    expect(digest.since).toBe("2026-06-15");
    // Without --since: the last week of the corpus (its newest paper is dated 2026-06-28).
    expect((await index.digest({ liked: ["p0"] })).since).toBe("2026-06-22");
  });
});

describe("references", () => {
  it("DOIs and arXiv ids are recognised in the forms people paste", () => {
    expect(normaliseDoi("https://doi.org/10.1145/ABC.1")).toBe("10.1145/abc.1");
    expect(normaliseDoi("doi: 10.5555/PS.3")).toBe("10.5555/ps.3");
    expect(normaliseDoi("p3")).toBeNull();
    for (const form of ["2605.04321", "arXiv:2605.04321v2", "https://arxiv.org/abs/2605.04321", "https://arxiv.org/pdf/2605.04321v1.pdf", "10.48550/arXiv.2605.04321"]) {
      expect(normaliseArxiv(form), form).toBe("2605.04321");
    }
    expect(normaliseArxiv("hep-th/9901001v3")).toBe("hep-th/9901001");
    expect(normaliseArxiv("a title")).toBeNull();
  });
});

describe("papersift recommend", () => {
  it("reads liked papers from a list file (ids, DOIs, comments) and reports what matched nothing", () => {
    const list = path.join(tempDir(), "liked.txt");
    writeFileSync(list, "# my papers\np0\ndoi:10.5555/ps.1   # the second one\n\nnot-a-paper\n");
    const r = runCli(["recommend", "--from", list, "--not", "p2", "--index", indexDir, "-k", "3", "--json"]);
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(ids(out.liked)).toEqual(["p0", "p1"]);
    expect(ids(out.not)).toEqual(["p2"]);
    expect(out.unmatched).toEqual([{ ref: "not-a-paper", reason: "not in the index", list: "liked" }]);
    expect(out.results).toHaveLength(3);
    expect(r.stderr).toMatch(/not-a-paper: not in the index; left out/);
  });

  it("--explain says which measure each number is, and they agree (review-newuser1920 defect 6)", () => {
    const json = JSON.parse(runCli(["recommend", "p0", "p1", "--index", indexDir, "-k", "1", "--explain", "--json"]).stdout);
    const [hit] = json.results;
    // Two liked papers: the dense part is the mean cosine to both, the ones `closest` lists.
    expect(hit.explain.dense.nearest).toBe(2);
    const mean = hit.reason.closest.reduce((sum: number, c: { similarity: number }) => sum + c.similarity, 0) / 2;
    expect(hit.explain.dense.similarity).toBeCloseTo(mean, 5);
    const text = runCli(["recommend", "p0", "p1", "--index", indexDir, "-k", "1", "--explain"]).stdout;
    expect(text).toContain(`dense ${hit.explain.dense.similarity.toFixed(3)} = mean cosine to the 2 nearest liked papers`);
    expect(text).toMatch(/closest {2}cosine to each: p[01] \d\.\d{3}, p[01] \d\.\d{3}/);
  });

  it("exits 2 saying what to do when nothing matches", () => {
    const r = runCli(["recommend", "nothing-like-this", "10.1/none", "--index", indexDir]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/none of the 2 liked papers is in the index: nothing-like-this \(not in the index\); 10\.1\/none/);
    expect(r.stderr).toMatch(/fix: /);
    expect(r.stderr).not.toMatch(/at .*\.ts:\d+/);
  });
});

describe("saved sets (tags)", () => {
  it("live in their own file and survive ingest --rebuild, a deleted index folder and a model change", () => {
    const small = tempDir();
    writeFileSync(path.join(small, "library.jsonl"), jsonl(papers.slice(0, 6)));
    const idx = path.join(tempDir(), "index");
    const tags = path.join(tempDir(), "my-tags.json");
    const cli = (...args: string[]) => runCli([...args, "--index", idx, "--corpus", small], { env: { PAPERSIFT_TAGS: tags } });
    expect(cli("ingest").status).toBe(0);
    const added = cli("tag", "add", "reading", "p0", "10.5555/ps.1", "missing-paper");
    expect(added.status).toBe(0);
    expect(added.stderr).toMatch(/missing-paper: not in the index; not added/);
    const saved = readFileSync(tags, "utf8");
    expect(JSON.parse(saved).tags.reading.map((e: { id: string; doi: string }) => [e.id, e.doi])).toEqual([["p0", "10.5555/ps.0"], ["p1", "10.5555/ps.1"]]);
    const list = cli("tag", "list");
    expect(list.stdout).toContain(`tags file: ${tags}`);
    expect(list.stdout).toMatch(/reading\s+2 papers/);

    const recommended = () => {
      const r = cli("recommend", "--tag", "reading", "-k", "3", "--json");
      expect(r.status, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(ids(out.liked)).toEqual(["p0", "p1"]);
      expect(out.results).toHaveLength(3);
      expect(readFileSync(tags, "utf8")).toBe(saved);
    };
    recommended();
    expect(cli("ingest", "--rebuild").status).toBe(0);
    recommended();
    rmSync(idx, { recursive: true });
    recommended(); // a missing index is built from the corpus first
    expect(cli("ingest", "--model", "all-MiniLM-L6-v2").status).toBe(0);
    recommended();

    expect(cli("tag", "rm", "reading", "p0").status).toBe(0);
    expect(JSON.parse(readFileSync(tags, "utf8")).tags.reading.map((e: { id: string }) => e.id)).toEqual(["p1"]);
    const unknown = cli("recommend", "--tag", "nope");
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/no tag "nope" in .* \(tags: reading\)/);
  }, 180_000); // three ingests with the real models

  it("list one set's papers a line each; errors name the tags file read and the tag subcommand's help (review-newuser1920 defects 8, 9, 10)", () => {
    const tags = path.join(tempDir(), "tags.json");
    const cli = (...args: string[]) => runCli([...args, "--index", indexDir, "--corpus", corpus, "--tags", tags]);
    const missing = cli("recommend", "--tag", "specdec");
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain(`no tag "specdec" in ${tags} (there are no tags yet)`);
    expect(cli("tag", "add", "specdec", "p0", "p1").status).toBe(0);
    expect(cli("tag", "list", "specdec").stdout).toBe(`tags file: ${tags}\n  p0  ${papers[0]!.title}\n  p1  ${papers[1]!.title}\n`);
    expect(cli("digest", "--tag", "other").stderr).toContain(`no tag "other" in ${tags} (tags: specdec)`);
    expect(cli("tag", "add", "bad name/../x", "p0").stderr).toContain("fix: see `papersift tag add --help`");
    expect(cli("tag", "rm", "specdec").stderr).toContain("fix: see `papersift tag rm --help`");
  });

  it("refuse to keep the tags file inside the index folder or the corpus", () => {
    for (const file of [path.join(indexDir, "tags.json"), path.join(corpus, "tags.json")]) {
      const r = runCli(["tag", "add", "x", "p0", "--tags", file, "--index", indexDir, "--corpus", corpus]);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/the tags file .* is inside/);
    }
  });

  it("a tags file that is not one is reported and never overwritten", () => {
    const file = path.join(tempDir(), "tags.json");
    writeFileSync(file, "{ not json");
    const r = runCli(["tag", "add", "x", "p0", "--tags", file, "--index", indexDir, "--corpus", corpus]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/is not valid JSON/);
    expect(readFileSync(file, "utf8")).toBe("{ not json");
  });
});

describe("papers named by arXiv id, arXiv DOI or title (review-newuser1920 defects 1 and 2)", () => {
  const arxivPapers = bundledPapers()
    .slice(40, 46)
    .map((p, i) => ({ id: `2606.0181${i}`, title: p.title, abstract: p.abstract, date: "2026-06-10", authors: ["Ada Zhang", "Bo Li", "Cy Wu", "Di Xu"], journal: "Journal of Tests" }));
  let arxivIndex: PapersiftIndex;
  let arxivDir: string;
  beforeAll(async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, "arxiv.jsonl"), jsonl(arxivPapers));
    arxivDir = tempDir();
    await ingest({ corpus: dir, index: arxivDir }, { embedder: standInEmbedder() });
    arxivIndex = await openIndex(arxivDir, { embedder: standInEmbedder() });
  });

  it("a library file's entries match indexed papers by arXiv id, DOI or title before any abstract is needed", () => {
    const bib = path.join(tempDir(), "mylib.bib");
    writeFileSync(
      bib,
      `@misc{first, title = {${arxivPapers[0]!.title}}, author = {Zhang, Shuai}, year = 2026, eprint = {2606.01810}, archivePrefix = {arXiv} }
@misc{second, title = {${arxivPapers[1]!.title.toUpperCase()}}, year = 2026 }
@article{third, title = {Something else}, doi = {10.48550/arXiv.2606.01812}, abstract = {An abstract that would be embedded if nothing matched it.} }
@article{gone, title = {A paper this index does not hold}, year = 2023 }
`,
    );
    const r = runCli(["recommend", "--from", bib, "--index", arxivDir, "-k", "6", "--json"]);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.liked.map((m: { id: string; by: string }) => [m.id, m.by])).toEqual([["2606.01810", "arxiv"], ["2606.01811", "title"], ["2606.01812", "arxiv"]]);
    expect(out.likedExternal).toEqual([]);
    expect(out.unmatched).toEqual([{ ref: "mylib.bib:4", reason: "not in the index, and it has no abstract to embed", list: "liked" }]);
    // Only the papers not liked come back.
    expect(ids(out.results).sort()).toEqual(["2606.01813", "2606.01814", "2606.01815"]);
    expect(r.stderr).not.toMatch(/no abstract; skipped/);
  });

  it("an arXiv DOI is accepted wherever an id is: related, paper, recommend, tags", async () => {
    const doi = "10.48550/arXiv.2606.01811";
    expect(arxivIndex.related(doi, { k: 2 }).paper.id).toBe("2606.01811");
    expect(arxivIndex.paper(`https://doi.org/${doi}`).id).toBe("2606.01811");
    expect((await arxivIndex.recommend({ liked: [doi], k: 1 })).liked[0]!.id).toBe("2606.01811");
    expect(arxivIndex.tag("x", [doi], { tagsFile: path.join(tempDir(), "tags.json") }).added).toEqual(["2606.01811"]);
  });

  it("results carry the metadata search hits carry: library, --json, text, digest (defect 4)", async () => {
    const { results } = await arxivIndex.recommend({ liked: ["2606.01810"], k: 2 });
    const metadata = { authors: ["Ada Zhang", "Bo Li", "Cy Wu", "Di Xu"], date: "2026-06-10", venue: "Journal of Tests", doi: null, arxiv: results[0]!.id, pmid: null, url: `https://arxiv.org/abs/${results[0]!.id}` };
    expect(results[0]).toMatchObject(metadata);
    expect(arxivIndex.related("2606.01810", { k: 1 }).results[0]).toMatchObject({ authors: metadata.authors, date: metadata.date, url: expect.stringMatching(/^https:\/\/arxiv\.org\/abs\//) });
    const json = JSON.parse(runCli(["recommend", "2606.01810", "--index", arxivDir, "-k", "1", "--json"]).stdout);
    expect(json.results[0]).toMatchObject(metadata);
    const digest = JSON.parse(runCli(["digest", "2606.01810", "--index", arxivDir, "-k", "1", "--json"]).stdout);
    expect(digest.topics[0].results[0]).toMatchObject({ authors: metadata.authors, date: metadata.date });
    const text = runCli(["recommend", "2606.01810", "--index", arxivDir, "-k", "1"]).stdout;
    expect(text).toContain(`Ada Zhang, Bo Li et al. · 2026-06-10 · Journal of Tests · https://arxiv.org/abs/${results[0]!.id}`);
  });
});

describe("LaTeX markup (review-newuser1920 defect 5)", () => {
  it("is not shown in snippets: commands give their text, math its contents", () => {
    const text = "A title\nWe call it a \\emph{routine reasoner}. It is $3.3\\times$ faster at $p_\\mathrm{emp}$ and \\textbf{never} worse.";
    expect(snippet(text, "routine reasoner")).toBe("We call it a routine reasoner. It is 3.3× faster at p_emp and never worse.");
  });
});
