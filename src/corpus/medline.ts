// PubMed's MEDLINE format (.nbib, and .txt as PubMed's "Save → PubMed format" names it): records of
// `TAG - value` lines (the tag padded to four characters), continuation lines indented by six spaces,
// records apart by a blank line. https://www.nlm.nih.gov/bsd/mms/medlineelements.html
import { normaliseArxiv, normaliseDoi, normalisePmid, parseDate, splitKeywords } from "./bibliographic.ts";
import type { CorpusProblem, RawEntry, ReadResult } from "./paper.ts";

const TAG = /^([A-Z][A-Z0-9 ]{1,3})- ?(.*)$/;

/**
 * A .txt file in MEDLINE format rather than papersift's title/abstract layout: it starts with a `PMID-`
 * line, as PubMed's "Save → PubMed format" does, and (nearly) every line of its head is a tag line or an
 * indented continuation. One `PMID- 12345678` line in a reading list does not make the list MEDLINE.
 */
export function isMedline(text: string): boolean {
  const lines = text.slice(0, 64 * 1024).replace(/^\uFEFF/, "").split(/\r\n|\r|\n/).slice(0, -1).filter((l) => l.trim());
  if (!lines.length || !/^PMID- ?\d+\s*$/.test(lines[0]!)) return false;
  const medline = lines.filter((l) => TAG.test(l) || /^\s/.test(l)).length;
  return medline >= 0.9 * lines.length;
}

export function readMedline(text: string, file: string): ReadResult {
  const entries: RawEntry[] = [];
  const problems: CorpusProblem[] = [];
  let record: Record<string, string[]> | null = null;
  let start = 0;
  let last: string | null = null;
  const finish = () => {
    if (record) {
      const entry = toEntry(record, file, start);
      if (entry) entries.push(entry);
      else problems.push({ file, line: start, message: "MEDLINE record without a PMID; skipped" });
    }
    record = null;
    last = null;
  };
  text.split(/\r\n|\r|\n/).forEach((raw, i) => {
    if (!raw.trim()) return finish();
    const tag = TAG.exec(raw);
    if (tag && !raw.startsWith("      ")) {
      const name = tag[1]!.trim();
      if (name === "PMID" && record?.PMID) finish();
      if (!record) {
        record = {};
        start = i + 1;
      }
      (record[name] ??= []).push(tag[2]!.trim());
      last = name;
    } else if (record && last && /^\s/.test(raw)) {
      const values = record[last]!;
      values[values.length - 1] += ` ${raw.trim()}`;
    } else {
      problems.push({ file, line: i + 1, message: "not a MEDLINE line (TAG - value, or an indented continuation); skipped" });
    }
  });
  finish();
  return { entries, problems };
}

function toEntry(r: Record<string, string[]>, file: string, line: number): RawEntry | null {
  const pmid = normalisePmid(r.PMID?.[0]);
  if (!pmid) return null;
  const ids = [...(r.LID ?? []), ...(r.AID ?? [])];
  const idOf = (kind: string) => ids.find((v) => v.endsWith(`[${kind}]`))?.replace(/\s*\[[a-z]+\]$/, "");
  const notes: string[] = [];
  const when = parseDate(r.DP?.[0] ?? r.DEP?.[0]);
  if (when.impossible) notes.push(`impossible date ${JSON.stringify(r.DP?.[0])} ignored`);
  // MeSH headings carry subheadings and a major-topic star: "*Neural Networks, Computer/methods".
  const mesh = (r.MH ?? []).map((h) => h.split("/")[0]!.replace(/^\*/, ""));
  const meta = Object.fromEntries(Object.entries(r).filter(([k]) => k !== "TI" && k !== "AB").map(([k, v]) => [k, v.length === 1 ? v[0]! : v]));
  return {
    id: `pmid:${pmid}`,
    title: r.TI?.join(" ") ?? r.BTI?.join(" ") ?? "",
    abstract: r.AB?.join(" ") ?? "",
    source: { file, line },
    meta,
    bib: {
      // FAU is "Family, Given": shown as "Given Family", as every other format's names are.
      authors: (r.FAU ?? r.AU ?? []).map((name) => name.replace(/^([^,]+),\s*(.+)$/, "$2 $1")),
      date: when.date,
      venue: r.JT?.[0] ?? r.TA?.[0] ?? null,
      doi: normaliseDoi(idOf("doi")),
      arxiv: normaliseArxiv(idOf("arxiv")),
      pmid,
      url: null,
      keywords: splitKeywords([...mesh, ...(r.OT ?? [])]),
      type: r.PT?.[0] ?? null,
    },
    ...(notes.length ? { notes } : {}),
  };
}
