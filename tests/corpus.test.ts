import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { readCorpus } from "../src/corpus/index.ts";
import { PapersiftError } from "../src/errors.ts";
import { BUNDLED_CORPUS, tempDir } from "./helpers.ts";

describe("bundled corpus (.txt)", () => {
  const { papers, problems } = readCorpus(BUNDLED_CORPUS);

  it("reads all 71 papers and no page boilerplate", () => {
    expect(papers).toHaveLength(71);
    expect(problems).toEqual([]);
    for (const banner of ["new", "Subscribe", "Mar 12", "byAK and the research community", "Get trending papers in your email inbox!"]) {
      expect(papers.some((p) => p.title === banner)).toBe(false);
    }
  });

  it("keeps exact titles and full abstracts (first, middle, last)", () => {
    const first = papers[0]!;
    expect(first.title).toBe("Submodular Reinforcement Learning");
    expect(first.abstract.startsWith("In reinforcement learning (RL), rewards of states are typically considered additive")).toBe(true);
    expect(first.abstract.endsWith("as well as scalability to high-dimensional state-action spaces.")).toBe(true);
    expect(first.source).toEqual({ file: "trending-papers-abstracts.txt", line: 11 });
    expect(first.id).toBe("submodular-reinforcement-learning");

    const middle = papers[35]!;
    expect(middle.title).toBe("The Trickle-down Impact of Reward (In-)consistency on RLHF");

    const last = papers[70]!;
    expect(last.title).toBe("Using Human Feedback to Fine-tune Diffusion Models without Any Reward Model");
    expect(last.abstract.endsWith("overcoming challenges lacking robust reward models.")).toBe(true);
  });

  it("gives every paper a distinct id", () => {
    expect(new Set(papers.map((p) => p.id)).size).toBe(71);
  });
});

describe("formats", () => {
  it("reads JSON Lines, including the arXiv metadata snapshot as it is", () => {
    const dir = tempDir();
    const arxiv = {
      id: "0704.0001",
      submitter: "Pavel Nadolsky",
      authors: "C. Bal\\'azs, E. L. Berger, P. M. Nadolsky, C.-P. Yuan",
      title: "Calculation of prompt diphoton production cross sections at Tevatron and\n  LHC energies",
      comments: "37 pages, 15 figures",
      "journal-ref": "Phys.Rev.D76:013009,2007",
      doi: "10.1103/PhysRevD.76.013009",
      categories: "hep-ph",
      abstract: "  A fully differential calculation in perturbative quantum chromodynamics is\npresented for the production of massive photon pairs at hadron colliders.\n",
      versions: [{ version: "v1", created: "Mon, 2 Apr 2007 19:18:42 GMT" }],
      update_date: "2008-11-13",
    };
    writeFileSync(path.join(dir, "arxiv.jsonl"), JSON.stringify(arxiv) + "\n" + JSON.stringify({ title: "No id here", abstract: "Text." }) + "\n");
    const { papers, problems } = readCorpus(dir);
    expect(problems).toEqual([]);
    expect(papers[0]).toMatchObject({
      id: "0704.0001",
      title: "Calculation of prompt diphoton production cross sections at Tevatron and LHC energies",
      abstract: "A fully differential calculation in perturbative quantum chromodynamics is presented for the production of massive photon pairs at hadron colliders.",
      source: { file: "arxiv.jsonl", line: 1 },
    });
    expect(papers[0]!.meta).toMatchObject({ categories: "hep-ph", update_date: "2008-11-13", authors: arxiv.authors });
    expect(papers[1]).toMatchObject({ id: "no-id-here", source: { line: 2 } });
  });

  it("reads Markdown: first # heading is the title, the rest the abstract", () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, "a.md"), "---\nnotes\n---\n# Sparse Attention at Scale\n\nWe study *sparse* attention.\n\nIt helps.\n");
    const { papers } = readCorpus(dir);
    expect(papers).toEqual([
      { id: "sparse-attention-at-scale", title: "Sparse Attention at Scale", abstract: "We study *sparse* attention. It helps.", source: { file: "a.md", line: 4 } },
    ]);
  });

  it("normalises Unicode to NFC and accepts a byte-order mark", () => {
    const dir = tempDir();
    const decomposed = "Caf\u0065\u0301 networks";
    writeFileSync(path.join(dir, "bom.jsonl"), "\uFEFF" + JSON.stringify({ title: decomposed, abstract: "Abstract   with\n\nodd   spacing." }) + "\n");
    const [paper] = readCorpus(dir).papers;
    expect(paper!.title).toBe("Caf\u00e9 networks");
    expect(paper!.abstract).toBe("Abstract with odd spacing.");
  });

  it("reads folders recursively in path order and skips unknown extensions with a notice", () => {
    const dir = tempDir();
    mkdirSync(path.join(dir, "b"));
    writeFileSync(path.join(dir, "b", "x.md"), "# Second\n\nBody two.");
    writeFileSync(path.join(dir, "a.md"), "# First\n\nBody one.");
    writeFileSync(path.join(dir, "paper.pdf"), "%PDF");
    const { papers, notices } = readCorpus(dir);
    expect(papers.map((p) => p.title)).toEqual(["First", "Second"]);
    expect(notices).toEqual([expect.stringContaining("skipped paper.pdf: unknown file type")]);
  });
});

describe("malformed input", () => {
  it("reports bad JSON and missing fields with file and line, and keeps the rest", () => {
    const dir = tempDir();
    const lines = [
      JSON.stringify({ title: "Good one", abstract: "Fine." }),
      "{not json",
      JSON.stringify({ abstract: "No title." }),
      JSON.stringify({ title: "No abstract" }),
      "",
      JSON.stringify({ title: "Good two", abstract: "Also fine." }),
    ];
    writeFileSync(path.join(dir, "mixed.jsonl"), lines.join("\n"));
    const { papers, problems } = readCorpus(dir);
    expect(papers.map((p) => p.title)).toEqual(["Good one", "Good two"]);
    expect(problems.map((p) => `${p.file}:${p.line}`)).toEqual(["mixed.jsonl:2", "mixed.jsonl:3", "mixed.jsonl:4"]);
    expect(problems[0]!.message).toMatch(/invalid JSON/);
    expect(problems[1]!.message).toMatch(/title/);
    expect(problems[2]!.message).toMatch(/abstract/);
  });

  it("--strict turns the first problem into an error naming file and line", () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, "bad.jsonl"), `${JSON.stringify({ title: "ok", abstract: "ok" })}\n{oops\n`);
    expect(() => readCorpus(dir, { strict: true })).toThrowError(/bad\.jsonl:2: invalid JSON/);
    try {
      readCorpus(dir, { strict: true });
    } catch (error) {
      expect(error).toBeInstanceOf(PapersiftError);
      expect((error as PapersiftError).code).toBe("CORPUS_MALFORMED");
    }
  });

  it("--strict says the read stopped and lists every problem, without calling them skipped (review-newuser18 #4)", () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, "bad.jsonl"), `${JSON.stringify({ title: "ok", abstract: "ok" })}\n{oops\n{"title":"no abstract here"}\n`);
    writeFileSync(path.join(dir, "lib.bib"), "@article{k1, title = {Only a Title}}\n");
    let message = "";
    try {
      readCorpus(dir, { strict: true });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message.split("\n")).toEqual([
      "stopped by --strict: 3 problems in the corpus (fix them, or drop --strict to skip them):",
      expect.stringMatching(/^ {2}bad\.jsonl:2: invalid JSON/),
      expect.stringMatching(/^ {2}bad\.jsonl:3: .*abstract/),
      expect.stringMatching(/^ {2}lib\.bib:1: k1 "Only a Title" has no abstract$/),
    ]);
    expect(message).not.toMatch(/skipped|more\)/);
  });

  it("keeps two papers that share a title, each with its own id that does not depend on file order", () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, "a.md"), "# Same Title\n\nFirst abstract.");
    writeFileSync(path.join(dir, "b.md"), "# same title\n\nSecond abstract.");
    const { papers, notices } = readCorpus(dir);
    expect(papers.map((p) => p.abstract)).toEqual(["First abstract.", "Second abstract."]);
    expect(papers[0]!.id).toMatch(/^same-title-[0-9a-f]{8}$/);
    expect(papers[1]!.id).toMatch(/^same-title-[0-9a-f]{8}$/);
    expect(papers[0]!.id).not.toBe(papers[1]!.id);
    expect(notices).toEqual([]);
    // The same two files under swapped names: each paper keeps its id.
    const swapped = tempDir();
    writeFileSync(path.join(swapped, "b.md"), "# Same Title\n\nFirst abstract.");
    writeFileSync(path.join(swapped, "a.md"), "# same title\n\nSecond abstract.");
    const again = readCorpus(swapped).papers;
    expect(Object.fromEntries(again.map((p) => [p.abstract, p.id]))).toEqual(Object.fromEntries(papers.map((p) => [p.abstract, p.id])));
  });

  it("skips binary files, flags invalid UTF-8 by line, and survives symlink loops", () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, "junk.txt"), Buffer.from([0x00, 0xff, 0x13, 0x00, 0x42]));
    writeFileSync(path.join(dir, "latin1.md"), Buffer.concat([Buffer.from("# Title\n\nline two\ncaf"), Buffer.from([0xe9]), Buffer.from(" au lait\n")]));
    symlinkSync(dir, path.join(dir, "loop"));
    const { papers, problems, notices } = readCorpus(dir);
    expect(papers.map((p) => p.title)).toEqual(["Title"]);
    expect(problems).toEqual([
      { file: "junk.txt", line: 1, message: expect.stringMatching(/binary/) },
      { file: "latin1.md", line: 4, message: expect.stringMatching(/invalid UTF-8/) },
    ]);
    expect(notices.some((n) => /symlink loop/.test(n))).toBe(true);
  });

  it("says clearly when the corpus folder does not exist", () => {
    expect(() => readCorpus("/nonexistent/papers")).toThrowError(/no corpus folder at \/nonexistent\/papers/);
  });
});

describe("JSON Lines, streamed", () => {
  it("skips a line over 16 MB with its line number, and reads the lines around it", () => {
    const dir = tempDir();
    const good = (i: number) => JSON.stringify({ id: `g${i}`, title: `Paper ${i}`, abstract: "An abstract long enough to be one." });
    const huge = JSON.stringify({ id: "huge", title: "Huge", abstract: "x".repeat(17 * 2 ** 20) });
    writeFileSync(path.join(dir, "p.jsonl"), [good(1), huge, good(2)].join("\r\n"));
    const { papers, problems } = readCorpus(dir);
    expect(papers.map((p) => [p.id, p.source.line])).toEqual([["g1", 1], ["g2", 3]]);
    expect(problems).toEqual([{ file: "p.jsonl", line: 2, message: "line longer than 16 MB; skipped" }]);
  });

  it("reads lines that straddle its 1 MB read blocks, with a BOM and no final newline", () => {
    const dir = tempDir();
    const lines = Array.from({ length: 400 }, (_, i) => JSON.stringify({ id: `p${i}`, title: `Paper ${i} é`, abstract: `${"word ".repeat(1000)}${i}` }));
    writeFileSync(path.join(dir, "p.jsonl"), "\uFEFF" + lines.join("\n"));
    const { papers, problems } = readCorpus(dir);
    expect(problems).toEqual([]);
    expect(papers).toHaveLength(400);
    expect(papers[0]!.id).toBe("p0");
    expect(papers[399]!.abstract.endsWith(" 399")).toBe(true);
    expect(papers.every((p, i) => p.title === `Paper ${i} é` && p.source.line === i + 1)).toBe(true);
  });
});
