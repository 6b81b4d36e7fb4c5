// Vector BLOBs and their content keys.
//
// A stored vector is int8 with one float32 scale (388 bytes for 384 dims, a quarter of float32): the index
// must stay under 4 KB per chunk, and the HNSW file already holds a float32 copy. The quantization error
// (cosine to the original: median 0.99986, worst 0.99978 on the bundled papers under bge-small) is far
// below the int8 model's own (≈ 0.99). The HNSW index is always
// built from the decoded vectors, so a rebuild from SQLite reproduces it exactly.
// Layout: float32 little-endian scale, then dims × int8; component = int8 × scale.
import { createHash } from "node:crypto";
import { endianness } from "node:os";

export function encodeVector(vector: Float32Array): Buffer {
  let max = 0;
  for (const x of vector) max = Math.max(max, Math.abs(x));
  const scale = max / 127 || 1;
  const blob = Buffer.alloc(4 + vector.length);
  blob.writeFloatLE(scale, 0);
  const bytes = new Int8Array(blob.buffer, blob.byteOffset + 4, vector.length);
  for (let i = 0; i < vector.length; i++) bytes[i] = Math.round(vector[i]! / scale);
  return blob;
}

export function decodeVector(blob: Buffer): Float32Array {
  const scale = blob.readFloatLE(0);
  const bytes = new Int8Array(blob.buffer, blob.byteOffset + 4, blob.length - 4);
  const out = new Float32Array(bytes.length);
  for (let i = 0; i < out.length; i++) out[i] = bytes[i]! * scale;
  return out;
}

/**
 * Paper vectors are kept as plain little-endian float32: they are means of already-quantized chunk vectors,
 * and quantizing them again would move cluster cohesion and centrality in the fourth decimal.
 */
export function encodeFloat32(vector: Float32Array): Buffer {
  if (LITTLE_ENDIAN) return Buffer.from(Float32Array.from(vector).buffer);
  const blob = Buffer.alloc(vector.length * 4);
  vector.forEach((x, i) => blob.writeFloatLE(x, i * 4));
  return blob;
}

export function decodeFloat32(blob: Buffer): Float32Array {
  const out = new Float32Array(blob.length / 4);
  if (LITTLE_ENDIAN) {
    // A copy (a BLOB's bytes need not be 4-aligned), then read as is: clusters and recommend read every
    // paper's vector at once.
    new Uint8Array(out.buffer).set(blob);
    return out;
  }
  for (let i = 0; i < out.length; i++) out[i] = blob.readFloatLE(i * 4);
  return out;
}

/** Typed arrays use the platform's byte order: on a little-endian one they are the stored layout as they are. */
const LITTLE_ENDIAN = endianness() === "LE";

/** 128 bits of sha256(model fingerprint, text): the same text under the same model is embedded once. */
export function contentKey(modelFingerprint: string, text: string): Buffer {
  return createHash("sha256").update(modelFingerprint).update("\0").update(text).digest().subarray(0, 16);
}
