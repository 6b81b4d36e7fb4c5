// A file as a stream of lines, read in fixed-size blocks: memory holds one block and one line, whatever
// the file's size. Lines are split on bytes (a "\n" byte is never inside a UTF-8 sequence) and decoded
// one at a time.
import { closeSync, openSync, readSync } from "node:fs";

const BLOCK_BYTES = 1 << 20;
/** A longer line is skipped (and reported) instead of being held in memory: no real entry comes near it. */
export const MAX_LINE_BYTES = 16 << 20;

export interface Line {
  /** 1-based. */
  number: number;
  /** Decoded; invalid UTF-8 replaced with U+FFFD. Empty for a line over MAX_LINE_BYTES. */
  text: string;
  /** The raw line held bytes that are not UTF-8 (it had no U+FFFD of its own). */
  invalidUtf8: boolean;
  tooLong: boolean;
}

/**
 * Binary (or UTF-16) rather than UTF-8 text: more than 1 byte in 100 is NUL. A stray NUL only spoils the
 * entry that holds it, which its reader reports. For a streamed file, judged on its first 64 KB (fileHead).
 */
export function mostlyNul(bytes: Buffer): boolean {
  let nuls = 0;
  for (let i = bytes.indexOf(0); i >= 0; i = bytes.indexOf(0, i + 1)) nuls++;
  return nuls * 100 > bytes.length;
}

export function fileHead(file: string): Buffer {
  const fd = openSync(file, "r");
  try {
    const head = Buffer.alloc(64 * 1024);
    return head.subarray(0, readSync(fd, head, 0, head.length, 0));
  } finally {
    closeSync(fd);
  }
}

const REPLACEMENT = Buffer.from("\uFFFD");

/** UTF-8 bytes as text; `invalid` when bytes that are not UTF-8 were replaced (the bytes held no U+FFFD of their own). */
export function decodeUtf8(bytes: Buffer, decoder = new TextDecoder("utf-8")): { text: string; invalid: boolean } {
  const text = decoder.decode(bytes);
  return { text, invalid: text.includes("\uFFFD") && !bytes.includes(REPLACEMENT) };
}

export function* readLines(file: string): Generator<Line> {
  const fd = openSync(file, "r");
  try {
    const decoder = new TextDecoder("utf-8");
    const block = Buffer.alloc(BLOCK_BYTES);
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let number = 1;
    const finish = (tail: Buffer): Line => {
      const tooLong = pendingBytes + tail.length > MAX_LINE_BYTES;
      const bytes = tooLong ? Buffer.alloc(0) : pending.length ? Buffer.concat([...pending, tail]) : tail;
      pending = [];
      pendingBytes = 0;
      const decoded = decodeUtf8(bytes, decoder);
      let text = number === 1 ? decoded.text.replace(/^\uFEFF/, "") : decoded.text;
      if (text.endsWith("\r")) text = text.slice(0, -1);
      return { number: number++, text, invalidUtf8: decoded.invalid, tooLong };
    };
    for (let offset = 0; ; ) {
      const n = readSync(fd, block, 0, BLOCK_BYTES, offset);
      if (n === 0) break;
      offset += n;
      let start = 0;
      for (let nl = block.indexOf(10, start); nl >= 0 && nl < n; nl = block.indexOf(10, start)) {
        yield finish(block.subarray(start, nl));
        start = nl + 1;
      }
      if (start < n) {
        // Keep at most MAX_LINE_BYTES + 1 of an unfinished line: enough to know it is too long.
        const rest = block.subarray(start, n);
        if (pendingBytes <= MAX_LINE_BYTES) pending.push(Buffer.from(rest));
        pendingBytes += rest.length;
      }
    }
    if (pendingBytes > 0) yield finish(Buffer.alloc(0));
  } finally {
    closeSync(fd);
  }
}
