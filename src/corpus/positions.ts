// Where in a file an entry starts, for readers whose parser gives no positions (JSON, XML, citation-js).

/** A function from a UTF-16 offset in `text` to its 1-based line number. */
export function lineOf(text: string): (offset: number) => number {
  const starts = [0];
  for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) starts.push(i + 1);
  return (offset) => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };
}

/**
 * Offsets of the elements of a JSON text's top-level array, or of the array under the top-level key
 * `results` (an OpenAlex API response), found by one pass that skips strings: JSON.parse reports no
 * positions.
 */
export function jsonElementOffsets(text: string, path: "array" | "results" = "array"): number[] {
  const offsets: number[] = [];
  let depth = 0;
  const want = path === "array" ? 1 : 2;
  let inList = false;
  let expecting = false;
  let lastKey = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === " " || c === "\n" || c === "\r" || c === "\t") continue;
    if (expecting && c !== "]") {
      offsets.push(i);
      expecting = false;
    }
    if (c === '"') {
      const start = i;
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === "\\") i++;
      if (depth === 1) lastKey = text.slice(start + 1, i);
    } else if (c === "{" || c === "[") {
      depth++;
      if (c === "[" && depth === want && (path === "array" || lastKey === "results")) inList = expecting = true;
    } else if (c === "}" || c === "]") {
      if (depth === want) inList = expecting = false;
      depth--;
    } else if (c === "," && depth === want && inList) expecting = true;
  }
  return offsets;
}
