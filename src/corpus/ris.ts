// RIS (.ris), as EndNote, Mendeley, Zotero and Web of Science write it: `TY  - JOUR` … `ER  - `, one tag a
// line, repeated tags (AU, KW), continuation lines, a BOM, CRLF, and a last record without ER. citation-js
// splits the records and maps each to CSL-JSON by the RIS specification's tag table (TI/T1, AU/A1,
// PY/DA/Y1, AB/N2, JO/T2, DO, UR, KW); a record that cannot be mapped costs that record only.
import { fromCsl, normaliseArxiv, normaliseDoi, parseDate } from "./bibliographic.ts";
import { citationJs } from "./citation-js.ts";
import type { CorpusProblem, RawEntry, ReadResult } from "./paper.ts";

type RisRecord = Record<string, string | string[]>;

const TEXT_TAGS = new Set(["TI", "T1", "AB", "N2"]);

const first = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);

export function readRis(text: string, file: string): ReadResult {
  const { records: texts, problems } = splitRecords(text, file);
  const starts = texts.map((r) => r.line);
  let records: RisRecord[];
  try {
    records = citationJs(texts.map((r) => r.text).join("\n"), "@ris/file") as RisRecord[];
    if (records.length !== texts.length) throw new Error("citation-js read a different number of records");
  } catch {
    // Record by record, so that one citation-js cannot read costs that record only.
    records = [];
    texts.forEach((r, i) => {
      try {
        records[i] = (citationJs(r.text, "@ris/file") as RisRecord[])[0] ?? {};
      } catch (error) {
        problems.push({ file, line: r.line, message: `RIS record cannot be read (${(error as Error).message.split("\n")[0]}); skipped` });
      }
    });
  }
  const entries: RawEntry[] = [];
  records.forEach((record, i) => {
    const at = starts[i]!;
    try {
      const mapped = citationJs(record, "@ris/record") as Record<string, unknown> | Record<string, unknown>[];
      const csl = (Array.isArray(mapped) ? mapped[0] : mapped) ?? {};
      const notes: string[] = [];
      const bib = fromCsl(csl, (n) => notes.push(n));
      const url = first(record.UR);
      bib.doi ??= normaliseDoi(first(record.DO));
      bib.arxiv ??= normaliseArxiv(url && /arxiv\.org/i.test(url) ? url : undefined);
      // citation-js maps T2 to a venue for journal types only; a conference record's T2 is its proceedings.
      bib.venue ??= first(record.T2) ?? first(record.JO) ?? first(record.JF) ?? first(record.BT) ?? null;
      // citation-js maps PY to `event-date` for a CONF record, not to `issued`: the record's own date tags
      // then give the paper's date (review-newuser18 #2).
      if (!bib.date) bib.date = risDate(record, (n) => notes.includes(n) || notes.push(n));
      const id = first(record.ID)?.trim();
      entries.push({
        ...(id ? { id } : {}),
        title: String(csl.title ?? first(record.TI) ?? first(record.T1) ?? ""),
        abstract: String(csl.abstract ?? first(record.AB) ?? first(record.N2) ?? ""),
        source: { file, line: at },
        // The abstract and title are the paper's own; the other tags are its record.
        meta: Object.fromEntries(Object.entries(record).filter(([tag]) => !TEXT_TAGS.has(tag))),
        bib,
        ...(notes.length ? { notes } : {}),
      });
    } catch (error) {
      problems.push({ file, line: at, message: `RIS record cannot be read (${(error as Error).message.split("\n")[0]}); skipped` });
    }
  });
  return { entries, problems };
}

/** The first possible date of DA, PY and Y1 (most precise first); an impossible one is noted. */
function risDate(record: RisRecord, note: (message: string) => void): string | null {
  for (const tag of ["DA", "PY", "Y1"]) {
    const raw = first(record[tag]);
    const { date, impossible } = parseDate(raw);
    if (impossible) note(`impossible date ${JSON.stringify(raw)} ignored`);
    if (date) return date;
  }
  return null;
}

/** A tag line however the exporter spaced it ("TI - x", "AB   - x", "AU- x"): RIS's own is `TI  - x`. */
const TAG_LINE = /^([A-Z][A-Z0-9]) *-(?: (.*)|)$/;

/**
 * The file's records, each as RIS with its tags spaced as the specification has them, and the line it
 * starts on. A record starts at `TY` and ends at `ER` (or the next `TY`, or the end of the file); lines
 * outside any record are a record without `TY`: reported and skipped, never merged into the record before.
 * Line ends may be CRLF, LF or an old Mac's CR.
 */
function splitRecords(text: string, file: string): { records: { line: number; text: string }[]; problems: CorpusProblem[] } {
  const records: { line: number; lines: string[] }[] = [];
  const problems: CorpusProblem[] = [];
  let current: { line: number; lines: string[] } | null = null;
  let orphan: number | null = null;
  text.split(/\r\n|\r|\n/).forEach((raw, i) => {
    const line = raw.trim();
    const tag = TAG_LINE.exec(line);
    if (tag?.[1] === "TY") {
      current = { line: i + 1, lines: [] };
      records.push(current);
      orphan = null;
    } else if (tag?.[1] === "ER") {
      current = null;
      orphan = null;
      return;
    } else if (!current) {
      if (line && orphan === null) {
        orphan = i + 1;
        problems.push({ file, line: i + 1, message: "RIS record without TY (the tag that starts a record); skipped" });
      }
      return;
    }
    current.lines.push(tag ? `${tag[1]}  - ${tag[2] ?? ""}` : line);
  });
  return { records: records.map((r) => ({ line: r.line, text: `${r.lines.join("\n")}\nER  - \n` })), problems };
}
