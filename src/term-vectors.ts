// A paper's words for the lexical side of recommendations: the title's and abstract's terms (query/terms.ts)
// and their adjacent pairs, hashed to 32 bits, with counts. Pairs matter: what one reader's papers share is
// precise vocabulary ("gaussian splatting", "preference optimization"), which single words and a small
// embedding model both blur (issue 19, docs/quality.md). Ingest stores one per paper (paper_terms), so a
// recommendation reads them instead of tokenising the corpus. Hashing keeps them small and needs no
// dictionary; the text is still there when a term must be shown (explanations re-tokenise a few papers).
import { terms } from "./query/terms.ts";

export interface TermCounts {
  /** Distinct term hashes, ascending. */
  hashes: Uint32Array;
  /** How often each occurs in the paper (saturating at 65,535). */
  counts: Uint16Array;
}

/** 32-bit FNV-1a of a string's UTF-16 code units. */
export function hashTerm(term: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < term.length; i++) {
    h ^= term.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The hash of the pair "a b" (a hash of both words' hashes, so no string is built). */
export const hashPair = (a: number, b: number) => (Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ b) >>> 0;

/** Every term and adjacent pair of terms of a text, as strings (for explanations). */
export function termsWithPairs(text: string): string[] {
  const words = terms(text);
  const out = [...words];
  for (let i = 1; i < words.length; i++) out.push(`${words[i - 1]} ${words[i]}`);
  return out;
}

/** The term counts of a paper's title and abstract. */
export function termCounts(title: string, abstract: string): TermCounts {
  const words = terms(`${title}\n${abstract}`);
  const all = new Uint32Array(words.length * 2);
  let n = 0;
  let previous = 0;
  for (let i = 0; i < words.length; i++) {
    const h = hashTerm(words[i]!);
    all[n++] = h;
    if (i > 0) all[n++] = hashPair(previous, h);
    previous = h;
  }
  const sorted = all.subarray(0, n).sort();
  const hashes = new Uint32Array(n);
  const counts = new Uint16Array(n);
  let distinct = 0;
  for (let i = 0; i < n; i++) {
    if (distinct > 0 && hashes[distinct - 1] === sorted[i]) {
      if (counts[distinct - 1]! < 65535) counts[distinct - 1]!++;
    } else {
      hashes[distinct] = sorted[i]!;
      counts[distinct++] = 1;
    }
  }
  return { hashes: hashes.slice(0, distinct), counts: counts.slice(0, distinct) };
}

/** Stored form: n little-endian uint32 hashes, then n little-endian uint16 counts. */
export function encodeTermCounts({ hashes, counts }: TermCounts): Buffer {
  const buffer = Buffer.alloc(hashes.length * 6);
  for (let i = 0; i < hashes.length; i++) {
    buffer.writeUInt32LE(hashes[i]!, i * 4);
    buffer.writeUInt16LE(counts[i]!, hashes.length * 4 + i * 2);
  }
  return buffer;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export function decodeTermCounts(data: Buffer): TermCounts {
  const n = data.length / 6;
  if (LITTLE_ENDIAN) {
    // One copy into aligned memory, then views: a recommendation decodes every paper's terms.
    const bytes = new Uint8Array(data.length + (n % 2) * 2);
    bytes.set(data);
    return { hashes: new Uint32Array(bytes.buffer, 0, n), counts: new Uint16Array(bytes.buffer, n * 4, n) };
  }
  const hashes = new Uint32Array(n);
  const counts = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    hashes[i] = data.readUInt32LE(i * 4);
    counts[i] = data.readUInt16LE(n * 4 + i * 2);
  }
  return { hashes, counts };
}
