// papersift serve: the HTTP API and the web page over one open index. The API adds transport only: every
// route calls the library and returns the same JSON as the CLI's --json; query parameters go through the
// library's own zod schemas. Bad input is 400 with {error:{code,message,hint}}, an unknown paper 404, and
// nothing ever returns a stack trace. No CORS headers: the page is served from the same origin. The writes:
// PUT and DELETE /api/tags/<name>/<id> (the page's star, the tags file), and POST /v1/embeddings
// (embed/serve.ts): the OpenAI embeddings protocol, for another papersift to use.
import { readdirSync, readFileSync } from "node:fs";
import { hostname, networkInterfaces } from "node:os";
import path from "node:path";
import { Hono, type Context } from "hono";
import { PapersiftError, surfaceHint, surfaceMessage } from "./errors.ts";
import type { Embedder } from "./embed.ts";
import { addEmbeddingsRoute } from "./embed/serve.ts";
import type { CorpusMap, PapersiftIndex } from "./index.ts";
import { readTags, removeFromTag, tagsFile } from "./tags.ts";

/** Most ids /api/papers?id=… answers at once (the page's topic view lists 300). */
const MAX_PAPERS_ASKED = 300;

/** Longest URL accepted; a question is at most a few hundred words. */
const MAX_URL_CHARS = 8_192;

/** The page and its scripts, plain files in web/ (no build step; nothing from a CDN). */
const WEB = new URL("../web/", import.meta.url);
const asset = (name: string) => readFileSync(new URL(name, WEB), "utf8");

/**
 * The page's own URLs (web/app.js routes them): each answers the page, so a fresh tab on any view's URL
 * shows that view. A view added to the page adds its path here.
 */
export const PAGE_ROUTES = ["/", "/paper/*", "/topic/*", "/for-you"];

const FAVICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="7" fill="#2451b7"/><circle cx="11" cy="12" r="4" fill="#efb118"/><circle cx="21" cy="10" r="3" fill="#6cc5b0"/><circle cx="18" cy="21" r="5" fill="#ff725c"/></svg>`;

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
/** A number parameter, spelled as the CLI takes it: k a whole number ("1e1", "0x3", "2.0" are refused), others decimals. */
const numberParam = (c: Context, name: string) => {
  const value = c.req.query(name);
  if (value === undefined) return {};
  const whole = name === "k";
  if (!(whole ? /^-?\d+$/ : /^-?(\d+(\.\d*)?|\.\d+)$/).test(value.trim())) {
    throw new PapersiftError("BAD_OPTION", `${name} must be ${whole ? "a whole number" : "a number"}, not ${JSON.stringify(value)}`);
  }
  return { [name]: Number(value) };
};
/** `explain` and the like: present and empty, 1 or true is yes; 0 or false is no; anything else is refused. */
const flagParam = (c: Context, name: string) => {
  const value = c.req.query(name);
  if (value === undefined) return {};
  if (["", "1", "true"].includes(value)) return { [name]: true };
  if (["0", "false"].includes(value)) return { [name]: false };
  throw new PapersiftError("BAD_OPTION", `${name} must be 1 or true (or empty), 0 or false, not ${JSON.stringify(value)}`);
};

function errorResponse(c: Context, error: unknown) {
  if (error instanceof PapersiftError) {
    // Questions that go to the index's embedding endpoint while it is down (or changed): the rest still works.
    const endpoint = error.code.startsWith("EMBEDDER_") || (error.code === "INDEX_INCOMPATIBLE" && /embedding endpoint/.test(error.message));
    const status = error.code === "UNKNOWN_PAPER" || error.code === "NO_EXAMPLES" || error.code === "UNKNOWN_TAG" ? 404 : endpoint ? 503 : error.kind === "input" ? 400 : 500;
    if (status >= 500) logFailure(c, error);
    const hint = endpoint
      ? "dense and hybrid questions need the index's embedding endpoint: start it, or ask with mode=lexical (related, papers, recommend and the map need no endpoint)"
      : surfaceHint(error, "api");
    return c.json({ error: { code: error.code, message: surfaceMessage(error, "api"), hint } }, status);
  }
  const message = error instanceof Error ? error.message.split("\n")[0] : String(error);
  logFailure(c, error);
  return c.json({ error: { code: "INTERNAL", message: `${c.req.method} ${new URL(c.req.url).pathname} failed: ${message}`, hint: "this is a bug in papersift: the server's log (its stderr) has the details" } }, 500);
}

/** A failure the user cannot fix from the request, on the server's stderr: what was asked, what broke, where. */
function logFailure(c: Context, error: unknown): void {
  const where = error instanceof Error && !(error instanceof PapersiftError) ? (error.stack?.split("\n").find((l) => /^\s+at /.test(l))?.trim() ?? "") : "";
  const message = error instanceof Error ? error.message.split("\n")[0] : String(error);
  process.stderr.write(`papersift serve: ${c.req.method} ${new URL(c.req.url).pathname} failed: ${message}${where ? ` (${where})` : ""}\n`);
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
  /** The tags file `/api/recommend?tag=…` reads (default: as tags.ts says). */
  tagsFile?: string;
}

export function createApp(index: PapersiftIndex, options: AppOptions = {}): Hono {
  const tags = tagsFile(options.tagsFile);
  const app = new Hono();
  const page = asset("page.html");
  const scripts = new Map(readdirSync(WEB).filter((name) => name.endsWith(".js")).map((name) => [`/${name}`, asset(name)]));
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
    const pathname = new URL(c.req.url).pathname;
    const embeddings = c.req.method === "POST" && pathname === "/v1/embeddings";
    // The page's star: PUT or DELETE /api/tags/<name>/<id>. Another site's page cannot send either without a
    // CORS preflight, which this server never answers.
    const star = (c.req.method === "PUT" || c.req.method === "DELETE") && pathname.startsWith("/api/tags/");
    if (c.req.method !== "GET" && c.req.method !== "HEAD" && !embeddings && !star) {
      return c.json({ error: { code: "METHOD", message: `${c.req.method} is not supported`, hint: "the API is read-only: use GET (POST only for /v1/embeddings; PUT and DELETE for /api/tags/<name>/<id>)" } }, 405);
    }
    await next();
    c.header("X-Content-Type-Options", "nosniff");
  });
  app.onError((error, c) => errorResponse(c, error));
  app.notFound((c) => c.json({ error: { code: "NOT_FOUND", message: `no route ${new URL(c.req.url).pathname}`, hint: "see / for the page, /api/stats for the index" } }, 404));

  for (const route of PAGE_ROUTES) {
    app.get(route, (c) => {
      c.header("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:");
      return c.html(page);
    });
  }
  for (const [route, script] of scripts) app.get(route, (c) => c.body(script, 200, { "Content-Type": "text/javascript; charset=utf-8" }));
  app.get("/favicon.svg", (c) => c.body(FAVICON, 200, { "Content-Type": "image/svg+xml", "Cache-Control": "max-age=86400" }));
  app.get("/favicon.ico", (c) => c.redirect("/favicon.svg", 301));

  app.get("/api/search", async (c) => {
    const q = c.req.query("q") ?? "";
    const result = await index.search(q, {
      ...numberParam(c, "k"),
      ...(c.req.query("mode") !== undefined ? { mode: c.req.query("mode") as "hybrid" } : {}),
      ...flagParam(c, "explain"),
      ...filterParams(c),
    });
    return c.json({ query: result.query, mode: result.mode, noStrongMatch: result.noStrongMatch, results: result.results });
  });
  // `{.+}`: a DOI given for the id holds slashes (/api/papers/10.5555/abc).
  app.get("/api/related/:id{.+}", (c) => c.json(index.related(c.req.param("id"), { ...numberParam(c, "k"), ...filterParams(c) })));
  // ?id=…&id=… liked papers (ids, DOIs, arXiv ids, titles), &not=… disliked, &tag=… saved sets, &k, &explain, filters.
  app.get("/api/recommend", async (c) => {
    return c.json(
      await index.recommend({
        liked: c.req.queries("id") ?? [],
        not: c.req.queries("not") ?? [],
        tag: c.req.queries("tag") ?? [],
        tagsFile: tags,
        ...numberParam(c, "k"),
        ...flagParam(c, "explain"),
        ...filterParams(c),
      }),
    );
  });
  // Saved sets: { file, tags: { <name>: [ids] } }; a paper in or out of one (the page's star).
  app.get("/api/tags", (c) => c.json({ file: path.resolve(tags), tags: Object.fromEntries([...readTags(tags)].map(([name, entries]) => [name, entries.map((e) => e.id)])) }));
  app.put("/api/tags/:name/:id{.+}", (c) => c.json(index.tag(c.req.param("name"), [c.req.param("id")], { tagsFile: tags })));
  app.delete("/api/tags/:name/:id{.+}", (c) => c.json(removeFromTag(tags, c.req.param("name"), [c.req.param("id")])));
  app.get("/api/clusters", (c) =>
    c.json(index.clusters({ ...numberParam(c, "threshold"), ...numberParam(c, "resolution"), ...filterParams(c) })),
  );
  app.get("/api/papers/:id{.+}", (c) => c.json(index.paper(c.req.param("id"))));
  // Many papers' metadata at once (the page's topic view): ?id=…&id=…, at most MAX_PAPERS_ASKED; each as
  // /api/papers/<id> without its abstract and record, and ids that name no paper left out.
  app.get("/api/papers", (c) => {
    const ids = c.req.queries("id") ?? [];
    if (ids.length > MAX_PAPERS_ASKED) throw new PapersiftError("BAD_OPTION", `at most ${MAX_PAPERS_ASKED} ids at once (got ${ids.length})`);
    const papers = ids.flatMap((id) => {
      try {
        const { abstract: _abstract, meta: _meta, ...paper } = index.paper(id);
        return [paper];
      } catch (error) {
        if (error instanceof PapersiftError && (error.code === "UNKNOWN_PAPER" || error.code === "AMBIGUOUS_PAPER")) return [];
        throw error;
      }
    });
    return c.json({ papers });
  });
  app.get("/api/stats", (c) => c.json(index.stats()));
  // The first map of a generation takes a while at 10k+ papers: 202 with how far it has got, until it is ready.
  let mapJson: { map: CorpusMap; text: string } | undefined;
  app.get("/api/map", (c) => {
    const status = index.mapStatus();
    if (status.ready) {
      if (mapJson?.map !== status.map) mapJson = { map: status.map, text: JSON.stringify(status.map) };
      return c.body(mapJson.text, 200, { "Content-Type": "application/json; charset=utf-8" });
    }
    if (status.error) {
      void index.map().catch(() => {});
      throw status.error;
    }
    void index.map().catch(() => {});
    const progress = index.mapStatus();
    const at = progress.ready ? null : progress.progress;
    return c.json({ status: "computing", papers: index.stats().papers, phase: at?.phase ?? null, done: at?.done ?? 0, total: at?.total ?? 0 }, 202, { "Retry-After": "1" });
  });
  addEmbeddingsRoute(app, options.embedder ?? (() => index.embedder()));
  return app;
}
