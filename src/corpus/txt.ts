// Plain-text corpus files, as the bundled abstracts file is laid out: a title line, a blank line, the
// abstract paragraph, repeated. Page boilerplate ("Subscribe", dates, banners) may sit before the first
// entry and is skipped. After the first entry the file must alternate title and abstract: a paragraph that
// does not fit (an abstract with no title line, a title run into its abstract, a title with no abstract) is
// reported with its line and skipped, never merged into a neighbour (issue 9).
import type { CorpusProblem, RawEntry, ReadResult } from "./paper.ts";

interface Paragraph {
  line: number;
  lines: string[];
  words: number;
}

/** The first entry needs an abstract of at least this many words, so a banner pair is not taken for one. */
const MIN_FIRST_ABSTRACT_WORDS = 25;
/** A title is one line of at most this many words; a longer line is an abstract. */
const MAX_TITLE_WORDS = 40;

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

/** Reads as prose: long, wrapped over lines, or ending a sentence. A bare "Subscribe" does not. */
const isAbstract = (p: Paragraph, title: Paragraph) =>
  p.words >= MIN_FIRST_ABSTRACT_WORDS || p.lines.length > 1 || (/[.!?…)\]"”']$/.test(p.lines[p.lines.length - 1]!) && p.words > 1 && !isTitleOnly(p, title));

/** A one-line paragraph no longer than the title before it is more likely the next title than an abstract. */
const isTitleOnly = (p: Paragraph, title: Paragraph) => p.lines.length === 1 && p.words <= title.words && !/[.]$/.test(p.lines[0]!);

export function readTxt(text: string, file: string): ReadResult {
  const paras = paragraphs(text);
  const entries: RawEntry[] = [];
  const problems: CorpusProblem[] = [];
  const problem = (p: Paragraph, message: string) => problems.push({ file, line: p.line, message });

  // Boilerplate before the first entry: skipped, unless it is an abstract that lost its title.
  let i = paras.findIndex(
    (p, j) => isTitle(p) && paras[j + 1] !== undefined && paras[j + 1]!.words >= MIN_FIRST_ABSTRACT_WORDS && paras[j + 1]!.words > 2 * p.words,
  );
  if (i < 0) i = paras.length;
  for (const p of paras.slice(0, i)) {
    if (!isTitle(p)) problem(p, "a paragraph that looks like an abstract has no title line before it; skipped");
  }
  while (i < paras.length) {
    const para = paras[i]!;
    const next = paras[i + 1];
    if (!isTitle(para)) {
      problem(
        para,
        para.lines.length > 1 && para.lines[0]!.split(/\s+/).length <= MAX_TITLE_WORDS
          ? "expected a title line, then a blank line, then the abstract; this paragraph has no title line before it (or its title has no blank line after it); skipped"
          : "a paragraph that looks like an abstract has no title line before it; skipped",
      );
      i++;
    } else if (next && isAbstract(next, para)) {
      entries.push({ title: para.lines[0]!, abstract: next.lines.join(" "), source: { file, line: para.line } });
      i += 2;
    } else {
      problem(para, `title "${para.lines[0]!.slice(0, 60)}" has no abstract after it; skipped`);
      i++;
    }
  }
  return { entries, problems };
}
