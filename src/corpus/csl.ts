// CSL-JSON (.json), as Zotero's "Export → CSL JSON" and citation managers write it: an array of items, or
// one item. `author[{family, given, literal}]`, `issued.date-parts`, `DOI`, `container-title`, `keyword`;
// JATS markup in abstracts (as publishers deposit them) is stripped. The id is the item's `citation-key`
// (Better BibTeX) or else its `id`, as written.
import { fromCsl } from "./bibliographic.ts";
import { stripMarkup } from "./markup.ts";
import type { CorpusProblem, RawEntry, ReadResult } from "./paper.ts";

const text = (value: unknown) => (typeof value === "string" ? value : typeof value === "number" ? String(value) : "");

/** CSL items (already parsed from the file), each with the line its object starts on. */
export function readCslItems(items: { value: unknown; line: number }[], file: string): ReadResult {
  const entries: RawEntry[] = [];
  const problems: CorpusProblem[] = [];
  for (const { value, line } of items) {
    if (!value || typeof value !== "object" || Array.isArray(value)) {
      problems.push({ file, line, message: "not a CSL-JSON item (an object); skipped" });
      continue;
    }
    const item = value as Record<string, unknown>;
    const notes: string[] = [];
    const id = (text(item["citation-key"]) || text(item.id)).trim();
    entries.push({
      ...(id ? { id } : {}),
      title: stripMarkup(text(item.title)),
      abstract: stripMarkup(text(item.abstract)),
      source: { file, line },
      meta: Object.fromEntries(Object.entries(item).filter(([key]) => key !== "title" && key !== "abstract")),
      bib: fromCsl(item, (n) => notes.push(n)),
      ...(notes.length ? { notes } : {}),
    });
  }
  return { entries, problems };
}
