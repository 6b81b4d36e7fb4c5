// A client for an OpenAI-compatible `POST /v1/embeddings` endpoint (text-embeddings-inference, infinity,
// vLLM, Ollama, another papersift): texts go in batches, several in flight, each request with a timeout and
// retried with back-off on 429, 5xx, a timeout or a dropped connection. Every answer passes a zod schema and
// a sanity check (count, dimensions, finite, non-zero) before its vectors are used; vectors come back
// L2-normalised, as the local Embedder's do. The API key is sent, never logged or stored.
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
/** Retries per request; the waits double from 0.5 s (0.5 + 1 + 2 + 4 + 8 = 15.5 s in all) unless the server says otherwise. */
const RETRIES = 5;
const FIRST_WAIT_MS = 500;
/** The longest Retry-After honoured; a server asking for more gets this much, then is asked again. */
const MAX_WAIT_MS = 60_000;

const REFUSED = /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH)$/;

const Embedding = z.union([z.array(z.number()), z.string()]);
const EmbeddingsResponse = z.object({
  data: z.array(z.object({ index: z.number().int().nonnegative().optional(), embedding: Embedding }).loose()),
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
   * when given, is what every vector must have. `retryUnreachable: false` fails at once when nothing
   * answers (the first contact: a server that is down is not going to come up in 15 s).
   */
  embed(
    texts: string[],
    options?: { dims?: number; retryUnreachable?: boolean; onProgress?: (done: number, total: number) => void },
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

/** The server's own words from an error body, on one line and short. */
function serverMessage(text: string): string {
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
  const line = message.replace(/\s+/g, " ").trim();
  return line.length > 200 ? `${line.slice(0, 200)}…` : line || "(no message)";
}

/** The `hint` papersift's own server adds to an OpenAI error body, if any, on one line and short. */
function serverHint(text: string): string | undefined {
  try {
    const hint = (JSON.parse(text) as { error?: { hint?: unknown } }).error?.hint;
    return typeof hint === "string" && hint.trim() ? hint.replace(/\s+/g, " ").trim().slice(0, 200) : undefined;
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
  const headers: Record<string, string> = { "Content-Type": "application/json", Accept: "application/json" };
  if (options.key) headers.Authorization = `Bearer ${options.key}`;
  let retried = 0;

  const fail = (message: string) => new PapersiftError("EMBEDDER_FAILED", `the embedding endpoint ${url} ${message}`);

  /** A 404: most servers mean the model asked for; the fix passes on the server's own hint when it gives one. */
  const modelNotFound = (text: string) => {
    const hint = serverHint(text);
    return new PapersiftError("EMBEDDER_FAILED", `the embedding endpoint ${url} answered 404: ${serverMessage(text)}`, {
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
    const ordered = data.every((d) => d.index !== undefined) ? [...data].sort((a, b) => a.index! - b.index!) : data;
    const expected = dims ?? toFloat32(ordered[0]!.embedding).length;
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

  async function request(texts: string[], dims: number | undefined, retryUnreachable: boolean, signal: AbortSignal): Promise<Float32Array[]> {
    const body = JSON.stringify({ model: options.model, input: texts, encoding_format: "float" });
    for (let attempt = 0; ; attempt++) {
      let why: string;
      let unreachable = false;
      let wait = FIRST_WAIT_MS * 2 ** attempt;
      try {
        const response = await fetch(url, { method: "POST", headers, body, signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) });
        const text = await response.text();
        if (response.ok) return vectorsOf(text, texts.length, dims);
        if (response.status === 401 || response.status === 403) {
          throw new PapersiftError("EMBEDDER_REFUSED", `the embedding endpoint ${url} refused the request (${response.status}: ${serverMessage(text)})`);
        }
        if (response.status === 404) throw modelNotFound(text);
        if (response.status !== 429 && response.status < 500) throw fail(`answered ${response.status}: ${serverMessage(text)}`);
        why = `answered ${response.status} (${serverMessage(text)})`;
        wait = retryAfter(response.headers.get("retry-after")) ?? wait;
      } catch (error) {
        if (error instanceof PapersiftError || signal.aborted) throw error;
        if ((error as Error).name === "TimeoutError") {
          why = `did not answer within ${timeoutMs / 1000} s`;
        } else {
          const code = ((error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message).toString();
          unreachable = true;
          // Nothing listens there, or no such host. A dropped connection (a kept-alive socket the server
          // closed when it restarted) is always worth one more try.
          if (REFUSED.test(code)) {
            why = `could not be reached (${code})`;
            if (!retryUnreachable) throw new PapersiftError("EMBEDDER_UNREACHABLE", `the embedding endpoint ${url} ${why}`);
          } else {
            why = `dropped the connection (${code})`;
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
    async embed(texts, { dims, retryUnreachable = true, onProgress } = {}) {
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
              const vectors = await request(batch, dims, retryUnreachable, abort.signal);
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
