// clusters: groups of papers with high pairwise similarity. Each paper's nearest papers come from the HNSW
// index over chunks, queried with the paper's own vector (never an N×N matrix), and are ranked by the cosine
// of the paper vectors, all held in memory; groups then grow by average linkage along those neighbour
// edges, so every merge keeps the mean pairwise similarity between the merged parts at or above the
// threshold. Deterministic for one index and flags.
import { dot } from "../similarity.ts";
import type { Store } from "../store/store.ts";
import { allowedPapers, isEmptyFilter, type Filter } from "./filter.ts";
import { terms } from "./terms.ts";

export interface ClusterOptions {
  /** Fine clusters: average linkage stops below this mean pairwise similarity. */
  threshold: number;
  /** Topics: the same agglomeration carried on down to this similarity, so topics nest fine clusters. */
  topicThreshold: number;
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
  /** The topic this cluster is part of (null if its papers are in no topic). */
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
  topicThreshold: number;
  /** Coarse level, largest first. */
  topics: Topic[];
  /** Fine level, largest first. */
  clusters: Cluster[];
  /** Papers in no fine cluster. */
  unclustered: { id: string; title: string }[];
  /** Share of papers inside a topic. */
  coverage: number;
}

/** Mean cosine similarity between every member of one group and every member of the other. */
const linkage = (a: Group, b: Group) => dot(a.sum, b.sum) / (a.members.length * b.members.length);

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
  const key = `topics:${options.topicThreshold}:${typeof options.topicMinSize === "number" ? options.topicMinSize : "auto"}:${options.neighbors}${isEmptyFilter(filter) ? "" : `:${JSON.stringify(filter)}`}`;
  const result = store.read(() => {
    const allowed = allowedPapers(store, filter);
    const papers = allowed ? store.titles().filter((p) => allowed.has(p.rowid)) : store.titles();
    const index = new Map(papers.map((p, i) => [p.rowid, i]));
    const byRowid = store.paperVectors();
    const vectors = papers.map((p) => byRowid.get(p.rowid)!);
    const groups: Group[] = papers.map((_, i) => ({
      members: [i],
      sum: Float64Array.from(vectors[i]!),
      neighbours: new Set<number>(),
      alive: true,
    }));
    const chunkPaper = store.chunkPapers();
    papers.forEach((_, i) => {
      for (const j of nearestPapers(store, chunkPaper, index, vectors, i, options.neighbors, allowed)) {
        groups[i]!.neighbours.add(j);
        groups[j]!.neighbours.add(i);
      }
    });

    // Average-linkage agglomeration over the k-NN graph: repeatedly merge the two neighbouring groups with
    // the highest mean pairwise similarity, while it is at or above the threshold. Unlike connected
    // components, one bridging pair cannot chain two topics together. Fine clusters are the groups at
    // `threshold`; carrying on to `topicThreshold` merges whole clusters into topics, so the levels nest.
    const heap = new PairHeap();
    groups.forEach((g, i) => {
      for (const j of g.neighbours) if (j > i) heap.push(linkage(g, groups[j]!), i, j);
    });
    const agglomerate = (until: number) => {
      for (let top = heap.pop(until); top; top = heap.pop(until)) {
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
    };
    agglomerate(options.threshold);
    const fine = groups.filter((g) => g.alive && g.members.length >= options.minSize).map((g) => ({ members: [...g.members], sum: Float64Array.from(g.sum) }));
    agglomerate(Math.min(options.topicThreshold, options.threshold));
    const minTopic = typeof options.topicMinSize === "number" ? options.topicMinSize : options.topicMinSize(papers.length);
    const coarse = groups.filter((g) => g.alive && g.members.length >= minTopic);

    const terms = paperTerms(store, papers);
    const topicOf = new Map<number, number>(); // paper index → position in `coarse`
    coarse.forEach((g, t) => g.members.forEach((i) => topicOf.set(i, t)));
    // Document frequencies of the backgrounds, counted once: the corpus, and each topic for its clusters.
    const corpusFreq = documentFrequency(papers.map((_, i) => i), terms);
    const topicFreq = coarse.map((g) => documentFrequency(g.members, terms));
    const topicsDescribed = coarse.map((g) => describe(g, vectors, papers, terms, corpusFreq));
    const clustersDescribed = fine.map((g) => {
      const t = topicOf.get(g.members[0]!);
      return { topic: t ?? null, ...describe(g, vectors, papers, terms, t === undefined ? corpusFreq : topicFreq[t]!) };
    });

    const bySize = <T extends { members: number[]; cohesion: number; papers: ClusterPaper[] }>(a: T, b: T) =>
      b.members.length - a.members.length || b.cohesion - a.cohesion || a.papers[0]!.id.localeCompare(b.papers[0]!.id);
    const clusterOrder = clustersDescribed.map((c, i) => ({ ...c, i })).sort(bySize);
    const clusterId = new Map(clusterOrder.map((c, n) => [c.i, n + 1]));
    const topicOrder = topicsDescribed.map((c, i) => ({ ...c, i })).sort(bySize);
    const clustered = new Set(fine.flatMap((g) => g.members));
    return {
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
    };
  });

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
    topicThreshold: options.topicThreshold,
    topics,
    clusters,
    unclustered: result.unclustered,
    coverage: result.papers.length ? Math.round((inTopics / result.papers.length) * 1e4) / 1e4 : 0,
  };
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
 * The k papers nearest to paper i by paper-vector cosine, among the papers of the chunks nearest to its
 * vector. A chunk sits close to its own paper's vector, so 4k chunks hold the k nearest papers; a small
 * efSearch suffices because the candidates are re-scored exactly.
 */
export function nearestPapers(
  store: Store,
  chunkPaper: Map<number, number>,
  index: Map<number, number>,
  vectors: Float32Array[],
  i: number,
  k: number,
  allowed: Set<number> | null,
): number[] {
  const candidates = new Set<number>();
  for (const label of store.nearestChunks(vectors[i]!, 4 * k, { ef: 4 * k, papers: allowed })) {
    const paper = chunkPaper.get(label);
    const j = paper === undefined ? undefined : index.get(paper);
    if (j !== undefined && j !== i) candidates.add(j);
  }
  return [...candidates]
    .map((j) => ({ j, similarity: dot(vectors[i]!, vectors[j]!) }))
    .sort((a, b) => b.similarity - a.similarity || a.j - b.j)
    .slice(0, k)
    .map((c) => c.j);
}

/**
 * Max-heap of candidate merges. Entries go stale when either side merges; they are skipped on pop (the
 * `size` check), which is simpler than decrease-key. Ties break on indices, so the order is deterministic.
 */
class PairHeap {
  private items: { score: number; a: number; b: number; size: number }[] = [];
  /** Latest combined size per pair; a numeric key (a · 2²⁶ + b) is far cheaper than a string one. */
  private sizes = new Map<number, number>();

  push(score: number, a: number, b: number, size = 2): void {
    this.sizes.set(a * 67108864 + b, size);
    this.items.push({ score, a, b, size });
    let i = this.items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(i, parent)) break;
      [this.items[i], this.items[parent]] = [this.items[parent]!, this.items[i]!];
      i = parent;
    }
  }

  /** The best valid merge scoring at least `min`, or undefined (leaving it in place) if there is none. */
  pop(min: number): { score: number; a: number; b: number } | undefined {
    while (this.items.length) {
      const top = this.items[0]!;
      if (top.score < min) return undefined;
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

/** Each paper's terms (title and abstract), and the title's alone: for labels. */
function paperTerms(store: Store, papers: { rowid: number; title: string }[]): { title: Set<string>; all: Set<string> }[] {
  return papers.map((p) => ({
    title: new Set(terms(p.title)),
    all: new Set(terms(`${p.title} ${store.paperByRowid(p.rowid).abstract}`)),
  }));
}

interface Frequencies {
  /** Papers holding each term. */
  freq: Map<string, number>;
  papers: number;
}

function documentFrequency(members: number[], docTerms: { all: Set<string> }[]): Frequencies {
  const freq = new Map<string, number>();
  for (const i of members) for (const t of docTerms[i]!.all) freq.set(t, (freq.get(t) ?? 0) + 1);
  return { freq, papers: members.length };
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
  docTerms: { title: Set<string>; all: Set<string> }[],
  background: Frequencies,
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

  const inGroup = new Map<string, { members: number; weight: number }>();
  for (const i of group) {
    for (const t of docTerms[i]!.all) {
      const entry = inGroup.get(t) ?? { members: 0, weight: 0 };
      entry.members++;
      entry.weight += docTerms[i]!.title.has(t) ? 2 : 1;
      inGroup.set(t, entry);
    }
  }
  const docFreq = background.freq;
  const total = background.papers;
  const label = [...inGroup.entries()]
    .filter(([, { members }]) => members >= Math.min(2, n))
    .map(([term, { weight }]) => ({ term, score: (weight / n) * Math.log((total + 1) / docFreq.get(term)!) }))
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
