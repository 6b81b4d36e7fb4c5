// Calibrated relevance (issue 20 §3): the solver the eval fits with, the estimate search applies, and a model
// without a fit. What search and the surfaces say with the vendored fit is in query.test.ts and cli.test.ts.
import { describe, expect, it } from "vitest";
import { calibrationError, fitLogistic, sigmoid } from "../scripts/logistic.ts";
import { seededRandom } from "../scripts/random.ts";
import { ingest, openIndex } from "../src/index.ts";
import { FEATURE_NAMES, RelevanceFit, relevance, termShares, type Feature } from "../src/query/relevance.ts";
import { BUNDLED_CORPUS, standInEmbedder, tempDir } from "./helpers.ts";

describe("fitLogistic", () => {
  it("recovers the coefficients that generated the labels, in raw feature units", () => {
    const random = seededRandom(7);
    const xs: number[][] = [];
    const ys: boolean[] = [];
    for (let i = 0; i < 6000; i++) {
      // Unlike scales and offsets, as similarities and shares have.
      const x = [0.8 + 0.1 * random(), 10 * random()];
      xs.push(x);
      ys.push(random() < sigmoid(-20 + 25 * x[0]! - 0.3 * x[1]!));
    }
    const model = fitLogistic(xs, ys, 0);
    expect(model.weights[0]).toBeCloseTo(25, -1);
    expect(model.weights[1]).toBeCloseTo(-0.3, 1);
    expect(model.intercept).toBeCloseTo(-20, -1);
  });

  it("stays finite on separable data (the penalty), and says so when it cannot fit", () => {
    const model = fitLogistic([[0], [1], [2], [3]], [false, false, true, true]);
    expect(Number.isFinite(model.weights[0])).toBe(true);
    expect(model.weights[0]).toBeGreaterThan(0);
    expect(() => fitLogistic([], [])).toThrow(/at least one row/);
  });
});

describe("calibrationError", () => {
  it("is near 0 for honest probabilities and the gap for overconfident ones", () => {
    const random = seededRandom(3);
    const ps = Array.from({ length: 20_000 }, () => random());
    const ys = ps.map((p) => random() < p);
    expect(calibrationError(ps, ys).ece).toBeLessThan(0.02);
    const half = ps.map((_, i) => i % 2 === 0);
    const { ece, bins } = calibrationError(half.map(() => 0.95), half);
    expect(ece).toBeCloseTo(0.45, 2);
    expect(bins).toEqual([{ from: 0.9, n: 20_000, predicted: expect.closeTo(0.95, 9), observed: 0.5 }]);
  });
});

describe("relevance", () => {
  const row = Object.fromEntries(FEATURE_NAMES.map((f) => [f, 0])) as Record<Feature, number | null>;
  const fit = RelevanceFit.parse({ features: ["similarity", "idfShare"], weights: [10, 2], intercept: -8, noStrongMatchBelow: 0.3, fitted: "test" });

  it("is the logistic of the fitted sum, in 0..1, and null when the mode lacks a feature", () => {
    expect(relevance(fit, { ...row, similarity: 0.8, idfShare: 0.5 })).toBeCloseTo(sigmoid(-8 + 8 + 1), 12);
    expect(relevance(fit, { ...row, similarity: -1, idfShare: 0 })).toBeGreaterThanOrEqual(0);
    expect(relevance(fit, { ...row, similarity: null })).toBeNull();
  });

  it("a fit must have one weight per known feature", () => {
    expect(RelevanceFit.safeParse({ ...fit, weights: [1] }).success).toBe(false);
    expect(RelevanceFit.safeParse({ ...fit, features: ["shoeSize", "idfShare"] }).success).toBe(false);
  });

  it("weighs the question's terms a paper holds by their IDF", () => {
    const shares = termShares(["reward", "overoptim"], [1, 3], new Set(["overoptim", "scaling"]));
    expect(shares).toEqual({ termShare: 0.5, idfShare: 0.75 });
    expect(termShares([], [], new Set(["x"]))).toEqual({ termShare: 0, idfShare: 0 });
  });
});

describe("a model without a fit", () => {
  it("gives relevance null and never claims there is no strong match", async () => {
    const dir = tempDir();
    const embedder = standInEmbedder();
    await ingest({ corpus: BUNDLED_CORPUS, index: dir }, { embedder });
    const index = await openIndex(dir, { embedder });
    try {
      for (const question of ["reward models", "protein folding with cryo-EM"]) {
        const result = await index.search(question, { k: 3 });
        expect(result.results.length).toBeGreaterThan(0);
        expect(result.results.map((r) => r.relevance)).toEqual([null, null, null]);
        expect(result.noStrongMatch).toBe(false);
      }
    } finally {
      index.close();
    }
  });
});
