// The papersift command line: parses flags, calls the library, renders text or JSON. No logic of its own.
import { existsSync, watch } from "node:fs";
import { createInterface } from "node:readline";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { DEFAULT_CHUNKING, DEFAULT_CORPUS_DIR, DEFAULT_INDEX_DIR, DEFAULT_LOCK_WAIT_MS } from "./config.ts";
import { exitCodeFor, PapersiftError } from "./errors.ts";
import { isCorruption } from "./store/store.ts";
import {
  DEFAULT_MODE,
  ingest,
  openIndex,
  type IngestProgress,
  type IngestSummary,
  type PapersiftIndex,
} from "./index.ts";
import { printable, renderClusters, renderHits, renderIngest, renderSearch, renderStats, renderTopic, renderTopics } from "./render.ts";

const out = (text: string) => process.stdout.write(text);
const json = (value: unknown) => out(JSON.stringify(value) + "\n");
// Messages can quote corpus text (titles in "matches 3 papers"): no control characters reach the terminal.
const warn = (text: string) => process.stderr.write(`papersift: ${printable(text)}\n`);
// A reader that stops early (`| head -1`) is not an error.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(0);
  throw error;
});
/** The command being run, for hints ("see `papersift search --help`"). */
let command = "";

function integer(name: string, min: number) {
  return (value: string) => {
    if (!/^-?\d+$/.test(value.trim())) throw new InvalidArgumentError(`${name} must be a whole number`);
    const n = Number(value);
    if (n < min) throw new InvalidArgumentError(`${name} must be at least ${min}`);
    return n;
  };
}

function decimal(name: string) {
  return (value: string) => {
    const n = Number(value);
    if (value.trim() === "" || !Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number`);
    return n;
  };
}

const duration = (seconds: number) =>
  seconds < 90 ? `${Math.ceil(seconds)} s` : seconds < 5400 ? `${Math.round(seconds / 60)} min` : `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;

/**
 * Progress on a terminal only: first the plan ("embedding 21,480 new chunks (~9 min), 312 reused"), then
 * "embedding chunks 57/141 · 23/s · ~4 s left".
 */
function progressReporter(enabled: boolean): (p: IngestProgress) => void {
  if (!enabled || !process.stderr.isTTY) return () => {};
  const started = new Map<string, number>();
  let last = 0;
  return (p) => {
    if (p.phase === "plan") {
      const eta = p.rate ? ` (~${duration(p.done / p.rate)})` : "";
      process.stderr.write(`\r\x1b[2Kembedding ${p.done.toLocaleString("en")} new chunks${eta}, ${(p.total - p.done).toLocaleString("en")} reused\n`);
      return;
    }
    const now = performance.now();
    if (!started.has(p.phase)) started.set(p.phase, now);
    if (now - last < 100 && p.done !== p.total) return;
    last = now;
    const elapsed = (now - started.get(p.phase)!) / 1000;
    const rate = elapsed > 0 ? p.done / elapsed : 0;
    const left = rate > 0 ? Math.ceil((p.total - p.done) / rate) : 0;
    const what = { read: "read papers", chunk: "chunking papers", embed: "embedding chunks", write: "writing index", index: "updating HNSW" }[p.phase as Exclude<IngestProgress["phase"], "plan">];
    const detail = p.phase === "embed" && rate > 0 ? ` · ${rate.toFixed(0)}/s · ~${duration(left)} left` : "";
    process.stderr.write(`\r\x1b[2K${what} ${p.done}${p.total ? `/${p.total}` : ""}${detail}`);
    if (p.done === p.total) process.stderr.write("\r\x1b[2K");
  };
}

/** Skipped entries and notices on stderr; a corpus with a thousand duplicates should not drown the terminal. */
function reportCorpus(summary: IngestSummary): void {
  const lines = [
    ...summary.problems.map((p) => `skipped ${p.file}:${p.line}: ${p.message}`),
    ...summary.notices,
  ];
  const SHOWN = 20;
  for (const line of lines.slice(0, SHOWN)) warn(line);
  if (lines.length > SHOWN) warn(`… and ${lines.length - SHOWN} more (--json lists them all)`);
}

interface IngestFlags {
  corpus: string;
  index: string;
  rebuild: boolean;
  dryRun: boolean;
  strict: boolean;
  model?: string;
  window: number;
  overlap: number;
  wait: number;
  watch: boolean;
  json: boolean;
}

async function runIngest(flags: IngestFlags): Promise<void> {
  const once = async () => {
    const summary = await ingest(
      {
        corpus: flags.corpus,
        index: flags.index,
        rebuild: flags.rebuild,
        dryRun: flags.dryRun,
        strict: flags.strict,
        model: flags.model,
        chunking: { windowTokens: flags.window, overlapTokens: flags.overlap },
        lockWaitMs: flags.wait * 1000,
      },
      { onProgress: progressReporter(!flags.json), onWait: warn },
    );
    reportCorpus(summary);
    if (flags.json) {
      const { problems, notices, plan, ...rest } = summary;
      json({ ...rest, problems, notices, ...(flags.dryRun ? { plan } : {}) });
    } else {
      out(renderIngest(summary));
    }
  };
  if (!flags.watch) return once();
  // Watch before the first sync starts, so an edit made while it runs is picked up right after it.
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let stop: (error: unknown) => void = () => {};
  const stopped = new Promise<never>((_, reject) => (stop = reject));
  stopped.catch(() => {}); // awaited only once the first sync succeeded
  const gone = () => new PapersiftError("CORPUS_GONE", `the corpus folder ${flags.corpus} was removed; stopped watching`);
  const watcher = watch(flags.corpus, { recursive: true }, () => {
    clearTimeout(timer);
    if (!existsSync(flags.corpus)) return stop(gone());
    // Editors write in bursts; re-sync once things are quiet.
    timer = setTimeout(() => {
      running = running.then(() => once()).catch((error) => report(error));
    }, 500);
  });
  // Removing the folder closes the watcher; without this the process would just fall off the event loop.
  watcher.on("error", () => stop(gone()));
  watcher.on("close", () => stop(gone()));
  try {
    const first = once();
    running = first.catch(() => {});
    await first;
    warn(`watching ${flags.corpus} for changes (Ctrl-C to stop)`);
    await stopped;
  } finally {
    watcher.close();
    clearTimeout(timer);
  }
}

/** Open the index; on a fresh clone, build it from the corpus first. */
async function open(flags: { index: string; corpus: string; model?: string; json: boolean }): Promise<PapersiftIndex> {
  try {
    return await openIndex(flags.index, { model: flags.model });
  } catch (error) {
    if (!(error instanceof PapersiftError && error.code === "INDEX_MISSING")) throw error;
  }
  warn(`no index at ${flags.index} yet: building it from ${flags.corpus} (once)`);
  const summary = await ingest({ corpus: flags.corpus, index: flags.index, model: flags.model }, { onProgress: progressReporter(true) });
  reportCorpus(summary);
  if (!flags.json) warn(renderIngest(summary).trim());
  return openIndex(flags.index, { model: flags.model });
}

/** One line of what went wrong and one of how to fix it; a stack only with PAPERSIFT_DEBUG=1. */
function report(error: unknown): void {
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

const program = new Command("papersift")
  .description("Local, offline semantic search over a folder of research-paper abstracts.")
  .version("0.1.0")
  .showHelpAfterError("(run with --help for usage)")
  .exitOverride()
  .configureOutput({ outputError: (text, write) => write(`papersift: ${text.replace(/^error: /, "")}`) })
  .hook("preAction", (_, action) => {
    command = action.name();
  });

const indexOption = () => new Option("--index <dir>", "index folder (env PAPERSIFT_INDEX)").default(DEFAULT_INDEX_DIR);
const corpusOption = () => new Option("--corpus <dir>", "corpus folder (env PAPERSIFT_CORPUS)").default(DEFAULT_CORPUS_DIR);
const modelOption = () => new Option("--model <dir-or-id>", "embedding model folder (default: the bundled all-MiniLM-L6-v2)");
const jsonOption = () => new Option("--json", "print JSON for scripts").default(false);
/** --category (repeatable), --since, --until, --author: the same filters on search, related and clusters. */
function filterOptions(command: Command): Command {
  return command
    .addOption(new Option("--category <prefix>", "only papers with a category starting with this (cs.CL, or cs. for all of cs); repeat for any of several").argParser((value: string, previous: string[] = []) => [...previous, value]))
    .addOption(new Option("--since <date>", "only papers dated on or after this: YYYY, YYYY-MM or YYYY-MM-DD"))
    .addOption(new Option("--until <date>", "only papers dated on or before the end of this: YYYY, YYYY-MM or YYYY-MM-DD"))
    .addOption(new Option("--author <name>", "only papers with an author matching this (part of a name; case and accents ignored)"));
}
const filterOf = (flags: { category?: string[]; since?: string; until?: string; author?: string }) => ({
  category: flags.category,
  since: flags.since,
  until: flags.until,
  author: flags.author,
});

const kOption = () => new Option("-k, --k <n>", "number of papers to return").argParser(integer("-k", 1)).default(10);

program
  .command("ingest")
  .description("read the corpus, embed what changed, and update the index")
  .addOption(corpusOption())
  .addOption(indexOption())
  .option("--rebuild", "start the index over (vectors of unchanged text are still reused)", false)
  .option("--dry-run", "print what would change, change nothing", false)
  .option("--strict", "treat a malformed corpus entry as an error instead of skipping it", false)
  .option("--watch", "keep running and re-sync when corpus files change", false)
  .addOption(new Option("--wait <seconds>", "how long to wait for another ingest writing the same index").argParser(integer("--wait", 0)).default(DEFAULT_LOCK_WAIT_MS / 1000))
  .addOption(modelOption())
  .addOption(new Option("--window <tokens>", "tokens per chunk, title included").argParser(integer("--window", 32)).default(DEFAULT_CHUNKING.windowTokens))
  .addOption(new Option("--overlap <tokens>", "tokens of whole sentences shared by consecutive chunks").argParser(integer("--overlap", 0)).default(DEFAULT_CHUNKING.overlapTokens))
  .addOption(jsonOption())
  .addHelpText("after", "\nExamples:\n  papersift ingest\n  papersift ingest --corpus ~/papers --dry-run\n  papersift ingest --watch")
  .action(runIngest);

filterOptions(program.command("search"))
  .description("find the papers that best answer a question")
  .argument("[question]", "what you want to know, in your own words")
  .addOption(kOption())
  .addOption(new Option("--mode <mode>", "dense (meaning), lexical (BM25 words) or hybrid (both, fused)").choices(["hybrid", "dense", "lexical"]).default(DEFAULT_MODE))
  .addOption(new Option("--min-score <x>", "drop results below this cosine similarity (BM25 score in lexical mode)").argParser(decimal("--min-score")))
  .option("--stdin", "read one question per line from standard input", false)
  .option("--explain", "show why each result ranks where it does: similarities, BM25 and matched terms, fused score, chunk", false)
  .addOption(indexOption())
  .addOption(corpusOption())
  .addOption(modelOption())
  .addOption(jsonOption())
  .addHelpText(
    "after",
    "\nScores: results rank by score. Similarity (-1..1) is the mean cosine of the question to the paper's\nbest chunk and to the whole paper; hybrid adds up to 0.2 for matching words; lexical ranks by BM25.\nA fresh clone builds the index from the corpus first.\n\nExamples:\n  papersift search \"reward models that are robust to noisy preferences\"\n  papersift search \"diffusion fine-tuning\" -k 5 --json\n  printf 'q1\\nq2\\n' | papersift search --stdin --json",
  )
  .action(async (question: string | undefined, flags) => {
    const index = await open(flags);
    try {
      const ask = async (q: string) => {
        const result = await index.search(q, { k: flags.k, mode: flags.mode, minScore: flags.minScore, explain: flags.explain, ...filterOf(flags) });
        for (const n of result.notices) warn(n);
        if (flags.json) json({ query: result.query, mode: result.mode, results: result.results });
        else out(renderSearch(result));
      };
      if (flags.stdin) {
        // One answer per input line, in order: a line that is not a question (blank, only NULs, a bad
        // request) gets an empty result with an error, and the batch goes on.
        for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
          try {
            await ask(line);
          } catch (error) {
            if (!(error instanceof PapersiftError && error.kind === "input")) throw error;
            if (flags.json) json({ query: line, mode: flags.mode, results: [], error: { code: error.code, message: error.message } });
            else out(`papersift: ${printable(error.message)}\n`);
          }
          if (!flags.json) out("\n");
        }
      } else {
        if (question === undefined) throw new PapersiftError("EMPTY_QUESTION", "no question given");
        await ask(question);
      }
    } finally {
      index.close();
    }
  });

filterOptions(program.command("related"))
  .description("papers most similar to a given paper")
  .argument("<paper>", "an exact id, an exact title, or an unambiguous part of a title")
  .addOption(kOption())
  .addOption(indexOption())
  .addOption(jsonOption())
  .addHelpText("after", '\nExamples:\n  papersift related "submodular reinforcement learning"\n  papersift related submodular-reinforcement-learning -k 5 --json')
  .action(async (paper: string, flags) => {
    const index = await openIndex(flags.index);
    try {
      const result = index.related(paper, { k: flags.k, ...filterOf(flags) });
      if (flags.json) json(result);
      else out(`related to ${printable(result.paper.title)} [${printable(result.paper.id)}]\n\n${renderHits(result.results, "")}`);
    } finally {
      index.close();
    }
  });

filterOptions(program.command("clusters"))
  .description("group the corpus into topics, and topics into clusters of highly similar papers")
  .addOption(new Option("--level <level>", "topics (coarse, with their top papers) or fine (every cluster, every paper)").choices(["topics", "fine"]).default("topics"))
  .addOption(new Option("--topic <id>", "one topic: its clusters and all its papers").argParser(integer("--topic", 1)))
  .addOption(new Option("--threshold <t>", "fine clusters: minimum mean cosine similarity between their papers (default: the model's, 0.83 for bge-small, 0.6 for MiniLM)").argParser(decimal("--threshold")))
  .addOption(new Option("--resolution <r>", "topics: higher gives more, smaller topics (default: 1 up to 1,000 papers, rising to 3 at 10,000)").argParser(decimal("--resolution")))
  .addOption(new Option("--min-size <m>", "smallest group reported as a cluster").argParser(integer("--min-size", 2)).default(2))
  .addOption(indexOption())
  .addOption(jsonOption())
  .addHelpText(
    "after",
    "\nTopics are communities of the graph of fine clusters (Louvain), so every cluster sits inside one topic.\nEach has a label (its most distinctive terms: a topic's against the corpus, a cluster's against the\nrest of its topic), a cohesion (mean pairwise cosine similarity) and its papers, most central first.\nA topic keeps its id across runs while most of its papers stay together. --json prints both levels.\n\nExamples:\n  papersift clusters\n  papersift clusters --topic 3\n  papersift clusters --level fine --json",
  )
  .action(async (flags) => {
    const index = await openIndex(flags.index);
    try {
      const result = index.clusters({ threshold: flags.threshold, resolution: flags.resolution, minSize: flags.minSize, ...filterOf(flags) });
      if (flags.topic !== undefined && !result.topics.some((t) => t.id === flags.topic)) {
        throw new PapersiftError("UNKNOWN_TOPIC", `no topic ${flags.topic} (topics: ${result.topics.map((t) => t.id).join(", ") || "none"})`);
      }
      if (flags.json) {
        json(flags.topic === undefined ? result : { ...result, topics: result.topics.filter((t) => t.id === flags.topic), clusters: result.clusters.filter((c) => c.topic === flags.topic) });
      } else if (flags.topic !== undefined) out(renderTopic(result, flags.topic));
      else out(flags.level === "fine" ? renderClusters(result) : renderTopics(result));
    } finally {
      index.close();
    }
  });

program
  .command("stats")
  .description("what the index holds: papers, chunks, model, parameters, size on disk")
  .addOption(indexOption())
  .addOption(jsonOption())
  .action(async (flags) => {
    const index = await openIndex(flags.index);
    try {
      const stats = index.stats();
      if (flags.json) json(stats);
      else out(renderStats(stats));
    } finally {
      index.close();
    }
  });

program
  .command("serve")
  .description("a local web page (search, papers, a map of the corpus) and an HTTP API over the index")
  .addOption(new Option("--port <n>", "port to listen on (0: any free port)").argParser(integer("--port", 0)).default(4477))
  .addOption(new Option("--host <address>", "address to listen on; anything but loopback exposes your index").default("127.0.0.1"))
  .addOption(indexOption())
  .addOption(corpusOption())
  .addOption(modelOption())
  .addHelpText(
    "after",
    "\nThe model and index load once; each request then takes milliseconds. An ingest running beside the\nserver (`papersift ingest --watch`) is picked up on the next request.\n\nAPI (GET, JSON as the CLI's --json): /api/search?q=…&k=…&mode=…&category=…&since=…&until=…&author=…\n  /api/related/<id>?k=…   /api/clusters?threshold=…   /api/papers/<id>   /api/stats   /api/map\n\nExamples:\n  papersift serve\n  papersift serve --port 8080 --index ~/papers-index",
  )
  .action(async (flags) => {
    if (flags.port > 65535) throw new PapersiftError("BAD_OPTION", `--port ${flags.port} is too large (at most 65535)`);
    const index = await open({ ...flags, json: false });
    // Warm up: the model and the map are ready before the first visitor.
    await index.search("warm up", { k: 1 });
    index.map();
    const [{ createApp }, { serve }] = await Promise.all([import("./serve.ts"), import("@hono/node-server")]);
    const server = serve({ fetch: createApp(index).fetch, port: flags.port, hostname: flags.host });
    await new Promise<void>((resolve, reject) => {
      server.once("listening", resolve);
      server.once("error", (error: NodeJS.ErrnoException) =>
        reject(new PapersiftError("BAD_OPTION", `cannot listen on ${flags.host}:${flags.port} (${error.code === "EADDRINUSE" ? "the port is in use" : error.code})`)),
      );
    });
    const address = server.address();
    const port = typeof address === "object" && address ? address.port : flags.port;
    out(`papersift: serving ${flags.index} at http://${flags.host.includes(":") ? `[${flags.host}]` : flags.host}:${port}/ (Ctrl-C to stop)\n`);
    await new Promise(() => {});
  });

program
  .command("mcp")
  .description("a Model Context Protocol server on stdin/stdout, for AI assistants")
  .addOption(indexOption())
  .addOption(corpusOption())
  .addOption(modelOption())
  .addHelpText(
    "after",
    '\nTools: search_papers, related_papers, get_paper, list_clusters (JSON as the CLI\'s --json).\nRegister it with a client, e.g. in its mcpServers configuration:\n  { "papersift": { "command": "papersift", "args": ["mcp", "--index", "/path/to/index-cache"] } }',
  )
  .action(async (flags) => {
    const index = await open({ ...flags, json: true });
    const { runMcp } = await import("./mcp.ts");
    await runMcp(index, program.version() ?? "0.0.0");
    index.close();
  });

process.on("SIGINT", () => process.exit(130));
try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    process.exitCode = error.exitCode === 0 ? 0 : 2;
  } else {
    report(error);
    process.exitCode = exitCodeFor(error);
  }
}
