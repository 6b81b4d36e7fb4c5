// npm run eval: retrieval quality of each search mode and chunking, on the bundled corpus.
//  1. Self-supervised: index the abstracts under placeholder titles, query with each real title, and see
//     where the paper's own abstract ranks.
//  2. tests/fixtures/questions.json: researcher questions with the papers that answer them, split into
//     questions that use the abstracts' key terms and paraphrases that avoid them.
// Also prints the cluster-threshold sweep behind the default threshold. `--json` prints JSON only.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { readCorpus } from "../src/corpus/index.ts";
import { loadEmbedder } from "../src/embed.ts";
import { DEFAULT_CHUNKING } from "../src/config.ts";
import { ingest, openIndex, type PapersiftIndex, type SearchMode } from "../src/index.ts";

const asJson = process.argv.includes("--json");
const log = (line = "") => asJson || console.log(line);
const MODES: SearchMode[] = ["dense", "lexical", "hybrid"];
const CHUNKINGS = [
  { windowTokens: 128, overlapTokens: 0 },
  { windowTokens: 128, overlapTokens: 32 },
  { windowTokens: 256, overlapTokens: 0 },
  { windowTokens: 256, overlapTokens: 32 },
];

interface Case {
  question: string;
  expected: string[];
}
interface Metrics {
  n: number;
  hit1: number;
  hit5: number;
  mrr10: number;
}

async function measure(index: PapersiftIndex, cases: Case[], mode: SearchMode): Promise<Metrics> {
  let hit1 = 0;
  let hit5 = 0;
  let mrr = 0;
  for (const c of cases) {
    const ids = (await index.search(c.question, { k: 10, mode })).results.map((r) => r.id);
    const rank = ids.findIndex((id) => c.expected.includes(id));
    if (rank === 0) hit1++;
    if (rank >= 0 && rank < 5) hit5++;
    if (rank >= 0) mrr += 1 / (rank + 1);
  }
  const r = (x: number) => Math.round((x / cases.length) * 1000) / 1000;
  return { n: cases.length, hit1: r(hit1), hit5: r(hit5), mrr10: r(mrr) };
}

const root = new URL("..", import.meta.url).pathname;
const corpusDir = path.join(root, "corpus");
const papers = readCorpus(corpusDir).papers;
const questions = JSON.parse(readFileSync(path.join(root, "tests/fixtures/questions.json"), "utf8")).questions as (Case & { kind: string })[];
const work = mkdtempSync(path.join(tmpdir(), "papersift-eval-"));
const titleless = path.join(work, "titleless");
writeFileSync(
  path.join(work, "titleless.jsonl"),
  papers.map((p, i) => JSON.stringify({ id: p.id, title: `Abstract ${i + 1}`, abstract: p.abstract })).join("\n"),
);
const embedder = await loadEmbedder();

const rows: { chunking: string; set: string; mode: SearchMode; metrics: Metrics }[] = [];
for (const chunking of CHUNKINGS) {
  const name = `${chunking.windowTokens}/${chunking.overlapTokens}`;
  const sets: [string, string, Case[]][] = [
    [path.join(work, "titleless-corpus"), "title→abstract", papers.map((p) => ({ question: p.title, expected: [p.id] }))],
    [corpusDir, "questions: key terms", questions.filter((q) => q.kind === "key")],
    [corpusDir, "questions: paraphrase", questions.filter((q) => q.kind === "paraphrase")],
  ];
  rmSync(titleless, { recursive: true, force: true });
  for (const [corpus, set, cases] of sets) {
    const indexDir = path.join(work, `index-${set === "title→abstract" ? "titleless" : "normal"}-${name.replace("/", "-")}`);
    const source = corpus === corpusDir ? corpusDir : path.join(work, "only-titleless");
    if (corpus !== corpusDir) {
      rmSync(source, { recursive: true, force: true });
      (await import("node:fs")).mkdirSync(source, { recursive: true });
      writeFileSync(path.join(source, "titleless.jsonl"), readFileSync(path.join(work, "titleless.jsonl")));
    }
    await ingest({ corpus: source, index: indexDir, chunking }, { embedder });
    const index = await openIndex(indexDir, { embedder });
    for (const mode of MODES) rows.push({ chunking: name, set, mode, metrics: await measure(index, cases, mode) });
    index.close();
  }
}

log("Retrieval quality on the bundled corpus (chunk window/overlap in tokens)\n");
log("| chunking | set | mode | hit@1 | hit@5 | MRR@10 |");
log("|---|---|---|---|---|---|");
for (const r of rows) {
  const isDefault = r.chunking === `${DEFAULT_CHUNKING.windowTokens}/${DEFAULT_CHUNKING.overlapTokens}` ? " (default)" : "";
  log(`| ${r.chunking}${isDefault} | ${r.set} (${r.metrics.n}) | ${r.mode} | ${r.metrics.hit1.toFixed(3)} | ${r.metrics.hit5.toFixed(3)} | ${r.metrics.mrr10.toFixed(3)} |`);
}

// Cluster threshold sweep on the default index.
const defaultIndex = path.join(work, `index-normal-${DEFAULT_CHUNKING.windowTokens}-${DEFAULT_CHUNKING.overlapTokens}`);
const index = await openIndex(defaultIndex, { embedder });
const sweep = [0.5, 0.55, 0.6, 0.65, 0.7].map((threshold) => {
  const c = index.clusters({ threshold });
  const clustered = c.clusters.reduce((n, x) => n + x.size, 0);
  const cohesion = c.clusters.reduce((s, x) => s + x.cohesion * x.size, 0) / Math.max(1, clustered);
  return { threshold, clusters: c.clusters.length, largest: Math.max(0, ...c.clusters.map((x) => x.size)), clustered, cohesion: Math.round(cohesion * 1000) / 1000 };
});
index.close();
log("\nClusters by threshold (default chunking)\n");
log("| threshold | clusters | largest | papers clustered | mean cohesion |");
log("|---|---|---|---|---|");
for (const s of sweep) log(`| ${s.threshold} | ${s.clusters} | ${s.largest} | ${s.clustered}/${papers.length} | ${s.cohesion.toFixed(3)} |`);
if (asJson) console.log(JSON.stringify({ quality: rows, clusters: sweep }));
rmSync(work, { recursive: true, force: true });
