// Issue 9: a hostile user's defects, each pinned at its root, and around each a few more cases of the same
// class. Real CLI processes, real model, real SQLite and HNSW files in temp folders; permission cases run the
// CLI without capabilities, because root ignores file modes.
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { beforeAll, describe, expect, it } from "vitest";
import { readCorpus } from "../src/corpus/index.ts";
import type { Embedder } from "../src/embed.ts";
import { ingest, openIndex } from "../src/index.ts";
import { LOCK_FILE } from "../src/store/lock.ts";
import { BUNDLED_CORPUS, bundledPapers, FORBID_MODEL, ROOT, runCli, sharedEmbedder, stderrSays, tempDir, writeTxt, type CliResult } from "./helpers.ts";

let embedder: Embedder;
let corpus: string;
let index: string;
const BUNDLED_TXT = readFileSync(path.join(BUNDLED_CORPUS, "trending-papers-abstracts.txt"), "utf8");

beforeAll(async () => {
  embedder = await sharedEmbedder();
  corpus = tempDir();
  writeTxt(path.join(corpus, "a.txt"), bundledPapers().slice(0, 6));
  index = tempDir();
  await ingest({ corpus, index }, { embedder });
});

const copyOf = (from: string) => {
  const to = tempDir();
  cpSync(from, to, { recursive: true });
  return to;
};
const ids = async (dir: string) => {
  const idx = await openIndex(dir, { embedder });
  try {
    return (await idx.search("reward", { k: 1000, mode: "lexical" })).results.map((r) => r.id).sort();
  } finally {
    idx.close();
  }
};
const storedIds = (dir: string) => {
  const db = new Database(path.join(dir, "papersift.db"), { readonly: true });
  try {
    return (db.prepare("SELECT id FROM papers ORDER BY id").pluck().all() as string[]);
  } finally {
    db.close();
  }
};
const oneLineError = (r: CliResult) => {
  expect(r.stderr).toMatch(/^papersift: /);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(r.stderr).not.toMatch(/SqliteError|RangeError|TypeError|ERR_/);
};

/**
 * Run the CLI without privileges, so that file modes apply: as root (CI), with every capability dropped, so
 * that root's permission overrides are gone but the clone (wherever it is) stays readable by its owner.
 */
const isRoot = process.getuid?.() === 0;
function runAsNobody(args: string[], options: { input?: string } = {}): CliResult {
  const command = isRoot ? ["setpriv", "--bounding-set=-all", "--inh-caps=-all", process.execPath] : [process.execPath];
  const r = spawnSync(command[0]!, [...command.slice(1), path.join(ROOT, "bin", "papersift.js"), ...args], {
    cwd: ROOT,
    input: options.input ?? "",
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1" },
    timeout: 120_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
/** A temp folder the unprivileged user can enter. */
const openDir = () => {
  const dir = tempDir();
  chmodSync(dir, 0o777);
  return dir;
};

describe("the .txt reader never merges or drops a paper silently", () => {
  const paragraphs = BUNDLED_TXT.split("\n\n");
  const write = (text: string) => {
    const dir = tempDir();
    writeFileSync(path.join(dir, "t.txt"), text);
    return dir;
  };

  it("a missing title line: the orphan abstract is reported with its line, not appended to its neighbour; --strict fails", () => {
    const without = [...paragraphs];
    const at = without.indexOf("Behavior Alignment via Reward Function Optimization");
    const orphan = without[at + 1]!;
    without.splice(at, 1);
    const dir = write(without.join("\n\n"));
    const { papers, problems } = readCorpus(dir);
    expect(papers).toHaveLength(70);
    expect(papers.some((p) => p.abstract.includes(orphan.slice(0, 80)))).toBe(false);
    const line = without.join("\n\n").slice(0, without.join("\n\n").indexOf(orphan)).split("\n").length;
    expect(problems).toEqual([{ file: "t.txt", line, message: expect.stringMatching(/no title line before it/) }]);
    expect(() => readCorpus(dir, { strict: true })).toThrowError(new RegExp(`t\\.txt:${line}: `));
  });

  it("a title with no blank line after it is reported, not merged", () => {
    const joined = [...paragraphs];
    const at = joined.indexOf("Reward Model Ensembles Help Mitigate Overoptimization");
    joined.splice(at, 2, `${joined[at]}\n${joined[at + 1]}`);
    const { papers, problems } = readCorpus(write(joined.join("\n\n")));
    expect(papers).toHaveLength(70);
    expect(papers.some((p) => p.abstract.includes("Reward Model Ensembles Help Mitigate"))).toBe(false);
    expect(problems).toHaveLength(1);
    expect(problems[0]!.message).toMatch(/blank line/);
  });

  it("short abstracts are papers, not boilerplate; a title left without an abstract is reported", () => {
    const text = [
      "Banner",
      "First Paper",
      "A long enough abstract about reinforcement learning from human feedback that reads like a real abstract, with many more words in it than any banner or date line would have.",
      "Second Paper",
      "A twelve word abstract that is much shorter than the usual ones.",
      "Third Paper Without Abstract",
      "Fourth Paper",
      "Tiny abstract.",
    ].join("\n\n");
    const { papers, problems } = readCorpus(write(text));
    expect(papers.map((p) => p.title)).toEqual(["First Paper", "Second Paper", "Fourth Paper"]);
    expect(problems.map((p) => p.line)).toEqual([11]);
    expect(problems[0]!.message).toMatch(/Third Paper Without Abstract.*no abstract/);
  });

  it("three more of the class: a hard-wrapped abstract, CRLF line ends, and two abstracts in a row", () => {
    const wrapped = "Intro\n\nWrapped Title\n\nThis abstract is hard-wrapped over\nseveral lines, as plain-text exports do,\nand is still one abstract of one paper, with as many\nwords in it as a real abstract would have.\n";
    expect(readCorpus(write(wrapped)).papers.map((p) => p.title)).toEqual(["Wrapped Title"]);
    const crlf = paragraphs.slice(0, 9).join("\r\n\r\n");
    expect(readCorpus(write(crlf)).papers).toHaveLength(2);
    const doubled = [...paragraphs.slice(0, 7), paragraphs[6]!, ...paragraphs.slice(7, 9)].join("\n\n");
    const r = readCorpus(write(doubled));
    expect(r.papers).toHaveLength(2);
    expect(r.problems).toHaveLength(1);
  });
});

describe("ids: equal only for the same paper, stable, never colliding", () => {
  it("distinct explicit ids sharing a title are two papers", () => {
    const dir = tempDir();
    writeFileSync(
      path.join(dir, "p.jsonl"),
      [{ id: "2301.00001", title: "Same", abstract: "One." }, { id: "2301.00002", title: "Same", abstract: "Two." }].map((e) => JSON.stringify(e)).join("\n"),
    );
    expect(readCorpus(dir).papers.map((p) => p.id)).toEqual(["2301.00001", "2301.00002"]);
  });

  it("an explicit id equal to another paper's slug wins in either file order; the other paper gets a hashed id", () => {
    for (const [explicitFile, derivedFile] of [["a.jsonl", "b.md"], ["z.jsonl", "b.md"]]) {
      const dir = tempDir();
      writeFileSync(path.join(dir, explicitFile!), JSON.stringify({ id: "attention", title: "Something Else", abstract: "Explicit." }));
      writeFileSync(path.join(dir, derivedFile!), "# Attention\n\nDerived.\n");
      const papers = readCorpus(dir).papers;
      expect(papers).toHaveLength(2);
      expect(papers.find((p) => p.abstract === "Explicit.")!.id).toBe("attention");
      expect(papers.find((p) => p.abstract === "Derived.")!.id).toMatch(/^attention-[0-9a-f]{8}$/);
    }
  });

  it("non-Latin titles get readable, distinct ids that survive deleting another file", () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, "a.md"), "# 注意力机制研究\n\n第一篇.\n");
    writeFileSync(path.join(dir, "b.md"), "# Обучение с подкреплением\n\nВторая.\n");
    writeFileSync(path.join(dir, "c.md"), "# ★★★\n\nOnly symbols in the title.\n");
    writeFileSync(path.join(dir, "d.md"), "# ☆☆☆\n\nAnother symbols-only title.\n");
    const before = Object.fromEntries(readCorpus(dir).papers.map((p) => [p.abstract, p.id]));
    expect(before["第一篇."]).toBe("注意力机制研究");
    expect(before["Вторая."]).toBe("обучение-с-подкреплением");
    expect(before["Only symbols in the title."]).toMatch(/^untitled-[0-9a-f]{8}$/);
    expect(new Set(Object.values(before)).size).toBe(4);
    rmSync(path.join(dir, "c.md"));
    const after = Object.fromEntries(readCorpus(dir).papers.map((p) => [p.abstract, p.id]));
    for (const [abstract, id] of Object.entries(after)) expect(id).toBe(before[abstract]);
  });

  it("a numeric JSON id keeps its source text (2301.10000 stays 2301.10000)", () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, "n.jsonl"), '{"id": 2301.10000, "title": "Numeric", "abstract": "Kept."}\n{"title": "A \\"id\\": 7 inside", "id": 1e3, "abstract": "x.", "versions": [{"id": 5}]}\n');
    expect(readCorpus(dir).papers.map((p) => p.id)).toEqual(["2301.10000", "1e3"]);
  });
});

describe("an ingest never deletes what it could not read", () => {
  it("a raw NUL byte costs its line only: the file's other papers stay, and the line is reported", async () => {
    const dir = tempDir();
    const lines = bundledPapers().slice(0, 5).map((p, i) => JSON.stringify({ id: `p${i}`, title: p.title, abstract: p.abstract }));
    writeFileSync(path.join(dir, "p.jsonl"), lines.join("\n"));
    const idx = tempDir();
    await ingest({ corpus: dir, index: idx }, { embedder });
    lines[2] = lines[2]!.replace("a", "a\0");
    writeFileSync(path.join(dir, "p.jsonl"), lines.join("\n"));
    const summary = await ingest({ corpus: dir, index: idx }, { embedder });
    expect(summary.problems.map((p) => `${p.file}:${p.line}`)).toEqual(["p.jsonl:3"]);
    expect(summary.removed).toBe(1);
    expect(storedIds(idx)).toEqual(["p0", "p1", "p3", "p4"]);
  });

  it("a file that became binary (UTF-16), or a folder that is gone unreadable, keeps its papers", async () => {
    const dir = tempDir();
    writeTxt(path.join(dir, "a.txt"), bundledPapers().slice(0, 2));
    mkdirSync(path.join(dir, "sub"));
    writeTxt(path.join(dir, "sub", "b.txt"), bundledPapers().slice(2, 4));
    const idx = tempDir();
    await ingest({ corpus: dir, index: idx }, { embedder });
    const all = storedIds(idx);
    writeFileSync(path.join(dir, "a.txt"), Buffer.from(readFileSync(path.join(dir, "a.txt"), "utf8"), "utf16le"));
    const summary = await ingest({ corpus: dir, index: idx }, { embedder });
    expect(summary.removed).toBe(0);
    expect(summary.papers).toBe(4);
    expect(summary.problems[0]).toMatchObject({ file: "a.txt", message: expect.stringMatching(/binary.*kept/) });
    expect(storedIds(idx)).toEqual(all);
    // --rebuild keeps them too, from what the index holds.
    const rebuilt = await ingest({ corpus: dir, index: idx, rebuild: true }, { embedder });
    expect(rebuilt.papers).toBe(4);
    expect(storedIds(idx)).toEqual(all);
  });

  it("without root's privileges: an unreadable file or folder is reported and its papers stay", () => {
    const dir = openDir();
    writeTxt(path.join(dir, "a.txt"), bundledPapers().slice(0, 2));
    mkdirSync(path.join(dir, "sub"));
    writeTxt(path.join(dir, "sub", "b.txt"), bundledPapers().slice(2, 3));
    writeTxt(path.join(dir, "c.txt"), bundledPapers().slice(3, 4));
    const idx = path.join(openDir(), "idx");
    chmodSync(path.join(dir, "sub"), 0o755);
    const first = runAsNobody(["ingest", "--corpus", dir, "--index", idx, "--json"]);
    expect(first.status, first.stderr).toBe(0);
    chmodSync(path.join(dir, "c.txt"), 0o000);
    chmodSync(path.join(dir, "sub"), 0o000);
    const second = runAsNobody(["ingest", "--corpus", dir, "--index", idx, "--json"]);
    expect(second.status, second.stderr).toBe(0);
    expect(JSON.parse(second.stdout)).toMatchObject({ papers: 4, removed: 0 });
    expect(second.stderr).toMatch(/c\.txt.*permission denied/);
    expect(second.stderr).toMatch(/sub\/.*permission denied/);
    chmodSync(dir, 0o000);
    const root = runAsNobody(["ingest", "--corpus", dir, "--index", idx]);
    chmodSync(dir, 0o777);
    expect(root.status).toBe(1);
    expect(root.stderr).toMatch(/cannot read the corpus folder/);
    oneLineError(root);
  });
});

describe("damaged HNSW files are never handed to hnswlib", () => {
  const hnswOf = (dir: string) => path.join(dir, readdirSync(dir).find((f) => /^vectors-\d+\.hnsw$/.test(f))!);

  it("random 50-byte corruptions: search, related, clusters and ingest answer as before, never crash", async () => {
    const expected = runCli(["related", bundledPapers()[0]!.id, "--index", index, "--json"], { nodeArgs: FORBID_MODEL }).stdout;
    const clean = readFileSync(hnswOf(index));
    let seed = 7;
    const random = () => ((seed = (seed * 48271) % 2147483647) / 2147483647);
    // The header first (entry point and level: hnswlib follows them blindly), then anywhere.
    for (let trial = 0; trial < 6; trial++) {
      const dir = copyOf(index);
      const bytes = Buffer.from(clean);
      const at = trial === 0 ? 48 : Math.floor(random() * (bytes.length - 50));
      for (let i = 0; i < 50; i++) bytes[at + i] = Math.floor(random() * 256);
      writeFileSync(hnswOf(dir), bytes);
      const r = runCli(["related", bundledPapers()[0]!.id, "--index", dir, "--json"], { nodeArgs: FORBID_MODEL });
      expect(r.status, `trial ${trial}, offset ${at}`).toBe(0);
      expect(r.stdout).toBe(expected);
    }
    for (const args of [["search", "reward model"], ["clusters"], ["ingest", "--corpus", corpus]]) {
      const dir = copyOf(index);
      const bytes = Buffer.from(clean);
      bytes.fill(0xff, 200, 250);
      writeFileSync(hnswOf(dir), bytes);
      const r = runCli([...args, "--index", dir]);
      expect(r.status, args[0]).toBe(0);
    }
  });

  it("a foreign .hnsw under the right name is detected and rebuilt, so results are this index's", async () => {
    const other = tempDir();
    // More papers than this index, so its labels cover every label here: only the checksum can tell.
    writeTxt(path.join(other, "o.txt"), bundledPapers().slice(30, 50));
    const otherIndex = tempDir();
    await ingest({ corpus: other, index: otherIndex }, { embedder });
    const dir = copyOf(index);
    const expected = runCli(["related", bundledPapers()[0]!.id, "--index", dir, "--json"], { nodeArgs: FORBID_MODEL }).stdout;
    writeFileSync(hnswOf(dir), readFileSync(hnswOf(otherIndex)));
    const r = runCli(["related", bundledPapers()[0]!.id, "--index", dir, "--json"], { nodeArgs: FORBID_MODEL });
    expect(r.stdout).toBe(expected);
  });
});

describe("ingest --rebuild works from any state of the index folder", () => {
  it("a damaged page in papersift.db: queries name the fix, and the fix works, salvaging vectors", async () => {
    const dir = copyOf(index);
    const db = path.join(dir, "papersift.db");
    const bytes = readFileSync(db);
    const page = 4096;
    // Damage one page in the middle of the file (not the header).
    bytes.fill(0x5a, page * Math.floor(bytes.length / page / 2), page * Math.floor(bytes.length / page / 2) + page);
    writeFileSync(db, bytes);
    const search = runCli(["search", "reward", "--index", dir]);
    if (search.status !== 0) {
      expect(search.stderr).toMatch(/ingest --rebuild/);
      oneLineError(search);
    }
    const rebuilt = runCli(["ingest", "--rebuild", "--corpus", corpus, "--index", dir, "--json"]);
    expect(rebuilt.status, rebuilt.stderr).toBe(0);
    expect(JSON.parse(rebuilt.stdout).notices.join("\n")).toMatch(/damaged.*moved it aside to .*papersift\.db\.damaged-.*salvaged/);
    expect(readdirSync(dir).some((f) => f.startsWith("papersift.db.damaged-"))).toBe(true);
    expect(await ids(dir)).toEqual(await ids(index));
  });

  it("a papersift.db that is not a database at all, or only half of one, is set aside and rebuilt", async () => {
    for (const damage of [(b: Buffer) => b.subarray(0, 3000), () => Buffer.from("not a database")]) {
      const dir = copyOf(index);
      writeFileSync(path.join(dir, "papersift.db"), damage(readFileSync(path.join(dir, "papersift.db"))));
      const summary = await ingest({ corpus, index: dir, rebuild: true }, { embedder });
      expect(summary.papers).toBe(6);
      expect(await ids(dir)).toEqual(await ids(index));
    }
  });

  it("a store from an older build (a column missing) gives INDEX_INCOMPATIBLE, not a raw SQL error", () => {
    const dir = copyOf(index);
    const db = new Database(path.join(dir, "papersift.db"));
    db.exec("ALTER TABLE papers DROP COLUMN meta");
    db.close();
    const r = runCli(["stats", "--index", dir]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/written by another version.*\n\s+fix: run `papersift ingest --rebuild`/);
    oneLineError(r);
    expect(runCli(["ingest", "--rebuild", "--corpus", corpus, "--index", dir]).status).toBe(0);
  });
});

describe("one-line errors, never a stack", () => {
  it("--index pointing at a file", () => {
    const file = path.join(tempDir(), "file");
    writeFileSync(file, "x");
    for (const args of [["stats"], ["ingest", "--corpus", corpus], ["search", "x"]]) {
      const r = runCli([...args, "--index", file]);
      expect(r.status, args[0]).toBe(2);
      expect(r.stderr).toMatch(/is a file, not a folder/);
      oneLineError(r);
    }
  });

  it("a read-only index folder: search and stats still answer, ingest says what to fix", () => {
    const dir = copyOf(index);
    chmodSync(dir, 0o777);
    const ro = path.join(openDir(), "ro");
    cpSync(dir, ro, { recursive: true });
    chmodSync(ro, 0o555);
    for (const f of readdirSync(ro)) chmodSync(path.join(ro, f), 0o444);
    const stats = runAsNobody(["stats", "--index", ro, "--json"]);
    expect(stats.status, stats.stderr).toBe(0);
    expect(JSON.parse(stats.stdout).papers).toBe(6);
    const search = runAsNobody(["search", "reward models", "--index", ro, "--json", "-k", "2"]);
    expect(search.status, search.stderr).toBe(0);
    expect(JSON.parse(search.stdout).results).toHaveLength(2);
    const readable = openDir();
    writeTxt(path.join(readable, "a.txt"), bundledPapers().slice(0, 6));
    chmodSync(path.join(readable, "a.txt"), 0o644);
    const r = runAsNobody(["ingest", "--corpus", readable, "--index", ro]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/cannot write to the index folder/);
    oneLineError(r);
  });

  it("JSONL nested 5,000 deep costs that line only", async () => {
    const dir = tempDir();
    const deep = '{"a":'.repeat(5000) + "1" + "}".repeat(5000);
    writeFileSync(path.join(dir, "d.jsonl"), `{"id":"x","title":"Deep","abstract":"Deep one.","meta":${deep}}\n{"id":"y","title":"Flat","abstract":"Flat one."}\n`);
    const summary = await ingest({ corpus: dir, index: tempDir() }, { embedder });
    expect(summary.papers).toBe(1);
    expect(summary.problems).toEqual([{ file: "d.jsonl", line: 1, message: expect.stringMatching(/nested/), kind: "malformed" }]);
  });

  it("search --stdin --json | head -1 exits quietly", async () => {
    const child = spawn("sh", ["-c", `yes 'reward models' | head -200 | "${process.execPath}" "${path.join(ROOT, "bin", "papersift.js")}" search --stdin --json --index "${index}" | head -1`]);
    let stderr = "";
    let stdout = "";
    child.stderr.on("data", (d) => (stderr += d));
    child.stdout.on("data", (d) => (stdout += d));
    const code = await new Promise((resolve) => child.on("close", resolve));
    expect(code).toBe(0);
    expect(stdout.split("\n").filter(Boolean)).toHaveLength(1);
    expect(stderr).toBe("");
  });

  it("option mistakes in the user's words: the flag, what is wrong, and the command's own help", () => {
    const cases: [string[], RegExp][] = [
      [["ingest", "--window", "5000"], /--window is too large \(at most 512\)\n\s+fix: see `papersift ingest --help`/],
      [["ingest", "--window", "64", "--overlap", "40"], /--overlap must be under half of --window/],
      [["search", "x", "-k", "2000000"], /-k is too large \(at most 1000000\)\n\s+fix: see `papersift search --help`/],
      [["clusters", "--threshold", "7"], /--threshold is too large \(at most 1\)/],
    ];
    for (const [args, message] of cases) {
      const r = runCli([...args, "--index", index, ...(args[0] === "ingest" ? ["--corpus", corpus] : [])]);
      expect(r.status, args.join(" ")).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/windowTokens|chunking\.|<command>|expected (string|number)/);
    }
  });
});

describe("contracts", () => {
  it("--stdin answers every input line in order, blank and NUL-only lines included", () => {
    const r = runCli(["search", "--stdin", "--json", "-k", "1", "--index", index], { input: "reward\n\n\0\0\n   \nhuman feedback\n" });
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split("\n").map((l) => JSON.parse(l) as { results: unknown[]; error?: { code: string } });
    expect(lines).toHaveLength(5);
    expect(lines.map((l) => l.error?.code ?? "ok")).toEqual(["ok", "EMPTY_QUESTION", "EMPTY_QUESTION", "EMPTY_QUESTION", "ok"]);
    expect(lines.map((l) => l.results.length)).toEqual([1, 0, 0, 0, 1]);
  });

  it("the corpus is never written to: an index equal to it, inside it, or reached through a symlink is refused", () => {
    const dir = tempDir();
    writeTxt(path.join(dir, "a.txt"), bundledPapers().slice(0, 2));
    const link = path.join(tempDir(), "link");
    symlinkSync(dir, link);
    const before = readdirSync(dir);
    for (const idx of [dir, path.join(dir, "idx"), path.join(dir, "a", "b"), path.join(link, "idx")]) {
      for (const args of [["ingest"], ["search", "x"]]) {
        const r = runCli([...args, "--corpus", dir, "--index", idx], { nodeArgs: FORBID_MODEL });
        expect(r.status, `${args[0]} ${idx}`).toBe(2);
        expect(r.stderr).toMatch(/inside the corpus folder/);
      }
    }
    expect(readdirSync(dir)).toEqual(before);
  });

  it("a lock naming pid 1, this very process, or a recycled pid is taken over at once", () => {
    for (const content of ["1", null, JSON.stringify({ pid: 1, start: "12345678", host: hostname(), tool: "papersift" })]) {
      const dir = copyOf(index);
      // null: the pid the ingest itself will get is unknown in advance, so name the shell that execs it.
      const r = content === null
        ? spawnSync("sh", ["-c", `echo $$ > "${path.join(dir, LOCK_FILE)}"; exec "${process.execPath}" --import "${FORBID_MODEL[1]}" "${path.join(ROOT, "bin", "papersift.js")}" ingest --corpus "${corpus}" --index "${dir}" --json`], { encoding: "utf8", timeout: 60_000 })
        : (writeFileSync(path.join(dir, LOCK_FILE), content), runCli(["ingest", "--corpus", corpus, "--index", dir, "--json"], { nodeArgs: FORBID_MODEL }));
      expect(r.status, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout).notices.join("\n")).toMatch(/took over a stale lock/);
      expect(existsSync(path.join(dir, LOCK_FILE))).toBe(false);
    }
  });

  it("a live ingest's lock is reported at once, before the wait ends", async () => {
    const dir = tempDir();
    const big = tempDir();
    writeTxt(path.join(big, "a.txt"), bundledPapers().slice(0, 40));
    // The holder stops itself mid-embedding, lock held, until it gets SIGCONT.
    const holder = spawn(process.execPath, [path.join(ROOT, "bin", "papersift.js"), "ingest", "--corpus", big, "--index", dir], {
      env: { ...process.env, PAPERSIFT_FAILPOINT: "after-first-embed-step:stop" },
    });
    await stderrSays(holder, "failpoint after-first-embed-step");
    const waiter = spawn(process.execPath, [path.join(ROOT, "bin", "papersift.js"), "ingest", "--corpus", big, "--index", dir, "--wait", "120"]);
    const message = await stderrSays(waiter, "waiting for");
    expect(message).toMatch(new RegExp(`waiting for another ingest \\(pid ${holder.pid}\\)`));
    holder.kill("SIGCONT");
    const codes = await Promise.all([holder, waiter].map((c) => new Promise((resolve) => (c.exitCode !== null ? resolve(c.exitCode) : c.on("close", resolve)))));
    expect(codes).toEqual([0, 0]);
  });

  it("ingest --watch stops with exit 1 and a message when the corpus folder is removed", async () => {
    const dir = tempDir();
    const watched = path.join(dir, "corpus");
    mkdirSync(watched);
    writeTxt(path.join(watched, "a.txt"), bundledPapers().slice(0, 1));
    const child = spawn(process.execPath, [path.join(ROOT, "bin", "papersift.js"), "ingest", "--watch", "--corpus", watched, "--index", path.join(dir, "idx")]);
    let stderr = "";
    await new Promise<void>((resolve) =>
      child.stderr.on("data", (d) => {
        stderr += d;
        if (stderr.includes("watching")) resolve();
      }),
    );
    renameSync(watched, path.join(dir, "moved"));
    rmSync(path.join(dir, "moved"), { recursive: true });
    const code = await new Promise((resolve) => child.on("close", resolve));
    expect(code).toBe(1);
    expect(stderr).toMatch(/corpus folder .* was removed; stopped watching/);
  });

  it("terminal output strips control characters from corpus text", async () => {
    const dir = tempDir();
    writeFileSync(
      path.join(dir, "evil.jsonl"),
      JSON.stringify({ id: "evil\u001b[2J", title: "Reward \u001b[2J\u001b]0;pwned\u0007models \u202eevil", abstract: "Reward models \u001b[31mred\u001b[0m and \u0008backspaces for RLHF." }) + "\n",
    );
    const idx = tempDir();
    await ingest({ corpus: dir, index: idx }, { embedder });
    for (const args of [["search", "reward models"], ["related", "evil"], ["clusters", "--min-size", "2"]]) {
      const r = runCli([...args, "--index", idx]);
      expect(r.stdout + r.stderr).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f\u202e]/);
    }
  });
});
