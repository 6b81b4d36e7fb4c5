// Issue 20, §1–2: the web page as a person uses it, in a real browser (Debian's chromium through
// playwright-core), and the corpus map on a 2,000-paper generated corpus. The corpus has eight topics, each
// with its own words, categories and dates; vectors come from the deterministic stand-in embedder, which puts
// papers that share words together, so the map is tested on structure, not meaning. The server runs in this
// process (createApp over openIndex), one browser for the file.
import { writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { serve, type ServerType } from "@hono/node-server";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ingest, openIndex, type CorpusMap, type PapersiftIndex } from "../src/index.ts";
import { computeMap, topicShare } from "../src/query/map.ts";
import { createApp } from "../src/serve.ts";
import { Store } from "../src/store/store.ts";
import { CHROMIUM, NO_CHROMIUM, standInEmbedder, tempDir } from "./helpers.ts";

const PAPERS = 2_000;
const TOPICS = ["protein", "galaxy", "compiler", "soil", "opera", "vaccine", "glacier", "robot"];

/** Eight topics of 250 papers: each paper mostly uses its topic's words, partly words every topic shares. */
function generatedCorpus(): Record<string, unknown>[] {
  let seed = 7;
  const random = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
  const pick = <T>(xs: T[]) => xs[Math.floor(random() * xs.length)]!;
  const words = (stem: string, n: number) => Array.from({ length: n }, (_, i) => `${stem}${String.fromCharCode(97 + (i % 26))}${String.fromCharCode(97 + Math.floor(i / 26))}`);
  const common = words("method", 120);
  const vocabulary = TOPICS.map((t) => words(t, 60));
  return Array.from({ length: PAPERS }, (_, i) => {
    const t = i % TOPICS.length;
    const text = (n: number) => Array.from({ length: n }, () => (random() < 0.6 ? pick(vocabulary[t]!) : pick(common))).join(" ");
    const month = String(1 + (i % 12)).padStart(2, "0");
    return {
      id: `g${i}`,
      title: `${TOPICS[t]} study ${i}: ${text(6)}`,
      abstract: `${text(40)}. ${text(30)}.`,
      authors: ["Ada Lovelace", "Alan Turing", "Grace Hopper", "Edsger Dijkstra"].slice(0, 1 + (i % 4)).join(", "),
      categories: `x.${TOPICS[t]} x.all`,
      date: `${2024 + (i % 3)}-${month}-15`,
    };
  });
}

const embedder = standInEmbedder();
let indexDir: string;
let library: PapersiftIndex;
let server: ServerType;
let base: string;

beforeAll(async () => {
  const corpus = tempDir();
  writeFileSync(path.join(corpus, "papers.jsonl"), generatedCorpus().map((p) => JSON.stringify(p)).join("\n") + "\n");
  indexDir = tempDir();
  await ingest({ corpus, index: indexDir }, { embedder });
  library = await openIndex(indexDir, { embedder });
  server = serve({ fetch: createApp(library, { tagsFile: path.join(tempDir(), "tags.json") }).fetch, port: 0, hostname: "127.0.0.1" });
  await new Promise((resolve) => server.once("listening", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}, 120_000);
afterAll(() => {
  server?.close();
  library?.close();
});

describe("the corpus map", () => {
  let map: CorpusMap;

  it("says it is being computed (202, with progress) until it is ready, then serves it", async () => {
    const first = await fetch(new URL("api/map", base));
    expect(first.status).toBe(202);
    expect(await first.json()).toMatchObject({ status: "computing", papers: PAPERS });
    map = await library.map();
    const ready = await fetch(new URL("api/map", base));
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as CorpusMap).points).toHaveLength(PAPERS);
  });

  it("holds the generated topics together: most of each paper's 10 nearest map points share its topic", () => {
    // Every generated topic is found, and the layout keeps them apart (chance would be about 1/8).
    expect(map.topics.length).toBeGreaterThanOrEqual(TOPICS.length);
    expect(topicShare(map.points)).toBeGreaterThanOrEqual(0.5);
    // The same measure by generated topic: a region per topic, not only per Louvain community.
    const generated = map.points.map((p) => ({ ...p, topic: Number(p.id.slice(1)) % TOPICS.length }));
    expect(topicShare(generated)).toBeGreaterThanOrEqual(0.8);
  });

  it("lies along the panel's long side: the points' principal axis is x", () => {
    const n = map.points.length;
    const mx = map.points.reduce((s, p) => s + p.x, 0) / n;
    const my = map.points.reduce((s, p) => s + p.y, 0) / n;
    const [sxx, syy, sxy] = map.points.reduce(([a, b, c], p) => [a + (p.x - mx) ** 2, b + (p.y - my) ** 2, c + (p.x - mx) * (p.y - my)], [0, 0, 0]);
    expect(sxx).toBeGreaterThanOrEqual(syy);
    expect(Math.abs(sxy) / Math.sqrt(sxx * syy)).toBeLessThan(0.01); // turned onto the axis, not just wide
  });

  it("is deterministic, kept in the index for its generation, and read back by a new process", async () => {
    const store = Store.open(indexDir);
    try {
      const again = await computeMap(store, map.generation, () => library.clusters());
      expect(again.points).toEqual(map.points);
    } finally {
      store.close();
    }
    const reopened = await openIndex(indexDir, { embedder });
    try {
      // Ready at once: no layout runs.
      const status = reopened.mapStatus();
      expect(status.ready && status.map.points).toEqual(map.points);
    } finally {
      reopened.close();
    }
  });
});

describe("the page in a real browser (Chromium)", () => {
  let browser: Browser;
  const problems: string[] = [];

  beforeEach((ctx) => {
    if (!CHROMIUM) ctx.skip(NO_CHROMIUM);
  });
  beforeAll(async () => {
    if (!CHROMIUM) return;
    const { chromium } = await import("playwright-core");
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-sync"] });
    await library.map();
  });
  afterAll(async () => {
    await browser?.close();
  });

  /** A fresh tab, as a person opens one; console errors, page errors and failed requests are collected. */
  async function open(route: string, viewport = { width: 1400, height: 900 }): Promise<Page> {
    const page = await browser.newPage({ viewport });
    page.on("console", (m) => m.type() === "error" && problems.push(`${route}: console: ${m.text()}`));
    page.on("pageerror", (e) => problems.push(`${route}: ${e.message}`));
    page.on("response", (r) => r.status() >= 400 && problems.push(`${route}: ${r.status()} ${r.url()}`));
    await page.goto(new URL(route, base).href);
    await ready(page);
    return page;
  }
  const ready = (page: Page) => page.waitForSelector("body[data-ready=true][data-map=ready]");
  const hitIds = (page: Page) => page.$$eval("#side li.hit", (items) => items.map((li) => (li as HTMLElement).dataset.id));
  const mapState = (page: Page) => page.evaluate(() => (window as unknown as { papersiftMap: { state: Record<string, unknown> } }).papersiftMap.state);

  it("URLs: a search and a paper have their own, Back and Forward move between them, a fresh tab shows the same view", async () => {
    const page = await open("/");
    await page.fill("#q", "galaxy study");
    await page.press("#q", "Enter");
    await page.waitForURL(/\?q=galaxy\+study$/);
    await ready(page);
    const results = await hitIds(page);
    expect(results).toHaveLength(10);
    const expected = await library.search("galaxy study", { k: 10 });
    expect(results).toEqual(expected.results.map((r) => r.id));

    await page.click("#side li.hit >> nth=1 >> a.title");
    await page.waitForURL(`**/paper/${results[1]}`);
    await ready(page);
    expect(await page.getAttribute("article.paper", "data-id")).toBe(results[1]);
    expect(await page.textContent("article.paper .abstract")).toBe(library.paper(results[1]!).abstract);

    await page.goBack();
    await page.waitForURL(/\?q=galaxy\+study$/);
    await ready(page);
    expect(await hitIds(page)).toEqual(results);
    expect(await page.inputValue("#q")).toBe("galaxy study");
    await page.goForward();
    await ready(page);
    expect(await page.getAttribute("article.paper", "data-id")).toBe(results[1]);

    // Filters and mode live in the URL too: a fresh tab on it shows the same results and the same form.
    const filtered = "/?q=galaxy+study&mode=dense&category=x.galaxy&since=2025-03&until=2026";
    const fresh = await open(filtered);
    const expectedFiltered = await library.search("galaxy study", { k: 10, mode: "dense", category: ["x.galaxy"], since: "2025-03", until: "2026" });
    expect(await hitIds(fresh)).toEqual(expectedFiltered.results.map((r) => r.id));
    expect([await fresh.inputValue("#mode"), await fresh.inputValue("#category"), await fresh.inputValue("#since"), await fresh.inputValue("#until")]).toEqual(["dense", "x.galaxy", "2025-03", "2026"]);
    const paperTab = await open(`/paper/${results[1]}`);
    expect(await paperTab.getAttribute("article.paper", "data-id")).toBe(results[1]);
    await Promise.all([page.close(), fresh.close(), paperTab.close()]);
  });

  it("date and category filters in the form narrow the search, and say so in the URL", async () => {
    const page = await open("/?q=robot+study");
    await page.selectOption("#category", "x.robot");
    await page.waitForURL(/category=x.robot/);
    await ready(page);
    await page.fill("#since", "2026-01");
    await page.press("#since", "Enter");
    await page.waitForURL(/since=2026-01/);
    await ready(page);
    const ids = await hitIds(page);
    expect(ids.length).toBeGreaterThan(0);
    for (const id of ids) {
      const meta = library.paper(id!).meta!;
      expect(meta.categories).toContain("x.robot");
      expect(String(meta.date) >= "2026-01").toBe(true);
    }
    await page.close();
  });

  it("keyboard: / focuses the search, arrows move through the results, Enter opens, Esc goes back; focus is visible", async () => {
    const page = await open("/");
    await page.keyboard.press("/");
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("q");
    await page.keyboard.type("compiler study");
    await page.keyboard.press("Enter");
    await page.waitForURL(/\?q=compiler\+study$/);
    await ready(page);
    const ids = await hitIds(page);
    const focusedId = () => page.evaluate(() => (document.activeElement?.closest("li.hit") as HTMLElement | null)?.dataset.id ?? document.activeElement?.id);
    await page.keyboard.press("ArrowDown");
    expect(await focusedId()).toBe(ids[0]);
    await page.keyboard.press("ArrowDown");
    await page.keyboard.press("ArrowDown");
    await page.keyboard.press("ArrowUp");
    expect(await focusedId()).toBe(ids[1]);
    // The focused result is visibly marked, and its paper is ringed on the map.
    expect(await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle)).not.toBe("none");
    expect((await mapState(page)).hovered).toBe(ids[1]);
    await page.keyboard.press("Enter");
    await page.waitForURL(`**/paper/${ids[1]}`);
    await ready(page);
    await page.keyboard.press("ArrowDown");
    expect(await page.evaluate(() => document.activeElement?.closest("article.paper li.hit") !== null)).toBe(true);
    await page.keyboard.press("Escape");
    await page.waitForURL(/\?q=compiler\+study$/);
    await ready(page);
    expect(await hitIds(page)).toEqual(ids);
    await page.close();
  });

  it("the map: rings carry the results' ranks, hovering rings one, zoom keeps the point under the cursor, labels never overlap or leave the canvas", async () => {
    const page = await open("/?q=soil+study");
    const ids = await hitIds(page);
    expect((await mapState(page)).rings).toEqual(ids);
    await page.hover("#side li.hit >> nth=2");
    expect((await mapState(page)).hovered).toBe(ids[2]);

    const position = (id: string) => page.evaluate((i) => (window as unknown as { papersiftMap: { screenPosition(id: string): { x: number; y: number } } }).papersiftMap.screenPosition(i), id);
    // Zoom with the wheel over the first hit: the point stays where it was relative to the cursor, only
    // scaled by the zoom (the cursor sits on whole pixels, the point need not).
    const before = await position(ids[0]!);
    const cursor = { x: Math.round(before.x), y: Math.round(before.y) };
    await page.mouse.move(cursor.x, cursor.y);
    for (let i = 0; i < 4; i++) await page.mouse.wheel(0, -300);
    await page.waitForFunction(() => (window as unknown as { papersiftMap: { state: { scale: number } } }).papersiftMap.state.scale > 5);
    const zoom = ((await mapState(page)) as { scale: number }).scale;
    const after = await position(ids[0]!);
    expect(after.x - cursor.x).toBeCloseTo((before.x - cursor.x) * zoom, 1);
    expect(after.y - cursor.y).toBeCloseTo((before.y - cursor.y) * zoom, 1);

    const labelsFit = async () => {
      const { labels } = (await mapState(page)) as { labels: { x: number; y: number; w: number; h: number }[] };
      const canvas = await page.$eval("#map", (c) => [(c as HTMLCanvasElement).width, (c as HTMLCanvasElement).height]);
      for (const [i, a] of labels.entries()) {
        expect(a.x >= 0 && a.y >= 0 && a.x + a.w <= canvas[0]! && a.y + a.h <= canvas[1]!).toBe(true);
        for (const b of labels.slice(i + 1)) expect(a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h).toBe(false);
      }
      return labels.length;
    };
    expect(await labelsFit()).toBeGreaterThan(0);
    await page.click("#zoom-reset");
    await page.waitForFunction(() => Math.abs((window as unknown as { papersiftMap: { state: { scale: number } } }).papersiftMap.state.scale - 1) < 1e-9);
    expect(await labelsFit()).toBeGreaterThan(0);
    await page.click("#zoom-in");
    await page.waitForFunction(() => (window as unknown as { papersiftMap: { state: { scale: number } } }).papersiftMap.state.scale > 1.5);
    await labelsFit();
    await page.click("#zoom-out");
    await page.waitForFunction(() => Math.abs((window as unknown as { papersiftMap: { state: { scale: number } } }).papersiftMap.state.scale - 1) < 1e-6);
    await page.close();
  });

  it("the legend folds away, and a topic there filters the map and the list to it", async () => {
    const page = await open("/");
    const topic = (await library.map()).topics[0]!;
    await page.click(`#legend a[data-topic="${topic.id}"]`);
    await page.waitForURL(`**/topic/${topic.id}`);
    await ready(page);
    expect((await mapState(page)).topic).toBe(topic.id);
    const listed = await hitIds(page);
    const members = new Set((await library.map()).points.filter((p) => p.topic === topic.id).map((p) => p.id));
    expect(listed.length).toBe(Math.min(300, members.size));
    expect(listed.every((id) => members.has(id!))).toBe(true);
    await page.click("#legend summary");
    expect(await page.evaluate(() => (document.getElementById("legend") as HTMLDetailsElement).open)).toBe(false);
    await page.goBack();
    await ready(page);
    expect((await mapState(page)).topic).toBeNull();
    await page.close();
  });

  it("For you and a topic's list show each paper's authors, year and links, as search results do", async () => {
    const star = await fetch(new URL("/api/tags/starred/g3", base), { method: "PUT" });
    expect(star.status).toBe(200);
    const biblio = (page: Page) => page.$$eval("#side li.hit", (items) => items.map((li) => li.querySelector(".biblio")?.textContent ?? ""));
    const page = await open("/for-you");
    await page.waitForSelector("body[data-view=for-you] #side li.hit");
    const forYou = await biblio(page);
    expect(forYou.length).toBeGreaterThan(0);
    for (const line of forYou) expect(line).toMatch(/^Ada Lovelace.* · 202[456]$/);
    const topic = (await library.map()).topics[0]!;
    await page.goto(new URL(`/topic/${topic.id}`, base).href);
    await ready(page);
    const listed = await biblio(page);
    expect(listed.length).toBe(Math.min(300, topic.size));
    for (const line of listed) expect(line).toMatch(/^Ada Lovelace.* · 202[456]$/);
    await fetch(new URL("/api/tags/starred/g3", base), { method: "DELETE" });
    await page.close();
  });

  it("at phone width (390 px): one column, nothing wider than the screen, the map below the results", async () => {
    for (const route of ["/", "/?q=opera+study", `/paper/g5`, `/topic/${(await library.map()).topics[0]!.id}`]) {
      const page = await open(route, { width: 390, height: 844 });
      const layout = await page.evaluate(() => ({
        overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
        side: document.getElementById("side")!.getBoundingClientRect().toJSON(),
        map: document.getElementById("mapwrap")!.getBoundingClientRect().toJSON(),
      }));
      expect(layout.overflow, route).toBeLessThanOrEqual(0);
      expect(layout.side.width, route).toBeGreaterThan(370);
      expect(layout.map.top, route).toBeGreaterThanOrEqual(layout.side.bottom - 1);
      await page.close();
    }
  });

  it("nothing went wrong on the way: no console error, no failed request (the favicon included)", () => {
    expect(problems).toEqual([]);
  });
});
