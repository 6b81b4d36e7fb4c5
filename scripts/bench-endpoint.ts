// The endpoint rows of `npm run bench:embed` (issue 21 §1): the same chunks embedded locally, by one session
// and in ingest's default layout (worker threads), and through a second papersift's POST /v1/embeddings on
// this machine (`papersift serve`, its default --workers), alternating run by run, so the table shows what
// the HTTP plumbing costs against what `ingest` does by default (review 21 #4). The client's own CPU time per chunk is measured
// too: it is the work an ingest's process still does when a server embeds for it. Run on its own
// (`npx tsx scripts/bench-endpoint.ts`) it prints just this table, on the same chunks as bench:embed.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { defaultWorkers } from "../src/config.ts";
import { loadEmbedder, type Embedder } from "../src/embed.ts";
import { connectEndpoint } from "../src/embed/remote.ts";
import { ingest } from "../src/index.ts";
import { startServe } from "../tests/serve-process.ts";

export interface EndpointRow {
  chunks: number;
  /** One session on the calling thread, every core (how questions are embedded; `ingest --workers 1`). */
  localChunksPerSec: number;
  /** ingest's default layout: defaultWorkers() sessions in worker threads, the cores split between them. */
  localWorkers: number;
  localDefaultChunksPerSec: number;
  /** `papersift serve` with its default --workers (the same layout) behind POST /v1/embeddings. */
  endpointChunksPerSec: number;
  /** endpoint ÷ one local session, and endpoint ÷ ingest's default layout. */
  ratio: number;
  ratioToDefault: number;
  /** CPU time of this (the client's) process per chunk while the endpoint embedded, in ms. */
  clientCpuMsPerChunk: number;
}

/**
 * Start `papersift serve` (default --workers) on an index of the bundled corpus (built here with `embedder`),
 * then time the same texts three ways, `repeats` times each, alternating: `embedder` (one session), a local
 * Embedder in ingest's default layout, and the endpoint; medians.
 */
export async function endpointRow(embedder: Embedder, texts: string[], repeats = 3): Promise<EndpointRow> {
  const root = new URL("..", import.meta.url).pathname;
  const dir = mkdtempSync(path.join(tmpdir(), "papersift-bench-endpoint-"));
  await ingest({ corpus: path.join(root, "corpus"), index: dir }, { embedder });
  const { server, base } = await startServe(["--index", dir], "inherit");
  const localWorkers = defaultWorkers();
  const pool = await loadEmbedder({ model: embedder.model.dir, workers: localWorkers });
  try {
    const remote = await connectEndpoint({ url: base }, { local: embedder });
    await remote.embed(texts.slice(0, 8)); // warm-up (the server loads its sessions on the first request)
    await pool.embed(texts.slice(0, 8));
    const times = { local: [] as number[], pool: [] as number[], endpoint: [] as number[] };
    const cpu: number[] = [];
    const timed = async (run: () => Promise<unknown>) => {
      const start = performance.now();
      await run();
      return (performance.now() - start) / 1000;
    };
    for (let r = 0; r < repeats; r++) {
      times.local.push(await timed(() => embedder.embed(texts)));
      times.pool.push(await timed(() => pool.embed(texts)));
      const cpuBefore = process.cpuUsage();
      times.endpoint.push(await timed(() => remote.embed(texts)));
      const used = process.cpuUsage(cpuBefore);
      cpu.push((used.user + used.system) / 1000 / texts.length);
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const [localChunksPerSec, localDefaultChunksPerSec, endpointChunksPerSec] = [times.local, times.pool, times.endpoint].map((t) => texts.length / median(t)) as [number, number, number];
    return {
      chunks: texts.length,
      localChunksPerSec,
      localWorkers,
      localDefaultChunksPerSec,
      endpointChunksPerSec,
      ratio: endpointChunksPerSec / localChunksPerSec,
      ratioToDefault: endpointChunksPerSec / localDefaultChunksPerSec,
      clientCpuMsPerChunk: median(cpu),
    };
  } finally {
    await pool.close?.();
    server.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The table's lines, as bench:embed prints them. */
export function endpointTable(row: EndpointRow): string[] {
  return [
    `Local vs endpoint (a second papersift, \`serve\` on 127.0.0.1 with its default --workers ${row.localWorkers}), same ${row.chunks} chunks, embed(texts), alternating, median of 3:`,
    "| embedder | chunks/s | endpoint ÷ this | client CPU per chunk |",
    "|---|---|---|---|",
    `| local, one session (1×all threads; \`ingest --workers 1\`) | ${row.localChunksPerSec.toFixed(1)} | ${row.ratio.toFixed(2)}× | |`,
    `| local, ingest's default layout (${row.localWorkers} workers) | ${row.localDefaultChunksPerSec.toFixed(1)} | ${row.ratioToDefault.toFixed(2)}× | |`,
    `| endpoint (POST /v1/embeddings, serve --workers ${row.localWorkers}) | ${row.endpointChunksPerSec.toFixed(1)} | | ${row.clientCpuMsPerChunk.toFixed(2)} ms |`,
  ];
}

if (import.meta.url === pathToFileURL(process.argv[1]!).href) {
  const { readCorpus } = await import("../src/corpus/index.ts");
  const { chunkPaper } = await import("../src/chunk.ts");
  const { DEFAULT_CHUNKING } = await import("../src/config.ts");
  const embedder = await loadEmbedder();
  const count = (text: string) => embedder.tokenize(text).length - 2;
  const root = new URL("..", import.meta.url).pathname;
  const texts = readCorpus(path.join(root, "corpus")).papers.flatMap((p) => chunkPaper(p, count, DEFAULT_CHUNKING)).map((c) => c.text);
  await embedder.embed(texts.slice(0, 8)); // warm-up
  const row = await endpointRow(embedder, texts);
  console.log(process.argv.includes("--json") ? JSON.stringify(row) : endpointTable(row).join("\n"));
}
