// The corpus map: every paper as a point in 2-D, laid out by UMAP (umap-js) over the k-NN paper graph that
// clusters use, so neighbours sit together and topics form regions. Measured on SciFact's 5,183 papers: of
// each paper's 10 nearest points on the map, 0.70 share its topic with UMAP (the 384-d space itself: 0.70),
// against 0.15 for the ForceAtlas2 layout this replaces and 0.03–0.30 however it was configured; a force
// layout of a k-NN graph spreads it into one even disc. umap-js is a maintained port of the reference
// UMAP and takes the graph as precomputed neighbours, so no second nearest-neighbour search runs.
// Deterministic: a seeded random source, a fixed number of epochs, the graph in rowid order. Computed once
// per index generation and kept in the index (`map:<generation>` in meta); the layout yields to the event
// loop between slices of epochs, so a server answers (and says "computing") while it runs.
import { UMAP } from "umap-js";
import { z } from "zod";
import { dot } from "../similarity.ts";
import type { Store } from "../store/store.ts";
import type { Clustering } from "./clusters.ts";
import { paperGraph, rememberGraph, type PaperGraph } from "./graph.ts";

export interface MapPoint {
  id: string;
  title: string;
  x: number;
  y: number;
  /** Coarse topic id (colour), or null. */
  topic: number | null;
  /** Fine cluster id, or null. */
  cluster: number | null;
}

export interface MapLabel {
  id: number;
  label: string;
  /** The centre of its papers on the map. */
  x: number;
  y: number;
  size: number;
}

export interface CorpusMap {
  /** The index generation it was laid out for. */
  generation: number;
  /** x and y run over −100..100 (the longer side spans it), centred on the corpus. */
  points: MapPoint[];
  /** Largest first, as clusters lists them. */
  topics: MapLabel[];
  clusters: (MapLabel & { topic: number | null })[];
}

export interface MapProgress {
  phase: "graph" | "topics" | "layout";
  done: number;
  total: number;
}

/** The graph clusters keep by default (ClusterOptions.neighbors), so the map reads it instead of computing one. */
const GRAPH_K = 10;
/** Work between yields to the event loop: short enough that a request waits at most this long. */
const SLICE_MS = 40;
const SEED = 42;
/** Tighter than umap-js's 0.1: on the arXiv sample it keeps 0.70 of each paper's map neighbours in its topic, against 0.67. */
const MIN_DIST = 0.05;

/** A seeded Lehmer generator: umap-js's only source of randomness, so a layout repeats exactly. */
function seededRandom(seed: number): () => number {
  let state = seed;
  return () => (state = (state * 48271) % 2147483647) / 2147483647;
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * UMAP coordinates of the graph's papers, as [x0, y0, x1, y1, …]. Each paper's neighbours are its graph row
 * (cosine distance 1 − similarity); a short row is padded with "no neighbour". Fewer than 4 papers sit on a
 * circle, since UMAP needs more points than neighbours.
 */
export async function umapLayout(graph: PaperGraph, onProgress?: (done: number, total: number) => void): Promise<Float64Array> {
  const n = graph.papers.length;
  const xy = new Float64Array(2 * n);
  if (n < 4) {
    for (let i = 0; i < n; i++) [xy[2 * i], xy[2 * i + 1]] = [Math.cos((2 * Math.PI * i) / n), Math.sin((2 * Math.PI * i) / n)];
    return xy;
  }
  const k = Math.min(GRAPH_K, n - 1);
  const indices: number[][] = [];
  const distances: number[][] = [];
  graph.neighbours.forEach((row, i) => {
    const near = row.slice(0, k - 1);
    const d = near.map((j) => Math.max(0, 1 - dot(graph.vectors[i]!, graph.vectors[j]!)));
    const far = d.length ? d[d.length - 1]! : 1;
    while (near.length < k - 1) {
      near.push(-1);
      d.push(far);
    }
    indices.push([i, ...near]);
    distances.push([0, ...d]);
  });
  const umap = new UMAP({ nNeighbors: k, minDist: MIN_DIST, random: seededRandom(SEED) });
  umap.setPrecomputedKNN(indices, distances);
  // With precomputed neighbours umap-js reads only the number of rows.
  const epochs = umap.initializeFit(graph.papers.map(() => [0]));
  let slice = performance.now();
  for (let epoch = 0; epoch < epochs; epoch++) {
    umap.step();
    if (performance.now() - slice > SLICE_MS) {
      onProgress?.(epoch + 1, epochs);
      await yieldToEventLoop();
      slice = performance.now();
    }
  }
  umap.getEmbedding().forEach(([x, y], i) => [xy[2 * i], xy[2 * i + 1]] = [x!, y!]);
  return xy;
}

/**
 * Turn the layout so its long axis (the points' principal direction) lies along x: UMAP's orientation is
 * arbitrary, and the page draws the map in a panel wider than tall, where a tall layout used 40 % of the
 * width (seen on the arXiv sample's screenshots). Distances, so the regions, are unchanged.
 */
function alongX(xy: Float64Array): Float64Array {
  const n = xy.length / 2;
  let [mx, my] = [0, 0];
  for (let i = 0; i < n; i++) [mx, my] = [mx + xy[2 * i]! / n, my + xy[2 * i + 1]! / n];
  let [sxx, syy, sxy] = [0, 0, 0];
  for (let i = 0; i < n; i++) {
    const [dx, dy] = [xy[2 * i]! - mx, xy[2 * i + 1]! - my];
    [sxx, syy, sxy] = [sxx + dx * dx, syy + dy * dy, sxy + dx * dy];
  }
  const angle = 0.5 * Math.atan2(2 * sxy, sxx - syy); // the principal axis
  const [cos, sin] = [Math.cos(-angle), Math.sin(-angle)];
  const out = new Float64Array(xy.length);
  for (let i = 0; i < n; i++) {
    const [dx, dy] = [xy[2 * i]! - mx, xy[2 * i + 1]! - my];
    out[2 * i] = dx * cos - dy * sin;
    out[2 * i + 1] = dx * sin + dy * cos;
  }
  return out;
}

/** Centre on the corpus and scale so that the longer side spans −100..100; two decimals. */
function normalise(xy: Float64Array): Float64Array {
  let [minX, maxX, minY, maxY] = [Infinity, -Infinity, Infinity, -Infinity];
  for (let i = 0; i < xy.length; i += 2) {
    [minX, maxX, minY, maxY] = [Math.min(minX, xy[i]!), Math.max(maxX, xy[i]!), Math.min(minY, xy[i + 1]!), Math.max(maxY, xy[i + 1]!)];
  }
  const scale = 200 / Math.max(maxX - minX, maxY - minY, 1e-9);
  const [cx, cy] = [(minX + maxX) / 2, (minY + maxY) / 2];
  return xy.map((v, i) => Math.round((v - (i % 2 ? cy : cx)) * scale * 100) / 100);
}

/** What the index keeps of a map: coordinates and topic of each paper by rowid, and the labels. */
const StoredMap = z.object({
  rowids: z.array(z.number().int()),
  xy: z.array(z.number()),
  topic: z.array(z.number().int().nullable()),
  cluster: z.array(z.number().int().nullable()),
  topics: z.array(z.object({ id: z.number(), label: z.string(), x: z.number(), y: z.number(), size: z.number() })),
  clusters: z.array(z.object({ id: z.number(), topic: z.number().nullable(), label: z.string(), x: z.number(), y: z.number(), size: z.number() })),
});
type StoredMap = z.infer<typeof StoredMap>;

/** The map the index keeps for this generation, joined with the current titles; null if none or stale. */
export function storedMap(store: Store, generation: number): CorpusMap | null {
  const row = store.meta(`map:${generation}`);
  if (row === undefined) return null;
  let parsed: StoredMap;
  try {
    parsed = StoredMap.parse(JSON.parse(row));
  } catch {
    return null;
  }
  const papers = store.titles();
  if (papers.length !== parsed.rowids.length || papers.some((p, i) => p.rowid !== parsed.rowids[i])) return null;
  const points = papers.map((p, i) => ({ id: p.id, title: p.title, x: parsed.xy[2 * i]!, y: parsed.xy[2 * i + 1]!, topic: parsed.topic[i]!, cluster: parsed.cluster[i]! }));
  return { generation, points, topics: parsed.topics, clusters: parsed.clusters };
}

/** Keep a map for its generation, dropping other generations' (best effort, as the k-NN graph). */
function recordMap(store: Store, map: CorpusMap, rowids: number[]): void {
  const stored: StoredMap = {
    rowids,
    xy: map.points.flatMap((p) => [p.x, p.y]),
    topic: map.points.map((p) => p.topic),
    cluster: map.points.map((p) => p.cluster),
    topics: map.topics,
    clusters: map.clusters,
  };
  try {
    store.db.transaction(() => {
      store.sql("DELETE FROM meta WHERE key LIKE 'map:%'").run();
      store.setMeta(`map:${map.generation}`, JSON.stringify(stored));
    })();
  } catch {
    // Read-only, or a writer holds the database: laid out again next time.
  }
}

/**
 * Lay out the corpus: the k-NN graph (kept per generation), the default topics, then UMAP. Reads under one
 * snapshot and lays out after it, so no read transaction is held through the layout.
 */
export async function computeMap(store: Store, generation: number, topics: () => Clustering, onProgress?: (p: MapProgress) => void): Promise<CorpusMap> {
  const n = store.counts().papers;
  onProgress?.({ phase: "graph", done: 0, total: n });
  await yieldToEventLoop();
  const graph = store.read(() => paperGraph(store, GRAPH_K, null));
  rememberGraph(store, graph, GRAPH_K);
  onProgress?.({ phase: "topics", done: 0, total: n });
  await yieldToEventLoop();
  const clustering = topics();
  const xy = normalise(alongX(await umapLayout(graph, (done, total) => onProgress?.({ phase: "layout", done, total }))));

  const topicOf = new Map(clustering.topics.flatMap((t) => t.papers.map((p) => [p.id, t.id] as [string, number])));
  const clusterOf = new Map(clustering.clusters.flatMap((c) => c.papers.map((p) => [p.id, c.id] as [string, number])));
  const points = graph.papers.map((p, i) => ({
    id: p.id,
    title: p.title,
    x: xy[2 * i]!,
    y: xy[2 * i + 1]!,
    topic: topicOf.get(p.id) ?? null,
    cluster: clusterOf.get(p.id) ?? null,
  }));
  const byId = new Map(points.map((p) => [p.id, p]));
  const round = (v: number) => Math.round(v * 100) / 100;
  const centre = (members: { id: string }[]) => ({
    x: round(members.reduce((s, m) => s + byId.get(m.id)!.x, 0) / members.length),
    y: round(members.reduce((s, m) => s + byId.get(m.id)!.y, 0) / members.length),
  });
  const map: CorpusMap = {
    generation,
    points,
    topics: clustering.topics.map((t) => ({ id: t.id, label: t.label, size: t.size, ...centre(t.papers) })),
    clusters: clustering.clusters.map((c) => ({ id: c.id, topic: c.topic, label: c.label, size: c.size, ...centre(c.papers) })),
  };
  // An ingest that committed meanwhile makes this map another generation's: use it, but do not keep it.
  if (store.state()?.generation === generation) recordMap(store, map, graph.papers.map((p) => p.rowid));
  return map;
}

/**
 * How well a layout keeps topics together: over the papers that have a topic, the share of each one's k
 * nearest points on the map (Euclidean) that are in its topic. Chance is about Σ (topic share)²; the same
 * measure over the vectors' own 10 nearest neighbours is the ceiling a layout can hope to keep.
 */
export function topicShare(points: Pick<MapPoint, "x" | "y" | "topic">[], k = 10): number {
  const n = points.length;
  const xs = Float64Array.from(points, (p) => p.x);
  const ys = Float64Array.from(points, (p) => p.y);
  const best = new Int32Array(k);
  const bestD = new Float64Array(k);
  let same = 0;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const topic = points[i]!.topic;
    if (topic === null) continue;
    // The k nearest by insertion into a sorted list of k: O(n·k), no sort of all n.
    let found = 0;
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      const dist = (xs[j]! - xs[i]!) ** 2 + (ys[j]! - ys[i]!) ** 2;
      if (found === k && dist >= bestD[k - 1]!) continue;
      let at = found < k ? found++ : k - 1;
      while (at > 0 && bestD[at - 1]! > dist) {
        best[at] = best[at - 1]!;
        bestD[at] = bestD[at - 1]!;
        at--;
      }
      best[at] = j;
      bestD[at] = dist;
    }
    for (let m = 0; m < found; m++) if (points[best[m]!]!.topic === topic) same++;
    total += found;
  }
  return total ? same / total : 0;
}
