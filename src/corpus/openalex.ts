// OpenAlex works (https://docs.openalex.org/api-entities/works/work-object), one per JSONL line or in a
// .json file (an API response's `results`, an array, or one work). The abstract is rebuilt from
// `abstract_inverted_index` (word → positions); authors from `authorships[].author.display_name`; the id
// is the work's short id (W2741809807).
import { normaliseArxiv, normaliseDoi, normalisePmid, parseDate, splitKeywords, type Bibliographic } from "./bibliographic.ts";
import { stripMarkup } from "./markup.ts";
import type { RawEntry, SourceLocation } from "./paper.ts";

/** Told from papersift's own JSONL by content: an OpenAlex id, or an inverted-index abstract. */
export function isOpenAlexWork(value: unknown): value is Record<string, unknown> {
  if (!value || typeof value !== "object" || Array.isArray(value)) return false;
  const v = value as Record<string, unknown>;
  if (typeof v.id === "string" && /openalex\.org\/W\d+$/i.test(v.id)) return true;
  // A stray `abstract_inverted_index` (even null) beside an abstract of its own is not an OpenAlex work.
  return "abstract_inverted_index" in v && typeof v.abstract !== "string";
}

/**
 * The abstract as text: each word placed at its positions. A position given to several words (a broken
 * index) keeps them all, in index order, and `clash` is told how many words share how many positions.
 */
export function invertedAbstract(index: unknown, clash: (words: number, positions: number) => void = () => {}): string {
  if (!index || typeof index !== "object") return "";
  const slots: string[][] = [];
  for (const [word, positions] of Object.entries(index as Record<string, unknown>)) {
    if (!Array.isArray(positions)) continue;
    for (const p of positions) if (Number.isInteger(p) && p >= 0 && p < 100_000) (slots[p] ??= []).push(word);
  }
  const crowded = slots.filter((s) => s !== undefined && s.length > 1);
  if (crowded.length) clash(crowded.reduce((n, s) => n + s.length, 0), crowded.length);
  return slots.flatMap((s) => s ?? []).join(" ");
}

const obj = (value: unknown): Record<string, unknown> => (value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : {});
const str = (value: unknown) => (typeof value === "string" && value.trim() ? value.trim() : null);

export function openAlexEntry(work: Record<string, unknown>, source: SourceLocation): RawEntry {
  const ids = obj(work.ids);
  const notes: string[] = [];
  const when = parseDate(work.publication_date ?? work.publication_year);
  if (when.impossible) notes.push(`impossible date ${JSON.stringify(work.publication_date ?? work.publication_year)} ignored`);
  const primary = obj(work.primary_location);
  const locations = Array.isArray(work.locations) ? work.locations.map(obj) : [];
  const arxivUrl = locations.map((l) => str(l.landing_page_url)).find((u) => u && /arxiv\.org/i.test(u));
  const topic = obj(work.primary_topic);
  const bib: Bibliographic = {
    authors: (Array.isArray(work.authorships) ? work.authorships : []).map((a) => str(obj(obj(a).author).display_name)).filter((a): a is string => !!a),
    date: when.date,
    venue: str(obj(primary.source).display_name) ?? str(obj(work.host_venue).display_name),
    doi: normaliseDoi(work.doi ?? ids.doi),
    arxiv: normaliseArxiv(arxivUrl),
    pmid: normalisePmid(str(ids.pmid)?.replace(/\/$/, "").replace(/^.*\//, "")),
    url: str(primary.landing_page_url),
    keywords: splitKeywords([
      str(topic.display_name),
      str(obj(topic.subfield).display_name),
      str(obj(topic.field).display_name),
      ...(Array.isArray(work.keywords) ? work.keywords.map((k) => str(obj(k).display_name) ?? str(k)) : []),
    ].filter(Boolean)),
    type: str(work.type),
  };
  const id = str(work.id)?.replace(/^.*\//, "");
  const { abstract_inverted_index: _index, ...meta } = work;
  return {
    ...(id ? { id } : {}),
    title: stripMarkup(str(work.title) ?? str(work.display_name) ?? ""),
    abstract: invertedAbstract(work.abstract_inverted_index, (words, positions) =>
      notes.push(`abstract_inverted_index puts ${words} words at ${positions === 1 ? "one position" : `${positions} positions`}; read in index order`),
    ),
    source,
    meta,
    bib,
    ...(notes.length ? { notes } : {}),
  };
}
