// What every command shares: output, flag parsers and option factories, progress, and opening an index
// (built from the corpus on a fresh clone).
import { availableParallelism } from "node:os";
import path from "node:path";
import { InvalidArgumentError, Option, type Command } from "commander";
import { DEFAULT_CORPUS_DIR, DEFAULT_INDEX_DIR, defaultWorkers, MAX_WORKERS } from "../config.ts";
import { ingest, openIndex, type IngestProgress, type IngestSummary, type PapersiftIndex } from "../index.ts";
import { problemLine } from "../corpus/index.ts";
import { lossLines } from "../ingest.ts";
import { PapersiftError } from "../errors.ts";
import { DEFAULT_MODEL_DIR, vendoredModels } from "../model.ts";
import { isCorruption } from "../store/folder.ts";
import { printable, renderIngest } from "../render.ts";

export const out = (text: string) => process.stdout.write(text);
export const json = (value: unknown) => out(JSON.stringify(value) + "\n");
/**
 * A message on stderr. Its own line breaks are kept (a fix line, a list of candidates); each line is made
 * printable, and whoever quotes a corpus value in a message makes that value printable (one line) first.
 */
export const warn = (text: string) => process.stderr.write(`papersift: ${text.split("\n").map(printable).join("\n")}\n`);

/** A whole-number flag parser. `max` only where the CLI owns the limit (--workers); the library checks the rest and names the option. */
export function integer(name: string, min: number, max = Infinity) {
  return (value: string) => {
    if (!/^-?\d+$/.test(value.trim())) throw new InvalidArgumentError(`${name} must be a whole number`);
    const n = Number(value);
    if (n < min) throw new InvalidArgumentError(`${name} must be at least ${min}`);
    if (n > max) throw new InvalidArgumentError(`${name} is too large (at most ${max})`);
    return n;
  };
}

export function decimal(name: string) {
  return (value: string) => {
    const n = Number(value);
    if (value.trim() === "" || !Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number`);
    return n;
  };
}

const duration = (seconds: number) =>
  seconds < 90 ? `${Math.ceil(seconds)} s` : seconds < 5400 ? `${Math.round(seconds / 60)} min` : `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;

/** Seconds between progress lines when stderr is not a terminal (a log): PAPERSIFT_PROGRESS_SECONDS, default 10. */
function logInterval(): number {
  const seconds = Number(process.env.PAPERSIFT_PROGRESS_SECONDS ?? "10");
  return (Number.isFinite(seconds) && seconds >= 0 ? seconds : 10) * 1000;
}

/**
 * Ingest progress on stderr. On a terminal, a live line: first the plan ("embedding 21,480 new chunks
 * (~9 min), 312 reused"), then "embedding chunks 57/141 · 23/s · ~4 s left" (not with --json: `enabled`
 * false). Elsewhere (a log, nohup, cron) a plain "papersift: embedding chunks 57/141 · …" line every
 * logInterval(), so long work shows in the log and short work adds nothing; stdout is never touched.
 */
export function progressReporter(enabled: boolean): (p: IngestProgress) => void {
  const terminal = process.stderr.isTTY;
  if (!enabled && terminal) return () => {};
  const started = new Map<string, number>();
  const every = terminal ? 100 : logInterval();
  let last = terminal ? -Infinity : performance.now();
  return (p) => {
    if (p.phase === "plan") {
      if (!terminal) return;
      const eta = p.rate ? ` (~${duration(p.done / p.rate)})` : "";
      process.stderr.write(`\r\x1b[2Kembedding ${p.done.toLocaleString("en")} new chunks${eta}, ${(p.total - p.done).toLocaleString("en")} reused\n`);
      return;
    }
    const now = performance.now();
    if (!started.has(p.phase)) started.set(p.phase, now);
    const finished = p.done === p.total;
    if (now - last < every && !(terminal && finished)) return;
    last = now;
    const elapsed = (now - started.get(p.phase)!) / 1000;
    const rate = elapsed > 0 ? p.done / elapsed : 0;
    const left = rate > 0 ? Math.ceil((p.total - p.done) / rate) : 0;
    const what = { read: "read papers", chunk: "chunking papers", embed: "embedding chunks", write: "writing index", index: "updating HNSW" }[p.phase as Exclude<IngestProgress["phase"], "plan">];
    const detail = p.phase === "embed" && rate > 0 ? ` · ${rate.toFixed(0)}/s · ~${duration(left)} left` : "";
    const line = `${what} ${p.done}${p.total ? `/${p.total}` : ""}${detail}`;
    if (!terminal) return warn(line);
    process.stderr.write(`\r\x1b[2K${line}`);
    if (finished) process.stderr.write("\r\x1b[2K");
  };
}

/** Skipped entries and notices on stderr; a corpus with a thousand duplicates should not drown the terminal. */
export function reportCorpus(summary: IngestSummary): void {
  const lines = [
    ...summary.problems.map(problemLine),
    ...summary.notices,
  ];
  const SHOWN = 20;
  for (const line of lines.slice(0, SHOWN)) warn(printable(line));
  if (lines.length > SHOWN) warn(`… and ${lines.length - SHOWN} more (--json lists them all)`);
  // Always last, whatever was cut above: why fewer papers loaded than the export has entries (issue 18 §3).
  for (const line of lossLines(summary.files)) warn(printable(line));
}

/**
 * Open the index; on a fresh clone, build it from the corpus first. A read command never writes into an
 * index that holds papers (issue 17): the build asks ingest for an empty index, checked under its lock, and
 * uses whatever another ingest wrote meanwhile.
 */
export async function open(flags: { index: string; corpus: string; model?: string; json: boolean }): Promise<PapersiftIndex> {
  try {
    return await openIndex(flags.index, { model: flags.model });
  } catch (error) {
    if (!(error instanceof PapersiftError && error.code === "INDEX_MISSING")) throw error;
  }
  warn(`no index at ${flags.index} yet: building it from ${flags.corpus} (once)`);
  let summary;
  try {
    summary = await ingest({ corpus: flags.corpus, index: flags.index, model: flags.model, onlyIfEmpty: true }, { onProgress: progressReporter(true), onWait: warn });
  } catch (error) {
    if (error instanceof PapersiftError && error.code === "INDEX_NOT_EMPTY") return openIndex(flags.index, { model: flags.model });
    throw error;
  }
  reportCorpus(summary);
  if (!flags.json) warn(renderIngest(summary).trim());
  return openIndex(flags.index, { model: flags.model });
}


export const indexOption = () => new Option("--index <dir>", "index folder (env PAPERSIFT_INDEX)").default(DEFAULT_INDEX_DIR);
export const corpusOption = () => new Option("--corpus <dir>", "corpus folder (env PAPERSIFT_CORPUS)").default(DEFAULT_CORPUS_DIR);
/**
 * Help text quotes the code's defaults, never copies of them (issue 17: it called MiniLM the default long
 * after bge-small became it): the default model, and a manifest setting per vendored model.
 */
export const defaultModelName = () => path.basename(DEFAULT_MODEL_DIR);
export const defaultModelId = () => vendoredModels().find((m) => m.dir === DEFAULT_MODEL_DIR)?.manifest.id ?? defaultModelName();
export const perModel = (key: "lexicalWeight" | "clusterThreshold") =>
  vendoredModels().map((m) => `${m.manifest[key]} for ${path.basename(m.dir)}`).join(", ");
export const modelOption = () =>
  new Option(
    "--model <name-or-dir>",
    `embedding model: a vendored one by name (${vendoredModels().map((m) => path.basename(m.dir)).join(", ")}) or a folder in transformers.js layout (default: ${defaultModelName()}; an index keeps the model it was built with)`,
  );
/** --workers for ingest and serve: embedding sessions in worker threads (embed.ts), the same default and limit for both. */
export const workersOption = (description: string) =>
  new Option("--workers <n>", `${description} (at most ${MAX_WORKERS}; more than the cores only costs memory)`)
    .argParser(integer("--workers", 1, MAX_WORKERS))
    .default(defaultWorkers(), "one per core, at most 4");

/** Each session holds its own copy of the model, so sessions past the cores cost memory and gain nothing. */
export function warnPastCores(workers: number): void {
  const cores = availableParallelism();
  if (workers > cores) {
    warn(`--workers ${workers} is more than this machine's ${cores} cores: each session holds its own copy of the model (~100–150 MB) and they only share the cores`);
  }
}
export const jsonOption = () => new Option("--json", "print JSON for scripts").default(false);
/** --category (repeatable), --since, --until, --author: the same filters on search, related and clusters. */
export function filterOptions(command: Command): Command {
  return command
    .addOption(new Option("--category <prefix>", "only papers with a category or keyword starting with this (cs.CL, cs. for all of cs, a keyword or MeSH term); repeat for any of several").argParser((value: string, previous: string[] = []) => [...previous, value]))
    .addOption(new Option("--since <date>", "only papers dated on or after this: YYYY, YYYY-MM or YYYY-MM-DD"))
    .addOption(new Option("--until <date>", "only papers dated on or before the end of this: YYYY, YYYY-MM or YYYY-MM-DD"))
    .addOption(new Option("--author <name>", "only papers with an author matching this (part of a name; case and accents ignored, ø/ł/ß folded)"));
}
export const filterOf = (flags: { category?: string[]; since?: string; until?: string; author?: string }) => ({
  category: flags.category,
  since: flags.since,
  until: flags.until,
  author: flags.author,
});

export const kOption = () => new Option("-k, --k <n>", "number of papers to return").argParser(integer("-k", 1)).default(10);

/** The command being run, for hints ("see `papersift search --help`"). */
let command = "";
export const setCommand = (name: string) => (command = name);

/** One line of what went wrong and one of how to fix it; a stack only with PAPERSIFT_DEBUG=1. */
export function report(error: unknown): void {
  if (error instanceof PapersiftError) {
    const hint = error.code === "BAD_OPTION" && command ? `see \`papersift ${command} --help\`` : error.hint;
    warn(`${error.message}\n  fix: ${hint}`);
  } else if (isCorruption(error)) {
    warn(`the index is damaged (${(error as Error).message})\n  fix: run \`papersift ingest --rebuild\``);
  } else {
    const message = error instanceof Error ? error.message.split("\n")[0] : String(error);
    warn(`unexpected error: ${message}${process.env.PAPERSIFT_DEBUG === "1" && error instanceof Error ? `\n${error.stack}` : ""}`);
  }
}

