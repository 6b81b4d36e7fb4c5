// One catalogue of what can go wrong, each with the fix the user needs. The library throws
// PapersiftError; only the CLI turns a code into an exit status (see exitCodeFor).

export type ErrorKind = "input" | "failure";

const catalogue = {
  MODEL_NOT_FOUND: { kind: "input", hint: "pass --model a folder in transformers.js layout (config.json, tokenizer.json, onnx/model_quantized.onnx)" },
  MODEL_REMOTE_DISABLED: { kind: "input", hint: "set PAPERSIFT_ALLOW_REMOTE=1 to let papersift download it, or pass --model a local folder" },
  MODEL_LOAD_FAILED: { kind: "failure", hint: "check that the model folder is complete; `git checkout models/` restores the bundled one" },
  EMBED_FAILED: { kind: "failure", hint: "run the ingest again: every batch already written is kept; `--workers 1` uses the least memory" },
  BAD_OPTION: { kind: "input", hint: "see `papersift --help`" },
  EMPTY_QUESTION: { kind: "input", hint: "ask a question, e.g. papersift search \"diffusion models for images\"" },
  CORPUS_NOT_FOUND: { kind: "input", hint: "pass --corpus a folder of papers (.bib, .ris, .json, .nbib, .xml, .jsonl, .txt, .md)" },
  CORPUS_UNREADABLE: { kind: "failure", hint: "check the folder's permissions (papersift only needs to read it)" },
  CORPUS_GONE: { kind: "failure", hint: "restore the folder, then run `papersift ingest --watch` again" },
  WATCH_FAILED: { kind: "failure", hint: "run `papersift ingest --watch` again, or sync without --watch" },
  CORPUS_EMPTY: { kind: "input", hint: "add papers with abstracts (a .bib, .ris, CSL .json, PubMed or OpenAlex export, .jsonl, .txt or .md) to the corpus folder" },
  CORPUS_MALFORMED: { kind: "input", hint: "fix the entry, or drop --strict to skip malformed entries with a warning" },
  INDEX_IN_CORPUS: { kind: "input", hint: "put the index outside the corpus folder: papersift never writes into the corpus" },
  INDEX_NOT_A_FOLDER: { kind: "input", hint: "pass --index a folder (it is created if missing), not a file" },
  INDEX_READ_ONLY: { kind: "failure", hint: "make the index folder writable, or pass --index a folder you can write to" },
  INDEX_MISSING: { kind: "input", hint: "run `papersift ingest` first" },
  INDEX_NOT_EMPTY: { kind: "input", hint: "run `papersift ingest --corpus <folder> --index <folder>` with the corpus it was built from" },
  INDEX_CORRUPT: { kind: "failure", hint: "run `papersift ingest --rebuild` to rebuild it from the corpus" },
  INDEX_INCOMPATIBLE: { kind: "failure", hint: "run `papersift ingest --rebuild` to rebuild it with this version" },
  DISK_FULL: { kind: "failure", hint: "free some space on that disk, or pass --index a folder on another disk; then run the command again" },
  INDEX_IO: { kind: "failure", hint: "check the disk holding the index (is it unplugged or failing?), then run the command again" },
  INDEX_LOCKED: { kind: "failure", hint: "wait for the other ingest to finish, or remove the lock file if that process is gone" },
  UNKNOWN_PAPER: { kind: "input", hint: "pass an exact id, a DOI, an exact title, or an unambiguous part of a title" },
  UNKNOWN_TOPIC: { kind: "input", hint: "run `papersift clusters` to list the topics and their ids" },
  AMBIGUOUS_PAPER: { kind: "input", hint: "use more of the title, or the paper's id" },
  EMBEDDER_BAD_URL: { kind: "input", hint: "pass --embedder the server's base URL, e.g. http://127.0.0.1:8080 (a key goes in PAPERSIFT_EMBEDDER_KEY)" },
  EMBEDDER_UNREACHABLE: { kind: "failure", hint: "start the embedding server, or fix --embedder (PAPERSIFT_EMBEDDER); `ingest --model <name>` alone goes back to a vendored model" },
  EMBEDDER_REFUSED: { kind: "failure", hint: "set PAPERSIFT_EMBEDDER_KEY to the server's API key, or check --embedder-model" },
  EMBEDDER_FAILED: { kind: "failure", hint: "check the embedding server and its log, then run ingest again: every batch already written is kept" },
  NO_EXAMPLES: { kind: "input", hint: "name papers of the index by id, DOI, arXiv id or title (`papersift search` finds them), or pass --from a library file with abstracts" },
  INPUT_FILE: { kind: "input", hint: "check the path: a list of ids or DOIs, one per line, or a library file ingest reads" },
  UNKNOWN_TAG: { kind: "input", hint: "run `papersift tag list` to see the tags, or `papersift tag add <name> <id>…` to make one" },
  TAGS_INVALID: { kind: "input", hint: "fix the file (it is JSON: `papersift tag list` shows where it is) or pass --tags another file; papersift never overwrites a file it cannot read" },
  TAGS_READ_ONLY: { kind: "input", hint: "make it writable (chmod u+w) if papersift may change it, or pass --tags another file" },
  TAGS_BUSY: { kind: "failure", hint: "try again once the other papersift is done" },
  TAGS_MISPLACED: { kind: "input", hint: "keep the tags file outside the index folder (it is rebuilt) and the corpus (never written): pass --tags or set PAPERSIFT_TAGS" },
} as const satisfies Record<string, { kind: ErrorKind; hint: string }>;

export type ErrorCode = keyof typeof catalogue;

export class PapersiftError extends Error {
  readonly code: ErrorCode;
  readonly hint: string;
  readonly kind: ErrorKind;
  /** What a script needs beside the message (--json prints it): CORPUS_MALFORMED's problems and files. */
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; hint?: string; details?: Record<string, unknown> }) {
    super(message, options);
    this.name = "PapersiftError";
    this.code = code;
    this.hint = options?.hint ?? catalogue[code].hint;
    this.kind = catalogue[code].kind;
    this.details = options?.details;
  }
}

/** 2 for a mistake in what the user typed or pointed us at, 1 for everything else. */
export function exitCodeFor(error: unknown): 1 | 2 {
  return error instanceof PapersiftError && error.kind === "input" ? 2 : 1;
}

/**
 * The hint for an error met over the HTTP API or MCP, where there are no command-line flags: the
 * catalogue's hints name the CLI's (--from, `papersift tag list`), so these say the same in that surface's terms.
 */
export function surfaceHint(error: PapersiftError, surface: "api" | "mcp"): string {
  const api = surface === "api";
  switch (error.code) {
    case "BAD_OPTION":
      return api ? "see `papersift serve --help` for the API's parameters" : "see the tool's input schema for its arguments";
    case "NO_EXAMPLES":
      return `name papers of the index by id, DOI, arXiv id or title (${api ? "/api/search" : "search_papers"} finds them)`;
    case "UNKNOWN_TAG":
      return api ? "GET /api/tags lists the tags; PUT /api/tags/<name>/<id> makes one" : "`papersift tag list` shows the tags";
    default:
      return error.hint;
  }
}

/**
 * The message for an error met over the HTTP API or MCP: the library names options as the CLI spells them
 * ("-k is too small", "--since 2026-07 is after --until 2026-06"); these surfaces name their parameters
 * ("k", "since"; liked papers are `id` in the API and `ids` in MCP).
 */
export function surfaceMessage(error: PapersiftError, surface: "api" | "mcp"): string {
  if (error.code !== "BAD_OPTION") return error.message;
  return error.message
    .replace(/(^|[\s(])--?([a-z][a-z-]*)(?=[\s,)]|$)/g, (_, before: string, flag: string) => before + flag.replace(/-([a-z])/g, (__, c: string) => c.toUpperCase()))
    .replace(/^liked\b/, surface === "api" ? "id" : "ids");
}
