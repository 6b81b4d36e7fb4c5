import { beforeAll, describe, expect, it } from "vitest";
import { chunkPaper, splitSentences, type CountTokens } from "../src/chunk.ts";
import type { Embedder } from "../src/embed.ts";
import { bundledPapers, sharedEmbedder } from "./helpers.ts";

let embedder: Embedder;
let count: CountTokens;
beforeAll(async () => {
  embedder = await sharedEmbedder();
  count = (text) => embedder.tokenize(text).length - 2;
});

const sentencesOf = (text: string) => splitSentences(text).map((s) => text.slice(s.start, s.end));

describe("splitSentences", () => {
  it("does not split at abbreviations or decimals", () => {
    const text = "Models such as e.g. Transformers, i.e. BERT, improve. Accuracy rose by 3.8% on v1.2 data. See Fig. 2 for details. Done!";
    expect(sentencesOf(text)).toEqual([
      "Models such as e.g. Transformers, i.e. BERT, improve.",
      "Accuracy rose by 3.8% on v1.2 data.",
      "See Fig. 2 for details.",
      "Done!",
    ]);
  });
});

describe("chunkPaper", () => {
  const params = { windowTokens: 128, overlapTokens: 32 };

  it("fits every chunk in the window, counted by the model's own tokenizer, with the title leading", () => {
    for (const paper of bundledPapers().slice(0, 10)) {
      const chunks = chunkPaper(paper, count, params);
      expect(chunks.length).toBeGreaterThan(1);
      chunks.forEach((chunk, ord) => {
        expect(chunk.ord).toBe(ord);
        expect(chunk.text.startsWith(`${paper.title}\n`)).toBe(true);
        expect(embedder.tokenize(chunk.text)).toHaveLength(chunk.tokens);
        expect(chunk.tokens).toBeLessThanOrEqual(128);
        expect(chunk.text.slice(paper.title.length + 1)).toBe(paper.abstract.slice(chunk.start, chunk.end));
      });
    }
  });

  it("covers the whole abstract in whole sentences, consecutive chunks sharing up to the overlap", () => {
    const paper = bundledPapers()[0]!;
    const chunks = chunkPaper(paper, count, params);
    expect(chunks[0]!.start).toBe(0);
    expect(chunks.at(-1)!.end).toBe(paper.abstract.length);
    const boundaries = new Set(splitSentences(paper.abstract).flatMap((s) => [s.start, s.end]));
    for (const [i, chunk] of chunks.entries()) {
      expect(boundaries.has(chunk.start) && boundaries.has(chunk.end)).toBe(true);
      if (i === 0) continue;
      const previous = chunks[i - 1]!;
      expect(chunk.start).toBeGreaterThan(previous.start);
      // Either the next chunk repeats trailing sentences (within the overlap) or starts right after.
      if (chunk.start < previous.end) expect(count(paper.abstract.slice(chunk.start, previous.end))).toBeLessThanOrEqual(32);
      else expect(paper.abstract.slice(previous.end, chunk.start).trim()).toBe("");
    }
  });

  it("repeats trailing sentences when they fit in the overlap", () => {
    const overlapping = bundledPapers()
      .slice(0, 20)
      .flatMap((paper) => {
        const chunks = chunkPaper(paper, count, { windowTokens: 128, overlapTokens: 60 });
        return chunks.slice(1).filter((c, i) => c.start < chunks[i]!.end);
      });
    expect(overlapping.length).toBeGreaterThan(0);
  });

  it("without overlap, chunks tile the abstract", () => {
    const paper = bundledPapers()[1]!;
    const chunks = chunkPaper(paper, count, { windowTokens: 128, overlapTokens: 0 });
    for (let i = 1; i < chunks.length; i++) expect(chunks[i]!.start).toBeGreaterThanOrEqual(chunks[i - 1]!.end);
  });

  it("splits a sentence longer than the window by tokens, and cuts a huge title to half the window", () => {
    const long = Array.from({ length: 400 }, (_, i) => `word${i}`).join(" ") + ".";
    const chunks = chunkPaper({ id: "x", title: "Title ".repeat(500).trim(), abstract: long, source: { file: "f", line: 1 } }, count, params);
    expect(chunks.length).toBeGreaterThan(5);
    for (const chunk of chunks) {
      expect(embedder.tokenize(chunk.text).length).toBeLessThanOrEqual(128);
      expect(count(chunk.text.split("\n")[0]!)).toBeLessThanOrEqual(64);
    }
    expect(chunks.at(-1)!.end).toBe(long.length);
  });
});
