// npm run bench:ingest — ingest cost on the bundled corpus (full, no change, one paper added) and on a
// synthetic corpus of 10,000 papers made offline by recombining the bundled abstracts' sentences.
// Each ingest runs in a fresh process (as the CLI would: model load included where one is needed), which
// reports its own wall time and peak RSS. `--papers N` changes the synthetic size (0 skips it);
// `--scale N` the size of the no-inference row (default 200,000; 0 skips it);
// `--arxiv DIR` adds a full ingest of DIR/corpus.jsonl (the real arXiv sample); `--json` prints JSON only.
// Library formats: the readers' parse speed on a 50,000-entry .bib and .ris (`--library N` changes the
// size, 0 skips it; `--library-only` runs only this part), each read in a fresh process.
import { spawnSync } from "node:child_process";
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { seededRandom } from "./random.ts";

const root = fileURLToPath(new URL("..", import.meta.url));

if (process.argv[2] === "--child") {
  // Child: one ingest, then (optionally) embedding-only throughput on a sample of the same chunks.
  // "stand-in" as the sample: the deterministic stand-in embedder (384 dims), so no inference at all.
  const [corpus, index, sample] = process.argv.slice(3);
  const started = performance.now();
  const { ingest } = await import("../src/index.ts");
  const embedder = sample === "stand-in" ? (await import("../tests/stand-in-embedder.ts")).standInEmbedder(384) : undefined;
  // Seconds from the start of each phase to the start of the next (embedding happens inside "write").
  const phases: Record<string, number> = {};
  let current = "start";
  let since = performance.now();
  const onProgress = ({ phase }: { phase: string }) => {
    if (phase === current) return;
    const now = performance.now();
    phases[current] = (phases[current] ?? 0) + (now - since) / 1000;
    [current, since] = [phase, now];
  };
  const summary = await ingest({ corpus: corpus!, index: index! }, { embedder, onProgress });
  phases[current] = (phases[current] ?? 0) + (performance.now() - since) / 1000;
  const seconds = (performance.now() - started) / 1000;
  // CPU seconds of the main thread and of the whole process (worker threads included, also finished ones):
  // unlike wall time, they hold on a busy machine. Linux only.
  const cpuOf = (stat: string) => {
    try {
      const text = readFileSync(stat, "utf8");
      const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
      return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime (clock ticks, USER_HZ 100)
    } catch {
      return null;
    }
  };
  const cpu = { main: cpuOf(`/proc/self/task/${process.pid}/stat`), process: cpuOf("/proc/self/stat") };
  let embedOnly: number | null = null;
  if (Number(sample) > 0) {
    const { Store } = await import("../src/store/store.ts");
    const { loadEmbedder } = await import("../src/embed.ts");
    const store = Store.open(index!);
    // Every k-th chunk, so the sample has the corpus's mix of lengths.
    const total = store.counts().chunks;
    const every = Math.max(1, Math.floor(total / Number(sample)));
    const labels = (store.db.prepare("SELECT rowid FROM chunks ORDER BY rowid").pluck().all() as number[]).filter((_, i) => i % every === 0).slice(0, Number(sample));
    const texts = [...store.chunksByLabel(labels).values()].map((c) => c.text);
    store.close();
    const embedder = await loadEmbedder();
    const t = performance.now();
    await embedder.embed(texts);
    embedOnly = texts.length / ((performance.now() - t) / 1000);
  }
  const { plan: _plan, problems: _problems, ...counts } = summary; // ids of 200k papers would flood the pipe
  // Awaited, so a busy machine cannot let this process go on into the parent's part below before it exits.
  await new Promise((resolve) => process.stdout.write(JSON.stringify({ summary: counts, seconds, phases, cpu, maxRssMb: process.resourceUsage().maxRSS / 1024, embedOnly }) + "\n", resolve));
  process.exit(0);
}

if (process.argv[2] === "--parse-child") {
  // Child: read one library file into normalised papers, as ingest's first pass does.
  const { readLibraryFile } = await import("../src/corpus/index.ts");
  const started = performance.now();
  const read = readLibraryFile(process.argv[3]!);
  const seconds = (performance.now() - started) / 1000;
  const out = { papers: read.papers.length, problems: read.problems.length, seconds, maxRssMb: process.resourceUsage().maxRSS / 1024 };
  // Synchronously: the script's top level must not go on to build a library of its own.
  writeSync(1, JSON.stringify(out) + "\n");
  process.exit(0);
}

const asJson = process.argv.includes("--json");
const log = (line = "") => asJson || console.log(line);
const papersFlag = process.argv.indexOf("--papers");
const SYNTHETIC = papersFlag > 0 ? Number(process.argv[papersFlag + 1]) : 10_000;

interface Run {
  summary: { papers: number; chunks: number; embedded: number; reused: number; embedSeconds: number };
  phases: Record<string, number>;
  cpu: { main: number | null; process: number | null };
  seconds: number;
  maxRssMb: number;
  embedOnly: number | null;
}

function run(corpus: string, index: string, sample: number | "stand-in" = 0): Run {
  const child = spawnSync(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url), "--child", corpus, index, String(sample)], {
    cwd: root,
    encoding: "utf8",
    maxBuffer: 64 * 2 ** 20,
  });
  if (child.status !== 0) throw new Error(`ingest failed: ${child.stderr}`);
  return JSON.parse(child.stdout.trim().split("\n").pop()!) as Run;
}

/**
 * A library export of `n` entries in BibTeX and in RIS, made offline from the bundled abstracts with a
 * fixed seed, shaped like Zotero's exports: LaTeX accents and case-protecting braces in about a third of
 * the BibTeX names and titles, keywords, a DOI, an arXiv eprint on every fifth, one entry in 20 without an
 * abstract.
 */
function writeLibrary(dir: string, n: number, abstracts: string[], titleWords: string[]): { bib: string; ris: string } {
  const random = seededRandom(11);
  const pick = <T>(xs: T[]) => xs[Math.floor(random() * xs.length)]!;
  const people = [["M{\\\"u}ller", "J{\\\"o}rg", "Müller", "Jörg"], ["{\\O}rsted", "Kirsten", "Ørsted", "Kirsten"], ["Wa{\\l}{\\k{e}}sa", "Ludmi{\\l}a", "Wałęsa", "Ludmiła"], ["Smith", "Anne", "Smith", "Anne"], ["Chen", "Wei", "Chen", "Wei"], ["Okafor", "Chidi", "Okafor", "Chidi"]];
  const bib: string[] = [];
  const ris: string[] = [];
  for (let i = 0; i < n; i++) {
    const words = Array.from({ length: 6 + Math.floor(random() * 5) }, () => pick(titleWords));
    const latex = random() < 0.33;
    const title = latex ? `{${words[0]}} ${words.slice(1).join(" ")} with {\\"U}ber-{Models}` : words.join(" ");
    const plainTitle = latex ? `${words.join(" ")} with Über-Models` : title;
    const authors = Array.from({ length: 1 + Math.floor(random() * 4) }, () => pick(people));
    const abstract = i % 20 === 7 ? "" : pick(abstracts);
    const year = 2000 + (i % 26);
    const arxiv = i % 5 === 0 ? `${String(year % 100).padStart(2, "0")}${String(1 + (i % 12)).padStart(2, "0")}.${String(10000 + (i % 89999))}` : null;
    bib.push(
      `@article{key${i},\n  title = {${title}},\n  author = {${authors.map((a) => `${latex ? a[0] : a[2]}, ${latex ? a[1] : a[3]}`).join(" and ")}},\n` +
        `  journal = {Journal of ${pick(titleWords)} Studies},\n  year = {${year}},\n  month = ${["jan", "mar", "jun", "oct"][i % 4]},\n  doi = {10.5555/bench.${i}},\n` +
        (arxiv ? `  eprint = {${arxiv}},\n  archiveprefix = {arXiv},\n` : "") +
        `  keywords = {${pick(titleWords)}, ${pick(titleWords)}},\n  langid = {english},\n  file = {/home/user/Zotero/storage/ABCD${i}/paper.pdf},\n` +
        (abstract ? `  abstract = {${abstract}},\n` : "") +
        "}\n",
    );
    ris.push(
      `TY  - JOUR\nID  - key${i}\nTI  - ${plainTitle}\n${authors.map((a) => `AU  - ${a[2]}, ${a[3]}\n`).join("")}PY  - ${year}/0${1 + (i % 9)}/15/\n` +
        `T2  - Journal of ${pick(titleWords)} Studies\nDO  - 10.5555/bench.${i}\nKW  - ${pick(titleWords)}\nKW  - ${pick(titleWords)}\n` +
        (abstract ? `AB  - ${abstract}\n` : "") +
        `UR  - https://example.org/${i}\nER  - \n`,
    );
  }
  const files = { bib: path.join(dir, "library.bib"), ris: path.join(dir, "library.ris") };
  writeFileSync(files.bib, bib.join("\n"));
  writeFileSync(files.ris, ris.join("\n"));
  return files;
}

interface ParseRun {
  papers: number;
  problems: number;
  seconds: number;
  maxRssMb: number;
}

function parseRun(file: string): ParseRun {
  const child = spawnSync(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url), "--parse-child", file], { cwd: root, encoding: "utf8" });
  if (child.status !== 0) throw new Error(`reading ${file} failed: ${child.stderr}`);
  return JSON.parse(child.stdout.trim().split("\n").pop()!) as ParseRun;
}

const dirBytes = (dir: string) => readdirSync(dir).reduce((n, f) => n + statSync(path.join(dir, f)).size, 0);
const work = mkdtempSync(path.join(tmpdir(), "papersift-bench-ingest-"));

const { readCorpus } = await import("../src/corpus/index.ts");
const { splitSentences } = await import("../src/chunk.ts");
const bundled = readCorpus(path.join(root, "corpus")).papers;

// 0. Library formats: parse speed of the readers (target: ≥ 5,000 entries/s, ≤ 500 MB peak RSS).
const libraryFlag = process.argv.indexOf("--library");
const LIBRARY = libraryFlag > 0 ? Number(process.argv[libraryFlag + 1]) : 50_000;
let library: { entries: number; bib: ParseRun; ris: ParseRun } | null = null;
if (LIBRARY > 0) {
  const dir = path.join(work, "library");
  mkdirSync(dir);
  const files = writeLibrary(dir, LIBRARY, bundled.map((p) => p.abstract), [...new Set(bundled.flatMap((p) => p.title.split(/\s+/)))]);
  library = { entries: LIBRARY, bib: parseRun(files.bib), ris: parseRun(files.ris) };
  log(`Library formats: reading a ${LIBRARY.toLocaleString("en")}-entry export into normalised papers (each a fresh process)\n`);
  log("| file | MB | entries/s | papers | skipped (no abstract) | seconds | peak RSS (MB) |");
  log("|---|---|---|---|---|---|---|");
  for (const [name, file, r] of [["BibTeX (.bib)", files.bib, library.bib], ["RIS (.ris)", files.ris, library.ris]] as const) {
    log(`| ${name} | ${(statSync(file).size / 2 ** 20).toFixed(1)} | ${(LIBRARY / r.seconds).toFixed(0)} | ${r.papers} | ${r.problems} | ${r.seconds.toFixed(2)} | ${r.maxRssMb.toFixed(0)} |`);
  }
  log();
  rmSync(dir, { recursive: true, force: true });
}
if (process.argv.includes("--library-only")) {
  if (asJson) console.log(JSON.stringify({ library }));
  rmSync(work, { recursive: true, force: true });
  process.exit(0);
}

// 1. The bundled corpus.
const corpus = path.join(work, "corpus");
cpSync(path.join(root, "corpus"), corpus, { recursive: true });
const index = path.join(work, "index");
const full = run(corpus, index);
const noChange = run(corpus, index);
writeFileSync(
  path.join(corpus, "one-more.md"),
  "# Reward Shaping for Household Robots from Spoken Corrections\n\nWe study how spoken corrections from people can be turned into dense rewards for household robots. " +
    bundled[3]!.abstract,
);
const oneAdded = run(corpus, index);

log("Ingest benchmark, bundled corpus (each row a fresh process)\n");
log("| run | seconds | ratio to full | chunks embedded | peak RSS (MB) |");
log("|---|---|---|---|---|");
for (const [name, r] of [["full ingest", full], ["no change", noChange], ["one paper added", oneAdded]] as const) {
  log(`| ${name} | ${r.seconds.toFixed(2)} | ${(r.seconds / full.seconds).toFixed(3)} | ${r.summary.embedded} | ${r.maxRssMb.toFixed(0)} |`);
}

// 2. A real export, if given: the whole ingest, and the embedder alone on 300 of its chunks.
const arxivFlag = process.argv.indexOf("--arxiv");
let arxiv: (Run & { chunksPerSecond: number; bytesPerChunk: number }) | null = null;
if (arxivFlag > 0) {
  const source = path.join(work, "arxiv");
  mkdirSync(source);
  symlinkSync(path.resolve(process.argv[arxivFlag + 1]!, "corpus.jsonl"), path.join(source, "corpus.jsonl"));
  const arxivIndex = path.join(work, "arxiv-index");
  const r = run(source, arxivIndex, 300);
  arxiv = { ...r, chunksPerSecond: r.summary.embedded / r.seconds, bytesPerChunk: dirBytes(arxivIndex) / r.summary.chunks };
  log(`\nReal export: ${r.summary.papers} papers, ${r.summary.chunks} chunks (fresh process, default model)\n`);
  // Two references: the embedder alone afterwards on 300 chunks spread over the corpus, and the rate inside
  // this very ingest's embed calls (same chunks, same moment: the fairest measure of ingest's own overhead).
  const inRun = r.summary.embedded / r.summary.embedSeconds;
  log("| full ingest | chunks/s | embedder alone, 300 spread chunks | ingest ÷ embedder | embedding inside the ingest | ingest ÷ that | peak RSS | bytes per chunk |");
  log("|---|---|---|---|---|---|---|---|");
  log(`| ${(r.seconds / 60).toFixed(1)} min | ${arxiv.chunksPerSecond.toFixed(1)} | ${r.embedOnly!.toFixed(1)} | ${(arxiv.chunksPerSecond / r.embedOnly!).toFixed(2)}× | ${inRun.toFixed(1)} chunks/s | ${(arxiv.chunksPerSecond / inRun).toFixed(2)}× | ${r.maxRssMb.toFixed(0)} MB | ${arxiv.bytesPerChunk.toFixed(0)} |`);
}

const sentences = bundled.flatMap((p) => splitSentences(p.abstract).map((s) => p.abstract.slice(s.start, s.end)));
const titleWords = [...new Set(bundled.flatMap((p) => p.title.split(/\s+/)))];
/** Papers made offline from the bundled ones' title words and abstract sentences, with a fixed seed. */
function recombiner(seed: number) {
  const random = seededRandom(seed);
  const pick = <T>(xs: T[]) => xs[Math.floor(random() * xs.length)]!;
  const paper = () => ({
    title: Array.from({ length: 5 + Math.floor(random() * 6) }, () => pick(titleWords)).join(" "),
    abstract: Array.from({ length: 6 + Math.floor(random() * 5) }, () => pick(sentences)).join(" "),
  });
  return { pick, paper };
}

// 3. Scale without inference: a large synthetic .jsonl, embedded by the deterministic stand-in (384 dims,
// as the default model), so the row measures reading, planning, SQLite, FTS and HNSW.
const scaleFlag = process.argv.indexOf("--scale");
const SCALE = scaleFlag > 0 ? Number(process.argv[scaleFlag + 1]) : 200_000;
let scale: { papers: number; full: Run; noChange: Run; oneAdded: Run; bytesPerChunk: number } | null = null;
if (SCALE > 0) {
  const { pick, paper } = recombiner(7);
  const dir = path.join(work, "scale");
  mkdirSync(dir);
  const file = path.join(dir, "papers.jsonl");
  writeFileSync(file, "");
  for (let i = 0; i < SCALE; ) {
    const lines: string[] = [];
    for (const end = Math.min(SCALE, i + 10_000); i < end; i++) {
      const { title, abstract } = paper();
      lines.push(JSON.stringify({ id: `scale-${i}`, title, abstract, categories: pick(["cs.LG", "cs.CL", "cs.CV stat.ML"]), update_date: "2026-06-01" }));
    }
    appendFileSync(file, lines.join("\n") + "\n");
  }
  const scaleIndex = path.join(work, "scale-index");
  const full = run(dir, scaleIndex, "stand-in");
  const noChange = run(dir, scaleIndex, "stand-in");
  appendFileSync(file, JSON.stringify({ id: "scale-extra", title: "One More Paper", abstract: bundled[3]!.abstract }) + "\n");
  const oneAdded = run(dir, scaleIndex, "stand-in");
  scale = { papers: full.summary.papers, full, noChange, oneAdded, bytesPerChunk: dirBytes(scaleIndex) / full.summary.chunks };
  log(`\nScale, no inference: ${full.summary.papers.toLocaleString("en")} synthetic papers, ${full.summary.chunks.toLocaleString("en")} chunks, stand-in embedder (384 dims)\n`);
  // The stand-in's own time (hashing words into vectors) is shown apart: it stands for inference.
  // CPU seconds of the main thread and of the other threads (the HNSW worker), which a busy machine does not
  // inflate as it does wall time.
  const cpu = (r: Run) => (r.cpu.main === null || r.cpu.process === null ? "–" : `${r.cpu.main.toFixed(1)} / ${(r.cpu.process - r.cpu.main).toFixed(1)}`);
  const row = (name: string, r: Run, bytes = "") => {
    const own = r.seconds - r.summary.embedSeconds;
    log(`| ${name} | ${r.seconds.toFixed(1)} | ${r.summary.embedSeconds.toFixed(1)} | ${(r.summary.papers / own).toFixed(0)} | ${cpu(r)} | ${r.maxRssMb.toFixed(0)} MB | ${bytes} |`);
  };
  log("| run | seconds | of which stand-in embedding | papers/s without it | CPU s: main thread / other threads | peak RSS | bytes per chunk |");
  log("|---|---|---|---|---|---|---|");
  row("full ingest", full, scale.bytesPerChunk.toFixed(0));
  row("no change", noChange);
  row("one paper added", oneAdded);
  const byPhase = (name: string, r: Run) => {
    const p = r.phases;
    log(`${name} by phase: start ${(p.start ?? 0).toFixed(1)} s, read ${(p.read ?? 0).toFixed(1)} s, chunk ${(p.chunk ?? 0).toFixed(1)} s, ` +
      `write (with the stand-in's ${r.summary.embedSeconds.toFixed(1)} s) ${((p.plan ?? 0) + (p.embed ?? 0) + (p.write ?? 0)).toFixed(1)} s, ` +
      `HNSW after the last batch ${(p.index ?? 0).toFixed(1)} s`);
  };
  log("");
  byPhase("full ingest", full);
  byPhase("one paper added", oneAdded);
  rmSync(dir, { recursive: true, force: true });
}

// 4. Synthetic corpus: titles and abstracts recombined from the bundled ones with a fixed seed.
const synthetic = path.join(work, "synthetic");
mkdirSync(synthetic);
if (SYNTHETIC <= 0) {
  if (asJson) console.log(JSON.stringify({ library, bundled: { full, noChange, oneAdded }, arxiv, scale }));
  rmSync(work, { recursive: true, force: true });
  process.exit(0);
}
const lines: string[] = [];
const recombined = recombiner(42);
for (let i = 0; i < SYNTHETIC; i++) lines.push(JSON.stringify({ id: `synthetic-${i}`, ...recombined.paper() }));
writeFileSync(path.join(synthetic, "papers.jsonl"), lines.join("\n") + "\n");
const bigIndex = path.join(work, "big-index");
const big = run(synthetic, bigIndex, 300);
const throughput = big.summary.embedded / big.seconds;
const bytesPerChunk = dirBytes(bigIndex) / big.summary.chunks;
const bigNoChange = run(synthetic, bigIndex);
cpSync(path.join(corpus, "one-more.md"), path.join(synthetic, "one-more.md"));
const bigOneAdded = run(synthetic, bigIndex);

log(`\nSynthetic corpus: ${big.summary.papers} papers, ${big.summary.chunks} chunks\n`);
log("| measure | value |");
log("|---|---|");
log(`| full ingest | ${big.seconds.toFixed(1)} s |`);
log(`| no-change re-ingest | ${bigNoChange.seconds.toFixed(2)} s (${((100 * bigNoChange.seconds) / big.seconds).toFixed(2)} % of full), ${bigNoChange.summary.embedded} embedded |`);
log(`| one paper added | ${bigOneAdded.seconds.toFixed(2)} s (${((100 * bigOneAdded.seconds) / big.seconds).toFixed(2)} % of full), ${bigOneAdded.summary.embedded} embedded |`);
log(`| ingest throughput | ${throughput.toFixed(1)} chunks/s |`);
log(`| embedding alone, same process, 300 of the same chunks | ${big.embedOnly!.toFixed(1)} chunks/s |`);
log(`| ingest ÷ embedding alone | ${(throughput / big.embedOnly!).toFixed(2)}× |`);
log(`| peak RSS | ${big.maxRssMb.toFixed(0)} MB |`);
log(`| on disk | ${(dirBytes(bigIndex) / 2 ** 20).toFixed(1)} MB, ${bytesPerChunk.toFixed(0)} bytes per chunk |`);

if (asJson) {
  console.log(JSON.stringify({
    library,
    bundled: { full, noChange, oneAdded },
    arxiv,
    scale,
    synthetic: { ...big, throughput, bytesPerChunk, bytes: dirBytes(bigIndex), noChange: bigNoChange, oneAdded: bigOneAdded },
  }));
}
rmSync(work, { recursive: true, force: true });
