// `POST /v1/embeddings` for `papersift serve`: the OpenAI embeddings protocol over the vendored model, so
// another papersift (or any OpenAI-compatible client) can embed with this machine. Texts are embedded as
// given, without the model's prefixes: the caller adds them (papersift's client does, from the manifest),
// as it would for any other server. Errors have OpenAI's shape ({error: {message, type, code}}) plus the
// API's own hint.
import type { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import pLimit from "p-limit";
import { z } from "zod";
import type { Embedder } from "../embed.ts";

/** Largest request body: 512 full 256-token chunks take about 0.7 MB of JSON. */
export const MAX_EMBED_BYTES = 2 ** 20;
/** Most texts in one request (OpenAI allows 2,048; on a CPU 512 chunks already take about 15 s). */
export const MAX_EMBED_INPUTS = 512;

const EmbeddingsRequest = z.object({
  input: z.union([z.string(), z.array(z.string()).min(1).max(MAX_EMBED_INPUTS)]),
  model: z.string().min(1),
  encoding_format: z.enum(["float", "base64"]).default("float"),
  dimensions: z.number().int().positive().optional(),
  user: z.string().optional(),
});

const openAiError = (message: string, code: string, hint: string) => ({ error: { message, type: "invalid_request_error", param: null, code, hint } });

/** Add the route to the app; `embedder` gives the vendored model's Embedder (loaded once, on first use). */
export function addEmbeddingsRoute(app: Hono, embedder: () => Promise<Embedder>): void {
  // One request at a time (the model is busy either way): a question from the page waits for one request,
  // not for every queued one, and a request whose client gave up (timed out) before its turn costs nothing.
  const turn = pLimit(1);
  app.post(
    "/v1/embeddings",
    bodyLimit({
      maxSize: MAX_EMBED_BYTES,
      onError: (c) => c.json(openAiError(`the request is over ${MAX_EMBED_BYTES} bytes`, "TOO_LONG", "send fewer texts per request"), 413),
    }),
    async (c) => {
      // JSON only: a page on another site can POST text/plain or a form without a CORS preflight (and so make
      // this machine embed for it); a JSON request needs a preflight, which this server never grants.
      if (!/^application\/json\s*(;|$)/i.test(c.req.header("content-type") ?? "")) {
        return c.json(openAiError("the body must be sent as Content-Type: application/json", "UNSUPPORTED_MEDIA_TYPE", "send the request as JSON, as OpenAI clients do"), 415);
      }
      let body: unknown;
      try {
        body = await c.req.json();
      } catch {
        return c.json(openAiError("the body is not JSON", "BAD_REQUEST", 'send {"model": "…", "input": ["text", …]}'), 400);
      }
      const parsed = EmbeddingsRequest.safeParse(body);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        const where = issue.path.join(".") || "body";
        // The message itself states the rule broken: OpenAI clients show only the message, not the hint.
        const input = (body as { input?: unknown } | null)?.input;
        const message = Array.isArray(input) && input.length > MAX_EMBED_INPUTS
          ? `input: ${input.length} texts is over the limit of ${MAX_EMBED_INPUTS} per request`
          : where === "input" || where.startsWith("input.")
            ? `input: a string or 1 to ${MAX_EMBED_INPUTS} strings (token ids are not accepted)`
            : `${where}: ${issue.message}`;
        return c.json(openAiError(message, "BAD_REQUEST", `input is a string or 1 to ${MAX_EMBED_INPUTS} strings (token ids are not accepted); model names the model`), 400);
      }
      const request = parsed.data;
      const model = await embedder();
      const served = model.model.id;
      if (request.model !== served && !model.model.dir.endsWith(`/${request.model}`)) {
        return c.json(openAiError(`this server embeds with ${served}, not ${request.model}`, "model_not_found", `ask for "${served}"`), 404);
      }
      if (request.dimensions !== undefined && request.dimensions !== model.model.dims) {
        return c.json(openAiError(`${served} has ${model.model.dims} dimensions, not ${request.dimensions}`, "BAD_REQUEST", "leave out dimensions"), 400);
      }
      const texts = typeof request.input === "string" ? [request.input] : request.input;
      // As the local Embedder truncates: the model's window, the final [SEP] kept.
      const max = model.model.maxTokens;
      const inputs = texts.map((t) => {
        const ids = model.tokenize(t);
        return ids.length <= max ? ids : [...ids.slice(0, max - 1), ids[ids.length - 1]!];
      });
      const vectors = await turn(() => (c.req.raw.signal.aborted ? null : model.embedTokenized(inputs)));
      if (!vectors) return c.json(openAiError("the client went away before its turn", "CANCELLED", "nothing to do"), 408);
      const tokens = inputs.reduce((n, ids) => n + ids.length, 0);
      return c.json({
        object: "list",
        data: vectors.map((v, index) => ({
          object: "embedding",
          index,
          embedding: request.encoding_format === "base64" ? Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64") : Array.from(v),
        })),
        model: served,
        usage: { prompt_tokens: tokens, total_tokens: tokens },
      });
    },
  );
}
