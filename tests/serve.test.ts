// Issue 12: `papersift serve` (HTTP API and web page) and `papersift mcp`, as real processes on a real index
// of the bundled corpus: the API against the library, every bad-input class, a real browser (Debian's
// chromium through playwright-core), and a real MCP client from the SDK over stdio.
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ingest, openIndex, type PapersiftIndex } from "../src/index.ts";
import { MAX_PAPERS } from "../src/mcp.ts";
import { usageFor } from "../src/model.ts";
import { defaultResolution } from "../src/query/clusters.ts";
import { createApp, PAGE_ROUTES } from "../src/serve.ts";
import { BUNDLED_CORPUS, bundledPapers, CHROMIUM, NO_CHROMIUM, ROOT, runCli, sharedEmbedder, tempDir } from "./helpers.ts";
import { startServe } from "./serve-process.ts";

let indexDir: string;
let tagsFile: string;
let library: PapersiftIndex;
let server: ChildProcess;
let base: string;

beforeAll(async () => {
  const embedder = await sharedEmbedder();
  indexDir = tempDir();
  await ingest({ corpus: BUNDLED_CORPUS, index: indexDir }, { embedder });
  library = await openIndex(indexDir, { embedder });
  // The server says where it listens once the model and the map are ready.
  tagsFile = path.join(tempDir(), "tags.json");
  ({ server, base } = await startServe(["--index", indexDir, "--tags", tagsFile]));
}, 120_000);
afterAll(() => {
  server?.kill();
  library?.close();
});

const get = async (route: string) => {
  const response = await fetch(new URL(route, base));
  return { status: response.status, headers: response.headers, body: (await response.json()) as Record<string, unknown> };
};

describe("HTTP API", () => {
  it("answers every route with the library's JSON", async () => {
    const question = "reward models that resist overoptimization";
    const search = await get(`api/search?q=${encodeURIComponent(question)}&k=5&mode=hybrid`);
    expect(search.status).toBe(200);
    const expected = await library.search(question, { k: 5, mode: "hybrid" });
    expect(search.body).toEqual({ query: expected.query, mode: expected.mode, noStrongMatch: expected.noStrongMatch, results: expected.results });

    const id = bundledPapers()[0]!.id;
    expect((await get(`api/related/${id}?k=4`)).body).toEqual(JSON.parse(JSON.stringify(library.related(id, { k: 4 }))));
    expect((await get("api/clusters?threshold=0.65")).body).toEqual(JSON.parse(JSON.stringify(library.clusters({ threshold: 0.65 }))));
    expect((await get(`api/papers/${id}`)).body).toMatchObject({ id, title: bundledPapers()[0]!.title, abstract: bundledPapers()[0]!.abstract });
    // Many papers' metadata at once (the topic view), without abstracts; ids naming nothing are left out.
    const many = await get(`api/papers?id=${id}&id=no-such-paper&id=${bundledPapers()[1]!.id}`);
    expect((many.body.papers as { id: string }[]).map((p) => p.id)).toEqual([id, bundledPapers()[1]!.id]);
    expect(many.body.papers).toEqual([id, bundledPapers()[1]!.id].map((i) => {
      const { abstract: _a, meta: _m, ...rest } = library.paper(i);
      return JSON.parse(JSON.stringify(rest));
    }));
    const stats = await get("api/stats");
    expect(stats.body).toMatchObject({ papers: 71, chunks: library.stats().chunks, model: library.stats().model });
    // The map is laid out in the background after the server starts: 202 until then.
    let map = await get("api/map");
    while (map.status === 202) {
      expect(map.body).toMatchObject({ status: "computing", papers: 71 });
      await new Promise((resolve) => setTimeout(resolve, 100));
      map = await get("api/map");
    }
    expect(map.status).toBe(200);
    expect((map.body.points as unknown[]).length).toBe(71);
    const explained = await get(`api/search?q=${encodeURIComponent(question)}&k=2&explain=1`);
    expect((explained.body.results as { explain: unknown }[])[0]!.explain).toBeTruthy();
    const liked = bundledPapers().slice(0, 2).map((p) => p.id);
    const recommended = await get(`api/recommend?id=${liked[0]}&id=${liked[1]}&id=nothing&k=3`);
    expect(recommended.body).toEqual(JSON.parse(JSON.stringify(await library.recommend({ liked: [...liked, "nothing"], k: 3 }))));
    expect((await get("api/recommend?id=nothing")).status).toBe(404);
  });

  it("every API route and page address is in `serve --help` and the README, writes with their method (review-newuser1920 defect 7)", () => {
    const help = runCli(["serve", "--help"]).stdout;
    const readme = readFileSync(path.join(ROOT, "README.md"), "utf8");
    const routes = createApp(library).routes.filter((r) => /^\/(api|v1)\//.test(r.path) && r.method !== "ALL");
    expect(routes.map((r) => r.method)).toContain("PUT");
    for (const { method, path: route } of routes) {
      // "/api/tags/:name/:id{.+}" is written "/api/tags/<name>/<id>" (or "<id or DOI>").
      const written = route.replace(/:(\w+)\{[^}]*\}/g, "<$1").replace(/:(\w+)/g, "<$1>");
      for (const [doc, text] of [["serve --help", help], ["README", readme]] as const) {
        expect(text, `${doc}: ${method} ${route}`).toContain(method === "GET" ? written : `${method} ${written}`);
      }
    }
    for (const route of PAGE_ROUTES) expect(readme, route).toContain(route.replace("*", "<"));
    // The page's star writes a saved set named `starred`, in the tags file.
    for (const text of [help, readme]) expect(text).toMatch(/star[^.]*`starred`[^.]*tags file/);
  });

  it("takes the library's filters, repeated category included", async () => {
    const all = await get("api/search?q=reward&k=5&category=cs.CL&category=cs.LG");
    expect(all.status).toBe(200);
    expect(all.body.results).toEqual([]); // the bundled .txt corpus has no categories
  });

  it("bad input is 400 with code, message and hint; an unknown paper or route 404; never a stack", async () => {
    const bad = ["api/search?q=", "api/search?q=x&k=0", "api/search?q=x&k=abc", "api/search?q=x&mode=fuzzy", "api/search?q=x&since=2026-13", "api/clusters?threshold=7", `api/related/${bundledPapers()[0]!.id}?k=-1`, "api/related/reward"];
    for (const route of bad) {
      const r = await get(route);
      expect(r.status, route).toBe(400);
      const error = r.body.error as { code: string; message: string; hint: string };
      expect(error.code, route).toMatch(/^[A-Z_]+$/);
      expect(error.message.length, route).toBeGreaterThan(3);
      expect(error.hint.length, route).toBeGreaterThan(3);
      expect(JSON.stringify(r.body), route).not.toMatch(/\n\s+at |\.ts:\d+/);
    }
    for (const route of ["api/papers/no-such-paper", "api/related/no-such-paper-at-all", "api/nothing"]) expect((await get(route)).status, route).toBe(404);
    expect((await fetch(new URL("api/search?q=x", base), { method: "POST" })).status).toBe(405);
    expect((await fetch(new URL(`api/search?q=${"x".repeat(10_000)}`, base))).status).toBe(414);
  });

  it("sends no permissive CORS header, and only listens on loopback", async () => {
    const r = await fetch(new URL("api/stats", base), { headers: { Origin: "http://evil.example" } });
    expect(r.headers.get("access-control-allow-origin")).toBeNull();
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:/);
  });

  it("answers only the host names it listens on: a DNS-rebinding page gets 421 on every route (issue 17, item 11)", async () => {
    const { request } = await import("node:http");
    const port = new URL(base).port;
    const status = (route: string, host: string, method = "GET") =>
      new Promise<number>((resolve, reject) => {
        const req = request({ host: "127.0.0.1", port, path: route, method, headers: { Host: host } }, (res) => {
          res.resume();
          resolve(res.statusCode!);
        });
        req.on("error", reject);
        req.end();
      });
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST:${port}`, `[::1]:${port}`, "localhost"]) {
      expect(await status("/api/stats", host), host).toBe(200);
    }
    for (const host of [`evil.example:${port}`, "evil.example", `127.0.0.1.nip.io:${port}`, `localhost.evil.example:${port}`, `[::2]:${port}`]) {
      for (const route of ["/", "/app.js", "/api/stats", "/api/search?q=x", "/api/map", "/no-such-route"]) expect(await status(route, host), `${host} ${route}`).toBe(421);
      expect(await status("/api/stats", host, "POST"), host).toBe(421);
    }
    // --host adds its own name; a wildcard address adds this machine's names and addresses.
    const { createApp } = await import("../src/serve.ts");
    expect((await createApp(library, { host: "papers.lan" }).request("http://papers.lan:4477/api/stats")).status).toBe(200);
    expect((await createApp(library, { host: "papers.lan" }).request("http://other.lan:4477/api/stats")).status).toBe(421);
    const everywhere = createApp(library, { host: "0.0.0.0" });
    expect((await everywhere.request(`http://${hostname()}:4477/api/stats`)).status).toBe(200);
    expect((await everywhere.request("http://evil.example/api/stats")).status).toBe(421);
  });

  it("picks up an ingest made beside it on the next request", async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, "a.jsonl"), JSON.stringify({ id: "x1", title: "First paper on sparse attention", abstract: "Sparse attention for long documents." }) + "\n");
    const idx = tempDir();
    const embedder = await sharedEmbedder();
    await ingest({ corpus: dir, index: idx }, { embedder });
    const child = spawn(process.execPath, [path.join(ROOT, "bin", "papersift.js"), "serve", "--port", "0", "--index", idx]);
    const url = await new Promise<string>((resolve) => {
      let out = "";
      child.stdout.on("data", (d) => {
        out += d;
        const m = /at (http:\/\/\S+\/)/.exec(out);
        if (m) resolve(m[1]!);
      });
    });
    try {
      const count = async () => ((await (await fetch(new URL("api/stats", url))).json()) as { papers: number }).papers;
      expect(await count()).toBe(1);
      writeFileSync(path.join(dir, "b.jsonl"), JSON.stringify({ id: "x2", title: "Second paper on retrieval", abstract: "Dense retrieval of passages." }) + "\n");
      await ingest({ corpus: dir, index: idx }, { embedder });
      expect(await count()).toBe(2);
      const found = (await (await fetch(new URL("api/search?q=dense%20retrieval&k=1", url))).json()) as { results: { id: string }[] };
      expect(found.results[0]!.id).toBe("x2");
    } finally {
      child.kill();
    }
  });
});

describe("web page, in a real browser", () => {
  it("searches, opens a paper, follows a related one, and draws every paper on the map", async (ctx) => {
    // Skipped only where no browser can run, and then listed with this reason after the summary.
    if (!CHROMIUM) ctx.skip(NO_CHROMIUM);
    const { chromium } = await import("playwright-core");
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-sync"],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 850 } });
      const requests: string[] = [];
      page.on("request", (r) => requests.push(r.url()));
      await page.goto(base);
      await page.waitForSelector("body[data-ready=true][data-map=ready]");
      expect(await page.getAttribute("#map", "data-points")).toBe("71");
      expect(await page.textContent("#stats")).toMatch(/71 papers/);

      const target = bundledPapers().find((p) => p.title === "Reward Model Ensembles Help Mitigate Overoptimization")!;
      await page.fill("#q", "how can reward models be made robust to overoptimization?");
      await page.press("#q", "Enter");
      await page.waitForSelector("#side li.hit");
      expect(await page.getAttribute("#side li.hit >> nth=0", "data-id")).toBe(target.id);
      expect(await page.locator("#side li.hit >> nth=0 >> mark").count()).toBeGreaterThan(0);
      expect(await page.evaluate(() => (window as unknown as { papersiftMap: { state: { rings: string[] } } }).papersiftMap.state.rings.length)).toBe(10);

      await page.click("#side li.hit >> nth=0 >> a.title");
      await page.waitForSelector(`article.paper[data-id="${target.id}"] li.hit`);
      expect(await page.textContent("article.paper .abstract")).toBe(target.abstract);
      const related = await page.getAttribute("article.paper li.hit >> nth=0", "data-id");
      await page.click("article.paper li.hit >> nth=0 >> a.title");
      await page.waitForSelector(`article.paper[data-id="${related}"]`);
      expect(related).not.toBe(target.id);

      // The star puts the paper in the "starred" set (the tags file); For you lists papers like it, with reasons.
      await page.click("article.paper button.star");
      await page.waitForSelector('article.paper button.star[aria-pressed="true"]');
      expect(JSON.parse(readFileSync(tagsFile, "utf8")).tags.starred.map((e: { id: string }) => e.id)).toEqual([related]);
      await page.click("#for-you");
      await page.waitForSelector("body[data-view=for-you][data-ready=true] #side li.hit");
      const forYou = await page.locator("#side li.hit").evaluateAll((items) => items.map((i) => [(i as HTMLElement).dataset.id, i.querySelector(".reason")?.textContent ?? ""]));
      const expected = await library.recommend({ liked: [related!], k: 20 });
      expect(forYou.map(([id]) => id)).toEqual(expected.results.map((r) => r.id));
      expect(forYou[0]![1]).toContain(`like ${expected.results[0]!.reason.closest[0]!.title}`);
      await page.screenshot({ path: path.join(tempDir(), "papersift-for-you.png") });
      await page.goBack();
      await page.waitForSelector(`body[data-view=paper][data-ready=true] article.paper[data-id="${related}"] button.star[aria-pressed="true"]`);
      await page.click("article.paper button.star");
      await page.waitForSelector('article.paper button.star[aria-pressed="false"]');
      expect(JSON.parse(readFileSync(tagsFile, "utf8")).tags.starred).toEqual([]);

      await page.screenshot({ path: path.join(tempDir(), "papersift-page.png") });
      // Nothing but this server was asked for anything.
      expect(requests.every((u) => u.startsWith(base))).toBe(true);
    } finally {
      await browser.close();
    }
  });
});

describe("MCP server", () => {
  const connect = async (index: string, extra: string[] = []) => {
    const client = new Client({ name: "papersift-test", version: "1.0.0" });
    const transport = new StdioClientTransport({ command: process.execPath, args: [path.join(ROOT, "bin", "papersift.js"), "mcp", "--index", index, ...extra], stderr: "pipe" });
    await client.connect(transport);
    return client;
  };
  type ToolAnswer = { isError?: boolean; content: { text: string }[] };
  const call = async (client: Client, name: string, args: Record<string, unknown>) => (await client.callTool({ name, arguments: args })) as ToolAnswer;
  const text = (r: ToolAnswer) => JSON.parse(r.content[0]!.text) as Record<string, unknown>;

  it("a real SDK client calls each tool: compact by default, capped, `id` everywhere, defaults stated from the code (issue 20 §4, issue 17 item 17)", async () => {
    const client = await connect(indexDir);
    try {
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name).sort()).toEqual(["get_paper", "list_clusters", "recommend_papers", "related_papers", "search_papers"]);
      const tool = (name: string) => tools.find((t) => t.name === name)!;
      expect(tool("search_papers").inputSchema.properties).toHaveProperty("category");
      // One name for a paper in every tool that takes one.
      expect(Object.keys(tool("related_papers").inputSchema.properties!)).toContain("id");
      expect(Object.keys(tool("related_papers").inputSchema.properties!)).not.toContain("paper");
      expect(Object.keys(tool("get_paper").inputSchema.properties!)).toContain("id");
      // Every description states its cap; list_clusters states this index's defaults, as the code computes them.
      for (const t of tools) expect(t.description, t.name).toMatch(/at most \d/);
      const clusterArgs = tool("list_clusters").inputSchema.properties as Record<string, { description: string }>;
      expect(clusterArgs.threshold!.description).toContain(`default ${usageFor("BAAI/bge-small-en-v1.5").clusterThreshold}`);
      expect(clusterArgs.threshold!.description).not.toContain("0.6");
      expect(clusterArgs.resolution!.description).toContain(`default ${defaultResolution(71)}`);

      const question = "reward models that resist overoptimization";
      const search = await call(client, "search_papers", { query: question });
      const expected = await library.search(question);
      expect(text(search)).toEqual({ query: expected.query, mode: expected.mode, noStrongMatch: expected.noStrongMatch, results: expected.results });
      expect((await call(client, "search_papers", { query: question, k: MAX_PAPERS + 1 })).isError).toBe(true);
      const id = bundledPapers()[0]!.id;
      expect(text(await call(client, "related_papers", { id, k: 2 }))).toEqual(JSON.parse(JSON.stringify(library.related(id, { k: 2 }))));
      expect(text(await call(client, "get_paper", { id }))).toMatchObject({ id, abstract: bundledPapers()[0]!.abstract });

      // Topics with sizes and labels only; a topic's papers on request, `limit` of them.
      const listed = await call(client, "list_clusters", {});
      const full = library.clusters();
      const topics = text(listed).topics as { id: number; label: string; size: number }[];
      expect(topics.map((t) => [t.id, t.label, t.size])).toEqual(full.topics.map((t) => [t.id, t.label, t.size]));
      expect(listed.content[0]!.text).not.toContain(full.topics[0]!.papers[0]!.title);
      const one = text(await call(client, "list_clusters", { topic: full.topics[0]!.id, limit: 3 }));
      expect((one.papers as { id: string }[]).map((p) => p.id)).toEqual(full.topics[0]!.papers.slice(0, 3).map((p) => p.id));
      expect(one.more).toBe(full.topics[0]!.size - 3);
      const unknown = await call(client, "list_clusters", { topic: 999 });
      expect(unknown.isError).toBe(true);
      expect(unknown.content[0]!.text).toMatch(/no topic 999/);

      // Sizes: every default answer fits an assistant's context (list_clusters was 26.8 KB on these 71 papers).
      const sizes = { search: search.content[0]!.text.length, list: listed.content[0]!.text.length };
      expect(sizes.list).toBeLessThan(2_000);
      expect(sizes.search).toBeLessThan(8_000);

      // recommend_papers: ids or DOIs in, compact results out.
      const liked = bundledPapers().slice(0, 2).map((p) => p.id);
      const recommended = text(await call(client, "recommend_papers", { ids: [...liked, "10.1/none"], k: 3 }));
      const wanted = await library.recommend({ liked: [...liked, "10.1/none"], k: 3 });
      expect(recommended).toEqual({
        liked,
        unmatched: [{ ref: "10.1/none", reason: "not in the index" }],
        results: wanted.results.map((h) => ({ id: h.id, title: h.title, authors: h.authors, date: h.date, venue: h.venue, doi: h.doi, arxiv: h.arxiv, pmid: h.pmid, url: h.url, score: h.score, closest: h.reason.closest.map((c) => c.id), terms: h.reason.terms })),
      });

      const missing = await call(client, "get_paper", { id: "no-such-paper-at-all" });
      expect(missing.isError).toBe(true);
      expect(missing.content[0]!.text).toMatch(/no paper matches/);
    } finally {
      await client.close();
    }
  });

  it("accepts a DOI wherever it takes an id, in any of its usual spellings", async () => {
    const corpus = tempDir();
    writeFileSync(
      path.join(corpus, "papers.jsonl"),
      [
        { id: "p1", title: "Sparse attention for long documents", abstract: "We make attention sparse so that long documents fit.", doi: "10.1234/Sparse.2024.7" },
        { id: "p2", title: "Dense retrieval of passages", abstract: "Dual encoders retrieve passages for open-domain questions.", doi: "10.5555/other" },
        { id: "p3", title: "Reward models for language models", abstract: "Reward models trained from preferences guide fine-tuning." },
        { id: "2401.00001", title: "Speculative decoding with draft trees", abstract: "A small model drafts a tree of tokens that a large model verifies.", authors: ["Ada Zhang"], date: "2024-01-02", categories: "cs.CL" },
      ].map((p) => JSON.stringify(p)).join("\n") + "\n",
    );
    const index = tempDir();
    await ingest({ corpus, index }, { embedder: await sharedEmbedder() });
    const client = await connect(index);
    try {
      for (const doi of ["10.1234/Sparse.2024.7", "10.1234/sparse.2024.7", "doi:10.1234/sparse.2024.7", "https://doi.org/10.1234/SPARSE.2024.7"]) {
        expect(text(await call(client, "get_paper", { id: doi })).id, doi).toBe("p1");
        expect((text(await call(client, "related_papers", { id: doi, k: 1 })).paper as { id: string }).id, doi).toBe("p1");
      }
      expect((await call(client, "get_paper", { id: "10.1234/nothing" })).isError).toBe(true);
      // An arXiv paper's DOI is the one people have (review-newuser1920 defect 2).
      expect(text(await call(client, "get_paper", { id: "10.48550/arXiv.2401.00001" })).id).toBe("2401.00001");
      expect((text(await call(client, "related_papers", { id: "https://doi.org/10.48550/arXiv.2401.00001", k: 1 })).paper as { id: string }).id).toBe("2401.00001");
      // Recommendations carry their metadata (defect 4).
      const recommended = text(await call(client, "recommend_papers", { ids: ["p3", "p2"], k: 4 })).results as Record<string, unknown>[];
      expect(recommended.find((r) => r.id === "p1")).toMatchObject({ doi: "10.1234/sparse.2024.7", url: "https://doi.org/10.1234/sparse.2024.7" });
      expect(recommended.find((r) => r.id === "2401.00001")).toMatchObject({ authors: ["Ada Zhang"], date: "2024-01-02", arxiv: "2401.00001" });
      // One string where a list is taken (defect 12).
      const one = await call(client, "search_papers", { query: "speculative decoding", category: "cs.CL" });
      expect(one.isError, one.content[0]!.text).toBeFalsy();
      expect((text(one).results as { id: string }[]).map((r) => r.id)).toEqual(["2401.00001"]);
      expect((text(await call(client, "recommend_papers", { ids: "p3", not: "p2", k: 1 })).liked as string[])).toEqual(["p3"]);
    } finally {
      await client.close();
    }
  });

  it("a missing or damaged index still answers initialize; each tool then says what to run, and an ingest mends it", async () => {
    const index = path.join(tempDir(), "not-built-yet");
    const client = await connect(index, ["--corpus", "my-papers"]);
    try {
      expect(client.getServerVersion()?.name).toBe("papersift");
      expect((await client.listTools()).tools).toHaveLength(5);
      for (const [name, args] of [["search_papers", { query: "x" }], ["get_paper", { id: "x" }], ["related_papers", { id: "x" }], ["recommend_papers", { ids: ["x"] }], ["list_clusters", {}]] as const) {
        const r = await call(client, name, args);
        expect(r.isError, name).toBe(true);
        expect(r.content[0]!.text, name).toContain(`papersift ingest --corpus my-papers --index ${index}`);
      }
      const corpus = tempDir();
      writeFileSync(path.join(corpus, "a.jsonl"), JSON.stringify({ id: "x1", title: "Sparse attention", abstract: "Attention made sparse for long documents." }) + "\n");
      await ingest({ corpus, index }, { embedder: await sharedEmbedder() });
      expect(text(await call(client, "get_paper", { id: "x1" })).title).toBe("Sparse attention");
    } finally {
      await client.close();
    }

    const damaged = tempDir();
    writeFileSync(path.join(damaged, "papersift.db"), "this is not a database, it only has the name of one".repeat(100));
    const second = await connect(damaged);
    try {
      const r = await call(second, "list_clusters", {});
      expect(r.isError).toBe(true);
      expect(r.content[0]!.text).toContain(`papersift ingest --rebuild --index ${damaged}`);
    } finally {
      await second.close();
    }
  });
});
