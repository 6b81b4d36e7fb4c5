// The vendored model is the real all-MiniLM-L6-v2: checked against fp32 embeddings that an independent numpy
// implementation computed from the original weights (scripts/model/reference.py), which in turn match the
// values sentence-transformers publishes.
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { loadEmbedder, type Embedder } from "../src/embed.ts";
import { dot as cosine } from "../src/similarity.ts";
import { DEFAULT_MODEL_DIR, describeModel, vendoredModels } from "../src/model.ts";

it("the default model is bge-small-en-v1.5 (chosen on SciFact, docs/quality.md)", () => {
  expect(describeModel(DEFAULT_MODEL_DIR).id).toBe("BAAI/bge-small-en-v1.5");
});

const Reference = z.object({
  max_tokens: z.number(),
  embeddings: z.array(z.object({ text: z.string(), vector: z.array(z.number()).length(384) })).min(20),
});
const reference = Reference.parse(
  JSON.parse(readFileSync(new URL("../scripts/model/reference-embeddings.json", import.meta.url), "utf8")),
);

let embedder: Embedder;
beforeAll(async () => {
  embedder = await loadEmbedder({ model: "all-MiniLM-L6-v2" });
});

describe("vendored model", () => {
  it("is described without loading it: dims, window, fingerprint of the int8 graph", () => {
    const info = embedder.model;
    expect(describeModel(info.dir)).toEqual(info);
    expect(info.dims).toBe(384);
    expect(info.maxTokens).toBe(256);
    expect(info.quantized).toBe(true);
    expect(info.fingerprint).toMatch(/^sentence-transformers\/all-MiniLM-L6-v2@sha256:[0-9a-f]{64}$/);
  });

  it("the fp32 reference fixture is the published sentence-transformers model", () => {
    const first = reference.embeddings.find((e) => e.text === "This is an example sentence")!;
    const second = reference.embeddings.find((e) => e.text === "Each sentence is converted")!;
    [0.06766, 0.0635, 0.04871, 0.0793, 0.03745, 0.00265].forEach((v, i) => expect(first.vector[i]).toBeCloseTo(v, 4));
    expect(second.vector[0]).toBeCloseTo(0.08644, 4);
  });

  it("keeps cosine >= 0.97 to the fp32 reference on every reference sentence", async () => {
    const texts = reference.embeddings.map((e) => e.text);
    const vectors: Float32Array[] = [];
    for (const text of texts) vectors.push((await embedder.embed([text]))[0]!);
    reference.embeddings.forEach((e, i) => {
      expect(cosine(vectors[i]!, Float32Array.from(e.vector)), e.text).toBeGreaterThanOrEqual(0.97);
    });
  });

  it("returns unit vectors, and a paraphrase scores above an unrelated sentence", async () => {
    const [a, paraphrase, unrelated] = await embedder.embed([
      "The cat sits on the mat.",
      "A kitten is resting on the rug.",
      "Interest rates rose sharply in the third quarter.",
    ]);
    for (const v of [a!, paraphrase!, unrelated!]) {
      expect(v).toHaveLength(384);
      expect(cosine(v, v)).toBeCloseTo(1, 5);
    }
    expect(cosine(a!, paraphrase!)).toBeGreaterThan(cosine(a!, unrelated!) + 0.3);
  });
});

describe("Embedder", () => {
  it("truncates a text longer than the window to 256 word pieces, keeping [SEP]", async () => {
    const long = "Sentence embeddings map text to vectors. ".repeat(200);
    expect(embedder.tokenize(long).length).toBeGreaterThan(1000);
    const ids = embedder.modelInput(long);
    expect(ids).toHaveLength(256);
    expect(ids[0]).toBe(101); // [CLS]
    expect(ids[255]).toBe(102); // [SEP]
    const [v] = await embedder.embed([long]);
    expect(cosine(v!, v!)).toBeCloseTo(1, 5);
  });

  it("restores input order after length-sorted batching", async () => {
    const texts = [
      "short",
      "a considerably longer sentence about graph neural networks and message passing",
      "medium length text on diffusion models",
      "another one",
      "reinforcement learning from human feedback aligns language models with preferences",
    ];
    const batched = await loadEmbedder({ model: "all-MiniLM-L6-v2", batchSize: 2 }).then((e) => e.embed(texts));
    for (const [i, text] of texts.entries()) {
      const [alone] = await embedder.embed([text]);
      // Dynamic int8 quantization scales activations per batch, so batch-mates move a vector slightly;
      // a misplaced result would score far lower than this.
      expect(cosine(batched[i]!, alone!)).toBeGreaterThan(0.97);
      for (const [j] of texts.entries()) {
        if (j !== i) expect(cosine(batched[i]!, alone!)).toBeGreaterThan(cosine(batched[j]!, alone!));
      }
    }
  });

  it("reports progress up to the number of texts", async () => {
    const seen: number[] = [];
    await embedder.embed(["one", "two", "three"], (done, total) => {
      expect(total).toBe(3);
      seen.push(done);
    });
    expect(seen.at(-1)).toBe(3);
  });
});

describe("bge-small-en-v1.5, used as its papersift.json says", () => {
  const BgeReference = z.object({
    hello_world_first5: z.array(z.number()).length(5),
    sentences: z.array(z.object({ text: z.string(), vector: z.array(z.number()).length(384) })).min(12),
  });
  const bgeReference = BgeReference.parse(
    JSON.parse(readFileSync(new URL("../scripts/model/reference-embeddings-bge.json", import.meta.url), "utf8")),
  );
  let bge: Embedder;
  beforeAll(async () => {
    bge = await loadEmbedder({ model: "bge-small-en-v1.5" });
  });

  it("is picked by name, described from its manifest, and fingerprinted with its pooling", () => {
    expect(bge.model.id).toBe("BAAI/bge-small-en-v1.5");
    expect(bge.model).toMatchObject({ dims: 384, maxTokens: 512, pooling: "cls", passagePrefix: "" });
    expect(bge.model.queryPrefix).toBe("Represent this sentence for searching relevant passages: ");
    expect(bge.model.fingerprint).toMatch(/^BAAI\/bge-small-en-v1\.5@sha256:[0-9a-f]{64}\+cls$/);
    expect(describeModel(bge.model.dir)).toEqual(bge.model);
    expect(vendoredModels().map((m) => m.manifest.id)).toEqual(["BAAI/bge-small-en-v1.5", "sentence-transformers/all-MiniLM-L6-v2"]);
  });

  it("the fp32 reference is fastembed's published bge-small-en-v1.5 ('hello world')", () => {
    [0.01522374, -0.02271799, 0.00860278, -0.07424029, 0.00386434].forEach((v, i) => expect(bgeReference.hello_world_first5[i]).toBeCloseTo(v, 3));
  });

  it("the int8 graph keeps cosine >= 0.98 to fp32 on every reference text, prefixed queries included", async () => {
    for (const { text, vector } of bgeReference.sentences) {
      const [v] = await bge.embed([text]);
      expect(cosine(v!, Float32Array.from(vector)), text).toBeGreaterThanOrEqual(0.98);
    }
  });

  it("pools [CLS], not the mean, and prefixes queries only", async () => {
    const text = bgeReference.sentences[0]!.text;
    const prefixed = bgeReference.sentences.find((s) => s.text.endsWith(text) && s.text !== text)!;
    const [query] = await bge.embed([text], undefined, "query");
    expect(cosine(query!, Float32Array.from(prefixed.vector))).toBeGreaterThan(0.98);
    expect(bge.modelInput(text, "query").length).toBeGreaterThan(bge.modelInput(text).length + 5);
    expect(bge.modelInput("x".repeat(5000) + " y".repeat(2000))).toHaveLength(512);
  });
});
