// npm run bench:embed — embedding throughput on the bundled corpus's chunks: our Embedder next to a raw
// onnxruntime-node session over the same graph and the same token batches, by batch size, length-sorted
// or in corpus order; the same chunks through a second papersift's /v1/embeddings (bench-endpoint.ts); plus
// cold model load time and RSS. `--json` prints JSON only.
import { readFileSync } from "node:fs";
import path from "node:path";
import ort from "onnxruntime-node";

const asJson = process.argv.includes("--json");
const log = (line = "") => asJson || console.log(line);
const rssPeak = { value: 0 };
const sampleRss = () => (rssPeak.value = Math.max(rssPeak.value, process.memoryUsage().rss));
const sampler = setInterval(sampleRss, 20);

// Cold load first, in this fresh process: import of transformers.js + onnxruntime, tokenizer, session.
const t0 = performance.now();
const { loadEmbedder, DEFAULT_BATCH_SIZE } = await import("../src/embed.ts");
const embedder = await loadEmbedder();
const loadMs = performance.now() - t0;

const { readCorpus } = await import("../src/corpus/index.ts");
const { chunkPaper } = await import("../src/chunk.ts");
const { DEFAULT_CHUNKING } = await import("../src/config.ts");
const root = new URL("..", import.meta.url).pathname;
const count = (text: string) => embedder.tokenize(text).length - 2;
const chunks = readCorpus(path.join(root, "corpus")).papers.flatMap((p) => chunkPaper(p, count, DEFAULT_CHUNKING));
const inputs = chunks.map((c) => embedder.modelInput(c.text));
const tokens = inputs.reduce((n, ids) => n + ids.length, 0);

const session = await ort.InferenceSession.create(readFileSync(embedder.model.onnxFile), { executionProviders: ["cpu"] });

function batchesOf(order: number[], size: number): number[][][] {
  const out: number[][][] = [];
  for (let i = 0; i < order.length; i += size) out.push(order.slice(i, i + size).map((j) => inputs[j]!));
  return out;
}

async function rawRun(batch: number[][]): Promise<void> {
  const width = Math.max(...batch.map((b) => b.length));
  const ids = new BigInt64Array(batch.length * width);
  const mask = new BigInt64Array(batch.length * width);
  batch.forEach((row, b) => row.forEach((id, t) => ((ids[b * width + t] = BigInt(id)), (mask[b * width + t] = 1n))));
  const dims = [batch.length, width];
  await session.run({
    input_ids: new ort.Tensor("int64", ids, dims),
    attention_mask: new ort.Tensor("int64", mask, dims),
    token_type_ids: new ort.Tensor("int64", new BigInt64Array(ids.length), dims),
  });
}

const REPEATS = 5;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
async function once(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  sampleRss();
  return (performance.now() - start) / 1000;
}
async function time(fn: () => Promise<unknown>): Promise<number> {
  const runs: number[] = [];
  for (let r = 0; r < REPEATS; r++) runs.push(await once(fn));
  return median(runs);
}
/** Alternate the two pipelines run by run, so drift in machine speed hits both alike. */
async function timePair(a: () => Promise<unknown>, b: () => Promise<unknown>): Promise<[number, number]> {
  const ra: number[] = [];
  const rb: number[] = [];
  for (let r = 0; r < REPEATS; r++) {
    ra.push(await once(a));
    rb.push(await once(b));
  }
  return [median(ra), median(rb)];
}

const corpusOrder = inputs.map((_, i) => i);
const sortedOrder = [...corpusOrder].sort((a, b) => inputs[b]!.length - inputs[a]!.length);
const rows: { batch: number; order: string; ours: number; raw: number; ratio: number; chunksPerSec: number; tokensPerSec: number; rssMb: number }[] = [];
await rawRun(inputs.slice(0, 8)); // warm-up
await embedder.embedTokenized(inputs.slice(0, 8));
for (const batch of [1, 8, 32]) {
  const batched = batch === DEFAULT_BATCH_SIZE ? embedder : await loadEmbedder({ batchSize: batch });
  for (const [order, ids] of [["length-sorted", sortedOrder], ["corpus order", corpusOrder]] as const) {
    const batches = batchesOf([...ids], batch);
    // One embedTokenized call per batch keeps our pipeline on exactly these batches.
    const [ours, raw] = await timePair(
      async () => {
        for (const b of batches) await batched.embedTokenized(b);
      },
      async () => {
        for (const b of batches) await rawRun(b);
      },
    );
    rows.push({
      batch, order, ours, raw, ratio: raw / ours, chunksPerSec: inputs.length / ours, tokensPerSec: tokens / ours,
      // onnxruntime's arena never gives memory back, so this is the peak so far (two sessions loaded).
      rssMb: process.memoryUsage().rss / 2 ** 20,
    });
  }
}
const endToEnd = await time(() => embedder.embed(chunks.map((c) => c.text)));
const concurrent = await loadEmbedder({ concurrency: 2 });
const twoInFlight = await time(() => concurrent.embedTokenized(inputs));
clearInterval(sampler);
const { endpointRow, endpointTable } = await import("./bench-endpoint.ts");
const endpoint = await endpointRow(embedder, chunks.map((c) => c.text));

log(`Embedding benchmark: ${inputs.length} chunks, ${tokens} tokens (bundled corpus, window ${DEFAULT_CHUNKING.windowTokens}); median of ${REPEATS} runs, ours and raw alternating\n`);
log("| batch | order | ours chunks/s | ours tokens/s | raw session tokens/s | ours ÷ raw | RSS after (MB) |");
log("|---|---|---|---|---|---|---|");
for (const r of rows) {
  log(`| ${r.batch} | ${r.order} | ${r.chunksPerSec.toFixed(1)} | ${r.tokensPerSec.toFixed(0)} | ${(tokens / r.raw).toFixed(0)} | ${r.ratio.toFixed(2)}× | ${r.rssMb.toFixed(0)} |`);
}
log(`\nembed(texts) at the default batch size (${DEFAULT_BATCH_SIZE}), tokenization included: ${(inputs.length / endToEnd).toFixed(1)} chunks/s`);
log(`two forward passes in flight (p-limit 2), default batch size: ${(inputs.length / twoInFlight).toFixed(1)} chunks/s`);
log();
for (const line of endpointTable(endpoint)) log(line);
log(`\ncold model load (import + tokenizer + session): ${loadMs.toFixed(0)} ms`);
log(`peak RSS of this process (three sessions, all batch sizes): ${(rssPeak.value / 2 ** 20).toFixed(0)} MB`);
if (asJson) {
  console.log(JSON.stringify({
    chunks: inputs.length, tokens, rows, endToEndChunksPerSec: inputs.length / endToEnd,
    concurrency2ChunksPerSec: inputs.length / twoInFlight, endpoint, loadMs, peakRssMb: rssPeak.value / 2 ** 20,
  }));
}
