// Issue 17: a third hostile user's defects (nothing lost, nothing stale, nothing false), each pinned at its
// root with a few more inputs of its class. The stand-in embedder wherever meaning does not matter; real CLI
// processes on real temp folders.
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { beforeAll, describe, expect, it } from "vitest";
import { chunkText } from "../src/chunk.ts";
import { readCorpus } from "../src/corpus/index.ts";
import { MAX_TITLE_WORDS } from "../src/corpus/txt.ts";
import { ingest, openIndex } from "../src/index.ts";
import { DEFAULT_MODEL_DIR, vendoredModels } from "../src/model.ts";
import { defaultResolution, RESOLUTION_RISE } from "../src/query/clusters.ts";
import { LOCK_FILE, processStart } from "../src/store/lock.ts";
import { bundledPapers, FORBID_MODEL, ROOT, runCli, standInEmbedder, tempDir, writeTxt } from "./helpers.ts";

const embedder = standInEmbedder();
const storedIds = (dir: string) => {
  const db = new Database(path.join(dir, "papersift.db"), { readonly: true });
  try {
    return db.prepare("SELECT id FROM papers ORDER BY id").pluck().all() as string[];
  } finally {
    db.close();
  }
};
const jsonl = (file: string, papers: { title: string; abstract: string }[], prefix: string) => {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, papers.map((p, i) => JSON.stringify({ id: `${prefix}${i}`, title: p.title, abstract: p.abstract })).join("\n") + "\n");
};

describe("a symlinked corpus file or folder that cannot be followed keeps its papers (item 2)", () => {
  it("a link to a file, a link to a folder, a chain of links, and a self-loop: reported, kept, and back when the targets are", async () => {
    const outside = tempDir();
    jsonl(path.join(outside, "ext", "ext.jsonl"), bundledPapers().slice(0, 3), "ext-");
    writeTxt(path.join(outside, "extdir", "b.txt"), bundledPapers().slice(3, 5));
    jsonl(path.join(outside, "chain", "c.jsonl"), bundledPapers().slice(5, 6), "chain-");
    const corpus = tempDir();
    writeTxt(path.join(corpus, "a.txt"), bundledPapers().slice(6, 8));
    symlinkSync(path.join(outside, "ext", "ext.jsonl"), path.join(corpus, "ext.jsonl"));
    symlinkSync(path.join(outside, "extdir"), path.join(corpus, "linked"));
    symlinkSync(path.join(outside, "chain", "c.jsonl"), path.join(outside, "hop.jsonl"));
    symlinkSync(path.join(outside, "hop.jsonl"), path.join(corpus, "chain.jsonl"));
    const index = tempDir();
    expect((await ingest({ corpus, index }, { embedder })).papers).toBe(8);
    const all = storedIds(index);

    // The targets' folders are renamed (a disk unmounted, a sync folder moving things around), and a link
    // that loops on itself appears.
    renameSync(path.join(outside, "ext"), path.join(outside, "ext-away"));
    renameSync(path.join(outside, "extdir"), path.join(outside, "extdir-away"));
    renameSync(path.join(outside, "chain"), path.join(outside, "chain-away"));
    symlinkSync(path.join(corpus, "self.jsonl"), path.join(corpus, "self.jsonl"));
    const away = await ingest({ corpus, index }, { embedder });
    expect(away).toMatchObject({ removed: 0, papers: 8 });
    expect(storedIds(index)).toEqual(all);
    expect(away.problems.map((p) => p.file).sort()).toEqual(["chain.jsonl", "ext.jsonl", "linked", "self.jsonl"]);
    for (const p of away.problems) expect(p.message).toMatch(/cannot follow this symlink .*its papers in the index are kept/);
    await expect(ingest({ corpus, index, strict: true }, { embedder })).rejects.toThrow(/chain\.jsonl:0: cannot follow this symlink/);

    renameSync(path.join(outside, "ext-away"), path.join(outside, "ext"));
    renameSync(path.join(outside, "extdir-away"), path.join(outside, "extdir"));
    renameSync(path.join(outside, "chain-away"), path.join(outside, "chain"));
    const back = await ingest({ corpus, index }, { embedder });
    expect(back).toMatchObject({ removed: 0, added: 0, unchanged: 8, embedded: 0 });
  });
});

describe("a corpus path that is not a regular file is an unreadable path, not a removed one (review-hostile17 #2)", () => {
  it("a FIFO, a socket-like special file and a folder that replaced a file keep their papers, are reported, and fail --strict", async () => {
    const corpus = tempDir();
    jsonl(path.join(corpus, "fifo.jsonl"), bundledPapers().slice(0, 2), "fifo-");
    jsonl(path.join(corpus, "dir.jsonl"), bundledPapers().slice(2, 3), "dir-");
    writeTxt(path.join(corpus, "dev.txt"), bundledPapers().slice(3, 4));
    writeTxt(path.join(corpus, "a.txt"), bundledPapers().slice(4, 5));
    const index = tempDir();
    expect((await ingest({ corpus, index }, { embedder })).papers).toBe(5);
    const all = storedIds(index);
    for (const name of ["fifo.jsonl", "dir.jsonl", "dev.txt"]) rmSync(path.join(corpus, name));
    execFileSync("mkfifo", [path.join(corpus, "fifo.jsonl")]); // never opened: reading a FIFO blocks
    mkdirSync(path.join(corpus, "dir.jsonl"));
    symlinkSync("/dev/null", path.join(corpus, "dev.txt")); // a character device behind a link
    const run = await ingest({ corpus, index }, { embedder });
    expect(run).toMatchObject({ removed: 0, papers: 5 });
    expect(storedIds(index)).toEqual(all);
    expect(run.problems.map((p) => [p.file, p.message])).toEqual([
      ["dev.txt", expect.stringMatching(/not a regular file \(a device\).*its papers in the index are kept/)],
      ["dir.jsonl", expect.stringMatching(/a folder, not a file.*its papers in the index are kept/)],
      ["fifo.jsonl", expect.stringMatching(/not a regular file \(a FIFO\).*its papers in the index are kept/)],
    ]);
    await expect(ingest({ corpus, index, strict: true }, { embedder })).rejects.toThrow(/dev\.txt/);
  });
});

describe("the .txt reader never takes a paper for page boilerplate silently (item 3)", () => {
  const read = (text: string) => {
    const dir = tempDir();
    writeFileSync(path.join(dir, "t.txt"), text);
    return readCorpus(dir);
  };
  const long = (n: number) => `${"A long abstract about reward models and human feedback, with more words in it than a banner has. ".repeat(n).trim()}`;

  it("a short first abstract is the first paper, not boilerplate", () => {
    const r = read(["Banner", "First Paper", "A short abstract of ten words that ends here.", "Second Paper", long(2)].join("\n\n"));
    expect(r.papers.map((p) => p.title)).toEqual(["First Paper", "Second Paper"]);
    expect(r.problems).toEqual([]);
  });

  it("a file of only short abstracts gives every paper", () => {
    const r = read(["Alpha", "Short one.", "Beta", "Short two, a bit longer.", "Gamma", "Three dots…"].join("\n\n"));
    expect(r.papers.map((p) => p.title)).toEqual(["Alpha", "Beta", "Gamma"]);
  });

  it("a file where no paragraph reads as an abstract says why; --strict fails", () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, "t.txt"), ["Alpha", "short one without a full stop", "Beta", "short two without one either"].join("\n\n"));
    const r = readCorpus(dir);
    expect(r.papers).toEqual([]);
    expect(r.problems).toEqual([{ file: "t.txt", line: 1, message: expect.stringMatching(/no entry.*title line, a blank line, then the abstract.*full stop/) }]);
    expect(() => readCorpus(dir, { strict: true })).toThrow(/t\.txt:1: no entry/);
  });

  it("what is skipped before the first entry is noted with its lines", () => {
    const r = read(["new", "Subscribe", "Mar 12", "First Paper", long(2)].join("\n\n"));
    expect(r.papers.map((p) => p.title)).toEqual(["First Paper"]);
    expect(r.notices).toEqual(["t.txt:1: skipped 3 short paragraphs before the first entry (line 7) as page boilerplate"]);
  });

  it('a one-line paragraph after an abstract ("Code is available at …") is reported, and eats no title', () => {
    const titles = ["Do Reward Models Generalize Beyond Their Training Data?", "Reward Hacking (Extended Version)", "Ensembles Mitigate Hacking!"];
    const text = ["First Paper", long(2), "Code is available at https://github.com/example/rm", titles[0], long(2), "Project page: https://example.org/rm", titles[1], long(3), "Data released.", titles[2], long(2)].join("\n\n");
    const r = read(text);
    expect(r.papers.map((p) => p.title)).toEqual(["First Paper", ...titles]);
    expect(r.problems.map((p) => [p.line, p.message])).toEqual([
      [5, expect.stringMatching(/"Code is available at .*" is a paragraph outside any entry/)],
      [11, expect.stringMatching(/"Project page: .*" is a paragraph outside any entry/)],
      [17, expect.stringMatching(/"Data released\." is a paragraph outside any entry/)],
    ]);
  });

  it("a title/abstract pair before the first entry whose abstract lacks a full stop is a problem, not boilerplate (review-hostile17 #3)", () => {
    for (const end of ["?", "!", "", "।"]) {
      const dir = tempDir();
      writeFileSync(path.join(dir, "a.txt"), `Can Transformers Count\n\nWe ask whether transformers can count tokens${end}\n\nSecond paper title\n\nAnother short abstract that is fine.\n`);
      const r = readCorpus(dir);
      expect(r.papers.map((p) => p.title)).toEqual(["Second paper title"]);
      expect(r.problems).toEqual([
        { file: "a.txt", line: 1, message: expect.stringMatching(/"Can Transformers Count" and the line after it look like a title and an abstract.*full stop.*skipped/) },
      ]);
      expect(r.notices).toEqual([]);
      expect(() => readCorpus(dir, { strict: true })).toThrow(/a\.txt:1:/);
    }
    // Two such pairs: both named.
    const r = read(["T one", "An abstract without its full stop", "T two", "Another abstract that ends badly!", "Real Paper", "A real abstract."].join("\n\n"));
    expect(r.problems.map((p) => p.line)).toEqual([1, 5]);
    // A banner stays a notice: short lines (two words or fewer) before the first entry are not pairs.
    expect(read(["new", "Subscribe", "byAK and the research community", "Mar 12", "First Paper", long(2)].join("\n\n")).problems).toEqual([]);
  });

  it("a stray one-line paragraph is called a paragraph outside any entry (review-clone #5)", () => {
    const r = read(["First Paper", long(2), "Code is available at github.com/example/sparse.", "Second Paper", long(2)].join("\n\n"));
    expect(r.papers.map((p) => p.title)).toEqual(["First Paper", "Second Paper"]);
    expect(r.problems).toEqual([{ file: "t.txt", line: 5, message: expect.stringMatching(/^"Code is available at .*" is a paragraph outside any entry/) }]);
  });

  it("a Japanese or Chinese abstract ending with 。 is an abstract: words are counted by word boundaries, not spaces (review-clone #1)", () => {
    const r = read(["Tokenizers for Japanese", "日本語のトークナイザを比較する。", "中文分词的比较", "我们比较了三种中文分词方法。"].join("\n\n"));
    expect(r.papers.map((p) => [p.title, p.abstract])).toEqual([
      ["Tokenizers for Japanese", "日本語のトークナイザを比較する。"],
      ["中文分词的比较", "我们比较了三种中文分词方法。"],
    ]);
    expect(r.problems).toEqual([]);
  });

  it("the README states these rules", () => {
    const readme = readFileSync(path.join(ROOT, "README.md"), "utf8").replace(/\s+/g, " ");
    expect(readme).toContain(`A *title* is one line of at most ${MAX_TITLE_WORDS} words.`);
    expect(readme).toContain(`An *abstract* is a paragraph of several lines or of more than ${MAX_TITLE_WORDS} words, or one line of at least two words that ends with a full stop`);
    expect(readme).toContain("except a title followed by one line of three words or more just before the first entry (or just before another such pair): that is a title and an abstract without its full stop, and it is reported with its line and skipped.");
    expect(readme).toContain("Words are counted at Unicode word boundaries");
  });

  it("the bundled file reads as 71 papers with no problem", () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, "t.txt"), bundledPapers().map((p) => `${p.title}\n\n${p.abstract}`).join("\n\n"));
    const r = readCorpus(dir);
    expect(r.papers).toHaveLength(71);
    expect(r.problems).toEqual([]);
  });
});

describe("titles and abstracts of invisible characters only are empty (item 8)", () => {
  it("zero-width space, soft hyphen, word joiner, BOM, and their mixes with spaces are reported, not papers", () => {
    const invisible = ["\u200b", "\u00ad\u00ad", "\u2060", "\ufeff\u200b", " \u200c\u200d ", "\u2800", "\u3164", "\u180e\u2062", "\ufe0f"];
    const dir = tempDir();
    const lines = invisible.flatMap((text, i) => [
      { id: `t${i}`, title: text, abstract: "A real abstract." },
      { id: `a${i}`, title: `A real title ${i}`, abstract: text },
    ]);
    lines.push({ id: "ok", title: "Soft\u00adhyphen and zero\u200bwidth inside real text", abstract: "Kept as a paper." });
    writeFileSync(path.join(dir, "p.jsonl"), lines.map((l) => JSON.stringify(l)).join("\n"));
    writeFileSync(path.join(dir, "m.md"), "# \u200b\u2060\n\nAn abstract under an invisible heading.\n");
    const r = readCorpus(dir);
    expect(r.papers.map((p) => p.id)).toEqual(["ok"]);
    expect(r.problems.filter((p) => p.file === "p.jsonl").map((p) => p.message)).toEqual(
      invisible.flatMap((_, i) => [`t${i}: title is empty (only invisible characters)`, "abstract is empty (only invisible characters)"]),
    );
    expect(r.problems.filter((p) => p.file === "m.md")).toHaveLength(1);
  });
});

describe("text output and the command line contract, on an index of hostile metadata", () => {
  // Every field a corpus controls carries a newline, escape sequences and a bidi override; so does a file name.
  const EVIL = "\nFORGED \u001b[2J\u001b]0;pwned\u0007\u202e\u009b";
  const evilFile = `e\nFORGED\u001b[31m.jsonl`;
  let corpus: string;
  let index: string;
  beforeAll(async () => {
    corpus = tempDir();
    const entries = [
      { id: `evil-1${EVIL}`, title: `Reward models${EVIL}`, abstract: `Reward models for RLHF${EVIL} are trained on human preferences.`, categories: `cs.LG ${EVIL}`, authors: `Ann${EVIL}`, date: "2026-01-02" },
      { id: `evil-2${EVIL}`, title: `Reward models again${EVIL}`, abstract: `Reward models for RLHF${EVIL} are trained on human preferences.`, categories: `cs.LG${EVIL}` },
      { id: "plain", title: "Reward shaping", abstract: "Reward models for RLHF are trained on human preferences, and shaped." },
    ];
    writeFileSync(path.join(corpus, evilFile), entries.map((e) => JSON.stringify(e)).join("\n") + "\n{oops\n");
    index = tempDir();
    await ingest({ corpus, index }, { embedder });
  });
  const unsafe = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]|(^|\n)FORGED/;

  it("every text field of every text output goes through the sanitiser (item 12)", () => {
    const topic = (JSON.parse(runCli(["clusters", "--json", "--index", index]).stdout) as { topics: { id: number }[] }).topics[0]?.id;
    const runs = [
      ["search", "reward models", "--mode", "lexical", "--explain"],
      ["related", "plain"],
      ["related", "reward models"],
      ["clusters"],
      ["clusters", "--level", "fine"],
      ...(topic === undefined ? [] : [["clusters", "--topic", String(topic)]]),
      ["stats"],
      ["ingest", "--dry-run", "--corpus", corpus],
      ["ingest", "--strict", "--corpus", corpus],
    ];
    for (const args of runs) {
      const r = runCli([...args, "--index", args.includes("--dry-run") ? path.join(tempDir(), "fresh") : index], { nodeArgs: FORBID_MODEL });
      expect(r.stdout + r.stderr, args.join(" ")).not.toMatch(unsafe);
      expect(r.stdout + r.stderr, args.join(" ")).toMatch(/FORGED|evil/);
    }
  });

  it("search --stdin: a bad flag exits 2 before reading a line; a lone CR does not split a line (item 13)", () => {
    for (const flags of [["--since", "2026-13"], ["--category="], ["--author", "\u200b"], ["--mode", "lexical", "reward"]]) {
      const r = runCli(["search", "--stdin", "--json", "--mode", "lexical", ...flags, "--index", index], { input: "reward\nmodels\n", nodeArgs: FORBID_MODEL });
      expect(r.status, flags.join(" ")).toBe(2);
      expect(r.stdout, flags.join(" ")).toBe("");
      expect(r.stderr).toMatch(/^papersift: .*\n\s+fix: /);
    }
    const r = runCli(["search", "--stdin", "--json", "--mode", "lexical", "--index", index], { input: "reward\rmodels\nshaping\r\n\r\n\u200b\nlast", nodeArgs: FORBID_MODEL });
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split("\n").map((l) => JSON.parse(l) as { query: string; error?: { code: string } });
    expect(lines.map((l) => [l.query, l.error?.code ?? "ok"])).toEqual([
      ["reward models", "ok"],
      ["shaping", "ok"],
      ["", "EMPTY_QUESTION"],
      ["\u200b", "EMPTY_QUESTION"],
      ["last", "ok"],
    ]);
  });
});

describe("clusters: every fine cluster sits in a topic, and a corpus too small for topics says why (item 10)", () => {
  const indexOf = async (papers: { id: string; title: string; abstract: string }[]) => {
    const corpus = tempDir();
    writeFileSync(path.join(corpus, "p.jsonl"), papers.map((p) => JSON.stringify(p)).join("\n"));
    const index = tempDir();
    await ingest({ corpus, index }, { embedder });
    return index;
  };

  it("two identical papers: one topic holding their cluster, in the text too", async () => {
    const p = bundledPapers()[0]!;
    const index = await indexOf([{ ...p, id: "a" }, { ...p, id: "b" }]);
    const idx = await openIndex(index, { embedder });
    const c = idx.clusters();
    idx.close();
    expect(c.clusters).toHaveLength(1);
    expect(c.topics).toHaveLength(1);
    expect(c.clusters[0]!.topic).toBe(c.topics[0]!.id);
    expect(c.topics[0]!.clusters).toEqual([c.clusters[0]!.id]);
    expect(c.coverage).toBe(1);
    const text = runCli(["clusters", "--index", index], { nodeArgs: FORBID_MODEL }).stdout;
    expect(text).toMatch(/^1 topic \(resolution 1\) holds 2 papers, 100\.0% of the corpus; 1 cluster at ≥ 0\.6 inside it/);
    expect(text).toMatch(/\(2 papers, 1 cluster, cohesion /);
  });

  it("ingest's summary line counts in the singular where there is one", () => {
    const corpus = tempDir();
    writeTxt(path.join(corpus, "one.txt"), bundledPapers().slice(0, 1));
    const r = runCli(["ingest", "--corpus", corpus, "--index", tempDir()]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^1 paper, \d+ chunks?: 1 added, .*; \d+ chunks? embedded/m);
    expect(r.stdout).not.toMatch(/\b1 (papers|chunks)\b/);
  });

  it("three unrelated papers, or a filter nothing passes: no topics, and the reason", async () => {
    const index = await indexOf(bundledPapers().slice(0, 3).map((p, i) => ({ ...p, id: `p${i}` })));
    const idx = await openIndex(index, { embedder });
    const c = idx.clusters({ threshold: 0.99 });
    expect(c.topics).toEqual([]);
    expect(c.notices).toEqual([expect.stringMatching(/^no topics: 3 papers are too few \(a topic needs at least 5 papers, or a cluster of papers at similarity ≥ 0\.99\)$/)]);
    expect(idx.clusters({ author: "nobody at all" }).notices).toEqual(["no topics: no paper passes the filter"]);
    idx.close();
    const text = runCli(["clusters", "--threshold", "0.99", "--index", index], { nodeArgs: FORBID_MODEL }).stdout;
    expect(text).toMatch(/^no topics: 3 papers are too few/);
  });

  it("at any resolution and threshold, on the bundled papers: no cluster without a topic", async () => {
    const index = await indexOf(bundledPapers().map((p) => ({ ...p })));
    const idx = await openIndex(index, { embedder });
    try {
      for (const resolution of [0.5, 1, 3, 10, 30]) {
        for (const threshold of [0.5, 0.6, 0.8]) {
          const c = idx.clusters({ resolution, threshold });
          for (const cluster of c.clusters) {
            expect(cluster.topic, `resolution ${resolution}, threshold ${threshold}`).not.toBeNull();
            expect(c.topics.find((t) => t.id === cluster.topic)!.clusters).toContain(cluster.id);
          }
        }
      }
    } finally {
      idx.close();
    }
  });
});

const oneLineError = (r: { stderr: string }) => {
  expect(r.stderr).toMatch(/^papersift: [^\n]+\n\s+fix: [^\n]+\n$/);
  expect(r.stderr).not.toMatch(/unexpected error|\n\s+at |SqliteError|ENOSPC|EISDIR/);
};

describe("an ingest.lock that is not a lock file (item 4)", () => {
  it("a folder, a FIFO, a dangling symlink or a symlink to a folder: at once, one line naming what to remove", () => {
    const corpus = tempDir();
    writeTxt(path.join(corpus, "a.txt"), bundledPapers().slice(0, 1));
    const kinds: [string, (file: string) => void][] = [
      ["a folder", (file) => mkdirSync(file)],
      ["a FIFO", (file) => execFileSync("mkfifo", [file])],
      ["a symlink", (file) => symlinkSync("/nonexistent/papersift-lock", file)],
      ["a symlink", (file) => symlinkSync(tempDir(), file)],
    ];
    for (const [kind, make] of kinds) {
      const index = tempDir();
      const lock = path.join(index, LOCK_FILE);
      make(lock);
      const r = runCli(["ingest", "--corpus", corpus, "--index", index, "--wait", "2"], { nodeArgs: FORBID_MODEL, timeoutMs: 30_000 });
      expect(r.status, `${kind}: ${r.stderr}`).toBe(1);
      expect(r.stderr).toContain(`${lock} is ${kind}, not a lock file`);
      expect(r.stderr).toContain(`fix: remove ${lock}`);
      oneLineError(r);
    }
  });

  it("a reader is not held up by one: a FIFO at ingest.lock while its HNSW file lacks committed chunks", async () => {
    const corpus = tempDir();
    jsonl(path.join(corpus, "p.jsonl"), bundledPapers().slice(0, 4), "p");
    const index = tempDir();
    await ingest({ corpus, index }, { embedder });
    // A chunk the HNSW file lacks, as a killed batched ingest leaves: the reader asks whether an ingest runs.
    const db = new Database(path.join(index, "papersift.db"));
    db.exec("INSERT INTO chunks (paper, ord, title_chars, start, end, tokens, vector) SELECT paper, ord + 1, title_chars, start, end, tokens, vector FROM chunks WHERE rowid = 1");
    db.close();
    execFileSync("mkfifo", [path.join(index, LOCK_FILE)]);
    const r = runCli(["related", "p0", "--json", "--index", index], { nodeArgs: FORBID_MODEL, timeoutMs: 30_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).results).toHaveLength(3);
  });

  it("a live holder: the wait ends at --wait with one line naming the lock file to remove if its process is gone", () => {
    const corpus = tempDir();
    writeTxt(path.join(corpus, "a.txt"), bundledPapers().slice(0, 1));
    const index = tempDir();
    writeFileSync(path.join(index, LOCK_FILE), JSON.stringify({ pid: process.pid, start: processStart("self"), host: hostname(), tool: "papersift" }));
    const r = runCli(["ingest", "--corpus", corpus, "--index", index, "--wait", "1"], { nodeArgs: FORBID_MODEL, timeoutMs: 30_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^papersift: waiting for another ingest .* up to 1 s\n/);
    expect(r.stderr).toContain(`remove ${path.join(index, LOCK_FILE)} if`);
    oneLineError({ stderr: r.stderr.slice(r.stderr.indexOf("\n") + 1) });
  });
});

describe("messages that were raw errors become one line with the fix (item 16)", () => {
  let index: string;
  let corpus: string;
  beforeAll(async () => {
    corpus = tempDir();
    jsonl(path.join(corpus, "p.jsonl"), bundledPapers().slice(0, 12), "p");
    index = tempDir();
    await ingest({ corpus, index }, { embedder });
  });
  const copy = () => {
    const to = tempDir();
    cpSync(index, to, { recursive: true });
    return to;
  };
  const setMeta = (dir: string, where: string, value: string) => {
    const db = new Database(path.join(dir, "papersift.db"));
    db.prepare(`UPDATE meta SET value = ? WHERE ${where}`).run(value);
    db.close();
  };

  it("a damaged hnsw-<generation> or topics row is a stale cache: rebuilt, same answers", () => {
    const expected = runCli(["related", "p0", "--json", "--index", index], { nodeArgs: FORBID_MODEL });
    expect(expected.status).toBe(0);
    runCli(["clusters", "--index", index], { nodeArgs: FORBID_MODEL });
    for (const where of ["key LIKE 'hnsw-%'", "key LIKE 'topics:%'"]) {
      const dir = copy();
      setMeta(dir, where, "{Expected property name");
      for (const args of [["related", "p0", "--json"], ["clusters", "--json"]]) {
        const r = runCli([...args, "--index", dir], { nodeArgs: FORBID_MODEL });
        expect(r.status, `${where}: ${r.stderr}`).toBe(0);
        if (args[0] === "related") expect(r.stdout).toBe(expected.stdout);
      }
    }
  });

  it("a damaged files row (the last ingest's per-file report) counts as missing: stats still lists each file's papers", () => {
    const expected = runCli(["stats", "--json", "--index", index], { nodeArgs: FORBID_MODEL });
    expect(expected.status).toBe(0);
    const dir = copy();
    setMeta(dir, "key = 'files'", "{Expected property name");
    for (const args of [["stats", "--json"], ["stats"]]) {
      const r = runCli([...args, "--index", dir], { nodeArgs: FORBID_MODEL });
      expect(r.status, r.stderr).toBe(0);
      if (args.length === 2) {
        const files = (JSON.parse(r.stdout) as { files: { file: string; papers: number }[] }).files;
        expect(files.map((f) => [f.file, f.papers])).toEqual((JSON.parse(expected.stdout) as { files: { file: string; papers: number }[] }).files.map((f) => [f.file, f.papers]));
      }
    }
  });

  it("a damaged state row: one line saying the index is damaged and to rebuild; the rebuild works", async () => {
    const dir = copy();
    setMeta(dir, "key = 'state'", "{Expected property name");
    const r = runCli(["stats", "--index", dir], { nodeArgs: FORBID_MODEL });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/state row .*\n\s+fix: run `papersift ingest --rebuild`/);
    oneLineError(r);
    expect((await ingest({ corpus, index: dir, rebuild: true }, { embedder })).papers).toBe(12);
    expect(storedIds(dir)).toEqual(storedIds(index));
  });

  it("option values: an empty --category, a huge -k, a zero --resolution", () => {
    const cases: [string[], string][] = [
      [["search", "x", "--mode", "lexical", "--category="], "--category must not be empty"],
      [["search", "x", "--mode", "lexical", "--category", "cs.CL", "--category", " "], "--category must not be empty"],
      [["search", "x", "--mode", "lexical", "-k", "100000000000000000000"], "-k is too large (at most 1000000)"],
      [["related", "p0", "-k", "99999999999999999999"], "-k is too large (at most 1000000)"],
      [["clusters", "--resolution", "0"], "--resolution must be above 0"],
      [["clusters", "--resolution", "-2"], "--resolution must be above 0"],
    ];
    for (const [args, message] of cases) {
      const r = runCli([...args, "--index", index], { nodeArgs: FORBID_MODEL });
      expect(r.status, args.join(" ")).toBe(2);
      expect(r.stderr).toContain(`papersift: ${message}\n`);
      oneLineError(r);
    }
  });

  // A full disk, for real: a 64 KB tmpfs in a private mount namespace (unshare, as any user where user
  // namespaces are allowed). Filled to the brim, the lock cannot be written; nearly so, the store cannot.
  const canMount = spawnSync("unshare", ["--user", "--map-root-user", "--mount", "true"]).status === 0;
  it("a full disk (a 64 KB tmpfs): one line saying so, and no lock left behind", (ctx) => {
    if (!canMount) ctx.skip("needs unshare and user namespaces to mount a small tmpfs");
    const corpus = tempDir();
    writeTxt(path.join(corpus, "a.txt"), bundledPapers().slice(0, 3));
    const mount = tempDir();
    for (const fillKb of [64, 60, 40]) {
      const script = [
        `mount -t tmpfs -o size=64k tmpfs "${mount}"`,
        `dd if=/dev/zero of="${mount}/fill" bs=1k count=${fillKb} 2>/dev/null`,
        `"${process.execPath}" ${FORBID_MODEL.join(" ")} "${path.join(ROOT, "bin", "papersift.js")}" ingest --corpus "${corpus}" --index "${mount}/idx"`,
        `echo "rc=$?" >&2`,
        `ls -a "${mount}/idx" >&2`,
      ].join("; ");
      const r = spawnSync("unshare", ["--user", "--map-root-user", "--mount", "sh", "-c", script], { encoding: "utf8", env: { ...process.env, NO_COLOR: "1" }, timeout: 60_000 });
      const [message, after] = r.stderr.split(/\nrc=/);
      expect(after, `${fillKb} KB: ${r.stderr}`).toMatch(/^1\n/);
      expect(message).toMatch(new RegExp(`^papersift: the disk holding ${mount}/idx is full\\b[^\\n]*\\n\\s+fix: free some space`));
      expect(message).not.toMatch(/unexpected error|\n\s+at /);
      expect(after).not.toContain(LOCK_FILE);
    }
  });
});

describe("BM25 after removals, edits and --rebuild equals a fresh index of the same corpus (item 6)", () => {
  // Two papers that share the query's words, and filler that does not: removing filler changes the row
  // count and the average length that BM25 weighs terms and lengths by.
  const A = { id: "A", title: "Apple orchards", abstract: "Apple and banana growers compare apple yields across seasons and regions of the valley." };
  const B = { id: "B", title: "Banana exports", abstract: "Banana banana banana prices, with an apple aside." };
  const filler = (i: number, words: number) => ({ id: `f${i}`, title: `Filler paper ${i}`, abstract: `${"Unrelated words about rivers and mountains ".repeat(words).trim()} number ${i}.` });
  const write = (corpus: string, papers: { id: string; title: string; abstract: string }[]) =>
    writeFileSync(path.join(corpus, "p.jsonl"), papers.map((p) => JSON.stringify(p)).join("\n") + "\n");
  const ranking = async (index: string, query: string) => {
    const idx = await openIndex(index, { embedder });
    try {
      // Papers with equal scores may come in either order: by id, then.
      const results = (await idx.search(query, { mode: "lexical", k: 100 })).results;
      return results.map((r) => [r.id, r.score] as const).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
    } finally {
      idx.close();
    }
  };
  const fresh = async (papers: { id: string; title: string; abstract: string }[], chunking?: { windowTokens: number; overlapTokens: number }) => {
    const corpus = tempDir();
    write(corpus, papers);
    const index = tempDir();
    await ingest({ corpus, index, chunking }, { embedder });
    return index;
  };
  const QUERIES = ["apple banana", "banana", "apple orchards seasons", "rivers mountains", "number 3"];

  it("after every kind of change the scores are a fresh index's, to the last digit", async () => {
    const corpus = tempDir();
    const v1 = [A, B, ...Array.from({ length: 8 }, (_, i) => filler(i, 1 + (i % 4) * 6))];
    write(corpus, v1);
    const index = tempDir();
    await ingest({ corpus, index }, { embedder });
    const edited = [{ ...A, abstract: `${A.abstract} Apple again.` }, { ...B, title: "Banana exports and imports" }];
    const narrow = { windowTokens: 32, overlapTokens: 0 };
    const steps: [string, typeof v1, { rebuild?: boolean; chunking?: typeof narrow }][] = [
      ["4 filler papers removed", [A, B, ...v1.slice(6)], {}],
      ["an abstract edited, a title edited", [...edited, ...v1.slice(6)], {}],
      ["a paper added back, one moved to another line", [...edited, v1[7]!, v1[6]!, v1[5]!], {}],
      ["--rebuild", [...edited, ...v1.slice(5)], { rebuild: true }],
      ["--rebuild again", [...edited, ...v1.slice(5)], { rebuild: true }],
      ["every paper re-chunked to another window", [...edited, ...v1.slice(5)], { chunking: narrow }],
    ];
    for (const [what, papers, options] of steps) {
      write(corpus, papers);
      await ingest({ corpus, index, ...options }, { embedder });
      const expected = await fresh(papers, options.chunking);
      for (const query of QUERIES) expect(await ranking(index, query), `${what}: ${query}`).toEqual(await ranking(expected, query));
    }
  });

  it("an index whose statistics drifted under the old schema is put right when it is opened", async () => {
    const papers = [A, B, ...Array.from({ length: 8 }, (_, i) => filler(i, 2 + i))];
    const index = await fresh(papers);
    // Back to the table of the schema before the fix (4), with the drift it caused: rows deleted, statistics kept.
    const db = new Database(path.join(index, "papersift.db"));
    const texts = db.prepare("SELECT c.rowid, p.title, c.title_chars, p.abstract, c.start, c.end FROM chunks c JOIN papers p ON p.rowid = c.paper").all() as { rowid: number; title: string; title_chars: number; abstract: string; start: number; end: number }[];
    db.exec("DROP TABLE chunks_fts; CREATE VIRTUAL TABLE chunks_fts USING fts5(text, content='', contentless_delete=1, tokenize='porter unicode61 remove_diacritics 2');");
    const insert = db.prepare("INSERT INTO chunks_fts (rowid, text) VALUES (?, ?)");
    for (const t of texts) insert.run(t.rowid, chunkText(t.title, t.title_chars, t.abstract, t.start, t.end));
    for (const t of texts) insert.run(100_000 + t.rowid, "drift drift drift");
    db.exec("DELETE FROM chunks_fts WHERE rowid >= 100000; PRAGMA user_version = 4;");
    db.close();
    for (const query of QUERIES) expect(await ranking(index, query), query).toEqual(await ranking(await fresh(papers), query));
  });
});

describe("help and docs state the defaults the code uses (item 17)", () => {
  const helps = new Map<string, string>();
  const help = (command: string) => {
    if (!helps.has(command)) helps.set(command, runCli([command, "--help"], { nodeArgs: FORBID_MODEL }).stdout.replace(/\s+/g, " "));
    return helps.get(command)!;
  };
  const cliMd = readFileSync(path.join(ROOT, "docs", "cli.md"), "utf8").replace(/\s+/g, " ");
  const defaultModel = vendoredModels().find((m) => m.dir === DEFAULT_MODEL_DIR)!;
  const name = (m: { dir: string }) => path.basename(m.dir);

  it("--model names the default model; search gives each model's word-match weight; clusters each threshold and the resolution rule", () => {
    const claims: [string, string][] = [
      ...["ingest", "search", "serve", "mcp"].map((c): [string, string] => [c, `default: ${name(defaultModel)}`]),
      ...vendoredModels().map((m): [string, string] => ["search", `${m.manifest.lexicalWeight} for ${name(m)}`]),
      ...vendoredModels().map((m): [string, string] => ["clusters", `${m.manifest.clusterThreshold} for ${name(m)}`]),
      ["clusters", `${defaultResolution(10)} up to ${RESOLUTION_RISE.from.toLocaleString("en")} papers, rising to ${defaultResolution(1e9)} at ${RESOLUTION_RISE.to.toLocaleString("en")}`],
    ];
    for (const [command, claim] of claims) {
      expect(help(command), `${command} --help`).toContain(claim);
      expect(cliMd, `docs/cli.md (npm run readme), ${command}`).toContain(claim);
    }
    for (const command of ["ingest", "search", "serve", "mcp"]) {
      for (const m of vendoredModels().filter((v) => v !== defaultModel)) expect(help(command)).not.toContain(`default: the bundled ${name(m)}`);
    }
    expect(help("search")).not.toMatch(/adds up to 0\.2\b/);
    expect(readFileSync(path.join(ROOT, "README.md"), "utf8")).toContain(`${name(defaultModel)} (the default`);
  });
});
