// papersift serve: the HTTP API and the web page over one open index. The API adds transport only: every
// route calls the library and returns the same JSON as the CLI's --json; query parameters go through the
// library's own zod schemas. Bad input is 400 with {error:{code,message,hint}}, an unknown paper 404, and
// nothing ever returns a stack trace. No CORS headers: the page is served from the same origin. The one
// POST is /v1/embeddings (embed/serve.ts): the OpenAI embeddings protocol, for another papersift to use.
import { readFileSync } from "node:fs";
import { hostname, networkInterfaces } from "node:os";
import { Hono, type Context } from "hono";
import { PapersiftError } from "./errors.ts";
import type { Embedder } from "./embed.ts";
import { addEmbeddingsRoute } from "./embed/serve.ts";
import type { PapersiftIndex } from "./index.ts";

/** Longest URL accepted; a question is at most a few hundred words. */
const MAX_URL_CHARS = 8_192;

/** The page and its script, plain files in web/ (no build step; nothing from a CDN). */
const asset = (name: string) => readFileSync(new URL(`../web/${name}`, import.meta.url), "utf8");

/** Query parameters as the library's options: numbers as numbers, repeated `category` as a list. */
function filterParams(c: Context) {
  const one = (name: string) => c.req.query(name);
  const categories = c.req.queries("category");
  return {
    ...(categories?.length ? { category: categories } : {}),
    ...(one("since") !== undefined ? { since: one("since") } : {}),
    ...(one("until") !== undefined ? { until: one("until") } : {}),
    ...(one("author") !== undefined ? { author: one("author") } : {}),
  };
}
const numberParam = (c: Context, name: string) => {
  const value = c.req.query(name);
  return value === undefined ? {} : { [name]: value.trim() === "" ? Number.NaN : Number(value) };
};

function errorResponse(c: Context, error: unknown) {
  if (error instanceof PapersiftError) {
    const status = error.code === "UNKNOWN_PAPER" ? 404 : error.kind === "input" ? 400 : 500;
    const hint = error.code === "BAD_OPTION" ? "see `papersift serve --help` for the API's parameters" : error.hint;
    return c.json({ error: { code: error.code, message: error.message, hint } }, status);
  }
  return c.json({ error: { code: "INTERNAL", message: error instanceof Error ? error.message.split("\n")[0] : String(error), hint: "see the server's log" } }, 500);
}

/** How a host name appears in a URL: lower case, IPv6 in brackets. */
const urlHost = (host: string) => {
  const bare = host.trim().toLowerCase().replace(/^\[(.*)\]$/, "$1");
  return bare.includes(":") ? `[${bare}]` : bare;
};

/**
 * The host names a request may carry in its Host header: the loopback names, the address served on, and,
 * when that is a wildcard (0.0.0.0, ::), every address of this machine and its name. Anything else is a
 * page on another site reaching the server through DNS rebinding (issue 17, item 11).
 */
export function allowedHosts(listenHost: string): Set<string> {
  const hosts = new Set(["127.0.0.1", "localhost", "[::1]", urlHost(listenHost)]);
  if (["0.0.0.0", "[::]"].includes(urlHost(listenHost))) {
    for (const addresses of Object.values(networkInterfaces())) for (const a of addresses ?? []) hosts.add(urlHost(a.address.replace(/%.*$/, "")));
    hosts.add(urlHost(hostname()));
  }
  return hosts;
}

export interface AppOptions {
  /** The address the server listens on (`--host`); default 127.0.0.1. */
  host?: string;
  /**
   * The vendored model for POST /v1/embeddings (default: the index's own, which is the vendored model
   * unless the index's questions go to an endpoint).
   */
  embedder?: () => Promise<Embedder>;
}

export function createApp(index: PapersiftIndex, options: AppOptions = {}): Hono {
  const app = new Hono();
  const page = asset("page.html");
  const script = asset("app.js");
  const hosts = allowedHosts(options.host ?? "127.0.0.1");

  // Every route, present and future: a Host this server does not answer to is refused before anything else.
  app.use("*", async (c, next) => {
    const host = new URL(c.req.url).hostname;
    if (!hosts.has(host)) {
      return c.json({ error: { code: "MISDIRECTED", message: `this server does not answer to the host name ${host}`, hint: "open it as http://localhost:<port>/, or serve under that name with --host" } }, 421);
    }
    await next();
  });
  app.use("*", async (c, next) => {
    if (c.req.url.length > MAX_URL_CHARS) return c.json({ error: { code: "TOO_LONG", message: `the request is over ${MAX_URL_CHARS} characters`, hint: "ask a shorter question" } }, 414);
    const embeddings = c.req.method === "POST" && new URL(c.req.url).pathname === "/v1/embeddings";
    if (c.req.method !== "GET" && c.req.method !== "HEAD" && !embeddings) {
      return c.json({ error: { code: "METHOD", message: `${c.req.method} is not supported`, hint: "the API is read-only: use GET (POST only for /v1/embeddings)" } }, 405);
    }
    await next();
    c.header("X-Content-Type-Options", "nosniff");
  });
  app.onError((error, c) => errorResponse(c, error));
  app.notFound((c) => c.json({ error: { code: "NOT_FOUND", message: `no route ${new URL(c.req.url).pathname}`, hint: "see / for the page, /api/stats for the index" } }, 404));

  app.get("/", (c) => {
    c.header("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:");
    return c.html(page);
  });
  app.get("/app.js", (c) => c.body(script, 200, { "Content-Type": "text/javascript; charset=utf-8" }));

  app.get("/api/search", async (c) => {
    const q = c.req.query("q") ?? "";
    const explain = c.req.query("explain");
    const result = await index.search(q, {
      ...numberParam(c, "k"),
      ...(c.req.query("mode") !== undefined ? { mode: c.req.query("mode") as "hybrid" } : {}),
      ...(explain !== undefined ? { explain: explain === "" || explain === "1" || explain === "true" } : {}),
      ...filterParams(c),
    });
    return c.json({ query: result.query, mode: result.mode, noStrongMatch: result.noStrongMatch, results: result.results });
  });
  app.get("/api/related/:id", (c) => c.json(index.related(c.req.param("id"), { ...numberParam(c, "k"), ...filterParams(c) })));
  app.get("/api/clusters", (c) =>
    c.json(index.clusters({ ...numberParam(c, "threshold"), ...numberParam(c, "resolution"), ...filterParams(c) })),
  );
  app.get("/api/papers/:id", (c) => c.json(index.paper(c.req.param("id"))));
  app.get("/api/stats", (c) => c.json(index.stats()));
  app.get("/api/map", (c) => c.json(index.map()));
  addEmbeddingsRoute(app, options.embedder ?? (() => index.embedder()));
  return app;
}
