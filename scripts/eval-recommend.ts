// npm run eval -- --recommend DIR: "papers like these" on an arXiv export (issue 19's protocol).
// A reader is an author with 8–25 papers in DIR/corpus.jsonl. Readers are sampled with a fixed seed; for each,
// 2/3 of their papers (shuffled with the same seed) are liked and 1/3 held out. Each method ranks the whole
// corpus, the liked papers are dropped, and recall@50 / recall@100 is the share of held-out papers in the top
// 50 / 100, averaged over readers. Authors are never a ranking input: only titles and abstracts.
// Methods: the anchor, arxiv-sanity-lite's recipe (tf-idf of 1–2-grams, 20k features, sublinear tf, min_df 5,
// max_df 0.1, then a linear SVM with C = 0.01 and balanced class weights), implemented here; the cosine to the
// centroid of the liked papers' paper vectors; and papersift's own `index.recommend`, through the library
// API as a user calls it. Seconds per reader are each method's wall time per ranking (p50), warm.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { loadEmbedder } from "../src/embed.ts";
import { openIndex, type PapersiftIndex } from "../src/index.ts";
import { loadLexicon } from "../src/query/lexicon.ts";
import { recommendPapers, RECOMMEND, type Example } from "../src/query/recommend.ts";
import { Store } from "../src/store/store.ts";
import { corpusFolder, indexFor, root } from "./eval-sets.ts";
import { decisionValues, trainLinearSvm, type SparseRows } from "./linear-svm.ts";
import { terms } from "../src/query/terms.ts";
import { dot } from "../src/similarity.ts";
import { seededRandom } from "./random.ts";

export interface RecommendEvalOptions {
  seeds: number[];
  readers: number;
  /** Also rank with each dense weight in a sweep. */
  tune: boolean;
  /** The bin to time cold CLI runs with. */
  cli: string;
  indexDir: string;
}

interface Record {
  id: string;
  title: string;
  abstract: string;
  authors: string[];
}

interface Reader {
  author: string;
  liked: number[];
  heldOut: number[];
}

const round = (x: number, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

/** arXiv's author string: "A, B and C" (affiliations in parentheses dropped). */
const splitAuthors = (text: unknown) =>
  typeof text === "string"
    ? text
        .replace(/\([^)]*\)/g, "")
        .split(/,|\band\b/)
        .map((a) => a.replace(/\s+/g, " ").trim())
        .filter(Boolean)
    : [];

export function readRecords(dir: string): Record[] {
  return readFileSync(path.join(dir, "corpus.jsonl"), "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as { id: string | number; title: string; abstract: string; authors?: unknown })
    .map((r) => ({ id: String(r.id), title: r.title, abstract: r.abstract, authors: splitAuthors(r.authors) }));
}

function shuffle<T>(items: T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Every author with 8–25 papers, by name; `count` of them sampled with `seed`, each split 2/3 liked, 1/3 held out. */
export function sampleReaders(records: Record[], seed: number, count: number): Reader[] {
  const byAuthor = new Map<string, number[]>();
  records.forEach((r, i) => {
    for (const a of new Set(r.authors)) {
      if (!byAuthor.has(a)) byAuthor.set(a, []);
      byAuthor.get(a)!.push(i);
    }
  });
  const eligible = [...byAuthor.entries()].filter(([, papers]) => papers.length >= 8 && papers.length <= 25).sort((a, b) => (a[0] < b[0] ? -1 : 1));
  const random = seededRandom(seed);
  return shuffle(eligible, random)
    .slice(0, count)
    .map(([author, papers]) => {
      const order = shuffle(papers, random);
      const liked = Math.round((order.length * 2) / 3);
      return { author, liked: order.slice(0, liked), heldOut: order.slice(liked) };
    });
}

// ---- the anchor: arxiv-sanity-lite's tf-idf + linear SVM ------------------------------------------------------
/** sklearn's TfidfVectorizer as arxiv-sanity-lite configures it, with papersift's stop words. */
export function tfidfAnchor(records: Record[]): SparseRows {
  const tokenize = (text: string) => {
    const words = (text.normalize("NFKD").replace(/\p{M}/gu, "").toLowerCase().match(/\b[a-z_][a-z0-9_]+\b/g) ?? []).filter((w) => terms(w).length === 1);
    const grams = [...words];
    for (let i = 1; i < words.length; i++) grams.push(`${words[i - 1]} ${words[i]}`);
    return grams;
  };
  const docs = records.map((r) => {
    const counts = new Map<string, number>();
    for (const g of tokenize(`${r.title} ${r.abstract}`)) counts.set(g, (counts.get(g) ?? 0) + 1);
    return counts;
  });
  const df = new Map<string, number>();
  const total = new Map<string, number>();
  for (const doc of docs) {
    for (const [g, c] of doc) {
      df.set(g, (df.get(g) ?? 0) + 1);
      total.set(g, (total.get(g) ?? 0) + c);
    }
  }
  const n = docs.length;
  // min_df 5, max_df 0.1, then the 20,000 most frequent over the corpus.
  const kept = [...df.entries()]
    .filter(([, d]) => d >= 5 && d <= 0.1 * n)
    .map(([g]) => g)
    .sort((a, b) => total.get(b)! - total.get(a)! || (a < b ? -1 : 1))
    .slice(0, 20_000);
  const column = new Map(kept.map((g, i) => [g, i]));
  const idf = kept.map((g) => Math.log((1 + n) / (1 + df.get(g)!)) + 1);
  const offsets = new Int32Array(n + 1);
  const indices: number[] = [];
  const values: number[] = [];
  docs.forEach((doc, i) => {
    const row: [number, number][] = [];
    for (const [g, c] of doc) {
      const j = column.get(g);
      if (j !== undefined) row.push([j, (1 + Math.log(c)) * idf[j]!]);
    }
    const norm = Math.sqrt(row.reduce((s, [, v]) => s + v * v, 0)) || 1;
    for (const [j, v] of row.sort((a, b) => a[0] - b[0])) {
      indices.push(j);
      values.push(v / norm);
    }
    offsets[i + 1] = indices.length;
  });
  return { offsets, indices: Int32Array.from(indices), values: Float32Array.from(values), dims: kept.length };
}

export function svmScores(rows: SparseRows, liked: number[], tolerance = 1e-3): Float64Array {
  const n = rows.offsets.length - 1;
  const C = 0.01;
  // class_weight="balanced": n / (2 × class size).
  const model = trainLinearSvm(rows, new Set(liked), {
    cPositive: (C * n) / (2 * liked.length),
    cNegative: (C * n) / (2 * (n - liked.length)),
    tolerance,
    maxPasses: 500,
  });
  return decisionValues(rows, model);
}

// ---- scoring ------------------------------------------------------------------------------------------------
export function recall(ranked: number[], reader: Reader): { at50: number; at100: number } {
  const liked = new Set(reader.liked);
  const top = ranked.filter((i) => !liked.has(i)).slice(0, 100);
  const held = new Set(reader.heldOut);
  const hits = (k: number) => top.slice(0, k).filter((i) => held.has(i)).length / held.size;
  return { at50: hits(50), at100: hits(100) };
}

export const topOf = (scores: ArrayLike<number>, k: number) =>
  Array.from({ length: scores.length }, (_, i) => i)
    .sort((a, b) => scores[b]! - scores[a]! || a - b)
    .slice(0, k);

export interface RecommendRow {
  seed: number;
  method: string;
  readers: number;
  recall50: number;
  recall100: number;
  secondsP50: number | null;
}

type Ranker = (reader: Reader) => Promise<number[]> | number[];

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/**
 * The table: for each seed, each method's mean recall@50 and @100 over the sampled readers and its p50
 * seconds per ranking; then a 20-paper set's warm and cold (a fresh CLI process) p50.
 */
export async function evalRecommend(dir: string, index: PapersiftIndex, store: Store, options: RecommendEvalOptions) {
  const records = readRecords(dir);
  const position = new Map(records.map((r, i) => [r.id, i]));
  const anchor = tfidfAnchor(records);
  const rowidOf = new Map(store.titles().map((t) => [t.id, t.rowid]));
  const byRowid = store.paperVectors();
  const vectors = records.map((r) => byRowid.get(rowidOf.get(r.id)!)!);
  const lexicon = loadLexicon(store);
  const examples = (r: Reader): Example[] =>
    r.liked.map((i) => {
      const rowid = rowidOf.get(records[i]!.id)!;
      return { rowid, id: records[i]!.id, title: records[i]!.title, abstract: records[i]!.abstract, vector: byRowid.get(rowid)! };
    });
  const weighted = (dense: number): Ranker => (r) =>
    recommendPapers(store, lexicon, { of: (rowid) => byRowid.get(rowid)! }, examples(r), [], { k: 100, explain: false, weights: { dense, dislike: 0 } }).map((h) => position.get(h.id)!);
  const rankers: [string, Ranker, boolean][] = [
    ["tf-idf + linear SVM (arxiv-sanity-lite's recipe, the anchor)", (r) => topOf(svmScores(anchor, r.liked), 100 + r.liked.length), true],
    [
      "cosine to the centroid of the liked papers' vectors",
      (r) => {
        const centre = new Float32Array(vectors[0]!.length);
        for (const i of r.liked) vectors[i]!.forEach((v, d) => (centre[d]! += v));
        return topOf(
          vectors.map((v) => dot(v, centre)),
          100 + r.liked.length,
        );
      },
      true,
    ],
    [
      `papersift recommend (dense weight ${RECOMMEND.weights.dense})`,
      async (r) => {
        const { results } = await index.recommend({ liked: r.liked.map((i) => records[i]!.id), k: 100 });
        return results.map((h) => position.get(h.id)!);
      },
      true,
    ],
    ...(options.tune ? [0, 0.25, 1, 2, 100].map((w): [string, Ranker, boolean] => [w === 100 ? "dense signal only (nearest liked papers)" : `lexical + ${w} × dense`, weighted(w === 100 ? 1e6 : w), false]) : []),
  ];
  const rows: RecommendRow[] = [];
  for (const seed of options.seeds) {
    const readers = sampleReaders(records, seed, options.readers);
    for (const [method, rank, timed] of rankers) {
      const at50: number[] = [];
      const at100: number[] = [];
      const seconds: number[] = [];
      for (const reader of readers) {
        const t = performance.now();
        const ranked = await rank(reader);
        seconds.push((performance.now() - t) / 1000);
        const r = recall(ranked, reader);
        at50.push(r.at50);
        at100.push(r.at100);
      }
      rows.push({ seed, method, readers: readers.length, recall50: round(mean(at50)), recall100: round(mean(at100)), secondsP50: timed ? round(median(seconds), 3) : null });
    }
  }
  return { rows, latency: await latency(records, index, options) };
}

/** One recommend for a 20-paper set: warm (library, p50 of 10) and from a fresh CLI process (p50 of 5). */
async function latency(records: Record[], index: PapersiftIndex, options: RecommendEvalOptions) {
  const random = seededRandom(20);
  const sets = Array.from({ length: 10 }, () => shuffle(records, random).slice(0, 20).map((r) => r.id));
  const warm: number[] = [];
  for (const ids of sets) {
    const t = performance.now();
    await index.recommend({ liked: ids, k: 10 });
    warm.push((performance.now() - t) / 1000);
  }
  const cold: number[] = [];
  for (const ids of sets.slice(0, 5)) {
    const t = performance.now();
    const result = spawnSync(process.execPath, [options.cli, "recommend", ...ids, "--index", options.indexDir, "--json"], { encoding: "utf8", maxBuffer: 2 ** 26 });
    if (result.status !== 0) throw new Error(`papersift recommend failed: ${result.stderr}`);
    cold.push((performance.now() - t) / 1000);
  }
  return { warmP50: round(median(warm), 3), coldP50: round(median(cold), 2), cold: cold.map((c) => round(c, 2)) };
}

/** `npm run eval -- --recommend DIR`: index DIR (cached), run the protocol, print the table (or JSON). */
export async function runRecommendEval(dir: string, flags: { seeds: string | undefined; readers: string | undefined; tune: boolean; asJson: boolean; model: string }): Promise<void> {
  const log = (line = "") => flags.asJson || console.log(line);
  const name = path.basename(path.resolve(dir));
  const corpus = corpusFolder(name, path.join(dir, "corpus.jsonl"));
  const { dir: indexDir } = await indexFor(name, corpus, flags.model, await loadEmbedder({ model: flags.model }));
  const index = await openIndex(indexDir);
  const store = Store.open(indexDir);
  const { rows, latency } = await evalRecommend(dir, index, store, {
    seeds: (flags.seeds ?? "1,2,3,4,5").split(",").map(Number),
    readers: Number(flags.readers ?? 60),
    tune: flags.tune,
    cli: path.join(root, "bin", "papersift.js"),
    indexDir,
  });
  store.close();
  index.close();
  if (flags.asJson) {
    console.log(JSON.stringify({ recommend: rows, latency }));
    return;
  }
  const seeds = [...new Set(rows.map((r) => r.seed))];
  log(`Recommendations on ${dir}: author-holdout, ${rows[0]?.readers ?? 0} readers per seed (authors with 8–25 papers; 2/3 liked, 1/3 held out)\n`);
  log(`| method | ${seeds.map((s) => `seed ${s} R@50`).join(" | ")} | mean R@50 | × anchor | mean R@100 | s per reader (p50) |`);
  log(`|---|${seeds.map(() => "---|").join("")}---|---|---|---|`);
  const methods = [...new Set(rows.map((r) => r.method))];
  const meanOf = (method: string, key: "recall50" | "recall100") => mean(rows.filter((r) => r.method === method).map((r) => r[key]));
  const anchor = meanOf(methods[0]!, "recall50");
  for (const method of methods) {
    const mine = rows.filter((r) => r.method === method);
    const seconds = mine.map((r) => r.secondsP50).filter((x): x is number => x !== null);
    log(
      `| ${method} | ${mine.map((r) => r.recall50.toFixed(3)).join(" | ")} | ${meanOf(method, "recall50").toFixed(3)} | ${(meanOf(method, "recall50") / anchor).toFixed(2)} | ${meanOf(method, "recall100").toFixed(3)} | ${seconds.length ? median(seconds).toFixed(3) : "–"} |`,
    );
  }
  log(`\none recommend for a 20-paper set (k = 10): warm p50 ${latency.warmP50} s (library, model not loaded); cold p50 ${latency.coldP50} s (a fresh \`papersift recommend\` process: ${latency.cold.join(", ")} s)`);
}
