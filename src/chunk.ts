// Token-aware chunking with the model's own tokenizer: the title leads every chunk, followed by a window
// of whole abstract sentences that fits the model. Windows overlap by whole sentences.
import type { Paper } from "./corpus/index.ts";

export interface ChunkParams {
  /** Tokens per chunk including [CLS]/[SEP]; at most the model window. */
  windowTokens: number;
  /** Trailing sentences of a window, up to this many tokens, open the next one. */
  overlapTokens: number;
}

export interface Chunk {
  paperId: string;
  ord: number;
  /** title.slice(0, titleChars), newline, then abstract.slice(start, end). */
  text: string;
  /** How much of the title leads the chunk (all of it unless the title is longer than half the window). */
  titleChars: number;
  /** Token count including [CLS]/[SEP]. */
  tokens: number;
  start: number;
  end: number;
}

/** Counts word pieces of a text without special tokens. */
export type CountTokens = (text: string) => number;

export interface Span {
  start: number;
  end: number;
}

// Abbreviations after which a period does not end a sentence even before a capital ("e.g. Transformers").
const ABBREVIATION = /(?:\b(?:e\.g|i\.e|et al|cf|vs|Fig|Figs|Eq|Eqs|Sec|Ref|Refs|No|approx|resp|w\.r\.t|Dr|Mr|Ms|Prof|St)\.|\b[A-Z]\.)\s*$/;

// Made once: constructing an ICU segmenter costs far more than using one (it was most of a query's time).
const segmenter = new Intl.Segmenter("en", { granularity: "sentence" });

/** Sentence spans of a text. Intl.Segmenter (ICU) already keeps "e.g. the" and "3.8%" whole. */
export function splitSentences(text: string): Span[] {
  const spans: Span[] = [];
  let pending: Span | null = null;
  for (const { segment, index } of segmenter.segment(text)) {
    const span: Span = pending ?? { start: index, end: index };
    span.end = index + segment.length;
    if (ABBREVIATION.test(segment)) {
      pending = span;
      continue;
    }
    pending = null;
    spans.push(span);
  }
  if (pending) spans.push(pending);
  return spans.map(trimSpan(text)).filter((s) => s.end > s.start);
}

const trimSpan = (text: string) => (span: Span): Span => {
  let { start, end } = span;
  while (start < end && /\s/.test(text[start]!)) start++;
  while (end > start && /\s/.test(text[end - 1]!)) end--;
  return { start, end };
};

/** Split a span into word runs of at most `budget` tokens (for sentences longer than a window). */
function splitByTokens(text: string, span: Span, budget: number, count: CountTokens): (Span & { tokens: number })[] {
  const pieces: (Span & { tokens: number })[] = [];
  const words = [...text.slice(span.start, span.end).matchAll(/\S+/g)];
  let current: (Span & { tokens: number }) | null = null;
  for (const word of words) {
    const start = span.start + word.index;
    const end = start + word[0].length;
    let tokens = count(word[0]);
    if (tokens > budget) {
      // A single "word" longer than the window (a URL, junk): keep its head.
      tokens = budget;
    }
    if (current && current.tokens + tokens <= budget) {
      current.end = end;
      current.tokens += tokens;
    } else {
      current = { start, end, tokens };
      pieces.push(current);
    }
  }
  return pieces;
}

/** The longest word prefix of text that fits in budget tokens. */
function fitTitle(title: string, budget: number, count: CountTokens): { text: string; tokens: number } {
  const tokens = count(title);
  if (tokens <= budget) return { text: title, tokens };
  const [first] = splitByTokens(title, { start: 0, end: title.length }, budget, count);
  return { text: title.slice(0, first?.end ?? 0), tokens: first?.tokens ?? 0 };
}

/** The one way a chunk's text is made from its paper; the store rebuilds it the same way. */
export function chunkText(title: string, titleChars: number, abstract: string, start: number, end: number): string {
  return `${title.slice(0, titleChars)}\n${abstract.slice(start, end)}`;
}

export function chunkPaper(paper: Paper, count: CountTokens, params: ChunkParams): Chunk[] {
  const { abstract } = paper;
  // Half the window at most for the title, so a huge title still leaves room for the abstract.
  const title = fitTitle(paper.title, Math.floor(params.windowTokens / 2), count);
  const budget = params.windowTokens - 2 - title.tokens;

  const units: (Span & { tokens: number })[] = [];
  for (const sentence of splitSentences(abstract)) {
    const tokens = count(abstract.slice(sentence.start, sentence.end));
    if (tokens <= budget) units.push({ ...sentence, tokens });
    else units.push(...splitByTokens(abstract, sentence, budget, count));
  }

  const chunks: Chunk[] = [];
  let first = 0;
  while (first < units.length) {
    let last = first;
    let tokens = units[first]!.tokens;
    while (last + 1 < units.length && tokens + units[last + 1]!.tokens <= budget) {
      last++;
      tokens += units[last]!.tokens;
    }
    const start = units[first]!.start;
    const end = units[last]!.end;
    chunks.push({
      paperId: paper.id,
      ord: chunks.length,
      text: chunkText(paper.title, title.text.length, abstract, start, end),
      titleChars: title.text.length,
      tokens: tokens + title.tokens + 2,
      start,
      end,
    });
    if (last + 1 >= units.length) break;
    // Step back over trailing sentences that fit in the overlap, but always move forward.
    let next = last + 1;
    let overlap = 0;
    while (next - 1 > first && overlap + units[next - 1]!.tokens <= params.overlapTokens) {
      next--;
      overlap += units[next]!.tokens;
    }
    first = next;
  }
  return chunks;
}
