// npm run bench:serve — `papersift serve` on the bundled index: warm /api/search latency over 200 questions,
// throughput with 4 concurrent clients, the server's peak RSS, and how long the page takes to be usable
// (search box and map drawn) in Debian's chromium. `--json` prints JSON only.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { readCorpus } from "../src/corpus/index.ts";
import { ingest } from "../src/index.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const asJson = process.argv.includes("--json");
const log = (line = "") => asJson || console.log(line);
const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;
const round = (x: number) => Math.round(x * 10) / 10;

const work = mkdtempSync(path.join(tmpdir(), "papersift-bench-serve-"));
const index = path.join(work, "index");
await ingest({ corpus: path.join(root, "corpus"), index });

// 200 questions: the question set's 35, the 71 titles, then each abstract's first and second sentences.
const papers = readCorpus(path.join(root, "corpus")).papers;
const questions = (JSON.parse(readFileSync(path.join(root, "tests/fixtures/questions.json"), "utf8")).questions as { question: string }[]).map((q) => q.question);
const sentence = (text: string, n: number) => text.split(/(?<=\.)\s/)[n] ?? text;
const pool = [...questions, ...papers.map((p) => p.title), ...papers.map((p) => sentence(p.abstract, 0)), ...papers.map((p) => sentence(p.abstract, 1))];
const asked = pool.slice(0, 200);

const started = performance.now();
const server = spawn(process.execPath, [path.join(root, "bin", "papersift.js"), "serve", "--port", "0", "--index", index]);
const base = await new Promise<string>((resolve, reject) => {
  let out = "";
  server.stdout.on("data", (d) => {
    out += d;
    const m = /at (http:\/\/\S+\/)/.exec(out);
    if (m) resolve(m[1]!);
  });
  server.on("exit", (code) => reject(new Error(`serve exited with ${code}`)));
});
const upSeconds = (performance.now() - started) / 1000;
const search = async (q: string) => {
  const t = performance.now();
  const response = await fetch(new URL(`api/search?${new URLSearchParams({ q, k: "10" })}`, base));
  if (!response.ok) throw new Error(`${response.status} for ${q}`);
  await response.json();
  return performance.now() - t;
};

// Warm: each question once to fill caches the way a session would, then timed.
for (const q of asked.slice(0, 20)) await search(q);
const times: number[] = [];
for (const q of asked) times.push(await search(q));

// 4 concurrent clients, 100 requests each, new questions every time (titles and sentences, reversed).
const concurrent = [...pool].reverse();
const t0 = performance.now();
await Promise.all(
  [0, 1, 2, 3].map(async (client) => {
    for (let i = 0; i < 100; i++) await search(concurrent[(client * 100 + i) % concurrent.length]! + (i >= concurrent.length / 4 ? ` ${client}` : ""));
  }),
);
const perSecond = 400 / ((performance.now() - t0) / 1000);
const rssMb = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${server.pid}/status`, "utf8"))![1]) / 1024;

// Page ready: from navigation to the search box usable and the map drawn, in a real browser.
let pageMs: number | null = null;
if (existsSync("/usr/bin/chromium")) {
  const { chromium } = await import("playwright-core");
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"] });
  const page = await browser.newPage();
  const samples: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    await page.goto(base);
    await page.waitForSelector("body[data-ready=true]");
    await page.fill("#q", "x");
    samples.push(performance.now() - t);
  }
  pageMs = quantile(samples, 0.5);
  await browser.close();
}
server.kill();
rmSync(work, { recursive: true, force: true });

const result = { questions: asked.length, p50ms: round(quantile(times, 0.5)), p95ms: round(quantile(times, 0.95)), perSecond4Clients: round(perSecond), rssMb: Math.round(rssMb), upSeconds: round(upSeconds), pageReadyMs: pageMs === null ? null : Math.round(pageMs) };
log(`papersift serve on the bundled index (${papers.length} papers)\n`);
log("| measure | value | target |");
log("|---|---|---|");
log(`| warm /api/search p50, ${asked.length} questions | ${result.p50ms} ms | ≤ 20 ms |`);
log(`| warm /api/search p95 | ${result.p95ms} ms | ≤ 40 ms |`);
log(`| throughput, 4 concurrent clients (400 new questions) | ${result.perSecond4Clients} requests/s | ≥ 50 |`);
log(`| server peak RSS | ${result.rssMb} MB | ≤ 500 MB |`);
log(`| page ready (search box usable, map drawn), median of 5 | ${result.pageReadyMs ?? "no chromium"} ms | ≤ 1,500 ms |`);
log(`| server start to listening (model and map loaded) | ${result.upSeconds} s | |`);
if (asJson) console.log(JSON.stringify(result));
