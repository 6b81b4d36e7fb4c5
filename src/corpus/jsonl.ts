// JSON Lines: one paper per line, `{ id?, title, abstract, ...metadata }`. The arXiv metadata snapshot
// (id, title, abstract, authors, categories, update_date, ...) loads as it is; every field besides id,
// title and abstract is kept as metadata.
import { z } from "zod";
import type { CorpusProblem, RawEntry, ReadResult } from "./paper.ts";

const Entry = z
  .object({
    id: z.union([z.string(), z.number()]).optional(),
    title: z.string().trim().min(1, "title is empty"),
    abstract: z.string().trim().min(1, "abstract is empty"),
  })
  .loose();

export function readJsonl(text: string, file: string): ReadResult {
  const entries: RawEntry[] = [];
  const problems: CorpusProblem[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    if (!raw.trim()) return;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (error) {
      problems.push({ file, line, message: `invalid JSON (${error instanceof RangeError ? "nested too deeply" : (error as Error).message})` });
      return;
    }
    const parsed = Entry.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const field = issue.path.join(".") || "entry";
      problems.push({ file, line, message: issue.code === "invalid_type" ? `${field}: expected ${"expected" in issue ? issue.expected : "a value"}` : `${field}: ${issue.message}` });
      return;
    }
    const { id, title, abstract, ...meta } = parsed.data;
    entries.push({
      ...(id !== undefined && String(id).trim() ? { id: String(id).trim() } : {}),
      title,
      abstract,
      source: { file, line },
      ...(Object.keys(meta).length ? { meta } : {}),
    });
  });
  return { entries, problems };
}
