// Vector BLOBs: float32, little-endian (the byte order of every platform Node runs on here; checked at
// open), and their content keys.
import { createHash } from "node:crypto";
import { endianness } from "node:os";

if (endianness() !== "LE") throw new Error("papersift's index format assumes a little-endian machine");

export function encodeVector(vector: Float32Array): Buffer {
  return Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength);
}

export function decodeVector(blob: Buffer): Float32Array {
  // Copy: the Buffer may be a view into a shared pool with an unaligned offset.
  const out = new Float32Array(blob.byteLength / 4);
  new Uint8Array(out.buffer).set(blob);
  return out;
}

/** 128 bits of sha256(model fingerprint, text): the same text under the same model is embedded once. */
export function contentKey(modelFingerprint: string, text: string): Buffer {
  return createHash("sha256").update(modelFingerprint).update("\0").update(text).digest().subarray(0, 16);
}
