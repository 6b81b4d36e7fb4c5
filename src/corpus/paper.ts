// The Paper every corpus reader produces, and the text clean-up they all share.

export interface SourceLocation {
  /** Path relative to the corpus folder, with forward slashes. */
  file: string;
  /** 1-based line where the entry starts. */
  line: number;
}

export interface Paper {
  /** Explicit id where the format has one (JSONL `id`, arXiv id), otherwise a slug of the title. */
  id: string;
  title: string;
  abstract: string;
  source: SourceLocation;
  meta?: Record<string, unknown> | undefined;
}

/** What a reader returns before ids are assigned and text is cleaned. */
export type RawEntry = Omit<Paper, "id"> & { id?: string };

export interface ReadResult {
  entries: RawEntry[];
  problems: CorpusProblem[];
}

/** A malformed entry: reported with its location and skipped (or fatal with --strict). */
export interface CorpusProblem {
  file: string;
  line: number;
  message: string;
}

/** NFC, no byte-order mark, whitespace runs (including newlines) folded to one space. */
export function cleanText(text: string): string {
  return text.replace(/^\uFEFF/, "").normalize("NFC").replace(/\s+/g, " ").trim();
}

export function slugify(title: string): string {
  const slug = title
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 80)
    .replace(/-+$/, "");
  return slug || "untitled";
}

/** Longest title or abstract accepted; larger ones are cut here so one entry cannot blow up the index. */
export const MAX_TITLE_CHARS = 1_000;
export const MAX_ABSTRACT_CHARS = 100_000;
