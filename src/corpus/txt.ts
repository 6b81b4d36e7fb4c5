// Plain-text corpus files, as the bundled abstracts file is laid out: a title line, a blank line, the
// abstract paragraph, repeated. The rules (the README states them word for word):
// - paragraphs are separated by blank lines;
// - a title is a paragraph of one line of at most 40 words;
// - an abstract is a paragraph of several lines or of more than 40 words, or one line of two words or more
//   that ends with a full stop (".", "…" or "。", maybe followed by a closing bracket or quote);
// - an entry is a title followed by an abstract;
// - paragraphs before the first entry are page boilerplate (banners, dates, "Subscribe"): skipped, with a
//   notice of how many; one there that can only be an abstract is reported;
// - after the first entry, a paragraph that is not part of an entry is reported with its line and skipped,
//   never merged into a neighbour (issue 9);
// - a file with paragraphs but no entry is reported, saying what an entry is.
// An abstract of a single short line must end like a sentence so that a banner pair ("new" / "Get trending
// papers in your inbox!") or a stray line before a title ("Code is available at …") is not taken for an
// entry; no length threshold decides, so a short abstract is never taken for boilerplate (issue 17).
import type { CorpusProblem, RawEntry, ReadResult } from "./paper.ts";

interface Paragraph {
  line: number;
  lines: string[];
  words: number;
}

/** A title is one line of at most this many words; a longer line is an abstract. */
export const MAX_TITLE_WORDS = 40;

/** What an entry is, for the message of a file that has none. */
const ENTRY_RULE =
  `a title line, a blank line, then the abstract (several lines, more than ${MAX_TITLE_WORDS} words, or one sentence ending with a full stop)`;

function paragraphs(text: string): Paragraph[] {
  const result: Paragraph[] = [];
  let current: Paragraph | null = null;
  text.split(/\r\n|\r|\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line) {
      current = null;
      return;
    }
    if (!current) {
      current = { line: i + 1, lines: [], words: 0 };
      result.push(current);
    }
    current.lines.push(line);
    current.words += line.split(/\s+/).length;
  });
  return result;
}

const isTitle = (p: Paragraph) => p.lines.length === 1 && p.words <= MAX_TITLE_WORDS;

const endsWithFullStop = (line: string) => /[.…。．][)\]"'”’»]*$/.test(line);

const isAbstract = (p: Paragraph | undefined): p is Paragraph => !!p && (!isTitle(p) || (p.words >= 2 && endsWithFullStop(p.lines[0]!)));

const quote = (p: Paragraph) => `"${p.lines[0]!.length > 60 ? `${p.lines[0]!.slice(0, 60)}…` : p.lines[0]!}"`;

export function readTxt(text: string, file: string): ReadResult {
  const paras = paragraphs(text);
  const entries: RawEntry[] = [];
  const problems: CorpusProblem[] = [];
  const notices: string[] = [];
  const problem = (p: Paragraph, message: string) => problems.push({ file, line: p.line, message });
  const orphan = "a paragraph that looks like an abstract has no title line before it; skipped";

  const first = paras.findIndex((p, j) => isTitle(p) && isAbstract(paras[j + 1]));
  if (first < 0) {
    if (paras.length) problem(paras[0]!, `no entry found: papersift reads ${ENTRY_RULE}`);
    return { entries, problems };
  }
  const boilerplate = paras.slice(0, first);
  for (const p of boilerplate) if (!isTitle(p)) problem(p, orphan);
  const skipped = boilerplate.filter(isTitle).length;
  if (skipped) {
    notices.push(`${file}:${paras[0]!.line}: skipped ${skipped} short paragraph${skipped === 1 ? "" : "s"} before the first entry (line ${paras[first]!.line}) as page boilerplate`);
  }
  for (let i = first; i < paras.length; ) {
    const para = paras[i]!;
    const next = paras[i + 1];
    if (!isTitle(para)) {
      problem(
        para,
        para.lines.length > 1 && para.lines[0]!.split(/\s+/).length <= MAX_TITLE_WORDS
          ? "expected a title line, then a blank line, then the abstract; this paragraph has no title line before it (or its title has no blank line after it); skipped"
          : orphan,
      );
      i++;
    } else if (isAbstract(next)) {
      entries.push({ title: para.lines[0]!, abstract: next.lines.join(" "), source: { file, line: para.line } });
      i += 2;
    } else {
      problem(para, `${quote(para)} has no abstract after it (an abstract is several lines, more than ${MAX_TITLE_WORDS} words, or one sentence ending with a full stop); skipped`);
      i++;
    }
  }
  return { entries, problems, notices };
}
