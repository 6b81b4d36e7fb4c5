// A client for an OpenAI-compatible `POST /v1/embeddings` endpoint (text-embeddings-inference, infinity,
// vLLM, Ollama, another papersift): texts go in batches, several in flight, each request with a timeout and
// retried with back-off on 429, 5xx, a timeout or a dropped connection. Every answer is read up to a size
// bound, then passes a zod schema and a sanity check (count, indexes, dimensions, finite, non-zero) before
// its vectors are used; vectors come back L2-normalised, as the local Embedder's do. The API key is sent,
// never logged or stored, and masked in whatever the client quotes from the server.
import pLimit from "p-limit";
import { z } from "zod";
import { PapersiftError } from "../errors.ts";

export interface EndpointOptions {
  /** As the user gave it: a base (`http://host:8080`, `…/v1`) or the full `…/v1/embeddings`. */
  url: string;
  /** Sent as `model` in every request. */
  model: string;
  /** Sent as `Authorization: Bearer <key>`. */
  key?: string | undefined;
  /** Per request, milliseconds. */
  timeoutMs?: number | undefined;
  /** Per request of the first contact and of questions, milliseconds; at most `timeoutMs`. */
  interactiveTimeoutMs?: number | undefined;
  /** Told each time a request is retried, with why and when (for a warning; never includes the key). */
  onRetry?: ((message: string) => void) | undefined;
}

/**
 * Texts per request and requests in flight. 16 × 4 fills the ingest's embedding step of 64 chunks with four
 * requests at once: enough for a GPU server's own dynamic batching to form full batches, small enough that
 * a retried request repeats little work.
 */
export const ENDPOINT_BATCH = 16;
export const ENDPOINT_IN_FLIGHT = 4;
/**
 * Per request, queueing at the server included: generous, since it is there to catch a hung server, and a
 * CPU server behind four requests of ours may take a while (an fp32 papersift on a loaded 2-core machine
 * took over 60 s).
 */
export const DEFAULT_ENDPOINT_TIMEOUT_MS = 180_000;
/**
 * The first contact (the probe) and a question a person waits on: one short text with no queue of ours
 * ahead of it, so a sixth of the bulk bound, and a timeout there is not retried.
 */
export const DEFAULT_INTERACTIVE_TIMEOUT_MS = 30_000;
/** Fewer dimensions than this cannot rank anything (the smallest Matryoshka cuts in use are 32 and 64). */
export const MIN_DIMS = 16;
/**
 * A response's size bound: 1 MiB for the envelope and an error page, plus 48 bytes per number (a float64
 * printed in full with a pretty-printer's indent takes about 40), for `dims` or, before they are known,
 * MAX_DIMS (the widest embedding models in use, 4096, doubled).
 */
const BODY_SLACK = 2 ** 20;
const BYTES_PER_NUMBER = 48;
const MAX_DIMS = 8192;
/** Retries per request; the waits double from 0.5 s (0.5 + 1 + 2 + 4 + 8 = 15.5 s in all) unless the server says otherwise. */
const RETRIES = 5;
const FIRST_WAIT_MS = 500;
/** The longest Retry-After honoured; a server asking for more gets this much, then is asked again. */
const MAX_WAIT_MS = 60_000;

const REFUSED = /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH)$/;
/** The server closed the connection under a request (undici's "other side closed", a reset). */
const RESET = /^(UND_ERR_SOCKET|ECONNRESET|EPIPE)$/;

class TimeoutError extends Error {}

// Any number, 1e999 (Infinity once parsed) included: the finiteness check names it.
const Embedding = z.union([z.array(z.custom<number>((x) => typeof x === "number")), z.string()]);
const EmbeddingsResponse = z.object({
  data: z.array(z.object({ index: z.number().int().optional(), embedding: Embedding }).loose()),
}).loose();
/** OpenAI's error shape, and the plainer ones other servers use. */
const ErrorBody = z.union([
  z.object({ error: z.object({ message: z.string() }).loose() }).loose(),
  z.object({ error: z.string() }).loose(),
  z.object({ message: z.string() }).loose(),
  z.object({ detail: z.string() }).loose(),
]);

/**
 * The endpoint's full URL: `/v1/embeddings` is added to a bare origin, `/embeddings` to a path ending in
 * `/v1` (as OpenAI clients take a base URL). Credentials in the URL are refused: URLs are shown and stored.
 */
export function endpointUrl(input: string): string {
  // "localhost:8080" parses as the scheme "localhost:"; a bare host is no URL at all.
  if (!/^[a-z][a-z\d+.-]*:\/\//i.test(input.trim())) {
    throw new PapersiftError("EMBEDDER_BAD_URL", `--embedder ${JSON.stringify(input)} has no http:// or https://: did you mean http://${input.trim()}?`);
  }
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new PapersiftError("EMBEDDER_BAD_URL", `--embedder ${JSON.stringify(input)} is not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new PapersiftError("EMBEDDER_BAD_URL", `--embedder ${url.protocol}// is not supported (http or https)`);
  }
  if (url.username || url.password) {
    throw new PapersiftError("EMBEDDER_BAD_URL", "--embedder must not carry credentials: they would be shown and stored with the index");
  }
  const path = url.pathname.replace(/\/+$/, "");
  if (!path.endsWith("/embeddings")) url.pathname = path.endsWith("/v1") ? `${path}/embeddings` : `${path}/v1/embeddings`;
  url.hash = "";
  return url.toString();
}

export interface Endpoint {
  /** The full URL requests go to. */
  readonly url: string;
  readonly model: string;
  /**
   * Embed texts as they are (the caller adds the model's prefixes), in input order, unit length. `dims`,
   * when given, is what every vector must have. `interactive` is for the first contact and for questions:
   * it fails at once when nothing answers (a server that is down is not going to come up in 15 s), and
   * gives each request the interactive timeout, not retried when it runs out.
   */
  embed(
    texts: string[],
    options?: { dims?: number | undefined; interactive?: boolean; onProgress?: (done: number, total: number) => void },
  ): Promise<Float32Array[]>;
  /** Requests retried so far, for the ingest's summary. */
  readonly retried: number;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => (clearTimeout(timer), reject(signal.reason)), { once: true });
  });

/** Retry-After in seconds or as an HTTP date, in milliseconds; undefined when absent or unreadable. */
function retryAfter(header: string | null): number | undefined {
  if (header === null || header.trim() === "") return undefined;
  const seconds = Number(header);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(header) - Date.now();
  return Number.isFinite(ms) ? Math.min(MAX_WAIT_MS, Math.max(0, ms)) : undefined;
}

/**
 * The key, and any bearer or basic credential, in text a server sent back (gateways and proxies echo
 * headers): what papersift quotes from a server goes through this.
 */
function masked(text: string, key: string | undefined): string {
  const out = text.replace(/\b(Bearer|Basic)\s+[^\s"',;)]+/gi, "$1 ***");
  return key ? out.split(key).join("***") : out;
}

/** The server's own words from an error body, on one line and short, with credentials masked. */
function serverMessage(text: string, key: string | undefined): string {
  let message = text;
  try {
    const parsed = ErrorBody.safeParse(JSON.parse(text));
    if (parsed.success) {
      const b = parsed.data as { error?: string | { message: string }; message?: string; detail?: string };
      message = typeof b.error === "string" ? b.error : (b.error?.message ?? b.message ?? b.detail ?? text);
    }
  } catch {
    // not JSON: the text itself
  }
  const line = masked(message, key).replace(/\s+/g, " ").trim();
  return line.length > 200 ? `${line.slice(0, 200)}…` : line || "(no message)";
}

/** The `hint` papersift's own server adds to an OpenAI error body, if any, on one line and short. */
function serverHint(text: string, key: string | undefined): string | undefined {
  try {
    const hint = (JSON.parse(text) as { error?: { hint?: unknown } }).error?.hint;
    return typeof hint === "string" && hint.trim() ? masked(hint, key).replace(/\s+/g, " ").trim().slice(0, 200) : undefined;
  } catch {
    return undefined;
  }
}

/** One embedding as float32, from a JSON array or OpenAI's base64 of little-endian float32. */
function toFloat32(embedding: z.infer<typeof Embedding>): Float32Array {
  if (typeof embedding !== "string") return Float32Array.from(embedding);
  const bytes = Buffer.from(embedding, "base64");
  const out = new Float32Array(Math.floor(bytes.length / 4));
  for (let i = 0; i < out.length; i++) out[i] = bytes.readFloatLE(i * 4);
  return out;
}

export function connect(options: EndpointOptions): Endpoint {
  const url = endpointUrl(options.url);
  const timeoutMs = options.timeoutMs ?? DEFAULT_ENDPOINT_TIMEOUT_MS;
  const interactiveTimeoutMs = Math.min(timeoutMs, options.interactiveTimeoutMs ?? DEFAULT_INTERACTIVE_TIMEOUT_MS);
  const headers: Record<string, string> = { "Content-Type": "application/json", Accept: "application/json" };
  if (options.key) headers.Authorization = `Bearer ${options.key}`;
  let retried = 0;

  const fail = (message: string) => new PapersiftError("EMBEDDER_FAILED", `the embedding endpoint ${url} ${message}`);

  /** A 404: most servers mean the model asked for; the fix passes on the server's own hint when it gives one. */
  const modelNotFound = (text: string) => {
    const hint = serverHint(text, options.key);
    return new PapersiftError("EMBEDDER_FAILED", `the embedding endpoint ${url} answered 404: ${serverMessage(text, options.key)}`, {
      hint: `pass --embedder-model the name the server serves${hint ? ` (it says: ${hint})` : ""}`,
    });
  };

  /** Check an answer and turn it into unit vectors, in input order. */
  function vectorsOf(text: string, count: number, dims: number | undefined): Float32Array[] {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      // Python servers write NaN and Infinity, which JSON does not have.
      throw fail(/\b(NaN|-?Infinity)\b/.test(text) ? "returned NaN or Infinity in a vector" : "returned a response that is not JSON");
    }
    const parsed = EmbeddingsResponse.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw fail(`returned an unexpected response (${issue.path.join(".") || "body"}: ${issue.message})`);
    }
    const data = parsed.data.data;
    if (data.length !== count) throw fail(`returned ${data.length} embeddings for ${count} texts`);
    // Indexes, when given, must be exactly 0..n-1: a duplicate or a gap would put vectors on the wrong texts.
    let ordered = data;
    if (data.some((d) => d.index !== undefined)) {
      ordered = new Array<(typeof data)[number]>(count);
      for (const d of data) {
        if (d.index === undefined || d.index < 0 || d.index >= count || ordered[d.index]) throw fail(`returned an unexpected response (the indexes are not 0..${count - 1})`);
        ordered[d.index] = d;
      }
    }
    const expected = dims ?? toFloat32(ordered[0]!.embedding).length;
    // Checked where the dimensions are learnt (the probe); later requests are held to those.
    if (dims === undefined && expected < MIN_DIMS) throw fail(`returned ${expected}-dimensional vectors: too few to search by (at least ${MIN_DIMS})`);
    return ordered.map((d) => {
      const v = toFloat32(d.embedding);
      if (v.length !== expected) throw fail(`returned a ${v.length}-dimensional vector where ${expected} dimensions were expected`);
      let norm = 0;
      for (const x of v) norm += x * x;
      if (!Number.isFinite(norm)) throw fail("returned NaN or Infinity in a vector");
      if (norm === 0) throw fail("returned a zero vector");
      norm = Math.sqrt(norm);
      for (let i = 0; i < v.length; i++) v[i]! /= norm;
      return v;
    });
  }

  /**
   * One POST and its whole body, read as a stream up to `limit` bytes (past it, an EMBEDDER_FAILED and the
   * connection dropped), within `timeout` ms. The timer is our own and cleared when the body is in:
   * Node 20 can garbage-collect an AbortSignal.timeout() held only by AbortSignal.any(), and then the
   * request waits for undici's 5-minute headers timeout instead (review-hostile21 #3).
   */
  async function post(body: string, limit: number, what: string, timeout: number, signal: AbortSignal): Promise<{ response: Response; text: string }> {
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => ((timedOut = true), controller.abort()), timeout);
    const stop = () => controller.abort(signal.reason);
    signal.addEventListener("abort", stop, { once: true });
    let read = false;
    try {
      const response = await fetch(url, { method: "POST", headers, body, signal: controller.signal });
      const tooLarge = () => fail(`returned a response over ${(limit / 2 ** 20).toFixed(1)} MB, more than ${what} can take`);
      if (Number(response.headers.get("content-length")) > limit) throw tooLarge();
      const chunks: Uint8Array[] = [];
      let size = 0;
      for await (const chunk of response.body ?? []) {
        size += chunk.byteLength;
        if (size > limit) throw tooLarge();
        chunks.push(chunk);
      }
      read = true;
      return { response, text: Buffer.concat(chunks).toString("utf8") };
    } catch (error) {
      throw timedOut ? new TimeoutError() : error;
    } finally {
      clearTimeout(timer);
      signal.removeEventListener("abort", stop);
      if (!read) controller.abort(); // a body left unread is not downloaded further
    }
  }

  async function request(texts: string[], dims: number | undefined, interactive: boolean, signal: AbortSignal): Promise<Float32Array[]> {
    const body = JSON.stringify({ model: options.model, input: texts, encoding_format: "float" });
    const limit = BODY_SLACK + texts.length * (dims ?? MAX_DIMS) * BYTES_PER_NUMBER;
    const what = `${texts.length} vector${texts.length === 1 ? "" : "s"} of ${dims === undefined ? `up to ${MAX_DIMS}` : dims} dimensions`;
    const timeout = interactive ? interactiveTimeoutMs : timeoutMs;
    let resetRetried = false;
    for (let attempt = 0; ; attempt++) {
      let why: string;
      let unreachable = false;
      let wait = FIRST_WAIT_MS * 2 ** attempt;
      try {
        const { response, text } = await post(body, limit, what, timeout, signal);
        if (response.ok) return vectorsOf(text, texts.length, dims);
        if (response.status === 401 || response.status === 403) {
          throw new PapersiftError("EMBEDDER_REFUSED", `the embedding endpoint ${url} refused the request (${response.status}: ${serverMessage(text, options.key)})`);
        }
        if (response.status === 404) throw modelNotFound(text);
        if (response.status !== 429 && response.status < 500) throw fail(`answered ${response.status}: ${serverMessage(text, options.key)}`);
        why = `answered ${response.status} (${serverMessage(text, options.key)})`;
        wait = retryAfter(response.headers.get("retry-after")) ?? wait;
      } catch (error) {
        if (error instanceof PapersiftError || signal.aborted) throw error;
        if (error instanceof TimeoutError) {
          why = `did not answer within ${timeout / 1000} s`;
          if (interactive) throw fail(why);
        } else {
          const code = ((error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message).toString();
          unreachable = true;
          if (REFUSED.test(code)) {
            // Nothing listens there, or no such host.
            why = `could not be reached (${code})`;
            if (interactive) throw new PapersiftError("EMBEDDER_UNREACHABLE", `the embedding endpoint ${url} ${why}`);
          } else {
            why = `dropped the connection (${code})`;
            // A kept-alive socket the server closed while we were busy (a node server's keep-alive timeout
            // is 5 s; model loading and chunking block our event loop, so our own idle timer cannot close
            // it first): the request goes out on it and meets the close. Tried again at once, unannounced.
            if (RESET.test(code) && !resetRetried) {
              resetRetried = true;
              attempt--;
              continue;
            }
          }
        }
      }
      if (attempt >= RETRIES) {
        throw new PapersiftError(unreachable ? "EMBEDDER_UNREACHABLE" : "EMBEDDER_FAILED", `the embedding endpoint ${url} ${why}, ${attempt + 1} tries`);
      }
      retried++;
      options.onRetry?.(`the embedding endpoint ${url} ${why}: retrying in ${(wait / 1000).toFixed(1)} s`);
      await sleep(wait, signal);
    }
  }

  return {
    url,
    model: options.model,
    get retried() {
      return retried;
    },
    async embed(texts, { dims, interactive = false, onProgress } = {}) {
      const results = new Array<Float32Array>(texts.length);
      // The first failure stops the rest: no request is left running behind an error.
      const abort = new AbortController();
      const limit = pLimit(ENDPOINT_IN_FLIGHT);
      let done = 0;
      const batches: number[] = [];
      for (let i = 0; i < texts.length; i += ENDPOINT_BATCH) batches.push(i);
      try {
        await Promise.all(
          batches.map((start) =>
            limit(async () => {
              const batch = texts.slice(start, start + ENDPOINT_BATCH);
              const vectors = await request(batch, dims, interactive, abort.signal);
              vectors.forEach((v, j) => (results[start + j] = v));
              done += batch.length;
              onProgress?.(done, texts.length);
            }),
          ),
        );
      } catch (error) {
        limit.clearQueue();
        abort.abort(error);
        throw error;
      }
      return results;
    },
  };
}
