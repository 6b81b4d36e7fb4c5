// Review hostile-19/20 on the HTTP API, MCP and the page: a corpus holding a malformed url, a 3,000-author
// collaboration, a 1,000-character unbroken title and control characters in a title, served in this process
// (createApp over openIndex, stand-in vectors: what is tested is what each surface does with hostile
// records and input, not ranking), a real MCP SDK client over the SDK's in-memory transport, and a real
// browser (Debian's chromium).
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { serve, type ServerType } from "@hono/node-server";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ingest, openIndex, type PapersiftIndex } from "../src/index.ts";
import { createMcpServer, indexSource } from "../src/mcp.ts";
import { createApp } from "../src/serve.ts";
import { CHROMIUM, NO_CHROMIUM, ROOT, runCli, standInEmbedder, tempDir } from "./helpers.ts";

const LONG_TITLE = "W".repeat(1000);
const words = "neural machine translation low resource languages decoding attention corpus alignment".split(" ");
const text = (i: number, n: number) => Array.from({ length: n }, (_, j) => words[(i * 7 + j * 3) % words.length]).join(" ");
const papers = [
  ...Array.from({ length: 8 }, (_, i) => ({ id: `n${i}`, title: `Paper ${i} on ${text(i, 5)}`, abstract: `${text(i, 30)}.`, date: `2026-06-${10 + i}`, authors: ["Ada Lovelace"] })),
  { id: "badurl-1", title: "Bad URL paper on neural machine translation", abstract: `${text(3, 30)}.`, url: "http://[oops/", date: "2026-06-02" },
  { id: "hep-1", title: "Translation particle physics collaboration", abstract: `${text(5, 30)}.`, authors: Array.from({ length: 3000 }, (_, i) => `Author Number${i}`), date: "2026-06-03" },
  { id: "long-1", title: LONG_TITLE, abstract: `${text(2, 30)}.`, date: "2026-06-04" },
  { id: "ctl-1", title: "Control \u0007bell and \u001b[31mescape translation", abstract: `${text(4, 30)}.`, date: "2026-06-05" },
];

const embedder = standInEmbedder();
let indexDir: string;
let tagsFile: string;
let library: PapersiftIndex;
let server: ServerType;
let base: string;

beforeAll(async () => {
  const corpus = tempDir();
  writeFileSync(path.join(corpus, "papers.jsonl"), papers.map((p) => JSON.stringify(p)).join("\n") + "\n");
  indexDir = tempDir();
  await ingest({ corpus, index: indexDir }, { embedder });
  library = await openIndex(indexDir, { embedder });
  tagsFile = path.join(tempDir(), "tags.json");
  server = serve({ fetch: createApp(library, { tagsFile }).fetch, port: 0, hostname: "127.0.0.1" });
  await new Promise((resolve) => server.once("listening", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}, 120_000);
afterAll(() => {
  server?.close();
  library?.close();
});

const call = async (route: string, method = "GET") => {
  const response = await fetch(new URL(route, base), { method });
  return { status: response.status, body: (await response.json()) as { error?: { code: string; message: string; hint: string } } & Record<string, unknown> };
};

describe("HTTP API", () => {
  it("a tag named like an Object.prototype member is a tag like any other", async () => {
    expect((await call("api/tags/constructor/n0", "PUT")).status).toBe(200);
    expect((await call("api/tags/toString/n1", "PUT")).status).toBe(200);
    const tags = await call("api/tags");
    expect(tags.body.tags).toEqual({ constructor: ["n0"], toString: ["n1"] });
    expect((await call("api/recommend?tag=constructor&k=2")).status).toBe(200);
    expect((await call("api/tags/valueOf/n0", "DELETE")).status).toBe(404);
    expect((await call("api/tags/constructor/n0", "DELETE")).status).toBe(200);
    expect((await call("api/recommend?tag=hasOwnProperty")).status).toBe(404);
  });

  it("refuses an impossible date as it refuses a malformed one", async () => {
    const bad = await call("api/search?q=translation&since=2026-02-30");
    const malformed = await call("api/search?q=translation&since=2026-13-01");
    expect(bad.status).toBe(400);
    expect(bad.body.error!.message).toBe(malformed.body.error!.message.replace("2026-13-01", "2026-02-30"));
    expect((await call("api/search?q=translation&until=2026-06-31")).status).toBe(400);
  });

  it("gives only sound http(s) links: a malformed url in the corpus is no link", async () => {
    const paper = await call("api/papers/badurl-1");
    expect(paper.status).toBe(200);
    expect(paper.body.url).toBeNull();
  });

  it("a 500 says what failed, and the server logs it on stderr", async () => {
    const lock = `${tagsFile}.lock`;
    writeFileSync(lock, "");
    const logged: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array) => (logged.push(String(chunk)), true)) as typeof process.stderr.write;
    try {
      const r = await call("api/tags/starred/n0", "PUT");
      expect(r.status).toBe(500);
      expect(r.body.error!.message).toMatch(/tags\.json\.lock is held by another papersift/);
    } finally {
      process.stderr.write = write;
      rmSync(lock);
    }
    expect(logged.join("")).toMatch(/PUT \/api\/tags\/starred\/n0 failed: .*held by another papersift/);
  });

  it("speaks the API's own terms: parameter names, no CLI flags in hints, k as strict as the CLI's, explain yes or no", async () => {
    const k0 = await call("api/search?q=translation&k=0");
    expect(k0.body.error!.message).toMatch(/^k is too small/);
    expect((await call("api/search?q=translation&mode=fast")).body.error!.message).toMatch(/^mode must be one of/);
    for (const k of ["1e1", "0x3", "2.0", "3x"]) expect((await call(`api/search?q=translation&k=${encodeURIComponent(k)}`)).status, k).toBe(400);
    const explain = await call("api/search?q=translation&explain=yes");
    expect(explain.status).toBe(400);
    expect(explain.body.error!.message).toMatch(/^explain must be/);
    expect((await call("api/search?q=translation&explain=false")).status).toBe(200);
    const none = await call("api/recommend?id=nothing-at-all");
    expect(none.status).toBe(404);
    expect(none.body.error!.hint).not.toMatch(/--from/);
    const empty = await call("api/recommend?id=");
    expect(empty.body.error!.message).toMatch(/\bid\b/);
    expect(empty.body.error!.message).not.toMatch(/liked/);
    // And the README and `serve --help` say so.
    expect(readFileSync(path.join(ROOT, "README.md"), "utf8")).toMatch(/`k` is a whole number and `explain` is `1`\/`true` or `0`\/`false`/);
    expect(runCli(["serve", "--help"]).stdout).toMatch(/k is a whole number, explain 1\/true or 0\/false/);
  });
});

describe("MCP", () => {
  const connect = async () => {
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    await createMcpServer(indexSource({ index: indexDir, corpus: "corpus" }, async () => library), "test").connect(serverSide);
    const client = new Client({ name: "papersift-test", version: "1.0.0" });
    await client.connect(clientSide);
    return client;
  };
  type ToolAnswer = { isError?: boolean; content: { text: string }[] };

  it("caps every answer as the tool descriptions say: authors as the first three and et al., every field", async () => {
    const client = await connect();
    const tool = async (name: string, args: Record<string, unknown>) => (await client.callTool({ name, arguments: args })) as ToolAnswer;
    const search = await tool("search_papers", { query: "translation particle physics collaboration", k: 50 });
    expect(search.isError).toBeFalsy();
    const hits = JSON.parse(search.content[0]!.text).results as { id: string; authors: string[]; title: string }[];
    expect(hits.find((h) => h.id === "hep-1")!.authors).toEqual(["Author Number0", "Author Number1", "Author Number2", "et al. (2997 more)"]);
    expect(hits.find((h) => h.id === "long-1")!.title.length).toBeLessThanOrEqual(500);
    expect(search.content[0]!.text.length).toBeLessThan(hits.length * 1500);
    const paper = await tool("get_paper", { id: "hep-1" });
    expect(paper.content[0]!.text.length).toBeLessThan(8_000);
    const related = await tool("related_papers", { id: "n0", k: 50 });
    expect(related.content[0]!.text.length).toBeLessThan(12 * 1500);
    const date = await tool("search_papers", { query: "translation", since: "2026-02-30" });
    expect(date.isError).toBe(true);
    const none = await tool("recommend_papers", { ids: ["nothing-at-all"] });
    expect(none.isError).toBe(true);
    expect(none.content[0]!.text).not.toMatch(/--from/);
    await client.close();
  });
});

describe("the page with hostile records", () => {
  let browser: Browser;
  const problems: string[] = [];
  beforeEach((ctx) => {
    if (!CHROMIUM) ctx.skip(NO_CHROMIUM);
  });
  beforeAll(async () => {
    if (!CHROMIUM) return;
    const { chromium } = await import("playwright-core");
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"] });
    await library.map();
  });
  afterAll(async () => {
    await browser?.close();
  });
  async function open(route: string, viewport = { width: 1400, height: 900 }): Promise<Page> {
    const page = await browser.newPage({ viewport });
    page.on("pageerror", (e) => problems.push(`${route}: ${e.message}`));
    await page.goto(new URL(route, base).href);
    await page.waitForSelector("body[data-ready=true][data-map=ready]");
    return page;
  }

  it("a malformed url in one record breaks no list", async () => {
    for (const route of ["/?q=bad+url+translation", "/paper/n3"]) {
      const page = await open(route);
      expect(await page.$$eval("#side li.hit", (items) => items.map((li) => (li as HTMLElement).dataset.id)), route).toContain("badurl-1");
      await page.close();
    }
    const page = await open("/paper/badurl-1");
    expect(await page.textContent("#side article.paper h2")).toBe("Bad URL paper on neural machine translation");
    await page.close();
  });

  it("a long unbroken title wraps at phone width; control characters are stripped as in the CLI", async () => {
    const page = await open("/paper/long-1", { width: 390, height: 844 });
    expect(await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)).toBeLessThanOrEqual(0);
    await page.close();
    const ctl = await open("/paper/ctl-1");
    const shown = await ctl.evaluate(() => document.getElementById("side")!.textContent + document.title);
    expect(shown).toContain("Control bell and [31mescape translation");
    expect(shown).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/);
    await ctl.close();
  });

  it("the star says when it failed, and stays as it was", async () => {
    writeFileSync(tagsFile, "{ broken");
    try {
      const page = await open("/paper/n2");
      await page.click("button.star");
      const alert = await page.waitForSelector("#side [role=alert]");
      expect(await alert.textContent()).toMatch(/not valid JSON/);
      expect(await page.textContent("button.star")).toBe("☆ star");
      await page.close();
    } finally {
      rmSync(tagsFile);
    }
  });

  it("For you: a reason line naming a long title stays inside the side panel", async () => {
    expect((await call("api/tags/starred/long-1", "PUT")).status).toBe(200);
    const page = await open("/for-you");
    await page.waitForSelector("#side .reason");
    const over = await page.evaluate(() => {
      const side = document.getElementById("side")!.getBoundingClientRect();
      return [...document.querySelectorAll("#side .reason, #side a.title")].flatMap((r) => [r.getBoundingClientRect().right - side.right, r.scrollWidth - r.clientWidth]);
    });
    expect(Math.max(...over)).toBeLessThanOrEqual(0);
    await page.close();
  });

  it("no page error on the way", () => {
    expect(problems).toEqual([]);
  });
});
