// The worker thread of an ingest's HNSW build (see hnsw-build.ts): it follows the batches as they commit,
// inserting their chunks while the main thread reads, embeds and writes the next ones.
import { parentPort, workerData } from "node:worker_threads";
import { SegmentBuilder, type Built, type BuildSpec } from "./hnsw-build.ts";

export type WorkerRequest = { add: number[] } | { finish: string } | { stop: true };
export type WorkerReply = { built: Built } | { error: string };

let builder: SegmentBuilder | null = null;
let failed: string | null = null;
try {
  builder = new SegmentBuilder(workerData as BuildSpec);
} catch (error) {
  failed = String(error);
}
parentPort!.on("message", (request: WorkerRequest) => {
  // Asked to stop (its `stop` flag is set, so adds still queued return at once): close and let the thread end.
  if ("stop" in request) {
    builder?.close();
    parentPort!.close();
    return;
  }
  try {
    if (failed || !builder) throw new Error(failed ?? "no builder");
    if ("add" in request) builder.add(request.add);
    else parentPort!.postMessage({ built: builder.finish(request.finish) } satisfies WorkerReply);
  } catch (error) {
    failed ??= String(error);
    builder?.close();
    if ("finish" in request) parentPort!.postMessage({ error: failed } satisfies WorkerReply);
  }
});
