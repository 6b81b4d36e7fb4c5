// CSL-JSON (.json), as Zotero's "Export → CSL JSON" and citation managers write it: an array of items, or
// one item. `author[{family, given, literal}]`, `issued.date-parts`, `DOI`, `container-title`, `keyword`;
// JATS markup in abstracts (as publishers deposit them) is stripped. The id is the item's `citation-key`
// (Better BibTeX) or else its `id`, as written.
import { fromCsl } from "./bibliographic.ts";
import { stripMarkup } from "./markup.ts";
import type { CorpusProblem, RawEntry, ReadResult } from "./paper.ts";

const text = (value: unknown): string =>
  typeof value === "string" ? value : typeof value === "number" ? String(value) : Array.isArray(value) ? value.map(text).filter(Boolean).join(" ") : "";
/** A field that holds something other than text (an object): it cannot be read, and is said so. */
const notText = (value: unknown) => !!value && typeof value === "object" && !Array.isArray(value);

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
    const title = stripMarkup(text(item.title));
    for (const field of ["title", "abstract"] as const) {
      if (!notText(item[field])) continue;
      const which = `${id ? `${id} ` : ""}${field === "abstract" && title ? `"${title.slice(0, 80)}" ` : ""}`;
      const message = `${which}has no ${field} (its ${field} is an object, not text); skipped`;
      problems.push({ file, line, message, ...(field === "abstract" ? { kind: "no-abstract" as const } : {}) });
    }
    if (notText(item.title) || notText(item.abstract)) continue;
    entries.push({
      ...(id ? { id } : {}),
      title,
      abstract: stripMarkup(text(item.abstract)),
      source: { file, line },
      meta: Object.fromEntries(Object.entries(item).filter(([key]) => key !== "title" && key !== "abstract")),
      bib: fromCsl(item, (n) => notes.push(n)),
      ...(notes.length ? { notes } : {}),
    });
  }
  return { entries, problems };
}
