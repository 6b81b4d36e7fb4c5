// npm run bench:query — query speed: warm latency through the API on the bundled index, one cold CLI
// search and stats (fresh processes), and HNSW recall@10 against exact search on 100,000 random unit
// vectors at the default efSearch. `--vectors N` changes the synthetic size; `--json` prints JSON only.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import hnswlib from "hnswlib-node";
import { ingest, openIndex } from "../src/index.ts";
import { DEFAULT_HNSW } from "../src/store/hnsw.ts";
import { seededRandom } from "./random.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const asJson = process.argv.includes("--json");
const log = (line = "") => asJson || console.log(line);
const vectorsFlag = process.argv.indexOf("--vectors");
const N = vectorsFlag > 0 ? Number(process.argv[vectorsFlag + 1]) : 100_000;
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

// 3. HNSW against exact search on 100,000 synthetic vectors, two kinds:
//  - uniform random unit vectors: the worst case, with no neighbourhood structure at all (a query's 10th
//    neighbour is barely nearer than a random point), which no graph index navigates well;
//  - vectors near a 32-dimensional subspace (random low-rank map plus a little noise), the shape real sentence
//    embeddings have (they concentrate near a low-dimensional manifold).
const random = seededRandom(7);
const gaussian = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
const dims = 384;
const normalise = (v: number[]) => {
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
};
const LATENT = 32;
const basis = Array.from({ length: dims }, () => Array.from({ length: LATENT }, gaussian));
const datasets: Record<string, () => number[]> = {
  "uniform random unit vectors": () => normalise(Array.from({ length: dims }, gaussian)),
  "near a 32-dim subspace": () => {
    const z = Array.from({ length: LATENT }, gaussian);
    return normalise(basis.map((row) => row.reduce((s, a, j) => s + a * z[j]!, 0) + 0.3 * gaussian()));
  },
};
const { HierarchicalNSW, BruteforceSearch } = hnswlib;
const hnswResults: Record<string, unknown> = {};
for (const [name, make] of Object.entries(datasets)) {
  const hnsw = new HierarchicalNSW("cosine", dims);
  hnsw.initIndex({ maxElements: N, m: DEFAULT_HNSW.M, efConstruction: DEFAULT_HNSW.efConstruction, randomSeed: 100 });
  const exact = new BruteforceSearch("cosine", dims);
  exact.initIndex(N);
  const buildStart = performance.now();
  for (let i = 0; i < N; i++) {
    const v = make();
    hnsw.addPoint(v, i);
    exact.addPoint(v, i);
  }
  const buildSeconds = (performance.now() - buildStart) / 1000;
  const queries = Array.from({ length: 200 }, make);
  const truth = queries.map((q) => exact.searchKnn(q, 10).neighbors);
  const exactStart = performance.now();
  for (const q of queries) exact.searchKnn(q, 10);
  const exactMs = (performance.now() - exactStart) / queries.length;
  const sweep = [64, 128, 256, 512].map((ef) => {
    hnsw.setEf(ef);
    let found = 0;
    const start = performance.now();
    const results = queries.map((q) => hnsw.searchKnn(q, 10).neighbors);
    const ms = (performance.now() - start) / queries.length;
    results.forEach((r, i) => (found += r.filter((id) => truth[i]!.includes(id)).length));
    return { ef, recall: found / (queries.length * 10), ms, speedup: exactMs / ms };
  });
  hnswResults[name] = { buildSeconds, exactMs, sweep };
  log(`\nHNSW (M=${DEFAULT_HNSW.M}, efConstruction=${DEFAULT_HNSW.efConstruction}) vs exact search: ${N} ${name}, 384 dims, 200 queries`);
  log(`(build ${buildSeconds.toFixed(0)} s; exact search ${exactMs.toFixed(2)} ms/query)\n`);
  log("| efSearch | recall@10 | ms/query | speed-up vs exact |");
  log("|---|---|---|---|");
  for (const s of sweep) log(`| ${s.ef}${s.ef === DEFAULT_HNSW.efSearch ? " (default)" : ""} | ${s.recall.toFixed(3)} | ${s.ms.toFixed(2)} | ${s.speedup.toFixed(1)}× |`);
}
if (asJson) console.log(JSON.stringify({ latencies: Object.fromEntries(Object.entries(latencies).map(([m, xs]) => [m, { p50: quantile(xs, 0.5), p95: quantile(xs, 0.95) }])), rssMb: rss, cold, hnsw: { N, ...hnswResults } }));
rmSync(work, { recursive: true, force: true });
