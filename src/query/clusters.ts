// clusters: groups of papers with high pairwise similarity. Each paper's nearest papers come from the HNSW
// index (never an N×N matrix); groups then grow by average linkage along those neighbour edges, so every
// merge keeps the mean pairwise similarity between the merged parts at or above the threshold.
// Deterministic for one index and flags.
import { dot } from "../similarity.ts";
import type { Store } from "../store/store.ts";
import { denseRanking } from "./search.ts";
import { terms } from "./terms.ts";

export interface ClusterOptions {
  threshold: number;
  minSize: number;
  /** Nearest papers looked at per paper. */
  neighbors: number;
}

export interface Cluster {
  id: number;
  label: string;
  size: number;
  /** Mean pairwise cosine similarity of the members' paper vectors. */
  cohesion: number;
  /** Most central first (closest to the cluster's mean vector). */
  papers: { id: string; title: string; centrality: number }[];
}

export interface Clustering {
  threshold: number;
  clusters: Cluster[];
  unclustered: { id: string; title: string }[];
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

export function clusterPapers(store: Store, options: ClusterOptions): Clustering {
  return store.read(() => {
    const papers = store.titles();
    const index = new Map(papers.map((p, i) => [p.rowid, i]));
    const vectors = papers.map((p) => store.paperVector(p.rowid));
    const groups: Group[] = papers.map((_, i) => ({
      members: [i],
      sum: Float64Array.from(vectors[i]!),
      neighbours: new Set<number>(),
      alive: true,
    }));
    papers.forEach((p, i) => {
      for (const { paper } of denseRanking(store, vectors[i]!, options.neighbors, p.rowid).slice(0, options.neighbors)) {
        const j = index.get(paper)!;
        groups[i]!.neighbours.add(j);
        groups[j]!.neighbours.add(i);
      }
    });

    // Average-linkage agglomeration over the k-NN graph: repeatedly merge the two neighbouring groups with
    // the highest mean pairwise similarity, while it is at or above the threshold. Unlike connected
    // components, one bridging pair cannot chain two topics together.
    const heap = new PairHeap();
    groups.forEach((g, i) => {
      for (const j of g.neighbours) if (j > i) heap.push(linkage(g, groups[j]!), i, j);
    });
    for (let top = heap.pop(); top && top.score >= options.threshold; top = heap.pop()) {
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

    const docTerms = papers.map((p) => ({
      title: new Set(terms(p.title)),
      all: new Set(terms(`${p.title} ${store.paperByRowid(p.rowid).abstract}`)),
    }));
    const docFreq = new Map<string, number>();
    for (const { all } of docTerms) for (const t of all) docFreq.set(t, (docFreq.get(t) ?? 0) + 1);

    const kept = groups.filter((g) => g.alive && g.members.length >= options.minSize);
    const clustered = new Set(kept.flatMap((g) => g.members));
    const clusters = kept.map((group) => describe(group, vectors, papers, docTerms, docFreq));
    clusters.sort((a, b) => b.size - a.size || b.cohesion - a.cohesion || a.papers[0]!.id.localeCompare(b.papers[0]!.id));
    clusters.forEach((c, i) => (c.id = i + 1));
    return {
      threshold: options.threshold,
      clusters,
      unclustered: papers.filter((_, i) => !clustered.has(i)).map((p) => ({ id: p.id, title: p.title })),
    };
  });
}

/**
 * Max-heap of candidate merges. Entries go stale when either side merges; they are skipped on pop (the
 * `size` check), which is simpler than decrease-key. Ties break on indices, so the order is deterministic.
 */
class PairHeap {
  private items: { score: number; a: number; b: number; size: number }[] = [];
  private sizes = new Map<string, number>();

  push(score: number, a: number, b: number, size = 2): void {
    this.sizes.set(`${a}:${b}`, size);
    this.items.push({ score, a, b, size });
    let i = this.items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(i, parent)) break;
      [this.items[i], this.items[parent]] = [this.items[parent]!, this.items[i]!];
      i = parent;
    }
  }

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
      if (this.sizes.get(`${top.a}:${top.b}`) === top.size) return top;
    }
    return undefined;
  }

  private before(i: number, j: number): boolean {
    const [x, y] = [this.items[i]!, this.items[j]!];
    return x.score > y.score || (x.score === y.score && (x.a < y.a || (x.a === y.a && x.b < y.b)));
  }
}

function describe(
  { members: group, sum }: Group,
  vectors: Float32Array[],
  papers: { id: string; title: string }[],
  docTerms: { title: Set<string>; all: Set<string> }[],
  docFreq: Map<string, number>,
): Cluster {
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

  // Label: terms common in the cluster and rare elsewhere (share of members × inverse document frequency);
  // a term in a member's title counts double, titles being what authors chose to say the paper is about.
  const inCluster = new Map<string, { members: number; weight: number }>();
  for (const i of group) {
    for (const t of docTerms[i]!.all) {
      const entry = inCluster.get(t) ?? { members: 0, weight: 0 };
      entry.members++;
      entry.weight += docTerms[i]!.title.has(t) ? 2 : 1;
      inCluster.set(t, entry);
    }
  }
  const total = docTerms.length;
  const label = [...inCluster.entries()]
    .filter(([, { members }]) => members >= Math.min(2, n))
    .map(([term, { weight }]) => ({ term, score: (weight / n) * Math.log((total + 1) / docFreq.get(term)!) }))
    .sort((a, b) => b.score - a.score || a.term.localeCompare(b.term))
    .slice(0, 3)
    .map((t) => t.term)
    .join(", ");

  return {
    id: 0,
    label,
    size: n,
    cohesion: Math.round(cohesion * 1e4) / 1e4,
    papers: ranked.map(({ i, centrality }) => ({
      id: papers[i]!.id,
      title: papers[i]!.title,
      centrality: Math.round(centrality * 1e4) / 1e4,
    })),
  };
}
