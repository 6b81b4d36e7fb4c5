// Review of issue 21 as a new user (defects 1, 2, 4, 5, 6, 7): an index whose questions go to an embedding
// endpoint, with that endpoint down. `serve` still starts and answers everything but dense questions;
// ingest contacts the endpoint only when it has something to embed; the hints name what works. The endpoint
// is a tiny HTTP server written here (someone else's server, not a mock of papersift), closed before the
// cases run; the served papersift is a real child process.
import type { ChildProcess } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ingest, PapersiftError } from "../src/index.ts";
import { renderIngest } from "../src/render.ts";
import type { IngestSummary } from "../src/ingest.ts";
import { bundledPapers, FORBID_MODEL, runCli, sharedEmbedder, standInEmbedder, tempDir, writeTxt } from "./helpers.ts";
import { startServe } from "./serve-process.ts";

let dir: string;
let corpus: string;
let url: string;

/** An OpenAI-compatible endpoint with no vendored twin (stand-in vectors), listening until `close`. */
async function toyEndpoint() {
  const standIn = standInEmbedder(64);
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", async () => {
      const { input } = JSON.parse(body) as { input: string[] };
      const data = (await standIn.embed(input)).map((v, index) => ({ object: "embedding", index, embedding: Array.from(v) }));
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ object: "list", data, model: "toy/hashed-words" }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const close = () => (server.closeAllConnections(), new Promise((resolve) => server.close(resolve)));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close };
}

beforeAll(async () => {
  corpus = path.join(tempDir(), "corpus");
  writeTxt(path.join(corpus, "papers.txt"), bundledPapers().slice(0, 6));
  dir = tempDir();
  const toy = await toyEndpoint();
  url = toy.url;
  await ingest({ corpus, index: dir, embedder: url, embedderModel: "toy/hashed-words" }, { embedder: await sharedEmbedder() });
  await toy.close();
}, 120_000);

describe("serve on an index whose endpoint is down (review 21 #1, #4, #7)", () => {
  let serve: ChildProcess;
  let base: string;
  let log: () => string;
  beforeAll(async () => {
    ({ server: serve, base, log } = await startServe(["--index", dir, "--workers", "2"]));
  }, 120_000);
  afterAll(() => void serve?.kill());
  const get = async (route: string) => {
    const response = await fetch(new URL(route, base));
    return { status: response.status, body: (await response.json()) as { results?: { id: string }[]; error?: { message: string; hint: string } } };
  };

  it("starts, says in one line what needs the endpoint, and answers dense questions with a one-line error", async () => {
    expect(log()).toMatch(/dense and hybrid questions need the embedding endpoint .*; lexical search, related, papers and the map work without it/);
    const lexical = await get("api/search?q=reward&mode=lexical");
    expect(lexical.status).toBe(200);
    expect(lexical.body.results!.length).toBeGreaterThan(0);
    expect((await get(`api/related/${encodeURIComponent(lexical.body.results![0]!.id)}`)).status).toBe(200);
    expect((await get("api/stats")).status).toBe(200);
    const dense = await get("api/search?q=reward");
    expect(dense.status).toBe(503);
    expect(dense.body.error!.message).toMatch(/^the embedding endpoint .* could not be reached \(ECONNREFUSED\)$/);
    expect(dense.body.error!.hint).toMatch(/mode=lexical/);
  });

  it("/v1/embeddings runs on --workers sessions, and its 400 for too many inputs states the limit", async () => {
    const post = (input: unknown) =>
      fetch(new URL("v1/embeddings", base), { method: "POST", body: JSON.stringify({ model: "BAAI/bge-small-en-v1.5", input }), headers: { "Content-Type": "application/json" } });
    const texts = ["Reward models for RLHF", "Diffusion models generate images by denoising", "Graph neural networks"];
    const expected = await (await sharedEmbedder()).embed(texts);
    const ok = (await (await post(texts)).json()) as { data: { embedding: number[] }[] };
    ok.data.forEach((d, i) => expect(d.embedding.reduce((s, x, j) => s + x * expected[i]![j]!, 0)).toBeGreaterThan(0.99999));
    const many = (await (await post(Array(2000).fill("x"))).json()) as { error: { message: string } };
    expect(many.error.message).toBe("input: 2000 texts is over the limit of 512 per request");
  });

  it("a model the server does not serve is a 404 whose fix passes on the server's hint", async () => {
    const error = (await ingest({ corpus, index: tempDir(), embedder: base, embedderModel: "acme/custom-embed" }, { embedder: await sharedEmbedder() }).catch((e: unknown) => e)) as PapersiftError;
    expect(error).toBeInstanceOf(PapersiftError);
    expect(error.message).toMatch(/answered 404: this server embeds with BAAI\/bge-small-en-v1.5, not acme\/custom-embed$/);
    expect(error.hint).toBe('pass --embedder-model the name the server serves (it says: ask for "BAAI/bge-small-en-v1.5")');
  });
});

describe("the CLI with the endpoint down (review 21 #2, #5, #7)", () => {
  it("an ingest with nothing to embed, and a dry run, never contact the endpoint (nor load the model)", () => {
    const same = runCli(["ingest", "--corpus", corpus, "--index", dir, "--json"], { nodeArgs: FORBID_MODEL });
    expect(same.status, same.stderr).toBe(0);
    expect(JSON.parse(same.stdout)).toMatchObject({ embedded: 0, added: 0 });
    writeTxt(path.join(corpus, "more.txt"), bundledPapers().slice(6, 7));
    const dry = runCli(["ingest", "--corpus", corpus, "--index", dir, "--dry-run", "--json"], { nodeArgs: FORBID_MODEL });
    expect(dry.status, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout).plan.added).toHaveLength(1);
    // Another endpoint, in a dry run: what a real ingest would do, not what it is doing.
    const other = runCli(["ingest", "--corpus", corpus, "--index", dir, "--dry-run", "--embedder", "http://127.0.0.1:9/v1"], { nodeArgs: FORBID_MODEL });
    expect(other.status, other.stderr).toBe(0);
    expect(other.stderr).toMatch(/the embedder changed \(.*\): an ingest would re-embed everything/);
    expect(other.stderr).not.toMatch(/: re-embedding/);
  });

  it("a question to the down endpoint names what works: the server, or --mode lexical", () => {
    const dense = runCli(["search", "--index", dir, "reward"]);
    expect(dense.status).toBe(1);
    const [message, fix] = dense.stderr.trim().split("\n");
    expect(message).toMatch(/could not be reached \(ECONNREFUSED\)$/);
    expect(fix).toMatch(/^ {2}fix: start the embedding server at .*, or search with --mode lexical/);
    expect(fix).not.toMatch(/fix --embedder/);
    const lexical = runCli(["search", "--index", dir, "reward", "--mode", "lexical"], { nodeArgs: FORBID_MODEL });
    expect(lexical.status, lexical.stderr).toBe(0);
  });

  it("counts in the summary are singular for one", () => {
    const one = { papers: 1, chunks: 1, added: 1, updated: 0, removed: 0, unchanged: 0, embedded: 1, reused: 0, seconds: 1, dryRun: false } as IngestSummary;
    expect(renderIngest(one)).toBe("1 paper, 1 chunk: 1 added, 0 updated, 0 removed, 0 unchanged; 1 chunk embedded, 0 reused, in 1.0 s\n");
  });
});

describe("progress in a log (review 21 #6)", () => {
  it("stderr that is not a terminal gets plain progress lines; --json stdout stays JSON", () => {
    const small = path.join(tempDir(), "corpus");
    writeTxt(path.join(small, "papers.txt"), bundledPapers().slice(0, 2));
    const run = runCli(["ingest", "--corpus", small, "--index", tempDir(), "--json"], { env: { PAPERSIFT_PROGRESS_SECONDS: "0" } });
    expect(run.status, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ papers: 2 });
    expect(run.stderr).toMatch(/^papersift: embedding chunks \d+\/\d+/m);
    expect(run.stderr).not.toContain("\r");
  });
});

describe("help about endpoints (review 21 #3, #8)", () => {
  it("search, stats and serve --help say what needs an endpoint or an index", () => {
    const help = (command: string) => runCli([command, "--help"], { nodeArgs: FORBID_MODEL }).stdout.replace(/\s+/g, " ");
    expect(help("search")).toMatch(/by that endpoint, which must then be up\. --mode lexical needs neither model nor endpoint/);
    expect(help("stats")).toMatch(/what embedded it \(a vendored model or an endpoint/);
    expect(help("serve")).toMatch(/It needs an index to start: on a machine that only embeds for others/);
    expect(help("serve")).toMatch(/--workers <n> +embedding sessions for POST \/v1\/embeddings/);
  });
});
