// Large corpora are streamed and written in batches (issue 11): a killed ingest keeps the batches it
// committed, the next one finishes the rest, and removals still happen. The stand-in embedder keeps a
// 700-paper corpus fast; batching is the same code whatever embeds.
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { readCorpus } from "../src/corpus/index.ts";
import { BATCH_PAPERS, ingest, type IngestSummary } from "../src/ingest.ts";
import { openIndex } from "../src/index.ts";
import { workerBuilder } from "../src/ingest/hnsw-update.ts";
import { DEFAULT_HNSW } from "../src/store/hnsw.ts";
import { Store } from "../src/store/store.ts";
import { FORBID_MODEL, ROOT, runCli, standInEmbedder, stderrSays, stoppedAt, tempDir } from "./helpers.ts";

const embedder = standInEmbedder();
const PAPERS = BATCH_PAPERS * 2 + 188; // three batches

const WORDS = "graph reward policy token vision robot protein language agent memory search proof kernel".split(" ");
function paper(i: number, edition = 0) {
  const words = Array.from({ length: 60 }, (_, j) => WORDS[(i * 7 + j * (3 + edition)) % WORDS.length]);
  return { id: `p${i}`, title: `Study ${i} of ${WORDS[i % WORDS.length]}`, abstract: `${words.join(" ")} ${i} ${edition}.`, categories: `cs.${i % 3 ? "LG" : "CL"}` };
}
const writeCorpus = (dir: string, papers: ReturnType<typeof paper>[]) =>
  writeFileSync(path.join(dir, "papers.jsonl"), papers.map((p) => JSON.stringify(p)).join("\n") + "\n");

function withStore<T>(index: string, read: (store: Store) => T): T {
  const store = Store.open(index);
  try {
    return read(store);
  } finally {
    store.close();
  }
}
const storedIds = (index: string) => withStore(index, (store) => store.papers().map((p) => p.id).sort());
const chunkCount = (index: string) => withStore(index, (store) => store.counts().chunks);

/** The stand-in ingest in a child process (`dims`: the stand-in's), killed at the first batch's commit. */
const killedAfterFirstBatch = (corpus: string, index: string, dims?: string) =>
  spawnSync(process.execPath, ["--import", "tsx", path.join(ROOT, "tests", "fixtures", "ingest-stand-in.ts"), corpus, index, ...(dims ? [dims] : [])], {
    cwd: ROOT,
    env: { ...process.env, PAPERSIFT_FAILPOINT: "after-batch-commit" },
    encoding: "utf8",
  });

describe("batched ingest", () => {
  it("a kill after the first batch keeps it; the next ingest embeds only the rest, and removals happen", async () => {
    const corpus = tempDir();
    const index = tempDir();
    const papers = Array.from({ length: PAPERS }, (_, i) => paper(i));
    writeCorpus(corpus, papers);

    const killed = killedAfterFirstBatch(corpus, index);
    expect(killed.signal).toBe("SIGKILL");
    // The first batch was committed: its papers are in the store, in corpus order.
    expect(storedIds(index)).toEqual(papers.slice(0, BATCH_PAPERS).map((p) => p.id).sort());
    const keptChunks = chunkCount(index);
    expect(keptChunks).toBeGreaterThanOrEqual(BATCH_PAPERS);

    const full = await ingest({ corpus, index: tempDir() }, { embedder });
    const next = await ingest({ corpus, index, lockWaitMs: 0 }, { embedder });
    expect(next).toMatchObject({ papers: PAPERS, added: PAPERS - BATCH_PAPERS, unchanged: BATCH_PAPERS, removed: 0 });
    expect(next.embedded).toBe(full.embedded - keptChunks); // the first batch's chunks were not embedded again
    expect(storedIds(index)).toEqual(papers.map((p) => p.id).sort());

    // Across batches: papers removed from the corpus go, edited ones are re-embedded, the rest stay.
    const edited = papers.filter((_, i) => i % 10 !== 0).map((p, i) => (i % 2 ? paper(Number(p.id.slice(1)), 1) : p));
    writeCorpus(corpus, edited);
    const third = await ingest({ corpus, index }, { embedder });
    expect(third).toMatchObject({ papers: edited.length, removed: PAPERS - edited.length });
    expect(storedIds(index)).toEqual(edited.map((p) => p.id).sort());

    // Dense search sees every paper: the HNSW file covers all chunks after a batched ingest.
    const idx = await openIndex(index, { embedder });
    try {
      const target = edited[edited.length - 1]!;
      const { results } = await idx.search(`${target.title} ${target.abstract}`, { k: 1, mode: "dense" });
      expect(results[0]!.id).toBe(target.id);
      expect((await idx.search("graph", { k: 1000, mode: "dense" })).results).toHaveLength(edited.length);
    } finally {
      idx.close();
    }
  });

  it("a batched ingest gives the same index as reading the corpus whole", async () => {
    const corpus = tempDir();
    const papers = Array.from({ length: PAPERS }, (_, i) => paper(i));
    writeCorpus(corpus, papers);
    const index = tempDir();
    await ingest({ corpus, index }, { embedder });
    const read = readCorpus(corpus).papers;
    withStore(index, (store) => {
      expect(store.papers().map((p) => [p.id, p.title, p.abstract, p.line])).toEqual(read.map((p) => [p.id, p.title, p.abstract, p.source.line]));
      expect(store.counts().vectors).toBeGreaterThanOrEqual(PAPERS);
    });
  });

  it("while a large ingest runs, queries use the previous HNSW file rather than rebuilding it after each batch", async () => {
    const corpus = tempDir();
    const index = tempDir();
    const papers = Array.from({ length: PAPERS }, (_, i) => paper(i));
    writeCorpus(corpus, papers.slice(0, 300));
    await ingest({ corpus, index }, { embedder });
    const hnswFiles = () => readdirSync(index).filter((f) => f.endsWith(".hnsw")).map((f) => `${f}@${statSync(`${index}/${f}`).mtimeMs}`);
    const before = hnswFiles();

    writeCorpus(corpus, papers);
    const child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "tests", "fixtures", "ingest-stand-in.ts"), corpus, index], {
      cwd: ROOT,
      env: { ...process.env, PAPERSIFT_FAILPOINT: "after-batch-commit:stop" },
    });
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    // The child stops itself right after committing its first batch (papers 300–555), holding the lock.
    await stderrSays(child, "failpoint after-batch-commit");
    try {
      const idx = await openIndex(index, { embedder });
      try {
        // Dense search answers from the previous file: the 300 papers it holds, not the batch just written.
        expect((await idx.search("graph", { k: 1000, mode: "dense" })).results).toHaveLength(300);
        // The batch is committed, so its papers are found by their words already.
        const written = papers[400]!;
        expect((await idx.search(written.title, { k: 1, mode: "lexical" })).results[0]!.id).toBe(written.id);
      } finally {
        idx.close();
      }
      expect(hnswFiles()).toEqual(before); // nothing was rebuilt or rewritten
    } finally {
      child.kill("SIGCONT");
    }
    expect(await exited).toBe(0);
    const idx = await openIndex(index, { embedder });
    try {
      expect((await idx.search("graph", { k: 1000, mode: "dense" })).results).toHaveLength(PAPERS);
    } finally {
      idx.close();
    }
  });

  it("a no-change ingest puts back a deleted or truncated HNSW file (it checks the size, not the whole file)", async () => {
    const corpus = tempDir();
    const index = tempDir();
    writeCorpus(corpus, Array.from({ length: 40 }, (_, i) => paper(i)));
    await ingest({ corpus, index }, { embedder });
    const file = () => path.join(index, readdirSync(index).find((f) => /^vectors-\d+\.hnsw$/.test(f)) ?? "missing");
    const size = statSync(file()).size;

    rmSync(file());
    expect((await ingest({ corpus, index }, { embedder })).embedded).toBe(0);
    expect(statSync(file()).size).toBe(size);

    truncateSync(file(), 1000);
    await ingest({ corpus, index }, { embedder });
    expect(statSync(file()).size).toBe(size);
  });
});

describe("committed batches are the index (issue 17)", () => {
  const killedFirstIngest = (corpus: string, index: string, point = "after-batch-commit") =>
    spawnSync(process.execPath, ["--import", "tsx", path.join(ROOT, "tests", "fixtures", "ingest-stand-in.ts"), corpus, index], {
      cwd: ROOT,
      env: { ...process.env, PAPERSIFT_FAILPOINT: point },
      encoding: "utf8",
    });

  it("a read command never wipes an interrupted first ingest, nor ingests into an index that holds papers", async () => {
    const corpus = tempDir();
    const index = tempDir();
    const papers = Array.from({ length: PAPERS }, (_, i) => paper(i));
    writeCorpus(corpus, papers);
    expect(killedFirstIngest(corpus, index).signal).toBe("SIGKILL");
    const kept = papers.slice(0, BATCH_PAPERS).map((p) => p.id).sort();

    // The committed batch is the index: stats reports it.
    const stats = runCli(["stats", "--index", index, "--json"], { nodeArgs: FORBID_MODEL });
    expect(stats.status).toBe(0);
    expect(JSON.parse(stats.stdout).papers).toBe(BATCH_PAPERS);

    // A read command run where a corpus/ folder sits beside it answers from the index, and never builds it.
    const cwd = tempDir();
    mkdirSync(path.join(cwd, "corpus"));
    writeCorpus(path.join(cwd, "corpus"), [{ ...paper(0), id: "other" }]);
    const search = runCli(["search", "graph", "--index", index, "--mode", "lexical", "--json"], { cwd, nodeArgs: FORBID_MODEL });
    expect(search.status).toBe(0);
    const found = (JSON.parse(search.stdout) as { results: { id: string }[] }).results.map((r) => r.id);
    expect(found.length).toBeGreaterThan(0);
    expect(kept).toEqual(expect.arrayContaining(found));
    expect(storedIds(index)).toEqual(kept);

    // The CLI's build-on-first-use asks for an empty index; under the lock, one that holds papers is refused.
    await expect(ingest({ corpus: path.join(cwd, "corpus"), index, onlyIfEmpty: true }, { embedder })).rejects.toMatchObject({ code: "INDEX_NOT_EMPTY" });
    expect(storedIds(index)).toEqual(kept);
  });

  it("a long-running reader notices papers that a killed batched ingest committed", async () => {
    const corpus = tempDir();
    const index = tempDir();
    const papers = Array.from({ length: PAPERS }, (_, i) => paper(i));
    writeCorpus(corpus, papers.slice(0, 300));
    await ingest({ corpus, index }, { embedder });
    const idx = await openIndex(index, { embedder });
    try {
      const dense = async () => (await idx.search("graph", { k: 1000, mode: "dense" })).results.length;
      expect(await dense()).toBe(300);
      writeCorpus(corpus, papers);
      expect(killedFirstIngest(corpus, index).signal).toBe("SIGKILL"); // after committing papers 300–555
      expect(await dense()).toBe(556);
      const near = idx.related("p400", { k: 5 }).results.map((r) => Number(r.id.slice(1)));
      expect(near.some((i) => i >= 300)).toBe(true);
    } finally {
      idx.close();
    }
  });

  it("the summary counts what was written when a .jsonl is truncated in place mid-ingest", async () => {
    const corpus = tempDir();
    const index = tempDir();
    writeCorpus(corpus, Array.from({ length: 60 }, (_, i) => paper(i)));
    const child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "tests", "fixtures", "ingest-stand-in.ts"), corpus, index], {
      cwd: ROOT,
      env: { ...process.env, PAPERSIFT_FAILPOINT: "after-plan:stop" },
    });
    let stdout = "";
    child.stdout.on("data", (d) => (stdout += d));
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    await stoppedAt(child, "after-plan");
    const file = path.join(corpus, "papers.jsonl");
    truncateSync(file, Math.floor(statSync(file).size * 0.4)); // mid-line
    child.kill("SIGCONT");
    expect(await exited).toBe(0);
    const summary = JSON.parse(stdout) as IngestSummary;
    const stored = storedIds(index);
    expect(stored.length).toBeLessThan(60);
    expect(summary).toMatchObject({ papers: stored.length, added: stored.length, chunks: chunkCount(index) });
    expect(summary.plan.added.sort()).toEqual(stored);
    expect(summary.notices.join("\n")).toMatch(new RegExp(`${60 - stored.length} entries changed or were gone .*run ingest again`));
  });
});

describe("HNSW segments (issue 21)", () => {
  const segments = (index: string) =>
    withStore(index, (store) => store.hnsw.recorded(store.state()!.generation)!.segments.map((s) => ({ ...s, mtime: statSync(path.join(index, s.file)).mtimeMs })));
  const topDense = async (index: string, text: string) => {
    const idx = await openIndex(index, { embedder });
    try {
      return (await idx.search(text, { k: 1, mode: "dense" })).results[0]?.id;
    } finally {
      idx.close();
    }
  };

  it("an added paper goes into a small segment beside the large one, which is kept as it is; deletions past 25 % compact", async () => {
    const corpus = tempDir();
    const index = tempDir();
    const papers = Array.from({ length: 300 }, (_, i) => paper(i));
    writeCorpus(corpus, papers);
    await ingest({ corpus, index }, { embedder });
    const [large] = segments(index);
    expect(large).toMatchObject({ count: chunkCount(index) });

    const extra = [paper(1000), paper(1001)];
    writeCorpus(corpus, [...papers, extra[0]!]);
    await ingest({ corpus, index }, { embedder });
    writeCorpus(corpus, [...papers, ...extra]);
    await ingest({ corpus, index }, { embedder });
    const after = segments(index);
    expect(after).toHaveLength(2);
    expect(after[0]).toEqual(large); // same file, same bytes, never rewritten
    expect(after[1]!.count).toBe(2); // both added papers: the second ingest merged the first one's segment
    expect(await topDense(index, `${extra[1]!.title} ${extra[1]!.abstract}`)).toBe("p1001");

    // A removed paper's chunks are marked deleted by readers: the large file is still kept as it is.
    writeCorpus(corpus, [...papers.slice(1), ...extra]);
    await ingest({ corpus, index }, { embedder });
    expect(segments(index)[0]).toEqual(large);
    expect(await topDense(index, `${papers[0]!.title} ${papers[0]!.abstract}`)).not.toBe("p0");

    // Past 25 % deleted, the next ingest compacts everything into one segment of the live chunks.
    writeCorpus(corpus, [...papers.slice(100), ...extra]);
    await ingest({ corpus, index }, { embedder });
    expect(segments(index).map((s) => s.count)).toEqual([chunkCount(index)]);
  });

  it("a kill while the worker's segment is put in place loses nothing, and leaves no temp file behind", async () => {
    const corpus = tempDir();
    const index = tempDir();
    const papers = Array.from({ length: PAPERS }, (_, i) => paper(i));
    writeCorpus(corpus, papers);
    const killed = spawnSync(process.execPath, ["--import", "tsx", path.join(ROOT, "tests", "fixtures", "ingest-stand-in.ts"), corpus, index], {
      cwd: ROOT,
      env: { ...process.env, PAPERSIFT_FAILPOINT: "before-hnsw-rename" },
    });
    expect(killed.signal).toBe("SIGKILL");
    expect(readdirSync(index).some((f) => f.includes(".tmp-"))).toBe(true);
    expect(await topDense(index, `${papers[650]!.title} ${papers[650]!.abstract}`)).toBe("p650");
    const next = await ingest({ corpus, index, lockWaitMs: 0 }, { embedder });
    expect(next).toMatchObject({ papers: PAPERS, added: 0, embedded: 0 });
    expect(readdirSync(index).filter((f) => f.includes(".tmp-"))).toEqual([]);
  });

  it("stopping the HNSW worker mid-build lets it end by itself (terminating it inside hnswlib's addPoint aborts the process)", async () => {
    const corpus = tempDir();
    const index = tempDir();
    writeCorpus(corpus, Array.from({ length: PAPERS }, (_, i) => paper(i)));
    await ingest({ corpus, index }, { embedder });
    const labels = withStore(index, (store) => store.sql("SELECT rowid FROM chunks").pluck().all() as number[]);
    const builder = workerBuilder({ dir: index, dims: 384, params: DEFAULT_HNSW, after: 0, extend: null, capacity: labels.length });
    builder.add(labels);
    builder.add(labels.map((l) => l + 1_000_000)); // queued behind the first: returns at once once stopped
    expect(await builder.close()).toBe(0);
  });

  it("an ingest under another model killed mid-way, then one under the old model: every chunk is the old model's again", async () => {
    const corpus = tempDir();
    const index = tempDir();
    writeCorpus(corpus, Array.from({ length: PAPERS }, (_, i) => paper(i)));
    await ingest({ corpus, index }, { embedder }); // 64 dims
    const killed = killedAfterFirstBatch(corpus, index, "48");
    expect(killed.signal).toBe("SIGKILL");
    const dimsOfChunks = () =>
      withStore(index, (store) => store.sql("SELECT DISTINCT length(v.data) - 4 FROM chunks c JOIN vectors v ON v.rowid = c.vector").pluck().all() as number[]);
    expect(dimsOfChunks().sort()).toEqual([48, 64]); // the first batch was written under the other model
    const back = await ingest({ corpus, index }, { embedder });
    expect(dimsOfChunks()).toEqual([64]);
    expect(back.embedded).toBe(0); // the old model's vectors of that text were still there
    expect(back.notices.join("\n")).toMatch(/interrupted/);
    const again = await ingest({ corpus, index }, { embedder });
    expect(again).toMatchObject({ unchanged: PAPERS, embedded: 0 });
    expect(again.notices.join("\n")).not.toMatch(/interrupted/);
  });
});
