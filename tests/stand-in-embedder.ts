// Kept apart from helpers.ts (which needs vitest) so that the ingest benchmark and the child processes of
// the batch tests can use it too.
import type { Embedder } from "../src/embed.ts";

/**
 * A deterministic stand-in for the model, for logic that does not depend on meaning (filters, scale): a
 * text's vector is the normalised sum of a fixed pseudo-random vector per word, so texts sharing words are
 * near. Tokens are whitespace words.
 */
export function standInEmbedder(dims = 64): Embedder {
  const words = (text: string) => text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  const hash = (word: string) => {
    let h = 2166136261;
    for (let i = 0; i < word.length; i++) h = Math.imul(h ^ word.charCodeAt(i), 16777619);
    return h >>> 0;
  };
  const wordVectors = new Map<string, Float32Array>();
  const wordVector = (word: string) => {
    let v = wordVectors.get(word);
    if (!v) {
      v = new Float32Array(dims);
      let seed = hash(word) || 1;
      for (let d = 0; d < dims; d++) {
        seed = (seed * 48271) % 2147483647;
        v[d] = seed / 2147483647 - 0.5;
      }
      wordVectors.set(word, v);
    }
    return v;
  };
  const vectorOf = (text: string) => {
    const v = new Float32Array(dims);
    for (const word of words(text)) {
      const w = wordVector(word);
      for (let d = 0; d < dims; d++) v[d]! += w[d]!;
    }
    let sum = 0;
    for (let d = 0; d < dims; d++) sum += v[d]! * v[d]!;
    const norm = Math.sqrt(sum) || 1;
    for (let d = 0; d < dims; d++) v[d]! /= norm;
    return v;
  };
  const tokenize = (text: string) => [101, ...words(text).map((w) => hash(w) % 30000), 102];
  return {
    model: {
      dir: "",
      id: "stand-in/hashed-words",
      onnxFile: "",
      quantized: false,
      dims,
      maxTokens: 256,
      pooling: "mean",
      queryPrefix: "",
      passagePrefix: "",
      lexicalWeight: 0.2,
      fingerprint: `stand-in/hashed-words@${dims}`,
    },
    tokenize,
    modelInput: (text) => tokenize(text).slice(0, 256),
    embed: async (texts) => texts.map(vectorOf),
    embedTokenized: async () => {
      throw new Error("the stand-in embeds text, not token ids");
    },
  };
}
