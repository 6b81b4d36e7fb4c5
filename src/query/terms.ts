// Words as the lexical side sees them: lower-case alphanumeric runs minus common English function words.
// Shared by the FTS5 query builder, snippet highlighting and cluster labels.

const STOPWORDS = new Set(
  `a about above after again against all am an and any are as at be because been before being below between
  both but by can could did do does doing down during each few for from further had has have having he her here
  hers herself him himself his how i if in into is it its itself just me more most my myself no nor not now of
  off on once only or other our ours ourselves out over own same she should so some such than that the their
  theirs them themselves then there these they this those through to too under until up very was we were what
  when where which while who whom why will with would you your yours yourself yourselves also via using use
  used based new show shows paper papers approach approaches propose proposed method methods result results
  work study studies however thus within without across among may might must shall one two three many much
  well yet whether either neither each every another upon onto per`.split(/\s+/),
);

export function terms(text: string): string[] {
  const lower = text.toLowerCase();
  // ASCII text is already NFKC, and its letters and digits are [a-z0-9]: the same words, much faster.
  const words = /[^\x00-\x7F]/.test(lower) ? lower.normalize("NFKC").match(/[\p{L}\p{N}]+/gu) : lower.match(/[a-z0-9]+/g);
  return (words ?? []).filter((t) => t.length > 1 && !STOPWORDS.has(t));
}

/**
 * A term without simple English endings: enough to match "models" with "model" when comparing words in
 * JavaScript (FTS5's porter stemmer, used by lexical search, matches more).
 */
export const stem = (term: string) => term.replace(/(ies|es|s|ing|ed)$/, "");

/** A question's distinct terms, at most 64: what lexical search and the relevance estimate look up. */
export function questionTerms(question: string): string[] {
  return [...new Set(terms(question))].slice(0, 64);
}

/** An FTS5 MATCH expression that ORs the question's terms (each quoted, so no FTS syntax leaks in). */
export function ftsQuery(question: string): string | null {
  const unique = questionTerms(question);
  return unique.length ? unique.map((t) => `"${t}"`).join(" OR ") : null;
}
