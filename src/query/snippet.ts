// The snippet of a hit: the sentences of its best chunk that share the most terms with the question.
import { splitSentences } from "../chunk.ts";
import { terms } from "./terms.ts";

/** A snippet is at most this long (the MCP tools state it). */
export const MAX_SNIPPET_CHARS = 320;

/**
 * Text without LaTeX markup, as arXiv abstracts carry it: `\emph{x}` → x, `$3.3\times$` → 3.3×, other
 * commands dropped, math delimiters and braces removed.
 */
export function plainLatex(text: string): string {
  if (!/[\\$]/.test(text)) return text;
  return text
    .replace(/\\times\b/g, "×")
    .replace(/\\[a-zA-Z]+\*?\s*(?=\{)/g, "")
    .replace(/\\[a-zA-Z]+\*?/g, "")
    .replace(/\$([^$]*)\$/g, "$1")
    .replace(/[{}]/g, "");
}

export function snippet(chunkText: string, question: string): string {
  const body = plainLatex(chunkText.slice(chunkText.indexOf("\n") + 1));
  const wanted = new Set(terms(question));
  const sentences = splitSentences(body).map((s) => body.slice(s.start, s.end));
  if (!sentences.length) return body.slice(0, MAX_SNIPPET_CHARS);
  let best = 0;
  let bestScore = -1;
  sentences.forEach((sentence, i) => {
    const score = new Set(terms(sentence).filter((t) => wanted.has(t))).size;
    if (score > bestScore) [best, bestScore] = [i, score];
  });
  let text = sentences[best]!;
  for (let i = best + 1; i < sentences.length && text.length + sentences[i]!.length < MAX_SNIPPET_CHARS; i++) {
    text += " " + sentences[i];
  }
  return text.length > MAX_SNIPPET_CHARS ? text.slice(0, MAX_SNIPPET_CHARS - 1).replace(/\s+\S*$/, "") + "…" : text;
}
