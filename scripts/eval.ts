// npm run eval: retrieval quality, per vendored model and search mode.
//  - Bundled corpus, always: (1) title→abstract: the abstracts indexed under placeholder titles, each real
//    title as the question, its own abstract as the answer; (2) tests/fixtures/questions.json, split into
//    questions that use the abstracts' key terms and paraphrases that avoid them. hit@1, hit@5, MRR@10.
//  - `--set DIR` (repeatable): a judged set in BEIR layout (corpus.jsonl, queries.jsonl {"id","text"},
//    qrels.tsv query-id/doc-id/relevance, no header), e.g. BEIR's SciFact. nDCG@10 (binary gains),
//    Recall@100, MRR@10, ingest chunks/s and warm query p50 per mode.
//  - `--tune`: on each judged set, the hybrid weight grid, reciprocal-rank fusion, and (with two models) an
//    ensemble of both models' dense rankings.
//  - `--calibrate DIR [--off-topic DIR] [--write]`: calibrated relevance and "no strong match" instead of
//    the above (scripts/eval-calibration.ts), for the default model unless `--model` names others.
//  - `--clusters DIR`: topics and fine clusters of DIR/corpus.jsonl (an arXiv export: `categories`) against
//    the papers' primary arXiv categories: NMI and purity of each level, coverage, sizes, and the cold
//    `papersift clusters` time and peak RSS, for a sweep of Louvain resolutions, and topic-id stability.
//  - `--recommend DIR [--seeds 1,2,3,4,5] [--readers 60] [--tune]`: "papers like these" instead of the above
//    (scripts/eval-recommend.ts): issue 19's author-holdout protocol on an arXiv export.
// Indexes are cached in index-cache/eval/<set>/<model>/ and reused (only new text is embedded).
// `--model NAME` (repeatable) limits the models; `--json` prints JSON only.
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { readCorpus } from "../src/corpus/index.ts";
import { loadEmbedder } from "../src/embed.ts";
import { ingest, openIndex, type PapersiftIndex, type SearchMode } from "../src/index.ts";
import { DEFAULT_MODEL_DIR, describeModel, vendoredModels } from "../src/model.ts";
import { cache, corpusFolder, indexFor, judge, readSet, root, round, type Judged } from "./eval-sets.ts";

const args = process.argv.slice(2);
const asJson = args.includes("--json");
const tune = args.includes("--tune");
const values = (flag: string) => args.flatMap((a, i) => (a === flag && args[i + 1] ? [args[i + 1]!] : []));
const log = (line = "") => asJson || console.log(line);
const MODES: SearchMode[] = ["dense", "lexical", "hybrid"];
const models = vendoredModels().filter((m) => !values("--model").length || values("--model").some((v) => v === m.manifest.id || v === path.basename(m.dir)));

if (values("--recommend").length) {
  const { runRecommendEval } = await import("./eval-recommend.ts");
  await runRecommendEval(values("--recommend")[0]!, { seeds: values("--seeds")[0], readers: values("--readers")[0], tune, asJson, model: values("--model").length ? models[0]!.dir : DEFAULT_MODEL_DIR });
  process.exit(0);
}

if (args.includes("--calibrate")) {
  const { runCalibration } = await import("./eval-calibration.ts");
  for (const { dir } of values("--model").length ? models : models.filter((m) => m.dir === DEFAULT_MODEL_DIR)) {
    await runCalibration(args, describeModel(dir), path.join(dir, "papersift.json"));
  }
  process.exit(0);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

// ---- bundled sets --------------------------------------------------------------------------------------
interface Case {
  question: string;
  expected: string[];
}
async function hits(index: PapersiftIndex, cases: Case[], mode: SearchMode, lexicalWeight?: number) {
  let hit1 = 0;
  let hit5 = 0;
  let mrr = 0;
  for (const c of cases) {
    const ids = (await index.search(c.question, { k: 10, mode, lexicalWeight })).results.map((r) => r.id);
    const rank = ids.findIndex((id) => c.expected.includes(id));
    if (rank === 0) hit1++;
    if (rank >= 0 && rank < 5) hit5++;
    if (rank >= 0) mrr += 1 / (rank + 1);
  }
  return { n: cases.length, hit1: round(hit1 / cases.length), hit5: round(hit5 / cases.length), mrr10: round(mrr / cases.length) };
}

const bundledDir = path.join(root, "corpus");
const papers = readCorpus(bundledDir).papers;
const questions = JSON.parse(readFileSync(path.join(root, "tests/fixtures/questions.json"), "utf8")).questions as (Case & { kind: string })[];
const titlelessFile = path.join(cache, "titleless.jsonl");
mkdirSync(cache, { recursive: true });
writeFileSync(titlelessFile, papers.map((p, i) => JSON.stringify({ id: p.id, title: `Abstract ${i + 1}`, abstract: p.abstract })).join("\n") + "\n");
const bundledSets: [string, string, Case[]][] = [
  ["title→abstract", corpusFolder("titleless", titlelessFile), papers.map((p) => ({ question: p.title, expected: [p.id] }))],
  ["questions: key terms", bundledDir, questions.filter((q) => q.kind === "key")],
  ["questions: paraphrase", bundledDir, questions.filter((q) => q.kind === "paraphrase")],
];

// ---- judged sets ----------------------------------------------------------------------------------------
/** Every query's ranked ids (k = 100 for Recall@100; 10 is enough for nDCG@10 and MRR@10, and faster). */
async function rankAll(index: PapersiftIndex, set: Judged, mode: SearchMode, lexicalWeight?: number, k = 100) {
  const ranked = new Map<string, string[]>();
  const times: number[] = [];
  for (const q of set.queries) {
    const t = performance.now();
    const { results } = await index.search(q.text, { k, mode, lexicalWeight });
    times.push(performance.now() - t);
    ranked.set(String(q.id), results.map((r) => r.id));
  }
  return { ranked, p50: round(median(times), 1) };
}

/** Reciprocal-rank fusion of several rankings (k = 60, as Cormack et al.). */
function rrf(...rankings: Map<string, string[]>[]): Map<string, string[]> {
  const fused = new Map<string, string[]>();
  for (const q of rankings[0]!.keys()) {
    const score = new Map<string, number>();
    for (const ranking of rankings) (ranking.get(q) ?? []).forEach((id, i) => score.set(id, (score.get(id) ?? 0) + 1 / (60 + i + 1)));
    fused.set(q, [...score.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([id]) => id));
  }
  return fused;
}

// ---- run ----------------------------------------------------------------------------------------------
const sets = values("--set").map(readSet);
const output: { bundled: unknown[]; judged: unknown[]; tuning: unknown[] } = { bundled: [], judged: [], tuning: [] };
const denseByModel = new Map<string, Map<string, Map<string, string[]>>>(); // set → model → ranking

for (const { dir: modelDir, manifest } of models) {
  const embedder = await loadEmbedder({ model: modelDir });
  for (const [set, corpus, cases] of bundledSets) {
    const { dir } = await indexFor(set === "title→abstract" ? "titleless" : "bundled", corpus, modelDir, embedder);
    const index = await openIndex(dir, { embedder });
    for (const mode of MODES) output.bundled.push({ model: manifest.id, set, mode, ...(await hits(index, cases, mode)) });
    index.close();
  }
  for (const set of sets) {
    const { dir, chunksPerSecond } = await indexFor(set.name, set.corpus, modelDir, embedder);
    const index = await openIndex(dir, { embedder });
    for (const mode of MODES) {
      const { ranked, p50 } = await rankAll(index, set, mode);
      // Latency as people search: k = 10 (k = 100 scores ten times the candidates).
      const { p50: p50k10 } = await rankAll(index, set, mode, undefined, 10);
      output.judged.push({ model: manifest.id, set: set.name, mode, ...judge(set, ranked), chunksPerSecond: chunksPerSecond && round(chunksPerSecond, 1), p50ms: p50k10, p50k100ms: p50 });
      if (mode === "dense") {
        if (!denseByModel.has(set.name)) denseByModel.set(set.name, new Map());
        denseByModel.get(set.name)!.set(manifest.id, ranked);
      }
    }
    if (tune) {
      for (const weight of [0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.6, 1]) {
        const { ranked } = await rankAll(index, set, "hybrid", weight, 10);
        const bundled = [];
        for (const [name, corpus, cases] of bundledSets) {
          const b = await openIndex((await indexFor(name === "title→abstract" ? "titleless" : "bundled", corpus, modelDir, embedder)).dir, { embedder });
          bundled.push({ set: name, ...(await hits(b, cases, "hybrid", weight)) });
          b.close();
        }
        output.tuning.push({ model: manifest.id, set: set.name, fusion: `weighted ${weight}`, ...judge(set, ranked), recall100: null, bundled });
      }
      const dense = (await rankAll(index, set, "dense")).ranked;
      const lexical = (await rankAll(index, set, "lexical")).ranked;
      output.tuning.push({ model: manifest.id, set: set.name, fusion: "RRF dense + lexical", ...judge(set, rrf(dense, lexical)) });
    }
    index.close();
  }
}
if (tune) {
  for (const set of sets) {
    const byModel = denseByModel.get(set.name)!;
    if (byModel.size < 2) continue;
    const names = [...byModel.keys()];
    output.tuning.push({ model: names.join(" + "), set: set.name, fusion: "RRF of dense rankings", ...judge(set, rrf(...byModel.values())) });
  }
}

// ---- clusters against arXiv categories -----------------------------------------------------------------
/** Normalised mutual information (arithmetic normalisation) and purity of a labelling against categories. */
function agreement(assigned: Map<string, number>, category: Map<string, string>) {
  const n = assigned.size;
  const joint = new Map<string, number>();
  const byCluster = new Map<number, number>();
  const byCategory = new Map<string, number>();
  for (const [id, cluster] of assigned) {
    const cat = category.get(id) ?? "?";
    joint.set(`${cluster}\t${cat}`, (joint.get(`${cluster}\t${cat}`) ?? 0) + 1);
    byCluster.set(cluster, (byCluster.get(cluster) ?? 0) + 1);
    byCategory.set(cat, (byCategory.get(cat) ?? 0) + 1);
  }
  const entropy = (counts: Iterable<number>) => [...counts].reduce((h, c) => h - (c / n) * Math.log(c / n), 0);
  let mi = 0;
  const best = new Map<number, number>();
  for (const [key, c] of joint) {
    const [cluster, cat] = key.split("\t");
    mi += (c / n) * Math.log((c * n) / (byCluster.get(Number(cluster))! * byCategory.get(cat!)!));
    best.set(Number(cluster), Math.max(best.get(Number(cluster)) ?? 0, c));
  }
  const h = entropy(byCluster.values()) + entropy(byCategory.values());
  return { nmi: round(h > 0 ? (2 * mi) / h : 0), purity: round([...best.values()].reduce((a, b) => a + b, 0) / n) };
}

const clustersDir = values("--clusters")[0];
const clusterRows: Record<string, unknown>[] = [];
let stability: { removed: number; topicsBefore: number; topicsAfter: number; kept: number; share: number } | null = null;
if (clustersDir) {
  const name = path.basename(path.resolve(clustersDir));
  const corpus = corpusFolder(name, path.join(clustersDir, "corpus.jsonl"));
  const modelDir = values("--model").length ? models[0]!.dir : DEFAULT_MODEL_DIR;
  const { dir } = await indexFor(name, corpus, modelDir, await loadEmbedder({ model: modelDir }));
  const category = new Map<string, string>();
  for (const line of readFileSync(path.join(clustersDir, "corpus.jsonl"), "utf8").split("\n")) {
    if (!line.trim()) continue;
    const paper = JSON.parse(line) as { id: string | number; categories?: string };
    category.set(String(paper.id), (paper.categories ?? "?").split(/\s+/)[0]!);
  }
  const index = await openIndex(dir);
  const sizes = (xs: number[]) => {
    const sorted = [...xs].sort((a, b) => b - a);
    return { count: xs.length, largest: sorted[0] ?? 0, median: sorted[Math.floor(sorted.length / 2)] ?? 0 };
  };
  // Louvain resolutions around the default (1): lower gives fewer, larger topics.
  for (const resolution of [0.5, 1, 2, 3, 4]) {
    const t = performance.now();
    const c = index.clusters({ resolution });
    const seconds = round((performance.now() - t) / 1000, 1);
    const topicOf = new Map(c.topics.flatMap((topic) => topic.papers.map((p) => [p.id, topic.id] as [string, number])));
    const clusterOf = new Map(c.clusters.flatMap((cluster) => cluster.papers.map((p) => [p.id, cluster.id] as [string, number])));
    clusterRows.push({
      resolution,
      seconds,
      topics: { ...sizes(c.topics.map((x) => x.size)), coverage: c.coverage, ...agreement(topicOf, category) },
      fine: { ...sizes(c.clusters.map((x) => x.size)), coverage: round(clusterOf.size / category.size), ...agreement(clusterOf, category) },
    });
  }
  index.close();
  // Stable ids: run the default clustering (recording its topics), take 1% of the papers out of a copy of
  // the index (every 100th; nothing to embed), cluster again, and count the topics that kept their id.
  const before = (await openIndex(dir)).clusters();
  const copy = path.join(cache, name, "stability");
  rmSync(copy, { recursive: true, force: true });
  cpSync(dir, copy, { recursive: true });
  const fewer = path.join(cache, name, "corpus-99");
  mkdirSync(fewer, { recursive: true });
  const lines = readFileSync(path.join(clustersDir, "corpus.jsonl"), "utf8").split("\n").filter(Boolean);
  writeFileSync(path.join(fewer, "corpus.jsonl"), lines.filter((_, i) => i % 100 !== 0).join("\n") + "\n");
  await ingest({ corpus: fewer, index: copy }, { embedder: await loadEmbedder({ model: modelDir }) });
  const after = (await openIndex(copy)).clusters();
  const kept = before.topics.filter((t) => {
    const home = after.topics.find((u) => u.id === t.id);
    if (!home) return false;
    const members = new Set(home.papers.map((p) => p.id));
    return t.papers.filter((p) => members.has(p.id)).length * 2 > t.size;
  }).length;
  stability = { removed: lines.length - lines.filter((_, i) => i % 100 !== 0).length, topicsBefore: before.topics.length, topicsAfter: after.topics.length, kept, share: round(kept / before.topics.length) };
  // Cold, as a user runs it: a fresh process, defaults, model never loaded.
  const cold = spawnSync("/usr/bin/time", ["-f", "%e %M", process.execPath, path.join(root, "bin", "papersift.js"), "clusters", "--index", dir, "--json"], { encoding: "utf8", maxBuffer: 2 ** 28 });
  const [wall, rssKb] = cold.stderr.trim().split("\n").pop()!.split(" ").map(Number);
  clusterRows.push({ cold: { seconds: wall, rssMb: Math.round(rssKb! / 1024) } });
}

type Row = Record<string, unknown>;
log("Bundled corpus (71 papers): hit@1, hit@5, MRR@10\n");
log("| model | set | mode | hit@1 | hit@5 | MRR@10 |");
log("|---|---|---|---|---|---|");
for (const r of output.bundled as Row[]) log(`| ${r.model} | ${r.set} (${r.n}) | ${r.mode} | ${r.hit1} | ${r.hit5} | ${r.mrr10} |`);
if (sets.length) {
  log("\nJudged sets: nDCG@10, Recall@100, MRR@10; ingest chunks/s (the run that embedded); warm query p50 at k = 10 and 100\n");
  log("| model | set | mode | nDCG@10 | Recall@100 | MRR@10 | ingest chunks/s | p50 ms, k=10 | p50 ms, k=100 |");
  log("|---|---|---|---|---|---|---|---|---|");
  for (const r of output.judged as Row[]) log(`| ${r.model} | ${r.set} (${r.n}) | ${r.mode} | ${r.ndcg10} | ${r.recall100} | ${r.mrr10} | ${r.chunksPerSecond ?? "–"} | ${r.p50ms} | ${r.p50k100ms} |`);
}
if (output.tuning.length) {
  log("\nFusion on the judged sets (bundled sets: hybrid hit@5 / title→abstract hit@1 at the same weight)\n");
  log("| model | set | fusion | nDCG@10 | Recall@100 | MRR@10 | title hit@1 | key hit@5 | paraphrase hit@5 |");
  log("|---|---|---|---|---|---|---|---|---|");
  for (const r of output.tuning as (Row & { bundled?: { set: string; hit1: number; hit5: number }[] })[]) {
    const b = (name: string, key: "hit1" | "hit5") => r.bundled?.find((x) => x.set === name)?.[key] ?? "–";
    log(`| ${r.model} | ${r.set} | ${r.fusion} | ${r.ndcg10} | ${r.recall100} | ${r.mrr10} | ${b("title→abstract", "hit1")} | ${b("questions: key terms", "hit5")} | ${b("questions: paraphrase", "hit5")} |`);
  }
}
if (clusterRows.length) {
  log(`\nTopics and clusters of ${clustersDir} against primary arXiv categories (NMI and purity over the papers each level covers)\n`);
  log("| resolution | topics | largest | median | coverage | NMI | purity | fine clusters | largest | median | coverage | NMI | purity | seconds (warm) |");
  log("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
  for (const r of clusterRows as (Row & { topics?: Row; fine?: Row })[]) {
    if (!r.topics || !r.fine) continue;
    const t = r.topics;
    const f = r.fine;
    log(`| ${r.resolution} | ${t.count} | ${t.largest} | ${t.median} | ${t.coverage} | ${t.nmi} | ${t.purity} | ${f.count} | ${f.largest} | ${f.median} | ${f.coverage} | ${f.nmi} | ${f.purity} | ${r.seconds} |`);
  }
  const cold = (clusterRows.at(-1) as { cold: { seconds: number; rssMb: number } }).cold;
  log(`\ncold \`papersift clusters\` (defaults, fresh process): ${cold.seconds} s, peak RSS ${cold.rssMb} MB`);
  if (stability) log(`topic ids after removing ${stability.removed} papers (1%): ${stability.kept} of ${stability.topicsBefore} topics kept their id and most of their papers (${stability.share}); ${stability.topicsAfter} topics after`);
}
if (asJson) console.log(JSON.stringify({ ...output, clusters: clusterRows, stability }));
