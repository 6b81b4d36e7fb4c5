// Plain-text corpus files, as the bundled abstracts file is laid out: a title line, a blank line, the
// abstract paragraph, repeated. The rules (the README states them word for word):
// - paragraphs are separated by blank lines;
// - a title is a paragraph of one line of at most 40 words;
// - an abstract is a paragraph of several lines or of more than 40 words, or one line of two words or more
//   that ends with a full stop (".", "…" or "。", maybe followed by a closing bracket or quote);
// - an entry is a title followed by an abstract;
// - paragraphs before the first entry are page boilerplate (banners, dates, "Subscribe"): skipped, with a
//   notice of how many; one there that can only be an abstract is reported, and so is a title followed by
//   one line of three words or more just before the first entry (or before another such pair): that is a
//   title/abstract pair whose abstract lacks its full stop, never swallowed silently (review-hostile17 #3);
// - after the first entry, a paragraph that is not part of an entry is reported with its line and skipped,
//   never merged into a neighbour (issue 9);
// - a file with paragraphs but no entry is reported, saying what an entry is.
// Words are counted at Unicode word boundaries (Intl.Segmenter), so unspaced Japanese or Chinese counts.
// An abstract of a single short line must end like a sentence so that a banner pair ("new" / "Get trending
// papers in your inbox!") or a stray line before a title ("Code is available at …") is not taken for an
// entry; no length threshold decides, so a short abstract is never taken for boilerplate (issue 17).
import type { CorpusProblem, RawEntry, ReadResult } from "./paper.ts";

interface Paragraph {
  line: number;
  lines: string[];
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
      current = { line: i + 1, lines: [] };
      result.push(current);
    }
    current.lines.push(line);
  });
  return result;
}

const segmenter = new Intl.Segmenter(undefined, { granularity: "word" });

/**
 * The words of one line, counted at Unicode word boundaries (punctuation is not a word; 日本語の… is
 * several), up to `cap`: every rule only asks whether a line has more than 40, or at least 2 or 3.
 */
function words(line: string, cap = MAX_TITLE_WORDS + 1): number {
  let n = 0;
  for (const s of segmenter.segment(line)) if (s.isWordLike && ++n >= cap) break;
  return n;
}

const isTitle = (p: Paragraph) => p.lines.length === 1 && words(p.lines[0]!) <= MAX_TITLE_WORDS;

const endsWithFullStop = (line: string) => /[.…。．][)\]"'”’»]*$/.test(line);

const isAbstract = (p: Paragraph | undefined): p is Paragraph => !!p && (!isTitle(p) || (words(p.lines[0]!) >= 2 && endsWithFullStop(p.lines[0]!)));

/** Before the first entry: a title and one line of three words or more, an abstract without its full stop. */
const looksLikePair = (title: Paragraph | undefined, next: Paragraph | undefined) =>
  !!title && !!next && isTitle(title) && isTitle(next) && words(next.lines[0]!) >= 3;

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
  // Pairs just before the first entry, back to front: each is reported, not skipped as boilerplate.
  let banner = first;
  while (banner >= 2 && looksLikePair(paras[banner - 2], paras[banner - 1])) banner -= 2;
  for (let j = banner; j < first; j += 2) {
    problem(paras[j]!, `${quote(paras[j]!)} and the line after it look like a title and an abstract, but an abstract of one line must end with a full stop (".", "…" or "。"); skipped`);
  }
  const boilerplate = paras.slice(0, banner);
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
        para.lines.length > 1 && words(para.lines[0]!) <= MAX_TITLE_WORDS
          ? "expected a title line, then a blank line, then the abstract; this paragraph has no title line before it (or its title has no blank line after it); skipped"
          : orphan,
      );
      i++;
    } else if (isAbstract(next)) {
      entries.push({ title: para.lines[0]!, abstract: next.lines.join(" "), source: { file, line: para.line } });
      i += 2;
    } else {
      problem(
        para,
        `${quote(para)} is a paragraph outside any entry: no abstract follows it (an abstract is several lines, more than ${MAX_TITLE_WORDS} words, or one sentence ending with a full stop), and no title comes before it; skipped`,
      );
      i++;
    }
  }
  return { entries, problems, notices };
}
