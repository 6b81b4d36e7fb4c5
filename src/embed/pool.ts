// N embedding sessions in worker threads (issue 21 §2): each batch goes to the next idle worker, so the
// workers stay busy whatever the mix of lengths. Idle workers do not keep the process alive.
import type { Worker } from "node:worker_threads";
import { PapersiftError } from "../errors.ts";
import { onInterrupt } from "../interrupt.ts";
import { startWorker } from "../worker.ts";
import type { SessionSpec } from "./session.ts";
import type { WorkerReply, WorkerRequest } from "./worker.ts";

export interface WorkerPool {
  /** Same contract as ModelSession.run, on whichever worker is free first. */
  run(batch: number[][]): Promise<Float32Array[]>;
  close(): Promise<void>;
}

interface Job {
  batch: number[][];
  resolve: (vectors: Float32Array[]) => void;
  reject: (error: Error) => void;
}

/** Start `workers` sessions of `threads` intra-op threads each; resolves once every one has loaded the graph. */
export async function startPool(spec: Omit<SessionSpec, "threads">, workers: number, threads: number): Promise<WorkerPool> {
  const queue: Job[] = [];
  const idle: Worker[] = [];
  const busy = new Map<Worker, { id: number; job: Job }>();
  // Workers whose run is in flight when the pool closes: each is terminated once its reply arrives, never
  // during the run (that aborts the process).
  const draining = new Map<Worker, () => void>();
  let broken: Error | null = null;
  let nextId = 0;

  const fail = (error: Error) => {
    broken ??= error;
    for (const { job } of busy.values()) job.reject(broken);
    for (const job of queue.splice(0)) job.reject(broken);
    busy.clear();
  };
  const dispatch = () => {
    while (idle.length && queue.length) {
      const worker = idle.pop()!;
      const job = queue.shift()!;
      const id = nextId++;
      busy.set(worker, { id, job });
      worker.ref(); // an embedding in flight keeps the process alive; an idle worker does not
      worker.postMessage({ id, batch: job.batch } satisfies WorkerRequest);
    }
  };

  const started = Array.from({ length: workers }, () => {
    const worker = startWorker("embed/worker", { workerData: { ...spec, threads } satisfies SessionSpec });
    return new Promise<Worker>((resolve, reject) => {
      worker.on("message", (reply: "ready" | WorkerReply) => {
        if (reply === "ready") {
          worker.unref();
          idle.push(worker);
          resolve(worker);
          return dispatch();
        }
        const drained = draining.get(worker);
        if (drained) return drained();
        const current = busy.get(worker);
        busy.delete(worker);
        worker.unref();
        idle.push(worker);
        if (current && current.id === reply.id) {
          if ("error" in reply) current.job.reject(new PapersiftError("EMBED_FAILED", `the model failed on a batch: ${reply.error}`));
          else current.job.resolve(current.job.batch.map((_, i) => reply.vectors.subarray(i * spec.dims, (i + 1) * spec.dims)));
        }
        dispatch();
      });
      worker.on("error", (error) => {
        const wrapped = new PapersiftError("MODEL_LOAD_FAILED", `an embedding worker failed: ${error.message}`, { cause: error });
        reject(wrapped);
        fail(wrapped);
      });
      worker.on("exit", (code) => {
        draining.get(worker)?.();
        if (code !== 0) fail(new PapersiftError("EMBED_FAILED", `an embedding worker stopped (exit code ${code})`));
      });
    });
  });
  const all = await Promise.allSettled(started);
  const failed = all.find((r): r is PromiseRejectedResult => r.status === "rejected");
  const pool: WorkerPool = {
    run(batch) {
      if (broken) return Promise.reject(broken);
      return new Promise((resolve, reject) => {
        queue.push({ batch, resolve, reject });
        dispatch();
      });
    },
    async close() {
      unregister();
      broken ??= new PapersiftError("EMBED_FAILED", "the embedder was closed");
      const running = [...busy.keys()];
      const drained = running.map((w) => new Promise<void>((resolve) => draining.set(w, resolve)));
      const workersNow = [...idle, ...running];
      idle.length = 0;
      fail(broken);
      await Promise.all(drained);
      await Promise.all(workersNow.map((w) => w.terminate()));
    },
  };
  const unregister = onInterrupt(() => pool.close());
  if (failed) {
    await pool.close();
    throw failed.reason;
  }
  return pool;
}
