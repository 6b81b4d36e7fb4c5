// JSON Lines: one paper per line, `{ id?, title, abstract, ...metadata }`. The arXiv metadata snapshot
// (id, title, abstract, authors, categories, update_date, ...) loads as it is; every field besides id,
// title and abstract is kept as metadata. A bad line costs that line only.
import { z } from "zod";
import type { CorpusProblem, RawEntry, ReadResult } from "./paper.ts";

/** Deeper metadata is refused: nothing real nests this far, and rewriting it would overflow the stack. */
const MAX_DEPTH = 64;

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

export function readJsonl(text: string, file: string): ReadResult {
  const entries: RawEntry[] = [];
  const problems: CorpusProblem[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    if (!raw.trim()) return;
    const problem = (message: string) => problems.push({ file, line, message });
    const { depth, idText } = scan(raw);
    if (depth > MAX_DEPTH) return problem(`nested more than ${MAX_DEPTH} levels deep; skipped`);
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (error) {
      return problem(`invalid JSON (${(error as Error).message.replace(/ in JSON at position.*$/, "")}); skipped`);
    }
    const parsed = Entry.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const field = issue.path.join(".");
      if (!field) return problem("not a JSON object; skipped");
      const missing = issue.code === "invalid_type" && (value as Record<string, unknown>)[field] === undefined;
      return problem(`"${field}" is ${missing ? "missing" : field === "id" ? "not a string or number" : "not a string"}; skipped`);
    }
    const { id, title, abstract, ...meta } = parsed.data;
    const idSource = typeof id === "number" ? (idText ?? String(id)) : id?.trim();
    entries.push({
      ...(idSource ? { id: idSource } : {}),
      title,
      abstract,
      source: { file, line },
      ...(Object.keys(meta).length ? { meta } : {}),
    });
  });
  return { entries, problems };
}
