// The Paper every corpus reader produces, and the text clean-up they all share.
import { hash } from "node:crypto";
import type { Bibliographic } from "./bibliographic.ts";

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
  /** The record's own fields as read (JSONL fields besides id/title/abstract, BibTeX fields, RIS tags, …). */
  meta?: Record<string, unknown> | undefined;
  /** Normalised metadata: authors, date, venue, DOI/arXiv/PMID, keywords (see bibliographic.ts). */
  bib?: Bibliographic | undefined;
}

/** What a reader returns before ids are assigned and text is cleaned. */
export type RawEntry = Omit<Paper, "id"> & {
  id?: string;
  /** Things worth telling about this entry that do not cost it (an impossible date ignored). */
  notes?: string[];
};

export interface ReadResult {
  entries: RawEntry[];
  problems: CorpusProblem[];
  /** Worth telling but not wrong (what a reader skipped on purpose). */
  notices?: string[];
}

/** A malformed entry: reported with its location and skipped (or fatal with --strict). */
export interface CorpusProblem {
  file: string;
  line: number;
  message: string;
  /**
   * "no-abstract": a record without an abstract (a reference-manager export has many); counted per file.
   * Readers set only that; an ingest's summary names every problem's kind (kindOf): "unreadable" for a
   * path whose papers were kept, else "malformed".
   */
  kind?: "no-abstract" | "unreadable" | "malformed";
}

/**
 * A problem as one line, "lib.bib:13: @article{broken1: cannot be parsed (…); skipped": what became of the
 * entry said once, at the end ("; skipped" added where the message does not say it was skipped, kept or
 * repaired).
 */
export function problemLine(p: CorpusProblem): string {
  return `${p.file}:${p.line}: ${p.message}${/\b(?:skipped|kept|replaced)\b/.test(p.message) ? "" : "; skipped"}`;
}

/** NFC, no byte-order mark, whitespace runs (including newlines) folded to one space. */
export function cleanText(text: string): string {
  // Both steps skip the common case cheaply (this runs on every entry of a 200k-paper corpus): ASCII text
  // is already NFC, and a lone " " needs no folding, so only longer or other whitespace runs are matched.
  const nfc = /[^\x00-\x7F]/.test(text) ? text.replace(/^\uFEFF/, "").normalize("NFC") : text;
  return nfc.replace(/ \s+|[^\S ]\s*/g, " ").trim();
}

/**
 * A readable, Unicode-aware slug of a title: letters and digits of any script, lower-cased, joined by "-".
 * Empty when the title has none (only symbols).
 */
export function slugify(title: string): string {
  return title
    .normalize("NFKD")
    .replace(/\p{M}/gu, "")
    .toLowerCase()
    .normalize("NFC")
    .replace(/[^\p{L}\p{N}]+/gu, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 80)
    .replace(/-+$/, "");
}

/** Short content hash of a paper: the same title and abstract always give the same suffix. */
export function contentSuffix(title: string, abstract: string, length = 8): string {
  // One-shot crypto.hash: no Hash object per entry, which counts on a 200k-paper corpus.
  return hash("sha256", `${title}\0${abstract}`, "hex").slice(0, length);
}

/** Longest title or abstract accepted; larger ones are cut here so one entry cannot blow up the index. */
export const MAX_TITLE_CHARS = 1_000;
export const MAX_ABSTRACT_CHARS = 100_000;
