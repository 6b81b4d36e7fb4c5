// JSON Lines: one paper per line, `{ id?, title, abstract, ...metadata }`. The arXiv metadata snapshot
// (id, title, abstract, authors, categories, update_date, ...) loads as it is; every field besides id,
// title and abstract is kept as metadata. A line that is an OpenAlex work is read as one (openalex.ts). A bad line costs that line only. Files are read as a stream
// of lines (see lines.ts), so their size is not limited by memory.
import { z } from "zod";
import { fromJsonl } from "./bibliographic.ts";
import { isOpenAlexWork, openAlexEntry } from "./openalex.ts";
import type { CorpusProblem, RawEntry } from "./paper.ts";

/** Deeper metadata is refused: nothing real nests this far, and rewriting it would overflow the stack. */
export const MAX_DEPTH = 64;

const Entry = z
  .object({
    id: z.union([z.string(), z.number()]).optional(),
    title: z.string(),
    abstract: z.string(),
  })
  .loose();

/**
 * One pass over a line outside its strings: the deepest nesting, and the source text of a top-level numeric
 * `id` (JSON.parse turns 2301.10000 into 2301.1; an arXiv id must keep its digits).
 */
function scan(line: string): { depth: number; idText: string | undefined } {
  let depth = 0;
  let max = 0;
  let idText: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === "{" || c === "[") max = Math.max(max, ++depth);
    else if (c === "}" || c === "]") depth--;
    else if (c === '"') {
      const start = i;
      for (i++; i < line.length && line[i] !== '"'; i++) if (line[i] === "\\") i++;
      if (depth === 1 && idText === undefined && line.slice(start, i + 1) === '"id"') {
        const value = /^\s*:\s*(-?\d[\d.eE+-]*)/.exec(line.slice(i + 1));
        if (value) idText = value[1];
      }
    }
  }
  return { depth: max, idText };
}

function count(text: string, char: string): number {
  let n = 0;
  for (let i = text.indexOf(char); i >= 0; i = text.indexOf(char, i + 1)) n++;
  return n;
}

/** One JSON Lines line (1-based `line`): its entry, or the problem that costs it. Blank lines give neither. */
export function parseJsonlLine(raw: string, line: number, file: string): { entry?: RawEntry; problem?: CorpusProblem; format?: "OpenAlex" | "JSONL" } {
  if (!raw.trim()) return {};
  const problem = (message: string) => ({ problem: { file, line, message } });
  // Fewer brackets than the limit cannot nest past it: the character scan is only needed beyond that.
  if (count(raw, "{") + count(raw, "[") > MAX_DEPTH && scan(raw).depth > MAX_DEPTH) {
    return problem(`nested more than ${MAX_DEPTH} levels deep; skipped`);
  }
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (error) {
    return problem(`invalid JSON (${(error as Error).message.replace(/ in JSON at position.*$/, "")}); skipped`);
  }
  if (isOpenAlexWork(value)) return { entry: openAlexEntry(value, { file, line }), format: "OpenAlex" };
  const parsed = Entry.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.join(".");
    if (!field) return problem("not a JSON object; skipped");
    const missing = issue.code === "invalid_type" && (value as Record<string, unknown>)[field] === undefined;
    return problem(`"${field}" is ${missing ? "missing" : field === "id" ? "not a string or number" : "not a string"}; skipped`);
  }
  const { id, title, abstract, ...meta } = parsed.data;
  const idSource = typeof id === "number" ? (scan(raw).idText ?? String(id)) : id?.trim();
  const notes: string[] = [];
  const bib = Object.keys(meta).length ? fromJsonl(meta, idSource, (n) => notes.push(n)) : undefined;
  return {
    format: "JSONL",
    entry: {
      ...(idSource ? { id: idSource } : {}),
      title,
      abstract,
      source: { file, line },
      ...(Object.keys(meta).length ? { meta, bib } : {}),
      ...(notes.length ? { notes } : {}),
    },
  };
}
