// Plain-text corpus files, as the bundled abstracts file is laid out: a title line, a blank line, the
// abstract paragraph, repeated. Page boilerplate ("Subscribe", dates, banners) sits before and between
// entries, so a title is recognised by what follows it: a one-line paragraph followed by a paragraph that
// reads like an abstract. A long paragraph right after an abstract continues it (multi-paragraph abstracts).
import type { CorpusProblem, RawEntry, ReadResult } from "./paper.ts";

interface Paragraph {
  line: number;
  lines: string[];
  words: number;
}

/** An abstract has at least this many words; boilerplate paragraphs are shorter. */
const MIN_ABSTRACT_WORDS = 25;

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

export function readTxt(
  text: string,
  file: string,
): ReadResult {
  const paras = paragraphs(text);
  const entries: RawEntry[] = [];
  const problems: CorpusProblem[] = [];
  const isAbstract = (p: Paragraph | undefined) => p !== undefined && p.words >= MIN_ABSTRACT_WORDS;
  let previousWasAbstract = false;
  for (let i = 0; i < paras.length; i++) {
    const para = paras[i]!;
    const next = paras[i + 1];
    if (para.lines.length === 1 && isAbstract(next) && next!.words > 2 * para.words) {
      entries.push({ title: para.lines[0]!, abstract: next!.lines.join(" "), source: { file, line: para.line } });
      i++;
      previousWasAbstract = true;
    } else if (isAbstract(para) && previousWasAbstract) {
      const last = entries[entries.length - 1]!;
      last.abstract += "\n\n" + para.lines.join(" ");
    } else {
      if (isAbstract(para)) {
        problems.push({ file, line: para.line, message: "a paragraph that looks like an abstract has no title line before it" });
      }
      previousWasAbstract = false;
    }
  }
  return { entries, problems };
}
