// npm run eval -- --calibrate SET [--off-topic CORPUS] [--write]: calibrated relevance (issue 20 §3).
//  - SET is a judged set in BEIR layout (../shared/bench/scifact, train claims). Every claim is asked of the
//    whole set (answerable) and of an *answers-removed* index: the set without any abstract a claim cites
//    (a copy of the cached index with those papers ingested away: nothing is embedded again).
//  - Off-topic questions: 400 titles from CORPUS (an arXiv export: every Nth of its papers), asked of SET.
//  - Per search mode and candidate feature set (query/relevance.ts), a logistic model of "this hit is
//    relevant" is fitted on the first 10 hits of all three kinds of question, with 10-fold cross-validation
//    by question. On held-out questions: expected calibration error (ECE, 10 bins) and log loss; the "no strong
//    match" operating point (the threshold on a search's best relevance that flags 10 % of the training
//    folds' answerable claims) as the share of each kind of question flagged; and nDCG@10 when the top 100
//    are re-ordered by relevance. The chosen set per mode is fitted on every question; `--write` stores it in
//    the model's papersift.json.
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { loadEmbedder } from "../src/embed.ts";
import { openIndex, type PapersiftIndex, type SearchMode } from "../src/index.ts";
import { ModelManifest, type ModelInfo } from "../src/model.ts";
import { FEATURE_NAMES, RelevanceFit, type Feature } from "../src/query/relevance.ts";
import { cache, indexFor, readSet, round, type Judged } from "./eval-sets.ts";
import { calibrationError, fitLogistic, predict, type LogisticModel } from "./logistic.ts";

const FOLDS = 10;
/** The share of answerable claims "no strong match" may fire on (the operating point). */
const ANSWERABLE_FLAGGED = 0.1;
/** Hits per question the models are fitted on and judged by (a search shows 10 by default). */
const SHOWN = 10;
/** Re-ordering is tried over this many hits. */
const DEPTH = 100;

interface Row {
  /** Index of the question in its list (claims, or off-topic titles): what the folds split by. */
  question: number;
  id: string;
  rank: number;
  relevant: boolean;
  features: Record<Feature, number | null>;
}

export type Rows = Row[][];

export async function rows(index: PapersiftIndex, questions: string[], mode: SearchMode, k: number, relevant?: (q: number, id: string) => boolean): Promise<Rows> {
  const out: Rows = [];
  for (const [q, text] of questions.entries()) {
    const { results } = await index.search(text, { k, mode, explain: true });
    out.push(results.map((h, i) => ({ question: q, id: h.id, rank: i + 1, relevant: relevant?.(q, h.id) ?? false, features: h.explain!.features })));
  }
  return out;
}

/** The same set without any paper a question cites: a copy of its cached index, ingested down. */
export async function answersRemoved(set: Judged, fullIndex: string, model: ModelInfo, embedder: Awaited<ReturnType<typeof loadEmbedder>>): Promise<string> {
  const name = `${set.name}-answers-removed`;
  const dir = path.join(cache, name, path.basename(model.dir));
  if (!existsSync(dir)) cpSync(fullIndex, dir, { recursive: true });
  const cited = new Set([...set.relevant.values()].flatMap((ids) => [...ids]));
  const corpus = path.join(cache, name, "corpus");
  mkdirSync(corpus, { recursive: true });
  const lines = readFileSync(path.join(set.corpus, "corpus.jsonl"), "utf8").split("\n").filter(Boolean);
  writeFileSync(path.join(corpus, "corpus.jsonl"), lines.filter((l) => !cited.has(String((JSON.parse(l) as { id: unknown }).id))).join("\n") + "\n");
  return (await indexFor(name, corpus, model.dir, embedder)).dir;
}

const X = (row: Row, features: Feature[]) => features.map((f) => row.features[f] ?? 0);

export interface Data {
  /** Each claim asked of the whole set: its first DEPTH hits. */
  answerable: Rows;
  /** Each claim asked of the answers-removed index, and each off-topic question: their first SHOWN hits. */
  removed: Rows;
  offTopic: Rows;
}

interface Outcome {
  features: string;
  trainedOn: "mixture" | "answerable claims";
  /** ECE over the held-out hits of every question (answerable, answers-removed, off-topic), and of answerable claims alone. */
  ece: number;
  eceAnswerable: number;
  logLoss: number;
  /** Shares of each kind of question flagged "no strong match". */
  answerable: number;
  removed: number;
  offTopic: number;
  /** nDCG@10 of the answerable claims with the top DEPTH re-ordered by relevance, and its paired gain over the ranker's order ± one standard error. */
  ndcg10: number;
  gain: { mean: number; se: number };
  reliability: ReturnType<typeof calibrationError>["bins"];
}

/** Which fold a question is held out in. */
const foldOf = (q: number) => q % FOLDS;

/** The best of each question's first SHOWN relevances: what "no strong match" looks at. */
const best = (model: LogisticModel, features: Feature[], rs: Rows) => rs.map((r) => Math.max(0, ...r.slice(0, SHOWN).map((row) => predict(model, X(row, features)))));

const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.floor(q * xs.length)] ?? 0;

/** nDCG@10 with binary gains of one ranking. */
function ndcg10(rows: Row[], relevantCount: number): number {
  let dcg = 0;
  rows.slice(0, 10).forEach((r, i) => (dcg += r.relevant ? 1 / Math.log2(i + 2) : 0));
  let ideal = 0;
  for (let i = 0; i < Math.min(relevantCount, 10); i++) ideal += 1 / Math.log2(i + 2);
  return ideal ? dcg / ideal : 0;
}

const KINDS = ["answerable", "removed", "offTopic"] as const;

/**
 * Fit on the rows a model learns from: the first SHOWN hits of every training question, each labelled by the
 * judgments. The mixture adds the answers-removed and off-topic questions, whose hits are all non-relevant:
 * without them the fit only learns to tell relevant from non-relevant papers where an answer exists.
 */
function fit(data: Data, features: Feature[], trainedOn: Outcome["trainedOn"], keep: (q: number) => boolean): LogisticModel {
  const kinds = trainedOn === "mixture" ? KINDS : (["answerable"] as const);
  const rows = kinds.flatMap((k) => data[k].filter((_, q) => keep(q)).flatMap((r) => r.slice(0, SHOWN)));
  return fitLogistic(rows.map((r) => X(r, features)), rows.map((r) => r.relevant));
}

/** The threshold on a question's best relevance that flags ANSWERABLE_FLAGGED of these answerable claims. */
const thresholdFor = (model: LogisticModel, features: Feature[], answerable: Rows) => quantile(best(model, features, answerable), ANSWERABLE_FLAGGED);

/** Cross-validated outcome of one feature set, folds by question. */
export function crossValidate(set: Judged, data: Data, features: Feature[], label: string, trainedOn: Outcome["trainedOn"]): Outcome {
  const held: { p: number; y: boolean; kind: (typeof KINDS)[number] }[] = [];
  const flagged = { answerable: 0, removed: 0, offTopic: 0 };
  const gains: number[] = [];
  let ndcg = 0;
  for (let fold = 0; fold < FOLDS; fold++) {
    const model = fit(data, features, trainedOn, (q) => foldOf(q) !== fold);
    const threshold = thresholdFor(model, features, data.answerable.filter((_, q) => foldOf(q) !== fold));
    for (const kind of KINDS) {
      const rows = data[kind].filter((_, q) => foldOf(q) === fold);
      flagged[kind] += best(model, features, rows).filter((p) => p < threshold).length;
      for (const row of rows.flatMap((r) => r.slice(0, SHOWN))) held.push({ p: predict(model, X(row, features)), y: row.relevant, kind });
    }
    for (const r of data.answerable.filter((_, q) => foldOf(q) === fold)) {
      const relevantCount = set.relevant.get(String(set.queries[r[0]?.question ?? 0]?.id))?.size ?? 0;
      // Stable: ties keep the ranker's order.
      const reordered = r.map((row) => ({ row, p: predict(model, X(row, features)) })).sort((a, b) => b.p - a.p || a.row.rank - b.row.rank).map((s) => s.row);
      const after = ndcg10(reordered, relevantCount);
      ndcg += after;
      gains.push(after - ndcg10(r, relevantCount));
    }
  }
  const all = calibrationError(held.map((h) => h.p), held.map((h) => h.y));
  const answerable = held.filter((h) => h.kind === "answerable");
  const logLoss = held.reduce((s, h) => s - Math.log(Math.min(1 - 1e-9, Math.max(1e-9, h.y ? h.p : 1 - h.p))), 0) / held.length;
  const mean = gains.reduce((a, b) => a + b, 0) / gains.length;
  const se = Math.sqrt(gains.reduce((s, g) => s + (g - mean) ** 2, 0) / (gains.length - 1) / gains.length);
  return {
    features: label,
    trainedOn,
    ece: round(all.ece, 4),
    eceAnswerable: round(calibrationError(answerable.map((h) => h.p), answerable.map((h) => h.y)).ece, 4),
    logLoss: round(logLoss, 4),
    answerable: round(flagged.answerable / data.answerable.length),
    removed: round(flagged.removed / data.removed.length),
    offTopic: round(flagged.offTopic / Math.max(1, data.offTopic.length)),
    ndcg10: round(ndcg / data.answerable.length),
    gain: { mean: round(mean, 4), se: round(se, 4) },
    reliability: all.bins.map((b) => ({ ...b, predicted: round(b.predicted), observed: round(b.observed) })),
  };
}

/** The baseline: flag a question when its top similarity is below the training folds' 10 % quantile. */
function baseline(data: Data): { answerable: number; removed: number; offTopic: number } {
  const flagged = { answerable: 0, removed: 0, offTopic: 0 };
  const top = (rs: Rows) => rs.map((r) => r[0]?.features.top ?? 0);
  for (let fold = 0; fold < FOLDS; fold++) {
    const threshold = quantile(top(data.answerable.filter((_, q) => foldOf(q) !== fold)), ANSWERABLE_FLAGGED);
    for (const kind of KINDS) flagged[kind] += top(data[kind].filter((_, q) => foldOf(q) === fold)).filter((s) => s < threshold).length;
  }
  return { answerable: round(flagged.answerable / data.answerable.length), removed: round(flagged.removed / data.removed.length), offTopic: round(flagged.offTopic / Math.max(1, data.offTopic.length)) };
}

/** The candidate feature sets, smallest first, each cut to the features the mode has. */
export function candidates(data: Data): { label: string; features: Feature[] }[] {
  const sets: [string, Feature[]][] = [
    ["similarity", ["similarity"]],
    ["+ BM25 share, rank", ["similarity", "bm25Share", "logRank"]],
    ["+ gaps (below top, margin, above mean)", ["similarity", "bm25Share", "logRank", "belowTop", "margin", "aboveMean"]],
    ["+ term shares", ["similarity", "bm25Share", "logRank", "belowTop", "margin", "aboveMean", "termShare", "idfShare"]],
    ["all", [...FEATURE_NAMES]],
  ];
  // A mode has a feature when its hits carry it (lexical has no similarity, dense no BM25 share).
  const has = (f: Feature) => data.answerable.some((r) => r[0] && r[0].features[f] !== null);
  const seen = new Set<string>();
  return sets
    .map(([label, features]) => ({ label, features: features.filter(has) }))
    .filter((s) => s.features.length && !seen.has(s.features.join()) && seen.add(s.features.join()));
}

/**
 * The chosen feature set: off-topic questions first (the easy case, where the issue asks for 95 %), then the
 * hard one: the most answers-removed questions flagged among the sets within a point of the best off-topic
 * rate, then the lowest ECE.
 */
function choose(outcomes: Outcome[]): Outcome {
  const bestOffTopic = Math.max(...outcomes.map((o) => o.offTopic));
  return outcomes.filter((o) => o.offTopic >= bestOffTopic - 0.01).sort((a, b) => b.removed - a.removed || a.ece - b.ece)[0]!;
}

export async function collect(index: PapersiftIndex, removedIndex: PapersiftIndex, set: Judged, offTopic: string[], mode: SearchMode): Promise<Data> {
  const claims = set.queries.map((q) => q.text);
  const relevant = (q: number, id: string) => set.relevant.get(String(set.queries[q]!.id))?.has(id) ?? false;
  return {
    answerable: await rows(index, claims, mode, DEPTH, relevant),
    removed: await rows(removedIndex, claims, mode, SHOWN),
    offTopic: await rows(index, offTopic, mode, SHOWN),
  };
}

export async function runCalibration(args: string[], model: ModelInfo, manifestFile: string): Promise<void> {
  const asJson = args.includes("--json");
  const log = (line = "") => asJson || console.log(line);
  const value = (flag: string) => args[args.indexOf(flag) + 1];
  const set = readSet(value("--calibrate")!);
  const embedder = await loadEmbedder({ model: model.dir });
  const full = (await indexFor(set.name, set.corpus, model.dir, embedder)).dir;
  const removedDir = await answersRemoved(set, full, model, embedder);
  // Off-topic questions: 400 titles, every Nth paper of the given corpus.
  const offTopicFile = args.includes("--off-topic") ? path.join(value("--off-topic")!, "corpus.jsonl") : null;
  const offTopicLines = offTopicFile ? readFileSync(offTopicFile, "utf8").split("\n").filter(Boolean) : [];
  const every = Math.max(1, Math.floor(offTopicLines.length / 400));
  const offTopic = offTopicLines.filter((_, i) => i % every === 0).slice(0, 400).map((l) => (JSON.parse(l) as { title: string }).title);

  const index = await openIndex(full, { embedder });
  const removedIndex = await openIndex(removedDir, { embedder });
  const results: { mode: SearchMode; baseline: ReturnType<typeof baseline> | null; outcomes: Outcome[]; chosen: Outcome; fit: RelevanceFit }[] = [];
  for (const mode of ["hybrid", "dense", "lexical"] as SearchMode[]) {
    const data = await collect(index, removedIndex, set, offTopic, mode);
    const sets = candidates(data);
    const outcomes = sets.map((c) => crossValidate(set, data, c.features, c.label, "mixture"));
    const chosen = choose(outcomes);
    const features = sets.find((c) => c.label === chosen.features)!.features;
    // For comparison: the same features fitted on answerable claims alone.
    outcomes.push(crossValidate(set, data, features, chosen.features, "answerable claims"));
    const fitted = fit(data, features, "mixture", () => true);
    const threshold = thresholdFor(fitted, features, data.answerable);
    results.push({
      mode,
      baseline: mode === "lexical" ? null : baseline(data),
      outcomes,
      chosen,
      fit: RelevanceFit.parse({
        features,
        weights: fitted.weights.map((w) => round(w, 6)),
        intercept: round(fitted.intercept, 6),
        noStrongMatchBelow: round(threshold, 4),
        fitted:
          `npm run eval -- --calibrate: ${set.name}, ${set.queries.length} claims asked of it and of it without their cited abstracts, and ${offTopic.length} off-topic titles; ` +
          `first ${SHOWN} hits; 10-fold ECE ${chosen.ece}; no strong match for ${chosen.answerable} of answerable, ${chosen.removed} of answers-removed, ${chosen.offTopic} of off-topic questions`,
      }),
    });
  }
  index.close();
  removedIndex.close();

  log(`Calibrated relevance, ${model.id}: ${set.name} (${set.queries.length} claims; answers-removed: the same claims asked without the ${[...new Set([...set.relevant.values()].flatMap((ids) => [...ids]))].length} abstracts they cite), ${offTopic.length} off-topic titles`);
  log(`from ${offTopicFile ?? "(none given)"}. 10-fold cross-validation by question. ECE (10 bins) and log loss over the first ${SHOWN} hits of every question;`);
  log(`"no strong match" at the threshold on a search's best relevance that flags ${ANSWERABLE_FLAGGED * 100} % of the training folds' answerable claims;`);
  log(`nDCG@10 with the top ${DEPTH} re-ordered by relevance (gain over the ranker's order, ± 1 standard error, paired by claim).\n`);
  log("| mode | features | fitted on | ECE | ECE, answerable claims | log loss | answerable flagged | answers-removed flagged | off-topic flagged | nDCG@10 re-ordered | gain |");
  log("|---|---|---|---|---|---|---|---|---|---|---|");
  for (const r of results) {
    if (r.baseline) log(`| ${r.mode} | top-1 similarity threshold (no model) | – | – | – | – | ${r.baseline.answerable} | ${r.baseline.removed} | ${r.baseline.offTopic} | – | – |`);
    for (const o of r.outcomes) {
      const mark = o === r.chosen ? "**" : "";
      log(`| ${r.mode} | ${mark}${o.features}${mark} | ${o.trainedOn} | ${o.ece} | ${o.eceAnswerable} | ${o.logLoss} | ${o.answerable} | ${o.removed} | ${o.offTopic} | ${o.ndcg10} | ${o.gain.mean} ± ${o.gain.se} |`);
    }
  }
  for (const r of results) {
    log(`\nReliability, ${r.mode}, ${r.chosen.features} (held-out hits of every question)`);
    log("| relevance | hits | mean predicted | observed relevant |");
    log("|---|---|---|---|");
    for (const b of r.chosen.reliability) log(`| ${b.from.toFixed(1)}–${(b.from + 0.1).toFixed(1)} | ${b.n} | ${b.predicted} | ${b.observed} |`);
    log(`\nfit on every question: ${JSON.stringify(r.fit)}`);
  }
  if (args.includes("--write")) {
    const manifest = ModelManifest.parse(JSON.parse(readFileSync(manifestFile, "utf8")));
    const relevance = Object.fromEntries(results.map((r) => [r.mode, r.fit]));
    writeFileSync(manifestFile, JSON.stringify({ ...manifest, relevance }, null, 2) + "\n");
    log(`\nwrote the fits to ${path.relative(process.cwd(), manifestFile)}`);
  }
  if (asJson) console.log(JSON.stringify({ model: model.id, set: set.name, results }));
}
