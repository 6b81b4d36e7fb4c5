// An embedding worker thread: one onnxruntime session (session.ts) with its share of the cores. It takes
// batches of token ids and answers with their pooled vectors, one Float32Array of rows × dims, transferred.
import { parentPort, workerData } from "node:worker_threads";
import { openSession, type SessionSpec } from "./session.ts";

export type WorkerRequest = { id: number; batch: number[][] };
export type WorkerReply = { id: number; vectors: Float32Array } | { id: number; error: string };

const spec = workerData as SessionSpec;
const session = await openSession(spec);
parentPort!.on("message", async ({ id, batch }: WorkerRequest) => {
  try {
    const rows = await session.run(batch);
    const vectors = new Float32Array(rows.length * spec.dims);
    rows.forEach((row, i) => vectors.set(row, i * spec.dims));
    parentPort!.postMessage({ id, vectors } satisfies WorkerReply, [vectors.buffer]);
  } catch (error) {
    parentPort!.postMessage({ id, error: String(error) } satisfies WorkerReply);
  }
});
parentPort!.postMessage("ready");
