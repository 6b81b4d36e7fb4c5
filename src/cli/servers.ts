// The long-running servers: the web page and HTTP API (serve), and MCP over stdio (mcp).
import { Option, type Command } from "commander";
import { PapersiftError } from "../errors.ts";
import { openIndex } from "../index.ts";
import { printable } from "../text.ts";
import { tagsFileOf, tagsOption } from "./recommend.ts";
import type { Embedder } from "../embed.ts";
import { corpusOption, indexOption, integer, modelOption, open, out, warn, warnPastCores, workersOption } from "./shared.ts";

export function registerServers(program: Command): void {
program
  .command("serve")
  .description("a local web page (search, papers, a map of the corpus) and an HTTP API over the index")
  .addOption(new Option("--port <n>", "port to listen on (0: any free port)").argParser(integer("--port", 0)).default(4477))
  .addOption(new Option("--host <address>", "address to listen on; anything but loopback exposes your index").default("127.0.0.1"))
  .addOption(indexOption())
  .addOption(corpusOption())
  .addOption(modelOption())
  .addOption(tagsOption())
  .addOption(workersOption("embedding sessions for POST /v1/embeddings in worker threads, the cores split between them"))
  .addHelpText(
    "after",
    "\nThe model and index load once; each request then takes milliseconds. An ingest running beside the\nserver (`papersift ingest --watch`) is picked up on the next request. It answers only requests addressed\nto 127.0.0.1, localhost, [::1] or --host (421 otherwise), so another site cannot reach it through DNS rebinding.\n\nAPI (GET, JSON as the CLI's --json): /api/search?q=…&k=…&mode=…&category=…&since=…&until=…&author=…\n  /api/related/<id or DOI>?k=…   /api/clusters?threshold=…   /api/papers/<id or DOI>   /api/stats   /api/map\n  /api/papers?id=…&id=… (up to 300, no abstracts)   /api/tags (the saved sets and their file)\n  /api/recommend?id=…&id=…&not=…&tag=…&k=…&explain=1 (and the filters)\nPUT /api/tags/<name>/<id> and DELETE /api/tags/<name>/<id> add a paper to a saved set and take it out: the\n  page's star writes the set `starred` in the tags file (--tags; default papersift-tags.json in the folder\n  serve runs in), which `papersift recommend --tag starred` reads too.\nErrors: {\"error\": {code, message, hint}}, naming the API's parameters; k is a whole number, explain 1/true or 0/false.\nPOST /v1/embeddings: the OpenAI embeddings protocol with the vendored model on --workers sessions (loaded\n  on the first request), so another papersift can embed with this machine (its `ingest --embedder` given\n  this server's address). It needs an index to start: on a machine that only embeds for others, the first\n  `papersift serve` builds one from the bundled corpus (once, about 20 s), or give --corpus any folder of papers.\nAn index whose questions go to an embedding endpoint is served while that endpoint is down: dense and hybrid\n  questions then answer 503, and lexical search, related, papers and the map work.\n\nExamples:\n  papersift serve\n  papersift serve --port 8080 --index ~/papers-index",
  )
  .action(async (flags) => {
    if (flags.port > 65535) throw new PapersiftError("BAD_OPTION", `--port ${flags.port} is too large (at most 65535)`);
    warnPastCores(flags.workers);
    const index = await open({ ...flags, json: false });
    // Warm up: the model is ready before the first visitor, and the map is laid out in the background (the
    // first one of a large corpus takes a while; the page says so meanwhile). Questions that go to an
    // endpoint that is down (or changed) are all that fail then: everything else is served meanwhile.
    const endpoint = index.stats().embeddedBy;
    try {
      await index.search("warm up", { k: 1 });
    } catch (error) {
      if (!(endpoint?.queries === "endpoint" && error instanceof PapersiftError)) throw error;
      const why = error.message.replace(/^the embedding endpoint \S+ /, "");
      warn(`dense and hybrid questions need the embedding endpoint ${endpoint.endpoint}, which ${why}; lexical search, related, papers and the map work without it`);
    }
    void index.map().catch((error: unknown) => warn(`the map could not be laid out: ${error instanceof Error ? error.message : String(error)}`));
    const [{ createApp }, { serve }, { loadEmbedder }] = await Promise.all([import("../serve.ts"), import("@hono/node-server"), import("../embed.ts")]);
    // POST /v1/embeddings serves a vendored model (the index's own, unless its questions go to an endpoint)
    // on --workers sessions, as ingest embeds: loaded on the first request, so a server nobody embeds with
    // holds only the questions' session.
    const model = endpoint?.queries === "endpoint" ? flags.model : (await index.embedder()).model.dir;
    let sessions: Promise<Embedder> | undefined;
    const embedder = () => (sessions ??= loadEmbedder({ model, workers: flags.workers }));
    const server = serve({ fetch: createApp(index, { host: flags.host, embedder, tagsFile: tagsFileOf(flags) }).fetch, port: flags.port, hostname: flags.host });
    await new Promise<void>((resolve, reject) => {
      server.once("listening", resolve);
      server.once("error", (error: NodeJS.ErrnoException) =>
        reject(new PapersiftError("BAD_OPTION", `cannot listen on ${flags.host}:${flags.port} (${error.code === "EADDRINUSE" ? "the port is in use" : error.code})`)),
      );
    });
    const address = server.address();
    const port = typeof address === "object" && address ? address.port : flags.port;
    out(`papersift: serving ${printable(flags.index)} at http://${flags.host.includes(":") ? `[${flags.host}]` : flags.host}:${port}/ (Ctrl-C to stop)\n`);
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
    '\nTools: search_papers, related_papers, recommend_papers, get_paper, list_clusters (JSON as the CLI\'s --json, each capped to\na few kilobytes for an assistant\'s context). A missing index is not built: the tools say what to run.\nRegister it with a client, e.g. in its mcpServers configuration:\n  { "papersift": { "command": "papersift", "args": ["mcp", "--index", "/path/to/index-cache"] } }',
  )
  .action(async (flags) => {
    // A missing or damaged index still answers `initialize`, and each tool then says what to run; building
    // one here would keep the client waiting past its handshake. Opened now when it can be, so that the
    // tool descriptions state this index's defaults.
    const { runMcp, indexSource } = await import("../mcp.ts");
    const source = indexSource({ index: flags.index, corpus: flags.corpus }, () => openIndex(flags.index, { model: flags.model }));
    await source.get().catch(() => {});
    await runMcp(source, program.version() ?? "0.0.0");
    source.current()?.close();
  });

}
