// npm run bench:query — query speed: warm latency through the API on the bundled index, one cold CLI
// search and stats (fresh processes), and HNSW recall@10 and speed against exact search on 100,000
// vectors (the model's embeddings, and random ones), built at efConstruction 64 and 100 (`--ef-construction
// 64,100`). `--vectors N` changes that size; `--json` prints JSON only.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import hnswlib from "hnswlib-node";
import { splitSentences } from "../src/chunk.ts";
import { readCorpus } from "../src/corpus/index.ts";
import { loadEmbedder } from "../src/embed.ts";
import { ingest, openIndex } from "../src/index.ts";
import { DEFAULT_MODEL_DIR, describeModel } from "../src/model.ts";
import { DEFAULT_HNSW } from "../src/store/hnsw.ts";
import { seededRandom } from "./random.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const asJson = process.argv.includes("--json");
const log = (line = "") => asJson || console.log(line);
const vectorsFlag = process.argv.indexOf("--vectors");
const N = vectorsFlag > 0 ? Number(process.argv[vectorsFlag + 1]) : 100_000;
const efFlag = process.argv.indexOf("--ef-construction");
const efConstructions = efFlag > 0 ? process.argv[efFlag + 1]!.split(",").map(Number) : [64, 100];
const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;

// 1. Warm queries through the API.
const work = mkdtempSync(path.join(tmpdir(), "papersift-bench-query-"));
const indexDir = path.join(work, "index");
await ingest({ corpus: path.join(root, "corpus"), index: indexDir });
const index = await openIndex(indexDir);
const questions = (JSON.parse(readFileSync(path.join(root, "tests/fixtures/questions.json"), "utf8")).questions as { question: string }[]).map((q) => q.question);
await index.search("warm-up question about reward models");
const latencies: Record<string, number[]> = { hybrid: [], dense: [], lexical: [] };
for (let round = 0; round < 4; round++) {
  for (const q of questions) {
    for (const mode of ["hybrid", "dense", "lexical"] as const) {
      const t = performance.now();
      await index.search(q, { k: 10, mode });
      latencies[mode]!.push(performance.now() - t);
    }
  }
}
const rss = process.memoryUsage().rss / 2 ** 20;
index.close();

log(`Warm query latency through the API, bundled index, k=10 (${latencies.hybrid!.length} queries each)\n`);
log("| mode | p50 ms | p95 ms |");
log("|---|---|---|");
for (const [mode, xs] of Object.entries(latencies)) log(`| ${mode} | ${quantile(xs, 0.5).toFixed(1)} | ${quantile(xs, 0.95).toFixed(1)} |`);
log(`\nquery process RSS after ${questions.length * 12} queries: ${rss.toFixed(0)} MB`);

// 2. Cold CLI runs: each a fresh process on the built index.
const wall = (args: string[], runs = 5) => {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    execFileSync(process.execPath, args, { cwd: root, stdio: "ignore" });
    times.push((performance.now() - t) / 1000);
  }
  return quantile(times, 0.5);
};
const bin = path.join(root, "bin", "papersift.js");
const cold = {
  search: wall([bin, "search", "reward model overoptimization", "--index", indexDir]),
  stats: wall([bin, "stats", "--index", indexDir]),
  searchViaTsx: wall(["--import", "tsx", path.join(root, "src", "cli.ts"), "search", "reward model overoptimization", "--index", indexDir]),
};
log("\nCold CLI wall time, median of 5 fresh processes\n");
log("| command | seconds |");
log("|---|---|");
log(`| papersift search (bin) | ${cold.search.toFixed(2)} |`);
log(`| papersift stats (bin) | ${cold.stats.toFixed(2)} |`);
log(`| node --import tsx src/cli.ts search | ${cold.searchViaTsx.toFixed(2)} |`);

// 3. HNSW against exact search (hnswlib's brute force: the same C++ distance code, every vector) on N
//    vectors of two kinds:
//  - the model's own embeddings of N distinct synthetic texts (two sentences of the bundled abstracts each),
//    queried with 200 held-out texts and with the quality set's 35 questions and 71 titles. Embedding them
//    takes ≈12 minutes the first time, so the vectors are cached in index-cache/bench/ (per model and N);
//  - uniform random unit vectors: the worst case, with no neighbourhood structure at all (a query's 10th
//    neighbour is barely nearer than a random point), which no graph index navigates well.
// A returned neighbour counts towards recall@10 when it is no farther than the true 10th (ties count).
const dims = 384;
const { HierarchicalNSW, BruteforceSearch } = hnswlib;
type Vectors = { data: Float32Array[]; queries: Record<string, Float32Array[]> };

async function modelVectors(): Promise<Vectors> {
  const model = describeModel(DEFAULT_MODEL_DIR);
  const cacheDir = path.join(root, "index-cache", "bench");
  const key = createHash("sha256").update(`${model.fingerprint} ${N} v1`).digest("hex").slice(0, 16);
  const file = path.join(cacheDir, `embeddings-${key}.f32`);
  const random = seededRandom(11);
  const papers = readCorpus(path.join(root, "corpus")).papers;
  const sentences = papers.flatMap((p) => splitSentences(p.abstract).map((s) => p.abstract.slice(s.start, s.end)));
  const pick = () => sentences[Math.floor(random() * sentences.length)]!;
  const texts = new Set<string>();
  while (texts.size < N + 200) texts.add(`${pick()} ${pick()}`);
  const all = [...texts];
  const qualityQueries = [...questions, ...papers.map((p) => p.title)];
  if (!existsSync(file)) {
    const embedder = await loadEmbedder({ batchSize: 16 });
    const out = new Float32Array(all.length * dims);
    const started = performance.now();
    for (let i = 0; i < all.length; i += 2000) {
      (await embedder.embed(all.slice(i, i + 2000))).forEach((v, j) => out.set(v, (i + j) * dims));
      if (!asJson) process.stderr.write(`\rembedding ${Math.min(all.length, i + 2000)}/${all.length} texts (${((performance.now() - started) / 1000).toFixed(0)} s)`);
    }
    if (!asJson) process.stderr.write("\n");
    mkdirSync(cacheDir, { recursive: true });
    writeFileSync(`${file}.tmp`, Buffer.from(out.buffer));
    renameSync(`${file}.tmp`, file);
  }
  const buffer = readFileSync(file);
  const flat = new Float32Array(buffer.buffer, buffer.byteOffset, buffer.byteLength / 4);
  const rows = Array.from({ length: all.length }, (_, i) => flat.subarray(i * dims, (i + 1) * dims));
  const embedder = await loadEmbedder();
  return {
    data: rows.slice(0, N),
    queries: { "held-out texts": rows.slice(N), "questions and titles": await embedder.embed(qualityQueries) },
  };
}

function randomVectors(): Vectors {
  const random = seededRandom(7);
  const gaussian = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const make = () => {
    const v = Float32Array.from({ length: dims }, gaussian);
    const norm = Math.hypot(...v);
    return v.map((x) => x / norm);
  };
  return { data: Array.from({ length: N }, make), queries: { "random vectors": Array.from({ length: 200 }, make) } };
}

const hnswResults: Record<string, unknown> = {};
for (const [name, load] of [
  ["model embeddings of synthetic texts", modelVectors],
  ["uniform random unit vectors", randomVectors],
] as const) {
  const { data, queries } = await load();
  const exact = new BruteforceSearch("cosine", dims);
  exact.initIndex(N);
  const points = data.map((v) => Array.from(v));
  points.forEach((point, i) => exact.addPoint(point, i));
  const sets = Object.entries(queries).map(([set, vs]) => {
    const qs = vs.map((v) => Array.from(v));
    return { set, points: qs, tenth: qs.map((q) => exact.searchKnn(q, 10).distances[9]!) };
  });
  const everyQuery = sets.flatMap((s) => s.points);
  const perQuery = (search: (q: number[]) => unknown) => {
    const start = performance.now();
    for (let round = 0; round < 3; round++) for (const q of everyQuery) search(q);
    return (performance.now() - start) / (3 * everyQuery.length);
  };
  const exactMs = perQuery((q) => exact.searchKnn(q, 10));
  // The same vectors built at each efConstruction (issue 21: a lower one builds faster; is recall kept?).
  // Random vectors only at the default: they show the worst case, not the choice.
  const builds = name === "uniform random unit vectors" ? [DEFAULT_HNSW.efConstruction] : efConstructions;
  const results = [];
  for (const efConstruction of builds) {
    const hnsw = new HierarchicalNSW("cosine", dims);
    hnsw.initIndex({ maxElements: N, m: DEFAULT_HNSW.M, efConstruction, randomSeed: 100 });
    const buildStart = performance.now();
    points.forEach((point, i) => hnsw.addPoint(point, i));
    const buildSeconds = (performance.now() - buildStart) / 1000;
    const sweep = [32, 64, 128, 256, 512].map((ef) => {
      hnsw.setEf(ef);
      const recall = Object.fromEntries(
        sets.map(({ set, points: qs, tenth }) => {
          let found = 0;
          qs.forEach((q, i) => (found += hnsw.searchKnn(q, 10).distances.filter((d) => d <= tenth[i]! + 1e-6).length));
          return [set, found / (qs.length * 10)];
        }),
      );
      const ms = perQuery((q) => hnsw.searchKnn(q, 10));
      return { ef, recall, ms, speedup: exactMs / ms };
    });
    results.push({ efConstruction, buildSeconds, sweep });
  }
  hnswResults[name] = { exactMs, builds: results };
  const setNames = sets.map((s) => `${s.set} (${s.points.length})`);
  log(`\nHNSW (M=${DEFAULT_HNSW.M}) vs exact search: ${N} ${name}, ${dims} dims (exact search ${exactMs.toFixed(2)} ms/query)`);
  log(`build: ${results.map((r) => `efConstruction ${r.efConstruction} ${r.buildSeconds.toFixed(0)} s`).join(", ")}\n`);
  log(`| efConstruction | efSearch | ${setNames.map((s) => `recall@10, ${s}`).join(" | ")} | ms/query | speed-up vs exact |`);
  log(`|---|---|${setNames.map(() => "---|").join("")}---|---|`);
  for (const r of results) {
    for (const s of r.sweep) {
      const recalls = sets.map(({ set }) => s.recall[set]!.toFixed(3)).join(" | ");
      const mark = (v: number, d: number) => `${v}${v === d ? " (default)" : ""}`;
      log(`| ${mark(r.efConstruction, DEFAULT_HNSW.efConstruction)} | ${mark(s.ef, DEFAULT_HNSW.efSearch)} | ${recalls} | ${s.ms.toFixed(2)} | ${s.speedup.toFixed(1)}× |`);
    }
  }
}
if (asJson) console.log(JSON.stringify({ latencies: Object.fromEntries(Object.entries(latencies).map(([m, xs]) => [m, { p50: quantile(xs, 0.5), p95: quantile(xs, 0.95) }])), rssMb: rss, cold, hnsw: { N, ...hnswResults } }));
rmSync(work, { recursive: true, force: true });
