// What npm run eval's parts share: the cache of eval indexes, judged sets in BEIR layout, and their metrics.
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Embedder } from "../src/embed.ts";
import { ingest } from "../src/index.ts";

export const root = fileURLToPath(new URL("..", import.meta.url));
/** Indexes are cached in index-cache/eval/<set>/<model>/ and reused (only new text is embedded). */
export const cache = path.join(root, "index-cache", "eval");

export const round = (x: number, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits;

/** A folder holding just this file (a BEIR set folder also holds queries and qrels, which are not papers). */
export function corpusFolder(name: string, file: string): string {
  const dir = path.join(cache, name, "corpus");
  mkdirSync(dir, { recursive: true });
  const link = path.join(dir, path.basename(file));
  if (!existsSync(link)) symlinkSync(path.resolve(file), link);
  return dir;
}

/** Ingest (incrementally) into the cache; remember the embedding throughput of the run that embedded. */
export async function indexFor(set: string, corpus: string, modelDir: string, embedder: Embedder): Promise<{ dir: string; chunksPerSecond: number | null }> {
  const dir = path.join(cache, set, path.basename(modelDir));
  const summary = await ingest({ corpus, index: dir, model: modelDir }, { embedder });
  const record = path.join(dir, "eval-ingest.json");
  if (summary.embedded > 50) writeFileSync(record, JSON.stringify({ chunksPerSecond: summary.embedded / summary.seconds }));
  const chunksPerSecond = existsSync(record) ? (JSON.parse(readFileSync(record, "utf8")) as { chunksPerSecond: number }).chunksPerSecond : null;
  return { dir, chunksPerSecond };
}

export interface Judged {
  name: string;
  corpus: string;
  queries: { id: string; text: string }[];
  relevant: Map<string, Set<string>>;
}

/** A judged set in BEIR layout: corpus.jsonl, queries.jsonl {"id","text"}, qrels.tsv (no header). */
export function readSet(dir: string): Judged {
  const name = path.basename(path.resolve(dir));
  const queries = readFileSync(path.join(dir, "queries.jsonl"), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as { id: string; text: string });
  const relevant = new Map<string, Set<string>>();
  for (const line of readFileSync(path.join(dir, "qrels.tsv"), "utf8").split("\n")) {
    const [q, doc, rel] = line.trim().split("\t");
    if (!q || !doc || !(Number(rel) > 0)) continue;
    if (!relevant.has(q)) relevant.set(q, new Set());
    relevant.get(q)!.add(doc);
  }
  return { name, corpus: corpusFolder(name, path.join(dir, "corpus.jsonl")), queries: queries.filter((q) => relevant.has(String(q.id))), relevant };
}

/** nDCG@10 (binary gains), Recall@100, MRR@10 of ranked id lists. */
export function judge(set: Judged, ranked: Map<string, string[]>) {
  let ndcg = 0;
  let recall = 0;
  let mrr = 0;
  for (const q of set.queries) {
    const rel = set.relevant.get(String(q.id))!;
    const ids = ranked.get(String(q.id)) ?? [];
    let dcg = 0;
    ids.slice(0, 10).forEach((id, i) => (dcg += rel.has(id) ? 1 / Math.log2(i + 2) : 0));
    let ideal = 0;
    for (let i = 0; i < Math.min(rel.size, 10); i++) ideal += 1 / Math.log2(i + 2);
    ndcg += dcg / ideal;
    recall += ids.slice(0, 100).filter((id) => rel.has(id)).length / rel.size;
    const first = ids.slice(0, 10).findIndex((id) => rel.has(id));
    if (first >= 0) mrr += 1 / (first + 1);
  }
  const n = set.queries.length;
  return { n, ndcg10: round(ndcg / n), recall100: round(recall / n), mrr10: round(mrr / n) };
}

