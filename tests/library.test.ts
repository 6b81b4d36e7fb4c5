// A researcher's library as the corpus (issue 18): every format in one folder, metadata on every surface,
// filters over the normalised fields, lookups by DOI, stats per file, and re-exports that embed nothing.
// The stand-in embedder where meaning does not matter; one real-model CLI run for the terminal surfaces.
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ingest, openIndex, type IngestSummary, type PapersiftIndex } from "../src/index.ts";
import { lossLines } from "../src/ingest.ts";
import { renderStats } from "../src/render.ts";
import { createApp } from "../src/serve.ts";
import { FORBID_MODEL, ROOT, runCli, standInEmbedder, tempDir } from "./helpers.ts";

const LIBRARY = path.join(ROOT, "tests", "fixtures", "library");
const embedder = standInEmbedder();

describe("a folder holding every format (stand-in embedder)", () => {
  let summary: IngestSummary;
  let index: PapersiftIndex;
  beforeAll(async () => {
    const [corpus, dir] = [tempDir(), tempDir()];
    cpSync(LIBRARY, corpus, { recursive: true });
    summary = await ingest({ corpus, index: dir }, { embedder });
    index = await openIndex(dir, { embedder });
    return () => index.close();
  });

  it("ingests in one run with the right count, and says per file how many entries were not loaded and why", () => {
    expect(summary.papers).toBe(14);
    expect(lossLines(summary.files)).toEqual([
      "library.bib: 1 entry has no abstract, 1 malformed entry",
      "library.json: 1 duplicate of another entry",
      "library.ris: 1 entry has no abstract, 1 duplicate of another entry",
      "openalex.jsonl: 1 duplicate of another entry",
      "pubmed.nbib: 1 entry has no abstract",
      "pubmed.xml: 1 duplicate of another entry",
    ]);
  });

  it("search results carry authors, date, venue, identifiers and the best link", async () => {
    const { results } = await index.search("federated sepsis hospital wards", { mode: "lexical", k: 1 });
    expect(results[0]).toMatchObject({
      id: "okafor2020",
      authors: ["Chidi Okafor", "Åsa Lindqvist"],
      date: "2020-05-02",
      venue: "Journal of Clinical AI",
      doi: "10.5555/fedhosp.2020.3",
      arxiv: null,
      pmid: null,
      url: "https://doi.org/10.5555/fedhosp.2020.3",
    });
    const arxiv = (await index.search("street networks intersections", { mode: "lexical", k: 1 })).results[0]!;
    expect(arxiv).toMatchObject({ id: "strasse2022graphs", url: "https://arxiv.org/abs/2203.01234" });
    const pubmed = (await index.search("retinal kidney", { mode: "lexical", k: 1 })).results[0]!;
    expect(pubmed).toMatchObject({ id: "pmid:31000003", pmid: "31000003", url: "https://doi.org/10.5555/retina.2024.2" });
  });

  it("filters read the normalised fields of every format: author, date range, keywords and MeSH as categories", async () => {
    const ids = async (filter: Parameters<PapersiftIndex["search"]>[1]) =>
      (await index.search("the", { mode: "dense", k: 50, ...filter })).results.map((r) => r.id).sort();
    expect(await ids({ author: "orsted" })).toEqual(["mueller2021sparse"]);
    expect(await ids({ author: "lindqvist" })).toEqual(["lindqvist2017", "okafor2020"]);
    expect(await ids({ author: "odegaard" })).toEqual(["pmid:31000001"]);
    expect(await ids({ since: "2023", until: "2023-12" })).toEqual(["W1000000001", "sato2023protein"]);
    expect(await ids({ category: ["Malaria"] })).toEqual(["pmid:31000004"]);
    expect(await ids({ category: ["federated learning", "genomics"] })).toEqual(["kowalski2022", "okafor2020"]);
  });

  it("related, papers and the HTTP API accept a DOI (any case, with or without https://doi.org/) or an arXiv id", async () => {
    for (const ref of ["10.5555/CBL.2023.77", "https://doi.org/10.5555/cbl.2023.77", "doi:10.5555/cbl.2023.77"]) {
      expect(index.related(ref, { k: 1 }).paper.id).toBe("sato2023protein");
    }
    expect(index.paper("arXiv:2203.01234v2").id).toBe("strasse2022graphs");
    expect(index.paper("pmid:31000004")).toMatchObject({ keywords: ["Malaria", "Insecticide Resistance"], type: "Journal Article", authors: ["Wanjiru Mwangi", "Noël Lefèvre", "Malaria Modelling Group"] });
    const app = createApp(index);
    const detail = (await (await app.request("/api/papers/10.5555/PLANTINF.2022.118")).json()) as { id: string; doi: string; url: string };
    expect(detail).toMatchObject({ id: "kowalski2022", doi: "10.5555/plantinf.2022.118", url: "https://doi.org/10.5555/plantinf.2022.118" });
    const related = (await (await app.request("/api/related/10.5555/plantinf.2022.118?k=2")).json()) as { paper: { id: string }; results: { authors: string[] }[] };
    expect(related.paper.id).toBe("kowalski2022");
    expect(related.results[0]!.authors).toBeInstanceOf(Array);
  });

  it("the id of a record folded into a duplicate finds the kept paper, and a bare PMID is a PMID (review-newuser18 #3)", async () => {
    // openalex.jsonl's W1000000002 has okafor2020's DOI; library.ris's sato-ris has sato2023protein's.
    expect(index.paper("W1000000002").id).toBe("okafor2020");
    expect(index.related("sato-ris", { k: 1 }).paper.id).toBe("sato2023protein");
    const detail = (await (await createApp(index).request("/api/papers/W1000000002")).json()) as { id: string };
    expect(detail.id).toBe("okafor2020");
    expect(index.paper("31000004").id).toBe(index.paper("pmid:31000004").id);
  });

  it("ingest --strict --json prints the problems as JSON on stdout, each with its kind (review-newuser18 #4, #5)", () => {
    const r = runCli(["ingest", "--corpus", LIBRARY, "--index", tempDir(), "--strict", "--json"], { nodeArgs: FORBID_MODEL });
    expect(r.status).toBe(2);
    const printed = JSON.parse(r.stdout) as { error: { code: string; message: string }; problems: { file: string; line: number; kind: string }[] };
    expect(printed.error.code).toBe("CORPUS_MALFORMED");
    expect(printed.problems.map((p) => [p.file, p.kind])).toEqual([
      ["library.bib", "no-abstract"],
      ["library.bib", "malformed"],
      ["library.ris", "no-abstract"],
      ["pubmed.nbib", "no-abstract"],
    ]);
    expect(r.stderr).toMatch(/stopped by --strict: 4 problems/);
  });

  it("every problem in ingest's summary (and --json) has a kind (review-newuser18 #5)", () => {
    expect(summary.problems.map((p) => [p.file, p.line, p.kind])).toEqual([
      ["library.bib", 32, "no-abstract"],
      ["library.bib", 38, "malformed"],
      ["library.ris", 39, "no-abstract"],
      ["pubmed.nbib", 28, "no-abstract"],
    ]);
  });

  it("stats text says 1 paper, 1 duplicate (review-newuser18 #7)", () => {
    const text = renderStats(index.stats());
    expect(text).toContain("  jabref-latin1.bib (BibTeX): 1 paper\n");
    expect(text).toMatch(/library\.json \(CSL-JSON\): \d+ papers; skipped 1 duplicate\n/);
    expect(text).not.toMatch(/\b1 (papers|duplicates)\b/);
  });

  it("stats lists formats, papers per file and entries skipped", () => {
    const files = index.stats().files.map((f) => [f.file, f.format, f.papers, f.noAbstract, f.malformed]);
    expect(files).toEqual([
      ["jabref-latin1.bib", "BibTeX", 1, 0, 0],
      ["library.bib", "BibTeX", 3, 1, 1],
      ["library.json", "CSL-JSON", 2, 0, 0],
      ["library.ris", "RIS", 3, 1, 0],
      ["openalex.json", "OpenAlex", 1, 0, 0],
      ["openalex.jsonl", "OpenAlex", 1, 0, 0],
      ["pubmed-saved.txt", "MEDLINE", 1, 0, 0],
      ["pubmed.nbib", "MEDLINE", 1, 1, 0],
      ["pubmed.xml", "PubMed XML", 1, 0, 0],
    ]);
  });
});

describe("a Better BibTeX auto-export rewritten whole (what ingest --watch sees)", () => {
  const entry = (key: string, title: string, abstract: string, extra = "") =>
    `@article{${key},\n  title = {${title}},\n  author = {M{\\"u}ller, J{\\"o}rg},\n  year = {2021},${extra}\n  abstract = {${abstract}},\n}\n`;
  const papers = Array.from({ length: 6 }, (_, i) => [`key${i}`, `Paper number ${i}`, `Abstract of paper ${i} about sparse attention.`] as const);

  it("a new order or new metadata embeds nothing; an edited abstract re-embeds that entry only", async () => {
    const [corpus, index] = [tempDir(), tempDir()];
    const file = path.join(corpus, "My Library.bib");
    writeFileSync(file, papers.map(([k, t, a]) => entry(k, t, a)).join("\n"));
    expect((await ingest({ corpus, index }, { embedder })).added).toBe(6);
    // Zotero re-exports in another order, with new keywords and a file attachment on every entry.
    writeFileSync(file, [...papers].reverse().map(([k, t, a]) => entry(k, t, a, `\n  keywords = {attention, new},\n  file = {/home/x/${k}.pdf},`)).join("\n"));
    const reordered = await ingest({ corpus, index }, { embedder });
    expect(reordered).toMatchObject({ added: 0, removed: 0, embedded: 0, updated: 6 });
    expect(reordered.plan.changed).toEqual([]);
    const edited = papers.map(([k, t, a]) => entry(k, t, k === "key3" ? `${a} Now with a longer abstract.` : a));
    writeFileSync(file, edited.join("\n"));
    const after = await ingest({ corpus, index }, { embedder });
    expect(after.plan.changed).toEqual(["key3"]);
    expect(after.embedded).toBeGreaterThan(0);
    const opened = await openIndex(index, { embedder });
    expect(opened.paper("key0").keywords).toEqual([]);
    opened.close();
  });
});

describe("the terminal and --json (real model, one ingest)", () => {
  it("one short metadata line per result; --json fields; stats by file; the per-file loss summary ends the ingest", () => {
    const [corpus, index] = [tempDir(), tempDir()];
    cpSync(LIBRARY, corpus, { recursive: true });
    const ingested = runCli(["ingest", "--corpus", corpus, "--index", index]);
    expect(ingested.status).toBe(0);
    const warnings = ingested.stderr.trim().split("\n");
    expect(warnings.slice(-6)).toEqual([
      "papersift: library.bib: 1 entry has no abstract, 1 malformed entry",
      "papersift: library.json: 1 duplicate of another entry",
      "papersift: library.ris: 1 entry has no abstract, 1 duplicate of another entry",
      "papersift: openalex.jsonl: 1 duplicate of another entry",
      "papersift: pubmed.nbib: 1 entry has no abstract",
      "papersift: pubmed.xml: 1 duplicate of another entry",
    ]);
    const text = runCli(["search", "hydrophone recordings of reefs", "-k", "1", "--index", index]);
    expect(text.stdout.split("\n").slice(0, 3)).toEqual([
      expect.stringMatching(/^ 1\. Coral Reef Monitoring from Underwater Sound {2}/),
      "    Siosaia Fifita, Björn Åkesson · 2023-02-20 · Marine Acoustics Letters · https://doi.org/10.5555/coral.2023.5",
      "    W1000000001 · openalex.jsonl:1",
    ]);
    const json = JSON.parse(runCli(["related", "10.5555/coral.2023.5", "-k", "2", "--json", "--index", index]).stdout) as { paper: { id: string }; results: Record<string, unknown>[] };
    expect(json.paper.id).toBe("W1000000001");
    for (const field of ["authors", "date", "venue", "doi", "arxiv", "pmid", "url"]) expect(json.results[0]).toHaveProperty(field);
    const stats = runCli(["stats", "--index", index]).stdout;
    expect(stats).toContain("formats     BibTeX, CSL-JSON, RIS, OpenAlex, MEDLINE, PubMed XML");
    expect(stats).toContain("  library.bib (BibTeX): 3 papers; skipped 1 without an abstract, 1 malformed");
    expect(readFileSync(path.join(LIBRARY, "library.bib"), "utf8")).toContain("@article{broken2019"); // the corpus is never written to
  });
});

describe("hostile exports (review 18), through an ingest", () => {
  it("#1 a new file whose key is the indexed paper's never replaces it: the new paper gets a disambiguated id", async () => {
    const [corpus, index] = [tempDir(), tempDir()];
    writeFileSync(path.join(corpus, "lib.bib"), "@article{smith2020, title={Bird Migration over the Sahara}, abstract={We track storks crossing the Sahara.}}\n");
    expect((await ingest({ corpus, index }, { embedder })).added).toBe(1);
    // Sorts before lib.bib: in path order it would come first.
    writeFileSync(path.join(corpus, "a-colleague.bib"), "@article{smith2020, title={Soil Microbes in Boreal Forests}, abstract={We sequence soil microbes.}}\n");
    const second = await ingest({ corpus, index }, { embedder });
    expect(second).toMatchObject({ added: 1, updated: 0, removed: 0 });
    const soilId = second.plan.added[0]!;
    expect(soilId).toMatch(/^smith2020-[0-9a-f]{8}$/);
    expect(second.notices).toContain(`two papers have the id smith2020: the one at a-colleague.bib:1 is ${soilId} (the one at lib.bib:1 keeps smith2020)`);
    const opened = await openIndex(index, { embedder });
    expect([opened.paper("smith2020").title, opened.paper(soilId).title]).toEqual(["Bird Migration over the Sahara", "Soil Microbes in Boreal Forests"]);
    opened.close();
  });

  it("#12 the closing summary names every file that lost entries: malformed, duplicates, no abstract", async () => {
    const [corpus, index] = [tempDir(), tempDir()];
    const ok = "@article{ok, title={Kept}, abstract={Kept abstract.}}\n";
    writeFileSync(path.join(corpus, "lib.bib"), `${ok}${ok}@article{none, title={No abstract}}\n@article{bad, title = {Unclosed {brace}, abstract={x}}\n`);
    const summary = await ingest({ corpus, index }, { embedder });
    expect(lossLines(summary.files)).toEqual(["lib.bib: 1 entry has no abstract, 1 malformed entry, 1 duplicate of another entry"]);
  });
});

describe("hostile exports (review 18): the terminal", () => {
  it("#18 a skipped entry is said once: 'file:line: what; skipped'", () => {
    const [corpus, index] = [tempDir(), tempDir()];
    writeFileSync(path.join(corpus, "lib.bib"), "@article{ok, title={Kept}, abstract={Kept abstract.}}\n@article{broken1, title = {Unclosed {brace}, abstract={x}}\n");
    writeFileSync(path.join(corpus, "bad.md"), "# Title only\n");
    const r = runCli(["ingest", "--corpus", corpus, "--index", index, "--dry-run"]);
    const lines = r.stderr.split("\n").filter((l) => /lib\.bib:2|bad\.md:1/.test(l));
    expect(lines).toEqual([
      "papersift: bad.md:1: no abstract after the title; skipped",
      expect.stringMatching(/^papersift: lib\.bib:2: @article\{broken1: cannot be parsed \(.+\); skipped$/),
    ]);
  });
});
