// A .json file: CSL-JSON (an array of items, or one item) or OpenAlex works (an API response with
// `results`, an array of works, or one work), told apart by content.
import { readCslItems } from "./csl.ts";
import { isOpenAlexWork, openAlexEntry } from "./openalex.ts";
import type { ReadResult } from "./paper.ts";
import { MAX_DEPTH } from "./jsonl.ts";
import { jsonElementOffsets, lineOf } from "./positions.ts";

/** Does this parsed value nest deeper than `max`? Without recursion: a 10,000-deep value must not overflow. */
function deeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (!v || typeof v !== "object") continue;
    if (depth + 1 > max) return true;
    for (const child of Object.values(v)) if (child && typeof child === "object") stack.push([child, depth + 1]);
  }
  return false;
}

export function readJson(text: string, file: string): ReadResult & { format: string; skipped?: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { format: "JSON", entries: [], problems: [{ file, line: 1, message: `invalid JSON (${(error as Error).message.replace(/ in JSON at position.*$/, "")}); skipped` }] };
  }
  const line = lineOf(text);
  const results = value && typeof value === "object" && !Array.isArray(value) && Array.isArray((value as { results?: unknown }).results);
  const items: unknown[] = results ? (value as { results: unknown[] }).results : Array.isArray(value) ? value : [value];
  const offsets = Array.isArray(value) || results ? jsonElementOffsets(text, results ? "results" : "array") : [0];
  const problems: { file: string; line: number; message: string }[] = [];
  // Deeper metadata is refused, as in JSONL: that item only (writing it back would overflow the stack).
  const located = items
    .map((v, i) => ({ value: v, line: offsets[i] === undefined ? 1 : line(offsets[i]!) }))
    .filter((item) => !deeperThan(item.value, MAX_DEPTH) || !problems.push({ file, line: item.line, message: `nested deeper than ${MAX_DEPTH} levels; skipped` }));
  const works = located.filter((item) => isOpenAlexWork(item.value));
  if (works.length && works.length === located.length) {
    return { format: "OpenAlex", entries: works.map((item) => openAlexEntry(item.value as Record<string, unknown>, { file, line: item.line })), problems };
  }
  const looksCsl = located.some((item) => item.value && typeof item.value === "object" && ("title" in item.value || "type" in item.value));
  if (!looksCsl && !works.length) {
    return { format: "JSON", entries: [], problems, skipped: "JSON that is neither CSL-JSON (items with a title or type) nor OpenAlex works" };
  }
  // Each item read as what it is: OpenAlex works beside CSL items (a hand-merged export) cost nothing.
  const csl = readCslItems(located.filter((item) => !isOpenAlexWork(item.value)), file);
  const entries = [...csl.entries, ...works.map((item) => openAlexEntry(item.value as Record<string, unknown>, { file, line: item.line }))];
  entries.sort((a, b) => a.source.line - b.source.line);
  return { format: "CSL-JSON", entries, problems: [...problems, ...csl.problems] };
}
