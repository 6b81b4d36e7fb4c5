// A .json file: CSL-JSON (an array of items, or one item) or OpenAlex works (an API response with
// `results`, an array of works, or one work), told apart by content.
import { readCslItems } from "./csl.ts";
import { isOpenAlexWork, openAlexEntry } from "./openalex.ts";
import type { ReadResult } from "./paper.ts";
import { jsonElementOffsets, lineOf } from "./positions.ts";

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
  const located = items.map((v, i) => ({ value: v, line: offsets[i] === undefined ? 1 : line(offsets[i]!) }));
  if (located.some((item) => isOpenAlexWork(item.value))) {
    const entries = located.flatMap((item) => (isOpenAlexWork(item.value) ? [openAlexEntry(item.value, { file, line: item.line })] : []));
    const problems = located.filter((item) => !isOpenAlexWork(item.value)).map((item) => ({ file, line: item.line, message: "not an OpenAlex work; skipped" }));
    return { format: "OpenAlex", entries, problems };
  }
  const looksCsl = located.some((item) => item.value && typeof item.value === "object" && ("title" in item.value || "type" in item.value));
  if (!looksCsl) {
    return { format: "JSON", entries: [], problems: [], skipped: "JSON that is neither CSL-JSON (items with a title or type) nor OpenAlex works" };
  }
  return { format: "CSL-JSON", ...readCslItems(located, file) };
}
