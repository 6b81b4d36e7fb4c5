// RIS (.ris), as EndNote, Mendeley, Zotero and Web of Science write it: `TY  - JOUR` … `ER  - `, one tag a
// line, repeated tags (AU, KW), continuation lines, a BOM, CRLF, and a last record without ER. citation-js
// splits the records and maps each to CSL-JSON by the RIS specification's tag table (TI/T1, AU/A1,
// PY/DA/Y1, AB/N2, JO/T2, DO, UR, KW); a record that cannot be mapped costs that record only.
import { fromCsl, normaliseArxiv, normaliseDoi } from "./bibliographic.ts";
import { citationJs } from "./citation-js.ts";
import type { CorpusProblem, RawEntry, ReadResult } from "./paper.ts";
import { lineOf } from "./positions.ts";

type RisRecord = Record<string, string | string[]>;

const TEXT_TAGS = new Set(["TI", "T1", "AB", "N2"]);

const first = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);

export function readRis(text: string, file: string): ReadResult {
  const problems: CorpusProblem[] = [];
  const line = lineOf(text);
  const starts = [...text.matchAll(/^TY {2}- /gm)].map((m) => line(m.index!));
  let records: RisRecord[];
  try {
    records = citationJs(text, "@ris/file") as RisRecord[];
  } catch (error) {
    return { entries: [], problems: [{ file, line: 1, message: `not RIS that can be read (${(error as Error).message.split("\n")[0]})` }] };
  }
  const entries: RawEntry[] = [];
  records.forEach((record, i) => {
    const at = starts[i] ?? 1;
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
