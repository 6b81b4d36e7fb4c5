// The structure of a BibTeX file: @type{key, field = value, …} entries, @string macros (with `#`
// concatenation and the month macros jan…dec), @comment and @preamble skipped. Values are returned raw
// (braces and LaTeX kept); decoding them is citation-js's job (bibtex.ts).
//
// Why not citation-js's own tokenizer: on entries with real abstracts (2–3 KB) it reads about 1,700
// entries/s (moo, several tokens per word), a third of issue 18's 5,000 entries/s target; this scan is a
// few string searches per field. A damaged entry (an unbalanced brace) is reported with its line and key,
// and the scan resumes at the next line that starts with "@".

export interface BibEntry {
  /** Lower case: "article", "inproceedings". */
  type: string;
  /** The citation key, as written. */
  label: string;
  /** Field names in lower case; values raw, macros resolved. */
  properties: Record<string, string>;
  /** Where the entry's "@" is. */
  offset: number;
  /** What was read other than as written: a macro used before its @string, a field given twice. */
  notes: string[];
}

export interface ScanError {
  offset: number;
  message: string;
}

const MONTH_MACROS: Record<string, string> = Object.fromEntries(
  ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"].map((m, i) => [m, String(i + 1)]),
);

class Damaged extends Error {}

const isSpace = (c: number) => c === 32 || c === 9 || c === 10 || c === 13;
const NAME = /[^\s=,{}()"#%]+/y;

export function scanBibtex(text: string): { entries: BibEntry[]; errors: ScanError[] } {
  const entries: BibEntry[] = [];
  const errors: ScanError[] = [];
  const macros: Record<string, string> = { ...MONTH_MACROS };
  let i = 0;
  let notes: string[] = [];
  // Where the entry being read must end: the next line that starts an entry. A damaged value stops there,
  // not at the end of the file, so many damaged entries cost linear time, not quadratic.
  let limit = text.length;
  const ENTRY_START = /\n[ \t]*@[A-Za-z]+[ \t]*[{(]/g;

  const skipSpace = () => {
    while (i < text.length && isSpace(text.charCodeAt(i))) i++;
  };
  const name = (): string => {
    NAME.lastIndex = i;
    const m = NAME.exec(text);
    if (!m) throw new Damaged(`expected a name at "${text.slice(i, i + 12).replace(/\s+/g, " ")}"`);
    i += m[0].length;
    return m[0];
  };
  /** The text of a {…} group starting at i (outer braces dropped), braces inside kept. */
  const braced = (): string => {
    const start = ++i;
    let depth = 1;
    while (i < limit) {
      const c = text.charCodeAt(i++);
      if (c === 123) depth++;
      else if (c === 125 && --depth === 0) return text.slice(start, i - 1);
      else if (c === 92) i++; // \{ and \} do not count
    }
    throw new Damaged("an unbalanced brace");
  };
  /** "…": ends at a quote outside braces. */
  const quoted = (): string => {
    const start = ++i;
    let depth = 0;
    while (i < limit) {
      const c = text.charCodeAt(i++);
      if (c === 123) depth++;
      else if (c === 125) depth--;
      else if (c === 92) i++;
      else if (c === 34 && depth === 0) return text.slice(start, i - 1);
      if (depth < 0) break;
    }
    throw new Damaged("an unbalanced quote or brace");
  };
  /** A value: parts joined by #, each {…}, "…", a number or a macro. */
  const value = (): string => {
    let out = "";
    for (;;) {
      skipSpace();
      const c = text[i];
      if (c === "{") out += braced();
      else if (c === '"') out += quoted();
      else {
        const part = name();
        const macro = /^\d+$/.test(part) ? part : macros[part.toLowerCase()];
        if (macro === undefined) notes.push(`@string ${part} is used before it is defined; read as its name`);
        out += macro ?? part;
      }
      skipSpace();
      if (text[i] !== "#") return out;
      i++;
    }
  };
  /** Skip a balanced group (a @comment or @preamble). */
  const skipGroup = () => {
    if (text[i] === "{") braced();
    else if (text[i] === "(") {
      const close = text.indexOf(")", i);
      i = close < 0 ? text.length : close + 1;
    }
  };

  while (i < text.length) {
    const at = text.indexOf("@", i);
    if (at < 0) break;
    i = at + 1;
    skipSpace();
    const typeMatch = /[A-Za-z]+/y;
    typeMatch.lastIndex = i;
    const type = typeMatch.exec(text)?.[0]?.toLowerCase();
    if (!type) continue;
    i += type.length;
    skipSpace();
    const open = text[i];
    if (open !== "{" && open !== "(") continue;
    const close = open === "{" ? "}" : ")";
    let label = "";
    // A @comment may hold whole entries (JabRef's settings): it alone may run past the next "@" line.
    ENTRY_START.lastIndex = at + 1;
    limit = type === "comment" || type === "preamble" ? text.length : (ENTRY_START.exec(text)?.index ?? text.length);
    try {
      if (type === "comment" || type === "preamble") {
        skipGroup();
        continue;
      }
      i++;
      skipSpace();
      notes = [];
      if (type === "string") {
        const key = name();
        skipSpace();
        if (text[i] !== "=") throw new Damaged("expected = in @string");
        i++;
        macros[key.toLowerCase()] = value();
        skipSpace();
        if (text[i] !== close) throw new Damaged(`expected ${close} after @string`);
        i++;
        continue;
      }
      const keyEnd = text.slice(i, i + 1000).search(/[,\s}]/);
      label = keyEnd < 0 ? "" : text.slice(i, i + keyEnd);
      i += Math.max(0, keyEnd);
      const properties: Record<string, string> = {};
      for (;;) {
        skipSpace();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === close) {
          i++;
          break;
        }
        if (i >= limit) throw new Damaged("the entry does not end");
        const field = name().toLowerCase();
        skipSpace();
        if (text[i] !== "=") throw new Damaged(`expected = after ${field}`);
        i++;
        if (properties[field] !== undefined) notes.push(`${field} is given twice; the last one is read`);
        properties[field] = value();
        skipSpace();
        if (text[i] !== "," && text[i] !== close) throw new Damaged(`expected , or ${close} after the value of ${field}`);
      }
      entries.push({ type, label, properties, offset: at, notes });
    } catch (error) {
      if (!(error instanceof Damaged)) throw error;
      errors.push({ offset: at, message: `@${type}{${label}: cannot be parsed (${error.message}); skipped` });
      // Resume at the next line that starts an entry: the damage costs this entry only.
      const next = /\n[ \t]*@/g;
      next.lastIndex = at + 1;
      const m = next.exec(text);
      i = m ? m.index + 1 : text.length;
    }
  }
  return { entries, errors };
}
