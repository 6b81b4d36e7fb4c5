// The embeddings-endpoint client (src/embed/endpoint.ts) against servers that break the protocol the way a
// hostile review found real ones can (review-hostile21 #3–#7, #10): each server here is a few lines of
// node:http standing in for someone else's server; the client is papersift's own. No model is loaded.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import v8 from "node:v8";
import vm from "node:vm";
import { afterEach, describe, expect, it } from "vitest";
import { connect, endpointUrl } from "../src/embed/endpoint.ts";
import { PapersiftError } from "../src/errors.ts";

const KEY = "sk-SECRETKEY-test-XYZ";
const closers: (() => void)[] = [];
afterEach(() => closers.splice(0).forEach((close) => close()));

/** A server on a free port of 127.0.0.1 running `handle` for each request (its body read); resolves with its URL. */
async function serve(handle: (req: IncomingMessage, res: ServerResponse, body: { input: string[] }, n: number) => void): Promise<string> {
  let n = 0;
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => handle(req, res, JSON.parse(body) as { input: string[] }, ++n));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  closers.push(() => (server.closeAllConnections(), server.close()));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const vector = (i: number) => [1, i, 0.5, -0.25];
const reply = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { "Content-Type": "application/json" });
  res.end(typeof body === "string" ? body : JSON.stringify(body));
};
const ok = (res: ServerResponse, input: string[]) => reply(res, 200, { data: input.map((_, index) => ({ index, embedding: vector(index) })) });
const failure = (promise: Promise<unknown>) => promise.then(() => null, (e: unknown) => e as PapersiftError);

describe("the endpoint client", () => {
  it("times a hung request out even after a garbage collection, retries it, and fails the first contact faster", async () => {
    // Node 20 can collect an AbortSignal.timeout() held only by AbortSignal.any(): the timeout never fired.
    v8.setFlagsFromString("--expose-gc");
    const gc = vm.runInNewContext("gc") as () => void;
    let hung = 0;
    const url = await serve((_req, res, { input }) => {
      // The first request never gets an answer; once the client is waiting on it, collect garbage.
      if (++hung === 1) return void setImmediate(() => (gc(), gc()));
      ok(res, input);
    });
    const retries: string[] = [];
    const endpoint = connect({ url, model: "m", timeoutMs: 1_200, onRetry: (m) => retries.push(m) });
    expect(await endpoint.embed(["a"], { dims: 4 })).toHaveLength(1);
    expect(retries).toEqual([`the embedding endpoint ${url}/v1/embeddings did not answer within 1.2 s: retrying in 0.5 s`]);
    // The first contact (the probe, a question) gets a shorter bound, and a timeout there is not retried.
    const silent = await serve((_req, _res, _body, n) => n === 1 && setImmediate(() => (gc(), gc())));
    const error = await failure(connect({ url: silent, model: "m", timeoutMs: 1_200, interactiveTimeoutMs: 200, onRetry: (m) => retries.push(m) }).embed(["a"], { interactive: true }));
    expect(error?.message).toBe(`the embedding endpoint ${silent}/v1/embeddings did not answer within 0.2 s`);
    expect(retries).toHaveLength(1);
  });

  it("refuses indexes that are not exactly 0..n-1, without retrying; a true permutation is reordered", async () => {
    const cases: Record<string, (n: number) => number[]> = {
      duplicate: (n) => Array(n).fill(0),
      "out of range": (n) => [...Array(n).keys()].map((i) => i + 100),
      gap: (n) => [...Array(n).keys()].map((i) => 2 * i),
    };
    for (const [name, indexes] of Object.entries(cases)) {
      let requests = 0;
      const url = await serve((_req, res, { input }) => {
        requests++;
        reply(res, 200, { data: input.map((_, i) => ({ index: indexes(input.length)[i], embedding: vector(i) })).reverse() });
      });
      const error = await failure(connect({ url, model: "m" }).embed(["a", "b", "c"], { dims: 4 }));
      expect(error?.message, name).toMatch(/returned an unexpected response \(the indexes are not 0\.\.2\)$/);
      expect(requests, name).toBe(1);
    }
    const reversed = await serve((_req, res, { input }) => reply(res, 200, { data: input.map((_, index) => ({ index, embedding: vector(index) })).reverse() }));
    const vectors = await connect({ url: reversed, model: "m" }).embed(["a", "b", "c"], { dims: 4 });
    expect(vectors.map((v) => Math.round((v[1]! / v[0]!) * 10) / 10)).toEqual([0, 1, 2]);
  });

  it("masks the API key and any bearer token in what it quotes from the server", async () => {
    let calls = 0;
    const url = await serve((req, res, { input }) => {
      const said = `bad key ${req.headers.authorization} (${KEY}) or Bearer other.token-9`;
      calls++;
      if (calls === 1) return reply(res, 503, { error: { message: said } });
      if (calls === 2) return ok(res, input);
      reply(res, [400, 401, 404][calls - 3]!, { error: { message: said, hint: said } });
    });
    const retries: string[] = [];
    const endpoint = connect({ url, model: "m", key: KEY, onRetry: (m) => retries.push(m) });
    await endpoint.embed(["a"], { dims: 4 });
    const errors = [];
    for (let i = 0; i < 3; i++) errors.push(await failure(endpoint.embed(["a"], { dims: 4 })));
    const said = [retries[0], ...errors.flatMap((e) => [e?.message, e?.hint])].join("\n");
    expect(said).not.toContain("SECRET");
    expect(said).not.toContain("other.token");
    expect(retries[0]).toMatch(/answered 503 \(bad key Bearer \*\*\* \(\*\*\*\) or Bearer \*\*\*\)/);
    expect(errors.map((e) => e?.code)).toEqual(["EMBEDDER_FAILED", "EMBEDDER_REFUSED", "EMBEDDER_FAILED"]);
    expect(errors[2]?.hint).toMatch(/it says: bad key Bearer \*\*\*/);
  });

  it("stops reading a response past its size bound: one error, not retried", async () => {
    let requests = 0;
    let finished = false;
    const url = await serve((_req, res, { input }) => {
      requests++;
      res.writeHead(200, { "Content-Type": "application/json" });
      // A well-formed answer with 32 MB of padding, sent in pieces (no Content-Length).
      res.write(`{"data":${JSON.stringify(input.map((_, index) => ({ index, embedding: vector(index) })))},"pad":"`);
      for (let i = 0; i < 32; i++) res.write(" ".repeat(2 ** 20));
      res.end('"}', () => (finished = true));
    });
    const error = await failure(connect({ url, model: "m" }).embed(["a"], { dims: 4 }));
    expect(error?.message).toMatch(/returned a response over [\d.]+ MB, more than 1 vector of 4 dimensions can take$/);
    expect([requests, finished]).toEqual([1, false]);
  });

  it("retries a kept-alive connection the server had closed at once and without a warning", async () => {
    // Each connection serves one request; a second one on it is dropped, as by a server whose keep-alive
    // timeout passed while the client was busy (the 5 s of a node server, during model load and chunking).
    const served = new WeakSet<Socket>();
    const url = await serve((req, res, { input }) => {
      if (served.has(req.socket)) return void req.socket.destroy();
      served.add(req.socket);
      ok(res, input);
    });
    const retries: string[] = [];
    const endpoint = connect({ url, model: "m", onRetry: (m) => retries.push(m) });
    for (const text of ["a", "b", "c"]) expect(await endpoint.embed([text], { dims: 4 })).toHaveLength(1);
    expect([retries, endpoint.retried]).toEqual([[], 0]);
    // A server that drops a request twice gets one silent retry, then the warned ones.
    const dropping = await serve((req, res, { input }, n) => (n <= 2 ? req.socket.destroy() : ok(res, input)));
    const flaky = connect({ url: dropping, model: "m", onRetry: (m) => retries.push(m) });
    expect(await flaky.embed(["a"], { dims: 4 })).toHaveLength(1);
    expect([retries, flaky.retried]).toEqual([[`the embedding endpoint ${dropping}/v1/embeddings dropped the connection (UND_ERR_SOCKET): retrying in 0.5 s`], 1]);
  });

  it("says NaN or Infinity for 1e999, and refuses vectors of too few dimensions", async () => {
    const infinite = await serve((_req, res) => reply(res, 200, '{"data":[{"index":0,"embedding":[1e999,0.5,0.25,0.125]}]}'));
    expect((await failure(connect({ url: infinite, model: "m" }).embed(["a"], { dims: 4 })))?.message).toMatch(/returned NaN or Infinity in a vector$/);
    const flat = await serve((_req, res) => reply(res, 200, { data: [{ index: 0, embedding: [0.7] }] }));
    expect((await failure(connect({ url: flat, model: "m" }).embed(["a"])))?.message).toMatch(/returned 1-dimensional vectors: too few to search by \(at least 16\)$/);
  });

  it("suggests http:// for an address without a scheme", () => {
    for (const input of ["localhost:8080", "127.0.0.1:8080/v1", "gpu-box"]) {
      expect(() => endpointUrl(input), input).toThrow(`--embedder ${JSON.stringify(input)} has no http:// or https://: did you mean http://${input}?`);
    }
    expect(() => endpointUrl("ftp://host")).toThrow("--embedder ftp:// is not supported (http or https)");
    expect(endpointUrl("http://localhost:8080")).toBe("http://localhost:8080/v1/embeddings");
  });
});
