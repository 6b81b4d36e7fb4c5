// ingest --workers (issue 21 §2): N embedding sessions in worker threads. Results must not depend on N.
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { loadEmbedder } from "../src/embed.ts";
import { IngestOptions, parseOptions } from "../src/config.ts";
import { PapersiftError } from "../src/errors.ts";
import { ingest, openIndex } from "../src/index.ts";
import { DEFAULT_MODEL_DIR } from "../src/model.ts";
import { dot } from "../src/similarity.ts";
import { availableParallelism } from "node:os";
import { BUNDLED_CORPUS, bundledPapers, FORBID_MODEL, ROOT, runCli, sharedEmbedder, tempDir } from "./helpers.ts";

const { questions } = z
  .object({ questions: z.array(z.object({ question: z.string() })) })
  .parse(JSON.parse(readFileSync(path.join(ROOT, "tests/fixtures/questions.json"), "utf8")));

describe("embedding workers", () => {
  it("give the same vectors with 1 or 2 workers as on the main thread (cosine >= 0.99999)", async () => {
    const texts = bundledPapers().slice(0, 8).map((p) => p.title);
    const here = await (await sharedEmbedder()).embed(texts);
    for (const workers of [1, 2]) {
      const embedder = await loadEmbedder({ workers });
      const vectors = await embedder.embed(texts);
      // The sessions were threads of their own: closing stops them, and the Embedder says so if used again.
      await embedder.close!();
      await expect(embedder.embed(["one more"])).rejects.toThrow(/closed/);
      vectors.forEach((v, i) => expect(dot(v, here[i]!), `${workers} workers, text ${i}`).toBeGreaterThanOrEqual(0.99999));
    }
  }, 120_000);

  it("build indexes that rank the bundled questions' top 10 alike with 1 and 2 workers", async () => {
    const tops = [];
    for (const workers of [1, 2]) {
      const dir = tempDir();
      const summary = await ingest({ corpus: BUNDLED_CORPUS, index: dir, workers });
      expect(summary.embedded).toBeGreaterThan(100);
      const index = await openIndex(dir, { embedder: await sharedEmbedder() });
      const top = [];
      for (const { question } of questions) top.push((await index.search(question, { k: 10 })).results.map((r) => r.id));
      index.close();
      tops.push(top);
    }
    expect(tops[1]).toEqual(tops[0]);
  }, 300_000); // two ingests of the bundled corpus with the real model: ≈10 s on a quiet machine

  it("a graph that cannot be loaded is a one-line MODEL_LOAD_FAILED from the workers", async () => {
    const dir = tempDir();
    cpSync(DEFAULT_MODEL_DIR, dir, { recursive: true });
    writeFileSync(path.join(dir, "onnx", "model_quantized.onnx"), "not an onnx graph");
    const error = await loadEmbedder({ model: dir, workers: 2 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PapersiftError);
    expect((error as PapersiftError).code).toBe("MODEL_LOAD_FAILED");
    expect((error as Error).message).not.toContain("\n");
  });

  it("--workers: a mistake names the option, --help gives its limit, and more sessions than cores is warned about", () => {
    const tooMany = runCli(["ingest", "--workers", "65", "--index", tempDir()], { nodeArgs: FORBID_MODEL });
    expect(tooMany.status).toBe(2);
    expect(tooMany.stderr).toMatch(/^papersift: option '--workers <n>' argument '65' is invalid\. --workers is too large \(at most 64\)\n/);
    expect(runCli(["ingest", "--help"], { nodeArgs: FORBID_MODEL }).stdout).toMatch(/--workers <n> +embedding sessions in worker threads,[^]*\(at most\s+64;/);
    expect(() => parseOptions(IngestOptions, { workers: 65 })).toThrow("--workers is too large (at most 64)");
    const cores = availableParallelism();
    const missing = path.join(tempDir(), "no-corpus");
    const more = runCli(["ingest", "--workers", String(cores + 1), "--corpus", missing, "--index", tempDir()], { nodeArgs: FORBID_MODEL });
    expect(more.stderr.split("\n")[0]).toBe(
      `papersift: --workers ${cores + 1} is more than this machine's ${cores} cores: each session holds its own copy of the model (~100–150 MB) and they only share the cores`,
    );
  });
});
