// Issue 21 §1: remote embedders. One papersift (`serve`, a real process) embeds for another through
// POST /v1/embeddings; the official openai client calls that endpoint; and a tiny HTTP server written here
// (not a mock of papersift: a stand-in for someone else's server, speaking the same protocol) is down,
// slow, rate-limited, returns the wrong dimension or NaN. All traffic stays on 127.0.0.1. One serve process
// and one toy server are shared by every case: loading the model costs more than the cases themselves.
import type { ChildProcess } from "node:child_process";
import { cpSync, existsSync, readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import OpenAI from "openai";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import type { Embedder } from "../src/embed.ts";
import { ingest, openIndex, PapersiftError, type IngestSummary } from "../src/index.ts";
import { renderStats } from "../src/render.ts";
import { BUNDLED_CORPUS, FORBID_MODEL, ROOT, runCli, sharedEmbedder, standInEmbedder, tempDir, writeTxt } from "./helpers.ts";
import { startServe } from "./serve-process.ts";

const { questions } = z
  .object({ questions: z.array(z.object({ question: z.string() })) })
  .parse(JSON.parse(readFileSync(path.join(ROOT, "tests/fixtures/questions.json"), "utf8")));

let embedder: Embedder;
let localDir: string;
let serve: ChildProcess;
let base: string;

// ---- the toy server: someone else's OpenAI-compatible endpoint, misbehaving on request ----
type Mode = "ok" | "shifted" | "429" | "slow" | "wrong-dims" | "nan" | "needs-key";
const toy = { mode: "ok" as Mode, requests: 0, bulk: 0, failFrom: 0, inputs: [] as string[], server: null as Server | null, url: "" };
const standIn = standInEmbedder(64);
const vectorOf = async (text: string) => {
  const [v] = await standIn.embed([text]);
  return toy.mode === "shifted" ? Array.from(v!).reverse() : Array.from(v!);
};
async function answer(req: IncomingMessage, body: string): Promise<{ status: number; text: string; headers?: Record<string, string> }> {
  const { input } = JSON.parse(body) as { input: string[] };
  toy.requests++;
  toy.inputs.push(...input);
  const probe = input.length === 1 && input[0]!.startsWith("Attention is all you need");
  if (!probe) toy.bulk++;
  const vectors = await Promise.all(input.map(vectorOf));
  const failing = !probe && toy.bulk >= toy.failFrom;
  if (toy.mode === "needs-key" && req.headers.authorization !== "Bearer sekrit-123") {
    return { status: 401, text: JSON.stringify({ error: { message: "bad key" } }) };
  }
  if (failing && toy.mode === "429" && toy.bulk <= toy.failFrom + 1) return { status: 429, text: '{"error":"slow down"}', headers: { "Retry-After": "0" } };
  if (failing && toy.mode === "wrong-dims") vectors.forEach((v) => v.pop());
  const data = vectors.map((embedding, index) => ({ object: "embedding", index, embedding }));
  let text = JSON.stringify({ object: "list", data, model: "toy/hashed-words" });
  // Python's json module writes NaN, which JSON does not have.
  if (failing && toy.mode === "nan") text = text.replace(/-?\d\.\d+(e-?\d+)?/, "NaN");
  return { status: 200, text };
}

/** A server running the toy's handler, listening on a free port of 127.0.0.1; resolves with its URL. */
async function toyServer(): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", async () => {
      const slow = toy.mode === "slow" && toy.bulk === toy.failFrom - 1 && !body.includes("Attention is all you need");
      const reply = await answer(req, body);
      // A request that never gets an answer: the client's timeout has to end it.
      if (slow) return;
      res.writeHead(reply.status, { "Content-Type": "application/json", ...reply.headers });
      res.end(reply.text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

beforeAll(async () => {
  embedder = await sharedEmbedder();
  localDir = tempDir();
  await ingest({ corpus: BUNDLED_CORPUS, index: localDir }, { embedder });
  ({ server: toy.server, url: toy.url } = await toyServer());
  ({ server: serve, base } = await startServe(["--index", localDir]));
}, 120_000);
afterAll(() => {
  serve?.kill();
  toy.server?.closeAllConnections();
  toy.server?.close();
});
beforeEach(() => Object.assign(toy, { mode: "ok", requests: 0, bulk: 0, failFrom: 0, inputs: [] }));

describe("one papersift embeds for another", () => {
  it("builds an index that ranks the same top 5 as a local build on the bundled questions, and says where its vectors came from", async () => {
    const dir = tempDir();
    const summary = await ingest({ corpus: BUNDLED_CORPUS, index: dir, embedder: base }, { embedder });
    const local = await openIndex(localDir, { embedder });
    const remote = await openIndex(dir, { embedder });
    try {
      expect(summary.embedded).toBe(local.stats().chunks);
      for (const { question } of questions) {
        for (const mode of ["dense", "hybrid"] as const) {
          const ids = async (index: typeof local) => (await index.search(question, { k: 5, mode })).results.map((r) => r.id);
          expect(await ids(remote), `${mode}: ${question}`).toEqual(await ids(local));
        }
      }
      // The endpoint agrees with the vendored model, so questions are embedded here, with no server.
      expect(remote.stats().embeddedBy).toMatchObject({ endpoint: `${base}v1/embeddings`, model: "BAAI/bge-small-en-v1.5", queries: "local" });
      expect(remote.stats().embeddedBy.cosineToLocal).toBeGreaterThanOrEqual(0.99);
    } finally {
      local.close();
      remote.close();
    }
    // stats names the endpoint, without loading the model.
    const stats = runCli(["stats", "--index", dir], { nodeArgs: FORBID_MODEL });
    expect(stats.status, stats.stderr).toBe(0);
    expect(stats.stdout).toContain(`embedded by the endpoint ${base}v1/embeddings (model BAAI/bge-small-en-v1.5;`);
    // The index remembers its endpoint: a second ingest has nothing to do (so does not ask it), nor anything
    // to say beyond what the corpus said the first time.
    const again = await ingest({ corpus: BUNDLED_CORPUS, index: dir }, { embedder });
    expect([again.embedded, again.notices]).toEqual([0, summary.notices]);
  }, 180_000); // the other process embeds the whole bundled corpus (141 chunks)

  it("answers the official openai client in the OpenAI shape, with the vendored model's vectors", async () => {
    const client = new OpenAI({ baseURL: `${base}v1`, apiKey: "unused", maxRetries: 0 });
    const texts = ["Reward models for RLHF", "Diffusion models generate images by denoising"];
    const [expected0, expected1] = await embedder.embed(texts);
    for (const encoding_format of [undefined, "float"] as const) {
      const response = await client.embeddings.create({ model: "BAAI/bge-small-en-v1.5", input: texts, ...(encoding_format ? { encoding_format } : {}) });
      expect(response).toMatchObject({ object: "list", model: "BAAI/bge-small-en-v1.5", usage: { prompt_tokens: expect.any(Number), total_tokens: expect.any(Number) } });
      expect(response.data.map((d) => [d.object, d.index, d.embedding.length])).toEqual([["embedding", 0, 384], ["embedding", 1, 384]]);
      expect(response.data[0]!.embedding).toEqual(Array.from(expected0!));
      expect(response.data[1]!.embedding).toEqual(Array.from(expected1!));
    }
    await expect(client.embeddings.create({ model: "text-embedding-3-small", input: "x" })).rejects.toMatchObject({
      status: 404,
      message: expect.stringContaining("this server embeds with BAAI/bge-small-en-v1.5"),
    });
  });

  it("bounds the request, keeps the rest of the API read-only, and refuses token ids", async () => {
    const post = (route: string, body: string) => fetch(new URL(route, base), { method: "POST", body, headers: { "Content-Type": "application/json" } });
    const many = JSON.stringify({ model: "BAAI/bge-small-en-v1.5", input: Array(513).fill("x") });
    expect((await post("v1/embeddings", many)).status).toBe(400);
    const ids = await post("v1/embeddings", JSON.stringify({ model: "BAAI/bge-small-en-v1.5", input: [[101, 102]] }));
    expect(ids.status).toBe(400);
    expect(((await ids.json()) as { error: { message: string } }).error.message).toMatch(/input/);
    expect((await post("v1/embeddings", "{not json")).status).toBe(400);
    expect((await post("api/search?q=x", "{}")).status).toBe(405);
    // Under serve's Host check (issue 17 item 11) like every route: a DNS-rebinding page cannot embed here.
    const { createApp } = await import("../src/serve.ts");
    const index = await openIndex(localDir, { embedder });
    try {
      const app = createApp(index, { embedder: async () => embedder });
      const body = JSON.stringify({ model: "BAAI/bge-small-en-v1.5", input: "x" });
      const at = (host: string) => app.request(`http://${host}/v1/embeddings`, { method: "POST", body, headers: { "Content-Type": "application/json" } });
      expect((await at("evil.example:4477")).status).toBe(421);
      expect((await at("localhost:4477")).status).toBe(200);
      // Only JSON: another site's page can POST text/plain (or a form) without a preflight, and so make this
      // machine embed; a JSON body needs a preflight, which this server never grants.
      for (const type of ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]) {
        const r = await app.request("http://localhost:4477/v1/embeddings", { method: "POST", body, headers: { "Content-Type": type } });
        expect(r.status, type).toBe(415);
      }
    } finally {
      index.close();
    }
    // Last: the server answers before reading the body and then drops the connection.
    const huge = JSON.stringify({ model: "BAAI/bge-small-en-v1.5", input: ["x".repeat(2 ** 20)] });
    expect((await post("v1/embeddings", huge)).status).toBe(413);
  });
});

describe("an endpoint with no vendored twin", () => {
  const toyIngest = (dir: string, extra: Record<string, unknown> = {}, hooks: { onRetry?: (m: string) => void } = {}) =>
    ingest({ corpus: BUNDLED_CORPUS, index: dir, embedder: toy.url, embedderModel: "toy/hashed-words", ...extra }, { embedder, ...hooks });

  it("embeds the questions too; a changed or different endpoint re-embeds everything, never mixes", async () => {
    const dir = tempDir();
    const first = await toyIngest(dir);
    const index = await openIndex(dir, { embedder });
    try {
      expect(index.stats().embeddedBy).toEqual({ endpoint: `${toy.url}/v1/embeddings`, model: "toy/hashed-words", cosineToLocal: null, queries: "endpoint", twinDims: null });
      expect(index.stats().model.dims).toBe(64);
      const { results } = await index.search("submodular reward functions with diminishing returns", { k: 3, mode: "dense" });
      expect(results.length).toBe(3);
      expect(toy.inputs).toContain("submodular reward functions with diminishing returns");
    } finally {
      index.close();
    }
    // The same endpoint, now with another model behind it (its probe vector moved). The endpoint is asked
    // only when there is something to embed (review 21 #5): a new paper.
    toy.mode = "shifted";
    const grown = path.join(tempDir(), "corpus");
    cpSync(BUNDLED_CORPUS, grown, { recursive: true });
    writeTxt(path.join(grown, "new.txt"), [{ title: "Submodular rewards", abstract: "Diminishing returns in reward functions for planning." }]);
    const changed = await toyIngest(dir, { corpus: grown });
    expect(changed.notices.join("\n")).toMatch(/now embeds differently than before: re-embedding/);
    expect([changed.embedded, changed.reused]).toEqual([changed.chunks, 0]);
    expect(changed.chunks).toBeGreaterThan(first.chunks);
    // Another endpoint (here: another path on the same server).
    const moved = await toyIngest(dir, { corpus: grown, embedder: `${toy.url}/other/v1` });
    expect(moved.notices.join("\n")).toMatch(/the embedder changed \(toy\/hashed-words at .*\/v1\/embeddings → toy\/hashed-words at .*\/other\/v1\/embeddings\)/);
    expect([moved.embedded, moved.reused]).toEqual([moved.chunks, 0]);
    // Questions against an index whose endpoint changed model since: refused, not answered wrongly.
    toy.mode = "ok";
    const stale = await openIndex(dir, { embedder });
    try {
      await expect(stale.search("reward models", { mode: "dense" })).rejects.toMatchObject({ code: "INDEX_INCOMPATIBLE" });
    } finally {
      stale.close();
    }
  });

  it("a 429 or a request that never answers is retried, and the ingest completes", async () => {
    for (const mode of ["429", "slow"] as const) {
      Object.assign(toy, { mode, bulk: 0, failFrom: 2 });
      const retries: string[] = [];
      const summary = await toyIngest(tempDir(), { embedderTimeoutMs: 1_000 }, { onRetry: (m) => retries.push(m) });
      expect(summary.embedded, mode).toBeGreaterThan(64);
      expect(retries[0], mode).toMatch(mode === "429" ? /answered 429 \(slow down\): retrying in 0\.0 s/ : /did not answer within 1 s: retrying in 0\.5 s/);
      expect(summary.notices.some((n) => /requests to .* were retried/.test(n)), mode).toBe(true);
    }
  });

  it("a wrong dimension or NaN stops the ingest with one line, and every batch already stored is kept", async () => {
    for (const mode of ["wrong-dims", "nan"] as const) {
      const dir = tempDir();
      // The probe and the first step (64 chunks, 4 requests of 16) are fine; the second step's requests fail.
      Object.assign(toy, { mode, bulk: 0, failFrom: 5 });
      const error = (await toyIngest(dir).catch((e: unknown) => e)) as PapersiftError;
      expect(error, mode).toBeInstanceOf(PapersiftError);
      expect(error.code).toBe("EMBEDDER_FAILED");
      expect(error.message).toMatch(mode === "nan" ? /returned NaN or Infinity in a vector$/ : /returned a 63-dimensional vector where 64 dimensions were expected$/);
      expect(error.message).not.toContain("\n");
      toy.mode = "ok";
      const next: IngestSummary = await toyIngest(dir);
      expect(next.embedded + next.reused, mode).toBeGreaterThan(64);
      expect(next.reused, mode).toBe(64);
    }
  });

  it("an endpoint that is down is one line and a fix from the CLI, and nothing is written", () => {
    const closed = createServer();
    const dir = path.join(tempDir(), "index");
    return new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve)).then(async () => {
      const port = (closed.address() as AddressInfo).port;
      await new Promise((resolve) => closed.close(resolve));
      const result = runCli(["ingest", "--index", dir, "--embedder", `http://127.0.0.1:${port}`], { nodeArgs: FORBID_MODEL });
      expect(result.status).toBe(1);
      expect(result.stderr).toMatch(new RegExp(`^papersift: the embedding endpoint http://127\\.0\\.0\\.1:${port}/v1/embeddings could not be reached \\(ECONNREFUSED\\)\\n  fix: start the embedding server`));
      expect(result.stderr.trim().split("\n")).toHaveLength(2);
      expect(existsSync(dir)).toBe(false);
    });
  });

  it("a vendored name decides the text: the query prefix, and the window a long question is cut to", async () => {
    // The toy's vectors do not agree with bge-small's, so the questions go to it and it sees their text.
    const dir = tempDir();
    await toyIngest(dir, { embedderModel: "BAAI/bge-small-en-v1.5" });
    const index = await openIndex(dir, { embedder });
    try {
      expect(index.stats().embeddedBy).toMatchObject({ model: "BAAI/bge-small-en-v1.5", cosineToLocal: null, queries: "endpoint" });
      // The vendored model of that name exists; only its dimensions differ (review-hostile21 #8).
      expect(renderStats(index.stats())).toContain("(model BAAI/bge-small-en-v1.5; 64 dims where the vendored model of that name has 384: questions go to the endpoint too)");
      toy.inputs = [];
      const long = Array.from({ length: 400 }, (_, i) => `reward model ${i}`).join(" ");
      await index.search(long, { mode: "dense" });
      const sent = toy.inputs.at(-1)!;
      expect(sent.startsWith(`Represent this sentence for searching relevant passages: reward model 0 reward`)).toBe(true);
      const pieces = embedder.tokenize(sent).length;
      expect(pieces).toBeLessThanOrEqual(512);
      expect(pieces).toBeGreaterThan(500);
    } finally {
      index.close();
    }
  });

  it("questions to an endpoint that went down fail at once with one line; lexical search still answers", async () => {
    const { server, url } = await toyServer();
    const dir = tempDir();
    await toyIngest(dir, { embedder: url });
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    const index = await openIndex(dir, { embedder });
    try {
      const started = performance.now();
      await expect(index.search("reward models", { mode: "dense" })).rejects.toMatchObject({ code: "EMBEDDER_UNREACHABLE", message: expect.stringMatching(/could not be reached \(ECONNREFUSED\)$/) });
      expect(performance.now() - started).toBeLessThan(10_000); // no 15 s of retries while a person waits
      expect((await index.search("reward models", { mode: "lexical" })).results.length).toBeGreaterThan(0);
    } finally {
      index.close();
    }
  });

  it("sends PAPERSIFT_EMBEDDER_KEY as a bearer key and never stores it", async () => {
    toy.mode = "needs-key";
    await expect(toyIngest(tempDir(), { embedderKey: "wrong" })).rejects.toMatchObject({ code: "EMBEDDER_REFUSED", message: expect.stringContaining("401: bad key") });
    const dir = tempDir();
    const summary = await toyIngest(dir, { embedderKey: "sekrit-123" });
    expect(summary.embedded).toBeGreaterThan(64);
    expect(JSON.stringify(summary)).not.toContain("sekrit");
    expect(readFileSync(path.join(dir, "papersift.db")).includes("sekrit")).toBe(false);
  });
});
