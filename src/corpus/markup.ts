// Markup inside a record's text: JATS in CSL-JSON abstracts (<jats:p>), HTML-like tags in PubMed XML
// titles and abstracts (<i>, <sup>) and OpenAlex titles, and the XML character references they carry.

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: "\u00a0" };

export function decodeEntities(text: string): string {
  if (!text.includes("&")) return text;
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, name: string) => {
    if (name[0] === "#") {
      const code = name[1] === "x" || name[1] === "X" ? parseInt(name.slice(2), 16) : Number(name.slice(1));
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return ENTITIES[name.toLowerCase()] ?? whole;
  });
}

/**
 * Tags removed, character references decoded. A section title (<jats:title>Methods</jats:title>) becomes
 * "Methods: " before its text, except a lone "Abstract" heading, which is dropped.
 */
export function stripMarkup(text: string): string {
  if (!text.includes("<")) return decodeEntities(text);
  return decodeEntities(
    text
      .replace(/<(?:jats:)?title>\s*Abstract\s*<\/(?:jats:)?title>/gi, " ")
      .replace(/<(?:jats:)?title>([^<]*)<\/(?:jats:)?title>/gi, " $1: ")
      .replace(/<\/?(?:jats:)?(?:p|sec|br|list-item|list)\b[^>]*>/gi, " ")
      .replace(/<\/?[A-Za-z][\w:.-]*(?:\s[^>]*)?\/?>/g, ""),
  );
}
