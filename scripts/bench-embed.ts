// npm run bench:embed — embedding throughput on the bundled corpus's chunks (batch 1, token ids made once,
// so every row runs exactly the same sequences), each table measured side by side in one run:
//  1. graph × runtime: the shipped int8 graph and the previous one (read from git history, when there is
//     one) through onnxruntime-node 1.14 as transformers.js runs it, papersift's own onnxruntime-node
//     session, and Python's onnxruntime when BENCH_PYTHON names a Python that has it (scripts/bench_embed_ort.py);
//  2. how close each graph stays to the fp32 graph (scripts/model/reference-embeddings-bge.json), and how
//     much the runtimes and worker counts change a vector;
//  3. worker sessions × threads per session (`ingest --workers`), as far as this machine's cores go;
//  4. the same chunks through a second papersift's /v1/embeddings (bench-endpoint.ts);
//  plus cold model load and peak RSS. Passes alternate across rows, round by round, so drift in machine
//  speed hits every row alike; each cell is the median of the rounds. `--rounds N` (default 5), `--json`.
import { spawn, spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, tmpdir } from "node:os";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";

const asJson = process.argv.includes("--json");
const roundsAt = process.argv.indexOf("--rounds");
const ROUNDS = roundsAt > 0 ? Number(process.argv[roundsAt + 1]) : 5;
const log = (line = "") => asJson || console.log(line);
const root = fileURLToPath(new URL("..", import.meta.url));
const rssPeak = { value: 0 };
const sampleRss = () => (rssPeak.value = Math.max(rssPeak.value, process.memoryUsage().rss));
const sampler = setInterval(sampleRss, 20);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const dot = (a: Float32Array, b: ArrayLike<number>) => a.reduce((s, v, i) => s + v * b[i]!, 0);

// Cold load first, in this fresh process: import of transformers.js (tokenizer) and onnxruntime, session.
const t0 = performance.now();
const { loadEmbedder } = await import("../src/embed.ts");
const embedder = await loadEmbedder();
const loadMs = performance.now() - t0;

const { readCorpus } = await import("../src/corpus/index.ts");
const { chunkPaper } = await import("../src/chunk.ts");
const { DEFAULT_CHUNKING } = await import("../src/config.ts");
const { openSession } = await import("../src/embed/session.ts");
const { startPool } = await import("../src/embed/pool.ts");
const count = (text: string) => embedder.tokenize(text).length - 2;
const chunks = readCorpus(path.join(root, "corpus")).papers.flatMap((p) => chunkPaper(p, count, DEFAULT_CHUNKING));
const inputs = chunks.map((c) => embedder.modelInput(c.text));
const tokens = inputs.reduce((n, ids) => n + ids.length, 0);
const cores = availableParallelism();
const model = embedder.model;
const spec = { dims: model.dims, pooling: model.pooling };
const scratch = mkdtempSync(path.join(tmpdir(), "papersift-bench-embed-"));

// The shipped graph, and (with BENCH_PYTHON) the int8 graph built from onnxruntime's fused fp32 graph, made
// now by scripts/model/build_bge.py --fused-candidate (issue 21 §4; not shipped, see docs/benchmarks.md).
const graphs: { name: string; label: string; file: string }[] = [{ name: "shipped", label: "shipped int8 (unfused)", file: model.onnxFile }];
const python = process.env.BENCH_PYTHON;
if (python) {
  const file = path.join(scratch, "fused.onnx");
  const build = spawnSync(python, [path.join(root, "scripts/model/build_bge.py"), "--fused-candidate", file], { encoding: "utf8" });
  if (build.status !== 0) throw new Error(`build_bge.py --fused-candidate failed:\n${build.stderr}`);
  graphs.push({ name: "fused", label: "int8 from the fused fp32 graph", file });
}

/** A model folder holding `file` as its int8 graph, so transformers.js loads it as papersift used to. */
function modelFolder(file: string, name: string): void {
  const dir = path.join(scratch, name);
  cpSync(model.dir, dir, { recursive: true, filter: (src) => !src.endsWith(".onnx") });
  symlinkSync(file, path.join(dir, "onnx", "model_quantized.onnx"));
}

/**
 * One pass over all inputs, timed by wall clock (on every core) or by CPU time (one thread: on a busy machine
 * the steadier measure of work). A pass in another process (Python) reports its own seconds.
 */
type Pass = () => Promise<{ vectors?: Float32Array[]; seconds?: number }>;
interface Timed { pass: Pass; seconds: number[]; vectors: Float32Array[] | null; cpu?: boolean }
interface Row { graph: string; runtime: string; wide: Timed; single: Timed }
const rows: Row[] = [];
const timed = (pass: Pass, cpu = false): Timed => ({ pass, seconds: [], vectors: null, cpu });
const sessionPass = (session: { run(batch: number[][]): Promise<Float32Array[]> }): Pass => async () => {
  const out: Float32Array[] = [];
  for (const ids of inputs) out.push((await session.run([ids]))[0]!);
  return { vectors: out };
};

// onnxruntime-node 1.14 through transformers.js 2.17.2 (papersift's runtime before): its session options are
// onnxruntime's defaults (a thread per physical core); its 1-thread column is a 1.14 session of our own.
const transformers = await import("@xenova/transformers");
transformers.env.allowRemoteModels = false;
transformers.env.localModelPath = scratch + path.sep;
const ort114 = createRequire(createRequire(import.meta.url).resolve("@xenova/transformers"))("onnxruntime-node") as typeof import("onnxruntime-node");
const tensor = (values: number[]) => new transformers.Tensor("int64", BigInt64Array.from(values.map(BigInt)), [1, values.length]);
for (const g of graphs) {
  modelFolder(g.file, g.name);
  const tjs = await transformers.AutoModel.from_pretrained(g.name, { quantized: true });
  const single = await ort114.InferenceSession.create(g.file, { executionProviders: ["cpu"], intraOpNumThreads: 1, interOpNumThreads: 1 });
  const cls = (hidden: Float32Array) => {
    const v = hidden.slice(0, model.dims);
    const norm = Math.sqrt(dot(v, v));
    return v.map((x) => x / norm);
  };
  const run = (session: { run(feeds: Record<string, unknown>): Promise<Record<string, { data: unknown }>> }) => async () => {
    const out: Float32Array[] = [];
    for (const ids of inputs) {
      const feeds = { input_ids: tensor(ids), attention_mask: tensor(ids.map(() => 1)), token_type_ids: tensor(ids.map(() => 0)) };
      out.push(cls((await session.run(feeds)).last_hidden_state!.data as Float32Array));
    }
    return { vectors: out };
  };
  const viaTransformers = { run: async (feeds: Record<string, unknown>) => (await tjs(feeds)) as Record<string, { data: unknown }> };
  const direct = {
    run: (feeds: Record<string, { dims: number[]; data: unknown }>) =>
      single.run(Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, new ort114.Tensor("int64", t.data as BigInt64Array, t.dims)]))),
  };
  rows.push({ graph: g.label, runtime: "onnxruntime-node 1.14 (transformers.js)", wide: timed(run(viaTransformers)), single: timed(run(direct as never), true) });
}
const ortVersion = (await import("onnxruntime-node")).env.versions.common;
for (const g of graphs) {
  const wide = await openSession({ onnxFile: g.file, ...spec, threads: cores });
  const single = await openSession({ onnxFile: g.file, ...spec, threads: 1 });
  rows.push({ graph: g.label, runtime: `onnxruntime-node ${ortVersion} (papersift)`, wide: timed(sessionPass(wide)), single: timed(sessionPass(single), true) });
}

// Python onnxruntime, one long-lived process that times a pass whenever asked.
let stopPython = () => {};
if (python) {
  const job = path.join(scratch, "python.json");
  writeFileSync(job, JSON.stringify({ graphs: Object.fromEntries(graphs.map((g) => [g.name, g.file])), inputs, threads: cores }));
  const child = spawn(python, [path.join(root, "scripts", "bench_embed_ort.py"), job], { stdio: ["pipe", "pipe", "inherit"] });
  const lines = readline.createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const next = async () => (await lines.next()).value as string;
  const version = await next();
  stopPython = () => child.stdin!.end();
  for (const g of graphs) {
    const ask = (threads: number, clock: 0 | 1): Pass => async () => {
      child.stdin!.write(`${g.name} ${threads}\n`);
      return { seconds: Number((await next()).split(" ")[clock]) };
    };
    rows.push({ graph: g.label, runtime: `Python onnxruntime ${version}`, wide: timed(ask(cores, 0)), single: timed(ask(1, 1), true) });
  }
}

/** Run every pass once per round, in turn: wall-clock seconds, or CPU seconds for `cpu` passes. */
async function alternate(list: Timed[]): Promise<void> {
  for (const r of list) await r.pass(); // warm-up
  for (let round = 0; round < ROUNDS; round++) {
    for (const r of list) {
      const [start, cpuStart] = [performance.now(), process.cpuUsage()];
      const out = await r.pass();
      const cpu = process.cpuUsage(cpuStart);
      r.seconds.push(out.seconds ?? (r.cpu ? (cpu.user + cpu.system) / 1e6 : (performance.now() - start) / 1000));
      if (out.vectors) r.vectors ??= out.vectors;
      sampleRss();
    }
  }
}
await alternate(rows.flatMap((r) => [r.wide, r.single]));
stopPython();

// Worker sessions × threads each, as far as the cores go: 1 session with 1..cores threads, then more
// sessions splitting the cores. Same chunks, the Embedder's own batching (length-sorted, batch 1).
const layouts: { workers: number; threads: number }[] = [];
for (let t = 1; t <= cores; t++) layouts.push({ workers: 1, threads: t });
for (let w = 2; w <= cores; w++) if (cores % w === 0) layouts.push({ workers: w, threads: cores / w });
const order = inputs.map((_, i) => i).sort((a, b) => inputs[b]!.length - inputs[a]!.length);
const workerRows: (typeof layouts[number] & { pool: Awaited<ReturnType<typeof startPool>>; pass: Pass; seconds: number[]; vectors: Float32Array[] | null })[] = [];
for (const layout of layouts) {
  const pool = await startPool({ onnxFile: model.onnxFile, ...spec }, layout.workers, layout.threads);
  const pass: Pass = async () => {
    const out = new Array<Float32Array>(inputs.length);
    await Promise.all(order.map(async (i) => (out[i] = (await pool.run([inputs[i]!]))[0]!)));
    return { vectors: out };
  };
  workerRows.push({ ...layout, pool, pass, seconds: [], vectors: null });
}
await alternate(workerRows);
for (const r of workerRows) await r.pool.close();
clearInterval(sampler);
const { endpointRow, endpointTable } = await import("./bench-endpoint.ts");
const endpoint = await endpointRow(embedder, chunks.map((c) => c.text));

// How far vectors move: between runtimes on one graph, between worker layouts, and from the fp32 graph.
const minCos = (a: Float32Array[], b: Float32Array[]) => Math.min(...a.map((v, i) => dot(v, b[i]!)));
const runtimeAgreement = minCos(rows[0]!.wide.vectors!, rows[graphs.length]!.wide.vectors!);
const threadAgreement = minCos(rows[graphs.length]!.wide.vectors!, rows[graphs.length]!.single.vectors!);
const workerAgreement = Math.min(...workerRows.map((r) => minCos(workerRows[0]!.vectors!, r.vectors!)));
const reference = JSON.parse(readFileSync(path.join(root, "scripts/model/reference-embeddings-bge.json"), "utf8")) as { sentences: { text: string; vector: number[] }[] };
const fp32 = [];
for (const g of graphs) {
  const session = await openSession({ onnxFile: g.file, ...spec, threads: cores });
  const cos = [];
  for (const s of reference.sentences) cos.push(dot((await session.run([embedder.tokenize(s.text).slice(0, model.maxTokens)]))[0]!, s.vector));
  fp32.push({ graph: g.label, min: Math.min(...cos), mean: cos.reduce((a, b) => a + b, 0) / cos.length });
}
rmSync(scratch, { recursive: true, force: true });

const flags = readFileSync("/proc/cpuinfo", "utf8").match(/^flags\s*:\s*(.*)$/m)?.[1]?.split(" ") ?? [];
const simd = ["avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8"].filter((f) => flags.includes(f));
const tps = (r: { seconds: number[] }) => tokens / median(r.seconds);
const [base] = rows;
log(`Embedding benchmark: ${inputs.length} chunks, ${tokens} tokens (bundled corpus, window ${DEFAULT_CHUNKING.windowTokens}), batch 1`);
log(`CPU: ${cpus()[0]?.model ?? "?"}, ${cores} cores, flags: ${simd.join(" ")}; median of ${ROUNDS} rounds, all passes alternating\n`);
log(`| graph | runtime | tokens/s, ${cores} threads | ÷ first row | tokens per CPU-second, 1 thread | ÷ first row |`);
log("|---|---|---|---|---|---|");
for (const r of rows) {
  log(`| ${r.graph} | ${r.runtime} | ${tps(r.wide).toFixed(0)} | ${(tps(r.wide) / tps(base!.wide)).toFixed(2)}× | ${tps(r.single).toFixed(0)} | ${(tps(r.single) / tps(base!.single)).toFixed(2)}× |`);
}
if (!python) log("\n(Python rows and the fused graph: set BENCH_PYTHON to a Python with scripts/model/requirements.txt installed)");
log(`\n| graph | cosine to fp32 (${reference.sentences.length} reference sentences), min | mean |`);
log("|---|---|---|");
for (const f of fp32) log(`| ${f.graph} | ${f.min.toFixed(4)} | ${f.mean.toFixed(4)} |`);
log(`\nshipped graph, min cosine over the ${inputs.length} chunks: onnxruntime-node 1.14 vs ${ortVersion} ${runtimeAgreement.toFixed(6)}; ${cores} threads vs 1 ${threadAgreement.toFixed(7)}`);
log(`\nWorker sessions × threads each (ingest --workers), shipped graph, same chunks, wall clock:\n`);
log(`| sessions × threads | chunks/s | tokens/s | ÷ 1 × ${cores} |`);
log("|---|---|---|---|");
const full = workerRows.find((r) => r.workers === 1 && r.threads === cores)!;
for (const r of workerRows) {
  log(`| ${r.workers} × ${r.threads} | ${(inputs.length / median(r.seconds)).toFixed(1)} | ${tps(r).toFixed(0)} | ${(median(full.seconds) / median(r.seconds)).toFixed(2)}× |`);
}
log(`\nvectors across these layouts: min cosine ${workerAgreement.toFixed(7)} to 1 × 1\n`);
for (const line of endpointTable(endpoint)) log(line);
log(`cold model load (import + tokenizer + session): ${loadMs.toFixed(0)} ms`);
log(`peak RSS of this process: ${(rssPeak.value / 2 ** 20).toFixed(0)} MB`);
if (asJson) {
  console.log(JSON.stringify({
    chunks: inputs.length, tokens, cores, cpu: cpus()[0]?.model, flags: simd, rounds: ROUNDS,
    runtimes: rows.map((r) => ({ graph: r.graph, runtime: r.runtime, tokensPerSec: tps(r.wide), tokensPerCpuSecond1Thread: tps(r.single) })),
    fp32, runtimeAgreement, threadAgreement, workerAgreement,
    workers: workerRows.map((r) => ({ workers: r.workers, threads: r.threads, chunksPerSec: inputs.length / median(r.seconds), ratio: median(full.seconds) / median(r.seconds) })),
    endpoint, loadMs, peakRssMb: rssPeak.value / 2 ** 20,
  }));
}
