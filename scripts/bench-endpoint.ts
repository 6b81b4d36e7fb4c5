// The endpoint row of `npm run bench:embed` (issue 21 §1): the same chunks embedded by the local Embedder and
// through a second papersift's POST /v1/embeddings on this machine (`papersift serve`), alternating run by
// run, so the table shows what the HTTP plumbing costs. The client's own CPU time per chunk is measured
// too: it is the work an ingest's process still does when a server embeds for it. Run on its own
// (`npx tsx scripts/bench-endpoint.ts`) it prints just this table, on the same chunks as bench:embed.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import type { Embedder } from "../src/embed.ts";
import { connectEndpoint } from "../src/embed/remote.ts";
import { ingest } from "../src/index.ts";
import { startServe } from "../tests/serve-process.ts";

export interface EndpointRow {
  chunks: number;
  localChunksPerSec: number;
  endpointChunksPerSec: number;
  /** endpoint ÷ local. */
  ratio: number;
  /** CPU time of this (the client's) process per chunk while the endpoint embedded, in ms. */
  clientCpuMsPerChunk: number;
}

/**
 * Start `papersift serve` on an index of the bundled corpus (built here with `embedder`), then time
 * `embedder.embed(texts)` against the endpoint's, `repeats` times each, alternating; medians.
 */
export async function endpointRow(embedder: Embedder, texts: string[], repeats = 3): Promise<EndpointRow> {
  const root = new URL("..", import.meta.url).pathname;
  const dir = mkdtempSync(path.join(tmpdir(), "papersift-bench-endpoint-"));
  await ingest({ corpus: path.join(root, "corpus"), index: dir }, { embedder });
  const { server, base } = await startServe(["--index", dir], "inherit");
  try {
    const remote = await connectEndpoint({ url: base }, { local: embedder });
    await remote.embed(texts.slice(0, 8)); // warm-up, as the local Embedder had
    const local: number[] = [];
    const endpoint: number[] = [];
    const cpu: number[] = [];
    for (let r = 0; r < repeats; r++) {
      let start = performance.now();
      await embedder.embed(texts);
      local.push((performance.now() - start) / 1000);
      const cpuBefore = process.cpuUsage();
      start = performance.now();
      await remote.embed(texts);
      endpoint.push((performance.now() - start) / 1000);
      const used = process.cpuUsage(cpuBefore);
      cpu.push((used.user + used.system) / 1000 / texts.length);
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const localChunksPerSec = texts.length / median(local);
    const endpointChunksPerSec = texts.length / median(endpoint);
    return { chunks: texts.length, localChunksPerSec, endpointChunksPerSec, ratio: endpointChunksPerSec / localChunksPerSec, clientCpuMsPerChunk: median(cpu) };
  } finally {
    server.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The table's lines, as bench:embed prints them. */
export function endpointTable(row: EndpointRow): string[] {
  return [
    `Local vs endpoint (a second papersift, \`serve\` on 127.0.0.1), same ${row.chunks} chunks, embed(texts), alternating, median of 3:`,
    "| embedder | chunks/s | endpoint ÷ local | client CPU per chunk |",
    "|---|---|---|---|",
    `| local (this process) | ${row.localChunksPerSec.toFixed(1)} | | |`,
    `| endpoint (POST /v1/embeddings) | ${row.endpointChunksPerSec.toFixed(1)} | ${row.ratio.toFixed(2)}× | ${row.clientCpuMsPerChunk.toFixed(2)} ms |`,
  ];
}

if (import.meta.url === pathToFileURL(process.argv[1]!).href) {
  const { loadEmbedder } = await import("../src/embed.ts");
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
