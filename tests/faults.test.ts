// Fault injection with real processes and temp folders: kill -9 at chosen points, damaged and stale files,
// racing writers and readers, hostile corpora and queries. Nothing may be lost or silently wrong.
import { spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { beforeAll, describe, expect, it } from "vitest";
import type { Embedder } from "../src/embed.ts";
import { ingest, openIndex } from "../src/index.ts";
import { LOCK_FILE, processStart } from "../src/store/lock.ts";
import { bundledPapers, FORBID_MODEL, ROOT, runCli, sharedEmbedder, stderrSays, tempDir, writeTxt } from "./helpers.ts";

let embedder: Embedder;
let corpusA: string;
let corpusB: string;
let indexA: string;
const idsA = () => bundledPapers().slice(0, 8).map((p) => p.id).sort();
const idsB = () => bundledPapers().slice(0, 43).map((p) => p.id).sort();

beforeAll(async () => {
  embedder = await sharedEmbedder();
  corpusA = tempDir();
  writeTxt(path.join(corpusA, "a.txt"), bundledPapers().slice(0, 8));
  corpusB = tempDir();
  writeTxt(path.join(corpusB, "a.txt"), bundledPapers().slice(0, 8));
  writeTxt(path.join(corpusB, "b.txt"), bundledPapers().slice(8, 43));
  indexA = tempDir();
  await ingest({ corpus: corpusA, index: indexA }, { embedder });
});

function copyIndex(from: string): string {
  const to = tempDir();
  cpSync(from, to, { recursive: true });
  return to;
}

/** The papers one search sees (one read snapshot), asking for more papers than exist. */
async function visiblePapers(index: string): Promise<string[]> {
  const idx = await openIndex(index, { embedder });
  try {
    const { results } = await idx.search("reward", { k: 1000, mode: "dense" });
    return results.map((r) => r.id).sort();
  } finally {
    idx.close();
  }
}

const killedIngest = (index: string, point: string) =>
  spawnSync(process.execPath, [path.join(ROOT, "bin", "papersift.js"), "ingest", "--corpus", corpusB, "--index", index], {
    env: { ...process.env, PAPERSIFT_FAILPOINT: point },
    encoding: "utf8",
    timeout: 120_000,
  });

describe("kill -9 during ingest", () => {
  const cases = [
    { point: "after-first-embed-step", sees: "old" },
    { point: "inside-transaction", sees: "old" },
    { point: "after-commit", sees: "new" },
    { point: "before-hnsw-rename", sees: "new" },
  ] as const;
  for (const { point, sees } of cases) {
    it(`at ${point}: queries see the ${sees} index, and the next ingest finishes without re-embedding`, async () => {
      const index = copyIndex(indexA);
      const killed = killedIngest(index, point);
      expect(killed.signal).toBe("SIGKILL");
      expect(existsSync(path.join(index, LOCK_FILE))).toBe(true); // the dead process's lock is left behind

      expect(await visiblePapers(index)).toEqual(sees === "old" ? idsA() : idsB());

      const chunksB = (await ingest({ corpus: corpusB, index: copyIndex(indexA) }, { embedder })).embedded;
      const next = await ingest({ corpus: corpusB, index, lockWaitMs: 0 }, { embedder });
      expect(next.papers).toBe(43);
      if (point === "after-first-embed-step") expect(next.embedded).toBe(chunksB - 64);
      else expect(next.embedded).toBe(0);
      expect(await visiblePapers(index)).toEqual(idsB());
      expect(readdirSync(index).filter((f) => f.includes(".tmp-"))).toEqual([]);
    });
  }
});

describe("Ctrl-C during ingest", () => {
  it("exits 130, releases the lock, and leaves the previous index", async () => {
    const index = copyIndex(indexA);
    const all = tempDir();
    writeTxt(path.join(all, "all.txt"), bundledPapers());
    const child = spawn(process.execPath, [path.join(ROOT, "bin", "papersift.js"), "ingest", "--corpus", all, "--index", index], {
      env: { ...process.env, PAPERSIFT_FAILPOINT: "after-first-embed-step:report" },
    });
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    // Interrupt mid-embedding: once the child says it got there, never after a fixed time (issue 9).
    await stderrSays(child, "failpoint after-first-embed-step");
    child.kill("SIGINT");
    expect(await exited).toBe(130);
    expect(existsSync(path.join(index, LOCK_FILE))).toBe(false);
    expect(await visiblePapers(index)).toEqual(idsA());
  });
});

describe("damaged or stale files", () => {
  const related = (index: string) => runCli(["related", bundledPapers()[0]!.id, "--index", index, "--json"], { nodeArgs: FORBID_MODEL });

  it("rebuilds a deleted, truncated or older-generation HNSW file from SQLite without the model", async () => {
    const index = copyIndex(indexA);
    const hnswName = () => readdirSync(index).find((f) => /^vectors-\d+\.hnsw$/.test(f))!;
    const before = related(index);
    expect(before.status).toBe(0);
    const older = readFileSync(path.join(index, hnswName()));

    rmSync(path.join(index, hnswName()));
    expect(related(index).stdout).toBe(before.stdout);
    expect(existsSync(path.join(index, hnswName()))).toBe(true);

    truncateSync(path.join(index, hnswName()), 1000);
    expect(related(index).stdout).toBe(before.stdout);

    // A newer generation whose file is replaced by the older one (which lacks the new paper's chunks).
    const plus = tempDir();
    writeTxt(path.join(plus, "a.txt"), bundledPapers().slice(0, 9));
    await ingest({ corpus: plus, index }, { embedder });
    const after = related(index);
    writeFileSync(path.join(index, hnswName()), older);
    expect(related(index).stdout).toBe(after.stdout);
    expect(JSON.parse(after.stdout).results.map((r: { id: string }) => r.id)).toContain(bundledPapers()[8]!.id);
  });

  it("names a corrupt papersift.db and the fix, exits 1, and leaves the corpus alone", async () => {
    const index = copyIndex(indexA);
    const corpusBefore = readFileSync(path.join(corpusA, "a.txt"));
    const db = path.join(index, "papersift.db");
    const bytes = readFileSync(db);
    bytes.fill(0x5a, 0, 4096);
    writeFileSync(db, bytes);
    for (const args of [["stats"], ["search", "reward"], ["ingest", "--corpus", corpusA]]) {
      const r = runCli([...args, "--index", index]);
      expect(r.status, args[0]).toBe(1);
      expect(r.stderr).toMatch(/papersift\.db is not a readable papersift index/);
      expect(r.stderr).toMatch(/ingest --rebuild/);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    expect(readFileSync(path.join(corpusA, "a.txt")).equals(corpusBefore)).toBe(true);
    const rebuilt = runCli(["ingest", "--rebuild", "--corpus", corpusA, "--index", index, "--json"]);
    expect(rebuilt.status).toBe(0);
    expect(JSON.parse(rebuilt.stdout)).toMatchObject({ papers: 8 });
    expect(await visiblePapers(index)).toEqual(idsA());
  });

  it("refuses a store from a newer schema version with the same advice", () => {
    const index = copyIndex(indexA);
    const db = new Database(path.join(index, "papersift.db"));
    db.pragma("user_version = 99");
    db.close();
    const r = runCli(["stats", "--index", index]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/schema version 99.*\n\s+fix: run `papersift ingest --rebuild`/);
  });
});

describe("concurrency", () => {
  it("two ingests at once: one writes, the other waits for the lock, and nothing is embedded twice", async () => {
    const index = copyIndex(indexA);
    const start = () =>
      new Promise<{ code: number | null; stdout: string }>((resolve) => {
        const child = spawn(process.execPath, [path.join(ROOT, "bin", "papersift.js"), "ingest", "--corpus", corpusB, "--index", index, "--json"]);
        let stdout = "";
        child.stdout.on("data", (d) => (stdout += d));
        child.on("close", (code) => resolve({ code, stdout }));
      });
    const [a, b] = await Promise.all([start(), start()]);
    expect([a.code, b.code]).toEqual([0, 0]);
    const embedded = [a, b].map((r) => JSON.parse(r.stdout).embedded as number).sort((x, y) => x - y);
    expect(embedded[0]).toBe(0);
    expect(embedded[1]).toBeGreaterThan(0);
    expect(await visiblePapers(index)).toEqual(idsB());
  });

  it("a lock held by a live process stops a second writer with a clear message; a dead one's is taken over", async () => {
    const index = copyIndex(indexA);
    // This test process stands in for a live ingest: its pid with its own start time.
    writeFileSync(path.join(index, LOCK_FILE), JSON.stringify({ pid: process.pid, start: processStart("self"), host: hostname(), tool: "papersift" }));
    const blocked = runCli(["ingest", "--corpus", corpusA, "--index", index, "--wait", "0"], { nodeArgs: FORBID_MODEL });
    expect(blocked.status).toBe(1);
    expect(blocked.stderr).toMatch(new RegExp(`another ingest \\(pid ${process.pid}\\) is writing`));

    const dead = spawnSync(process.execPath, ["-e", "0"]).pid!;
    writeFileSync(path.join(index, LOCK_FILE), String(dead));
    const taken = runCli(["ingest", "--corpus", corpusA, "--index", index, "--wait", "0", "--json"], { nodeArgs: FORBID_MODEL });
    expect(taken.status).toBe(0);
    expect(existsSync(path.join(index, LOCK_FILE))).toBe(false);
  });

  it("queries during an ingest always see one whole generation", async () => {
    const index = copyIndex(indexA);
    const child = spawn(process.execPath, [path.join(ROOT, "bin", "papersift.js"), "ingest", "--corpus", corpusB, "--index", index]);
    let done = false;
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => ((done = true), resolve(code))));
    const seen = new Set<string>();
    const deadline = Date.now() + 120_000;
    while (!done && Date.now() < deadline) {
      const papers = await visiblePapers(index);
      expect([idsA(), idsB()]).toContainEqual(papers);
      seen.add(papers.length === 8 ? "old" : "new");
      // onnxruntime runs inference synchronously: let the child's exit event through.
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(await exited).toBe(0);
    expect(await visiblePapers(index)).toEqual(idsB());
    expect(seen.has("old")).toBe(true);
  });
});

describe("hostile corpus", () => {
  it("skips or bounds every kind of garbage, and ingests the rest", async () => {
    const corpus = tempDir();
    const good = bundledPapers().slice(0, 2);
    writeTxt(path.join(corpus, "good.txt"), good);
    writeFileSync(path.join(corpus, "empty.txt"), "");
    writeFileSync(path.join(corpus, "empty.jsonl"), "");
    writeFileSync(path.join(corpus, "empty.md"), "");
    writeFileSync(path.join(corpus, "junk.txt"), Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256)));
    writeFileSync(path.join(corpus, "latin1.md"), Buffer.concat([Buffer.from("# Caf"), Buffer.from([0xe9]), Buffer.from(" Reinforcement\n\nAbstract about coffee-driven RL.\n")]));
    writeFileSync(path.join(corpus, "nested.jsonl"), "[".repeat(200_000) + "]".repeat(200_000) + "\n" + JSON.stringify({ title: "Nested neighbour", abstract: "Survives." }) + "\n");
    const huge = Array.from({ length: 66_000 }, (_, i) => `Reward shaping variant ${i} changes the optimal policy unless potential-based.`).join(" ");
    writeFileSync(path.join(corpus, "huge.jsonl"), JSON.stringify({ id: "huge", title: "A Five Megabyte Abstract", abstract: huge }) + "\n");
    writeFileSync(path.join(corpus, "long-title.md"), `# ${"Very ".repeat(2_000)}Long Title\n\nA short abstract.\n`);
    writeFileSync(path.join(corpus, "dups.jsonl"), Array.from({ length: 200 }, (_, i) => JSON.stringify({ id: `dup-${i % 20}`, title: "Same Title", abstract: `Copy ${i}.` })).join("\n"));
    mkdirSync(path.join(corpus, "sub"));
    symlinkSync(corpus, path.join(corpus, "sub", "loop"));

    const started = performance.now();
    const summary = await ingest({ corpus, index: tempDir() }, { embedder });
    expect(performance.now() - started).toBeLessThan(60_000);
    // good ×2, latin1, nested neighbour, huge, long title, and the 200 dups: distinct papers sharing 20 ids are all kept (review 18 #1)
    expect(summary.papers).toBe(2 + 1 + 1 + 1 + 1 + 200);
    const problems = summary.problems.map((p) => `${p.file}:${p.line}`);
    expect(problems).toEqual(expect.arrayContaining(["junk.txt:1", "latin1.md:1", "nested.jsonl:1", "empty.md:1"]));
    const notices = summary.notices.join("\n");
    expect(notices).toMatch(/huge\.jsonl:1: abstract of \d{7} characters cut to 100000/);
    expect(notices).toMatch(/long-title\.md:1: title of \d+ characters cut to 1000/);
    expect(summary.notices.filter((n) => /^two papers have the id dup-\d+: the one at dups\.jsonl:\d+ is dup-\d+-[0-9a-f]{8} \(the one at dups\.jsonl:\d+ keeps dup-\d+\)$/.test(n))).toHaveLength(180);
    expect(notices).toMatch(/symlink loop/);

    const ids = (await ingest({ corpus, index: tempDir(), dryRun: true }, { embedder })).plan.added;
    expect(ids).toContain("huge");
  });
});

describe("hostile queries", () => {
  const k = (args: string[], input?: string) => runCli([...args, "--index", indexA], input === undefined ? {} : { input });

  it("answers odd but valid questions with bounded results", () => {
    for (const q of ["?!.,;:", "🤖🧠📄", "x".repeat(100_000), "reward -k"]) {
      const r = k(["search", q, "--json", "-k", "3"]);
      expect(r.status, q.slice(0, 20)).toBe(0);
      expect(JSON.parse(r.stdout).results.length).toBeLessThanOrEqual(3);
    }
    const all = k(["search", "reward", "-k", "1000000", "--json"]);
    expect(all.status).toBe(0);
    expect(JSON.parse(all.stdout).results).toHaveLength(8);
    const nul = k(["search", "--stdin", "--json"], "reward\0model\u0000s\n");
    expect(nul.status).toBe(0);
    expect(JSON.parse(nul.stdout).query).toBe("reward model s");
  });

  it("rejects bad values with exit 2 and one line", () => {
    for (const args of [["ingest", "--window", "64", "--overlap", "40"], ["ingest", "--window", "4096"], ["search", ""], ["search", "x", "-k", "-3"], ["search", "x", "-k", "1e3"], ["search", "x", "--min-score", "abc"], ["clusters", "--threshold", "7"], ["clusters", "--min-size", "0"], ["related", "x", "-k", "0"]]) {
      const r = k(args);
      expect(r.status, args.join(" ")).toBe(2);
      expect(r.stderr.split("\n")[0]).toMatch(/^papersift: /);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });
});
