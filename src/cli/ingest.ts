// papersift ingest: sync the index with the corpus, once or whenever files change (--watch).
import { existsSync } from "node:fs";
import { watch } from "chokidar";
import { Option, type Command } from "commander";
import { DEFAULT_CHUNKING, DEFAULT_LOCK_WAIT_MS } from "../config.ts";
import { PapersiftError } from "../errors.ts";
import { ingest } from "../index.ts";
import { renderIngest } from "../render.ts";
import { corpusOption, defaultModelId, indexOption, integer, json, jsonOption, modelOption, out, progressReporter, report, reportCorpus, warn, warnPastCores, workersOption } from "./shared.ts";

interface IngestFlags {
  corpus: string;
  index: string;
  rebuild: boolean;
  dryRun: boolean;
  strict: boolean;
  model?: string;
  embedder?: string;
  embedderModel?: string;
  window: number;
  overlap: number;
  wait: number;
  watch: boolean;
  workers: number;
  json: boolean;
}

async function runIngest(flags: IngestFlags): Promise<void> {
  warnPastCores(flags.workers);
  const once = async () => {
    const summary = await ingest(
      {
        corpus: flags.corpus,
        index: flags.index,
        rebuild: flags.rebuild,
        dryRun: flags.dryRun,
        strict: flags.strict,
        model: flags.model,
        embedder: flags.embedder,
        embedderModel: flags.embedderModel,
        chunking: { windowTokens: flags.window, overlapTokens: flags.overlap },
        lockWaitMs: flags.wait * 1000,
        workers: flags.workers,
      },
      { onProgress: progressReporter(!flags.json), onWait: warn, onRetry: warn },
    );
    reportCorpus(summary);
    if (flags.json) {
      const { problems, notices, plan, ...rest } = summary;
      json({ ...rest, problems, notices, ...(flags.dryRun ? { plan } : {}) });
    } else {
      out(renderIngest(summary));
    }
  };
  // --json: a --strict stop prints its problems on stdout too, so a script sees what stopped it.
  const onceJson = async () => {
    try {
      await once();
    } catch (error) {
      if (flags.json && error instanceof PapersiftError && error.details) json({ error: { code: error.code, message: error.message }, ...error.details });
      throw error;
    }
  };
  if (!flags.watch) return onceJson();
  // Watch before the first sync starts, so an edit made while it runs is picked up right after it.
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let stop: (error: unknown) => void = () => {};
  const stopped = new Promise<never>((_, reject) => (stop = reject));
  stopped.catch(() => {}); // awaited only once the first sync succeeded
  const gone = () => new PapersiftError("CORPUS_GONE", `the corpus folder ${flags.corpus} was removed; stopped watching`);
  // chokidar, not fs.watch(recursive): Node 20's recursive watcher on Linux follows each file's inode, so a
  // file replaced by rename (Zotero's auto-export, most editors' safe save) went unwatched after a rewrite
  // or two. chokidar watches the folders, which a rename does not replace.
  const watcher = watch(flags.corpus, { ignoreInitial: true, followSymlinks: true });
  watcher.on("all", () => {
    clearTimeout(timer);
    if (!existsSync(flags.corpus)) return stop(gone());
    // Editors write in bursts; re-sync once things are quiet.
    timer = setTimeout(() => {
      running = running.then(() => onceJson()).catch((error) => report(error));
    }, 500);
  });
  watcher.on("error", () => stop(existsSync(flags.corpus) ? new PapersiftError("WATCH_FAILED", `could not watch ${flags.corpus}; stopped watching`) : gone()));
  // Wait until the folders are watched, so an edit made during the first sync is seen.
  await new Promise<void>((resolve) => watcher.once("ready", () => resolve()));
  try {
    const first = onceJson();
    running = first.catch(() => {});
    await first;
    warn(`watching ${flags.corpus} for changes (Ctrl-C to stop)`);
    await stopped;
  } finally {
    clearTimeout(timer);
    await watcher.close();
  }
}


export function registerIngest(program: Command): void {
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
  .addOption(new Option("--embedder <url>", "embed passages with an OpenAI-compatible /v1/embeddings endpoint (a GPU server, another papersift); key from env PAPERSIFT_EMBEDDER_KEY").env("PAPERSIFT_EMBEDDER"))
  .addOption(new Option("--embedder-model <name>", `model name to ask the endpoint for (default: the vendored model's id, ${defaultModelId()})`))
  .addOption(new Option("--window <tokens>", "tokens per chunk, title included").argParser(integer("--window", 32)).default(DEFAULT_CHUNKING.windowTokens))
  .addOption(new Option("--overlap <tokens>", "tokens of whole sentences shared by consecutive chunks").argParser(integer("--overlap", 0)).default(DEFAULT_CHUNKING.overlapTokens))
  .addOption(workersOption("embedding sessions in worker threads, the cores split between them"))
  .addOption(jsonOption())
  .addHelpText(
    "after",
    "\nAn endpoint serving the vendored model's twin (the same name, vectors agreeing to cosine >= 0.99) gives an\nindex whose questions are still embedded locally; any other endpoint also embeds the questions. The index\nremembers its endpoint, and contacts it only when there is something to embed (a dry run never does); a\ndifferent address, or a model change behind it, re-embeds everything.\nProgress goes to stderr: a live line on a terminal, else a plain line every 10 s (PAPERSIFT_PROGRESS_SECONDS).\n\nExamples:\n  papersift ingest\n  papersift ingest --corpus ~/papers --dry-run\n  papersift ingest --watch\n  papersift ingest --embedder http://localhost:8080 --embedder-model BAAI/bge-small-en-v1.5",
  )
  .action(runIngest);

}
