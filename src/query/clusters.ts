// clusters: a two-level hierarchy over the k-NN paper graph (graph.ts). Fine clusters grow by average
// linkage along the graph's edges, so every merge keeps the mean pairwise similarity between the merged
// parts at or above the threshold: tight groups of a few papers. Topics are communities of the graph of fine
// clusters (Louvain, graphology-communities-louvain, seeded), so each fine cluster sits in one topic and a
// topic is a region of the graph with more similarity inside than a random graph of the same degrees would
// have. Louvain was chosen over carrying the average linkage further down by measurement on 14k arXiv
// papers (docs/quality.md): it covers every paper, runs in a fraction of a second, and keeps topic ids
// steadier when the corpus changes a little, since one merge cannot chain two regions together.
// Deterministic for one index and flags.
import { UndirectedGraph } from "graphology";
import louvainModule from "graphology-communities-louvain";
import { dot } from "../similarity.ts";
import type { Store } from "../store/store.ts";
import { allowedPapers, isEmptyFilter, type Filter } from "./filter.ts";
import { paperGraph, rememberGraph } from "./graph.ts";
import { terms } from "./terms.ts";

// A CommonJS module whose typings declare an ES default export: at run time the function is the module.
const louvain = louvainModule as unknown as typeof louvainModule.default;

export interface ClusterOptions {
  /** Fine clusters: average linkage stops below this mean pairwise similarity. */
  threshold: number;
  /** Topics: Louvain's resolution over the graph of fine clusters (higher: more, smaller topics), or a rule from the number of papers clustered. */
  resolution: number | ((papers: number) => number);
  minSize: number;
  /** Smallest group reported as a topic, or a rule from the number of papers clustered. */
  topicMinSize: number | ((papers: number) => number);
  /** Nearest papers looked at per paper. */
  neighbors: number;
}

export interface ClusterPaper {
  id: string;
  title: string;
  centrality: number;
}

export interface Cluster {
  id: number;
  /** The topic this cluster is part of (every fine cluster is in one; null only in the type). */
  topic: number | null;
  /** Its most distinctive terms against its sibling clusters (the rest of its topic). */
  label: string;
  size: number;
  /** Mean pairwise cosine similarity of the members' paper vectors. */
  cohesion: number;
  /** Most central first (closest to the cluster's mean vector). */
  papers: ClusterPaper[];
}

export interface Topic {
  /** Stable: a topic keeps its id while most of its papers stay together (matched by member overlap). */
  id: number;
  /** Its most distinctive terms against the rest of the corpus. */
  label: string;
  size: number;
  cohesion: number;
  /** The fine clusters inside it, by id, largest first. */
  clusters: number[];
  papers: ClusterPaper[];
}

export interface Clustering {
  threshold: number;
  resolution: number;
  /** Coarse level, largest first. */
  topics: Topic[];
  /** Fine level, largest first. */
  clusters: Cluster[];
  /** Papers in no fine cluster. */
  unclustered: { id: string; title: string }[];
  /** Share of papers inside a topic. */
  coverage: number;
  /** Why there are no topics, when there are none. */
  notices: string[];
}

/**
 * Louvain's default resolution: 1 up to 1,000 papers, rising log-linearly to 3 at 10,000 and beyond. Chosen
 * on the two corpora measured (docs/quality.md): on the 71 bundled papers 1 gives 3 topics covering every
 * paper (3 leaves half of them in groups under the 5-paper floor); on the 14,318 arXiv papers 3 gives 41
 * topics whose ids survive 1 % churn (1 gives 15 that do not).
 */
export const RESOLUTION_RISE = { from: 1_000, to: 10_000, low: 1, high: 3 };
export const defaultResolution = (papers: number) => {
  const { from, to, low, high } = RESOLUTION_RISE;
  const rising = low + ((high - low) * Math.log10(papers / from)) / Math.log10(to / from);
  return Math.round(Math.min(high, Math.max(low, rising)) * 100) / 100;
};

/** Mean cosine similarity between every member of one group and every member of the other. */
const linkage = (a: Group, b: Group) => dotSums(a.sum, b.sum) / (a.members.length * b.members.length);

/** dot() for group sums: one array type, so the hot loop of the agglomeration stays monomorphic (≈5× faster). */
function dotSums(a: Float64Array, b: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i]! * b[i]!;
  return sum;
}

interface Group {
  members: number[];
  /** Sum of the members' unit vectors: gives exact mean pairwise similarities without pairwise loops. */
  sum: Float64Array;
  neighbours: Set<number>;
  alive: boolean;
}

interface Described {
  label: string;
  cohesion: number;
  papers: ClusterPaper[];
  members: number[];
}

export function clusterPapers(store: Store, options: ClusterOptions, filter?: Filter): Clustering {
  const key = `topics:${typeof options.resolution === "number" ? options.resolution : "auto"}:${typeof options.topicMinSize === "number" ? options.topicMinSize : "auto"}:${options.neighbors}${isEmptyFilter(filter) ? "" : `:${JSON.stringify(filter)}`}`;
  const { graph, result } = store.read(() => {
    const allowed = allowedPapers(store, filter);
    const graph = paperGraph(store, options.neighbors, allowed);
    const { papers, vectors } = graph;
    const groups: Group[] = papers.map((_, i) => ({
      members: [i],
      sum: Float64Array.from(vectors[i]!),
      neighbours: new Set<number>(),
      alive: true,
    }));
    graph.neighbours.forEach((row, i) => {
      for (const j of row) {
        groups[i]!.neighbours.add(j);
        groups[j]!.neighbours.add(i);
      }
    });

    // Average-linkage agglomeration over the k-NN graph: repeatedly merge the two neighbouring groups with
    // the highest mean pairwise similarity, while it is at or above the threshold. Unlike connected
    // components, one bridging pair cannot chain two topics together.
    const heap = new PairHeap(options.threshold);
    groups.forEach((g, i) => {
      for (const j of g.neighbours) if (j > i) heap.push(linkage(g, groups[j]!), i, j);
    });
    for (let top = heap.pop(); top; top = heap.pop()) {
      const [a, b] = [groups[top.a]!, groups[top.b]!];
      if (!a.alive || !b.alive) continue;
      // Keep the lower index as the survivor so the outcome does not depend on heap internals.
      a.members.push(...b.members);
      for (let d = 0; d < a.sum.length; d++) a.sum[d]! += b.sum[d]!;
      b.alive = false;
      for (const n of b.neighbours) if (n !== top.a) a.neighbours.add(n);
      a.neighbours.delete(top.b);
      for (const n of a.neighbours) {
        const other = groups[n]!;
        if (!other.alive) continue;
        other.neighbours.delete(top.b);
        other.neighbours.add(top.a);
        heap.push(linkage(a, other), Math.min(top.a, n), Math.max(top.a, n), a.members.length + other.members.length);
      }
    }
    const alive = groups.filter((g) => g.alive);
    const fine = alive.filter((g) => g.members.length >= options.minSize);
    const minTopic = typeof options.topicMinSize === "number" ? options.topicMinSize : options.topicMinSize(papers.length);
    const resolution = typeof options.resolution === "number" ? options.resolution : options.resolution(papers.length);
    // A community is a topic when it is large enough, or when it holds a fine cluster: every fine cluster
    // then sits in a topic, even in a corpus of two near-identical papers (issue 17).
    const inFine = new Set(fine.flatMap((g) => g.members));
    const coarse = communities(alive, graph.neighbours, vectors, papers.map((p) => p.id), resolution).filter(
      (g) => g.members.length >= minTopic || g.members.some((i) => inFine.has(i)),
    );

    const terms = paperTerms(store, papers);
    const topicOf = new Map<number, number>(); // paper index → position in `coarse`
    coarse.forEach((g, t) => g.members.forEach((i) => topicOf.set(i, t)));
    // Document frequencies of the backgrounds, counted once: the corpus, and each topic for its clusters.
    const corpusFreq = documentFrequency(papers.map((_, i) => i), terms);
    const topicFreq = coarse.map((g) => documentFrequency(g.members, terms));
    const tally = new Tally(terms.vocabulary.length);
    const topicsDescribed = coarse.map((g) => describe(g, vectors, papers, terms, corpusFreq, tally));
    const clustersDescribed = fine.map((g) => {
      const t = topicOf.get(g.members[0]!);
      return { topic: t ?? null, ...describe(g, vectors, papers, terms, t === undefined ? corpusFreq : topicFreq[t]!, tally) };
    });

    const bySize = <T extends { members: number[]; cohesion: number; papers: ClusterPaper[] }>(a: T, b: T) =>
      b.members.length - a.members.length || b.cohesion - a.cohesion || a.papers[0]!.id.localeCompare(b.papers[0]!.id);
    const clusterOrder = clustersDescribed.map((c, i) => ({ ...c, i })).sort(bySize);
    const clusterId = new Map(clusterOrder.map((c, n) => [c.i, n + 1]));
    const topicOrder = topicsDescribed.map((c, i) => ({ ...c, i })).sort(bySize);
    const clustered = new Set(fine.flatMap((g) => g.members));
    const result = {
      papers,
      topicOrder,
      clusters: clusterOrder.map((c): Cluster & { topicPosition: number | null } => ({
        id: clusterId.get(c.i)!,
        topic: null,
        topicPosition: c.topic,
        label: c.label,
        size: c.members.length,
        cohesion: c.cohesion,
        papers: c.papers,
      })),
      unclustered: papers.filter((_, i) => !clustered.has(i)).map((p) => ({ id: p.id, title: p.title })),
      previous: store.topicMembers(key),
      resolution,
      notices: coarse.length ? [] : [noTopicsBecause(papers.length, minTopic, options.threshold, !isEmptyFilter(filter))],
    };
    return { graph, result };
  });
  if (isEmptyFilter(filter)) rememberGraph(store, graph, options.neighbors);

  // Topic ids: matched to the previous run's topics (same parameters) by member overlap, else new ones.
  const ids = matchTopics(result.topicOrder.map((t) => t.papers.map((p) => p.id)), result.previous);
  store.recordTopicMembers(key, new Map(result.topicOrder.map((t, n) => [ids[n]!, t.papers.map((p) => p.id)])));
  const topicIdAt = new Map(result.topicOrder.map((t, n) => [t.i, ids[n]!]));
  const clusters = result.clusters.map(({ topicPosition, ...c }) => ({ ...c, topic: topicPosition === null ? null : topicIdAt.get(topicPosition)! }));
  const topics: Topic[] = result.topicOrder.map((t, n) => ({
    id: ids[n]!,
    label: t.label,
    size: t.members.length,
    cohesion: t.cohesion,
    clusters: clusters.filter((c) => c.topic === ids[n]).map((c) => c.id),
    papers: t.papers,
  }));
  const inTopics = topics.reduce((n, t) => n + t.size, 0);
  return {
    threshold: options.threshold,
    resolution: result.resolution,
    topics,
    clusters,
    unclustered: result.unclustered,
    coverage: result.papers.length ? Math.round((inTopics / result.papers.length) * 1e4) / 1e4 : 0,
    notices: result.notices,
  };
}

/** Why a clustering has no topic at all, in the user's words. */
function noTopicsBecause(papers: number, minTopic: number, threshold: number, filtered: boolean): string {
  if (papers === 0) return filtered ? "no topics: no paper passes the filter" : "no topics: the index holds no papers";
  const need = `a topic needs at least ${minTopic} papers, or a cluster of papers at similarity ≥ ${threshold}`;
  if (papers < minTopic) return `no topics: ${papers} paper${papers === 1 ? " is" : "s are"} too few (${need})`;
  return `no topics: no group of similar papers among these ${papers} (${need})`;
}

/**
 * Louvain communities of the graph whose nodes are the groups (fine clusters, and papers in none) and whose
 * edge weights sum the cosines of the paper edges between them. Each node is named by its smallest paper id
 * and the graph is built and traversed in that order (no random walk): the result is deterministic, and a
 * paper added or removed does not reorder the traversal of all the others, which keeps topics steadier
 * (docs/quality.md).
 */
function communities(groups: Group[], neighbours: number[][], vectors: Float32Array[], ids: string[], resolution: number): { members: number[]; sum: Float64Array }[] {
  const groupOf = new Int32Array(vectors.length);
  groups.forEach((g, n) => g.members.forEach((i) => (groupOf[i] = n)));
  const name = groups.map((g) => g.members.reduce((min, i) => (ids[i]! < min ? ids[i]! : min), ids[g.members[0]!]!));
  const order = groups.map((_, n) => n).sort((a, b) => (name[a]! < name[b]! ? -1 : name[a]! > name[b]! ? 1 : 0));
  const position = new Int32Array(groups.length);
  order.forEach((n, p) => (position[n] = p));
  // Weights summed per pair of groups first (a numeric key of their positions), then one edge per pair.
  const weights = new Map<number, number>();
  neighbours.forEach((row, i) => {
    for (const j of row) {
      const [x, y] = [position[groupOf[i]!]!, position[groupOf[j]!]!];
      if (x === y) continue;
      const key = Math.min(x, y) * 67108864 + Math.max(x, y);
      weights.set(key, (weights.get(key) ?? 0) + Math.max(0, dot(vectors[i]!, vectors[j]!)));
    }
  });
  const graph = new UndirectedGraph();
  for (const n of order) graph.addNode(name[n]!);
  for (const [key, weight] of [...weights].sort((a, b) => a[0] - b[0])) {
    graph.addEdge(name[order[Math.floor(key / 67108864)]!]!, name[order[key % 67108864]!]!, { weight });
  }
  const community = louvain(graph, { resolution, getEdgeWeight: "weight", randomWalk: false });
  const byCommunity = new Map<number, { members: number[]; sum: Float64Array }>();
  for (const n of order) {
    const g = groups[n]!;
    const c = community[name[n]!]!;
    let merged = byCommunity.get(c);
    if (!merged) byCommunity.set(c, (merged = { members: [], sum: new Float64Array(g.sum.length) }));
    merged.members.push(...g.members);
    for (let d = 0; d < g.sum.length; d++) merged.sum[d]! += g.sum[d]!;
  }
  return [...byCommunity.values()];
}

/**
 * Give each new topic (largest first) the id of the previous topic it shares most papers with, when they
 * share more than half of the smaller one; the rest get new ids above every id used before.
 */
export function matchTopics(topics: string[][], previous: Map<number, string[]>): number[] {
  const oldTopicOf = new Map<string, number>();
  for (const [id, members] of previous) for (const m of members) oldTopicOf.set(m, id);
  const pairs: { n: number; old: number; overlap: number }[] = [];
  topics.forEach((members, n) => {
    const counts = new Map<number, number>();
    for (const m of members) {
      const old = oldTopicOf.get(m);
      if (old !== undefined) counts.set(old, (counts.get(old) ?? 0) + 1);
    }
    for (const [old, overlap] of counts) {
      if (overlap * 2 > Math.min(members.length, previous.get(old)!.length)) pairs.push({ n, old, overlap });
    }
  });
  pairs.sort((a, b) => b.overlap - a.overlap || a.n - b.n || a.old - b.old);
  const ids: (number | undefined)[] = Array.from({ length: topics.length }, () => undefined);
  const taken = new Set<number>();
  for (const { n, old } of pairs) {
    if (ids[n] !== undefined || taken.has(old)) continue;
    ids[n] = old;
    taken.add(old);
  }
  let next = Math.max(0, ...previous.keys()) + 1;
  return ids.map((id) => id ?? next++);
}

/**
 * Max-heap of candidate merges scoring at least `min`. Entries go stale when either side merges; they are
 * skipped on pop (the `size` check), which is simpler than decrease-key. A merge below `min` is never
 * stored, only recorded as the pair's latest size, which makes its older entries stale. Ties break on
 * indices, so the order is deterministic.
 */
class PairHeap {
  private items: { score: number; a: number; b: number; size: number }[] = [];
  /** Latest combined size per pair; a numeric key (a · 2²⁶ + b) is far cheaper than a string one. */
  private sizes = new Map<number, number>();

  constructor(private readonly min: number) {}

  push(score: number, a: number, b: number, size = 2): void {
    this.sizes.set(a * 67108864 + b, size);
    if (score < this.min) return;
    this.items.push({ score, a, b, size });
    let i = this.items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(i, parent)) break;
      [this.items[i], this.items[parent]] = [this.items[parent]!, this.items[i]!];
      i = parent;
    }
  }

  /** The best valid merge, or undefined if there is none. */
  pop(): { score: number; a: number; b: number } | undefined {
    while (this.items.length) {
      const top = this.items[0]!;
      const last = this.items.pop()!;
      if (this.items.length) {
        this.items[0] = last;
        let i = 0;
        for (;;) {
          const [l, r] = [2 * i + 1, 2 * i + 2];
          let best = i;
          if (l < this.items.length && this.before(l, best)) best = l;
          if (r < this.items.length && this.before(r, best)) best = r;
          if (best === i) break;
          [this.items[i], this.items[best]] = [this.items[best]!, this.items[i]!];
          i = best;
        }
      }
      if (this.sizes.get(top.a * 67108864 + top.b) === top.size) return top;
    }
    return undefined;
  }

  private before(i: number, j: number): boolean {
    const [x, y] = [this.items[i]!, this.items[j]!];
    return x.score > y.score || (x.score === y.score && (x.a < y.a || (x.a === y.a && x.b < y.b)));
  }
}

/**
 * Each paper's distinct terms (title and abstract) as ids into one vocabulary, with those of its title
 * marked: labels count terms over thousands of papers, and arrays indexed by id beat maps keyed by string.
 */
interface PaperTerms {
  vocabulary: string[];
  /** Per paper: term ids, each once; a title term's id is stored as −1 − id. */
  papers: Int32Array[];
}

function paperTerms(store: Store, papers: { rowid: number; title: string }[]): PaperTerms {
  const abstracts = store.abstracts();
  const ids = new Map<string, number>();
  const vocabulary: string[] = [];
  const idOf = (term: string) => {
    let id = ids.get(term);
    if (id === undefined) {
      id = vocabulary.push(term) - 1;
      ids.set(term, id);
    }
    return id;
  };
  return {
    vocabulary,
    papers: papers.map((p) => {
      const title = new Set(terms(p.title).map(idOf));
      const all = new Set([...title, ...terms(abstracts.get(p.rowid) ?? "").map(idOf)]);
      return Int32Array.from(all, (id) => (title.has(id) ? -1 - id : id));
    }),
  };
}

const termId = (code: number) => (code < 0 ? -1 - code : code);

interface Frequencies {
  /** Papers holding each term, by term id. */
  freq: Int32Array;
  papers: number;
}

function documentFrequency(members: number[], docTerms: PaperTerms): Frequencies {
  const freq = new Int32Array(docTerms.vocabulary.length);
  for (const i of members) for (const code of docTerms.papers[i]!) freq[termId(code)]!++;
  return { freq, papers: members.length };
}

/** Per-term tallies for one group at a time, reset after each (only the touched entries). */
class Tally {
  readonly members: Int32Array;
  readonly weight: Float64Array;
  readonly touched: number[] = [];
  constructor(size: number) {
    this.members = new Int32Array(size);
    this.weight = new Float64Array(size);
  }
  reset(): void {
    for (const id of this.touched) {
      this.members[id] = 0;
      this.weight[id] = 0;
    }
    this.touched.length = 0;
  }
}

/**
 * Cohesion, members by centrality, and a label: the terms common in the group and rare in its background
 * (the whole corpus for a topic; the rest of its topic for a fine cluster), scored by share of members ×
 * inverse document frequency in the background. A term in a member's title counts double, titles being
 * what authors chose to say the paper is about.
 */
function describe(
  { members: group, sum }: { members: number[]; sum: Float64Array },
  vectors: Float32Array[],
  papers: { id: string; title: string }[],
  docTerms: PaperTerms,
  background: Frequencies,
  tally: Tally,
): Described {
  // For unit vectors, the mean pairwise cosine is (|Σv|² − n) / (n(n − 1)): no pairwise loop needed.
  let squared = 0;
  for (const x of sum) squared += x * x;
  const n = group.length;
  const cohesion = n > 1 ? (squared - n) / (n * (n - 1)) : 1;
  const norm = Math.sqrt(squared) || 1;
  const centroid = Float32Array.from(sum, (x) => x / norm);
  const ranked = group
    .map((i) => ({ i, centrality: dot(vectors[i]!, centroid) }))
    .sort((a, b) => b.centrality - a.centrality || papers[a.i]!.id.localeCompare(papers[b.i]!.id));

  for (const i of group) {
    for (const code of docTerms.papers[i]!) {
      const id = termId(code);
      if (tally.members[id] === 0) tally.touched.push(id);
      tally.members[id]!++;
      tally.weight[id]! += code < 0 ? 2 : 1;
    }
  }
  const total = background.papers;
  const scored: { term: string; score: number }[] = [];
  for (const id of tally.touched) {
    if (tally.members[id]! < Math.min(2, n)) continue;
    scored.push({ term: docTerms.vocabulary[id]!, score: (tally.weight[id]! / n) * Math.log((total + 1) / background.freq[id]!) });
  }
  tally.reset();
  const label = scored
    .sort((a, b) => b.score - a.score || a.term.localeCompare(b.term))
    .slice(0, 3)
    .map((t) => t.term)
    .join(", ");

  return {
    label,
    cohesion: Math.round(cohesion * 1e4) / 1e4,
    members: group,
    papers: ranked.map(({ i, centrality }) => ({
      id: papers[i]!.id,
      title: papers[i]!.title,
      centrality: Math.round(centrality * 1e4) / 1e4,
    })),
  };
}
