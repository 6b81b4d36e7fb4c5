// clusters: groups of papers with high pairwise similarity. Each paper's nearest papers come from the HNSW
// index (never an N×N matrix); an edge joins two papers that are among each other's nearest neighbours
// with paper-vector similarity at or above the threshold (mutual k-NN keeps one bridge paper from chaining
// two topics together); clusters are the connected components. Deterministic for one index and flags.
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

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

export function clusterPapers(store: Store, options: ClusterOptions): Clustering {
  return store.read(() => {
    const papers = store.titles();
    const index = new Map(papers.map((p, i) => [p.rowid, i]));
    const vectors = papers.map((p) => store.paperVector(p.rowid));
    const near = papers.map((p, i) => {
      const ranking = denseRanking(store, vectors[i]!, options.neighbors, p.rowid);
      return new Set([...ranking.keys()].slice(0, options.neighbors).map((rowid) => index.get(rowid)!));
    });

    // Union-find over mutual-neighbour edges above the threshold.
    const parent = papers.map((_, i) => i);
    const find = (i: number): number => (parent[i] === i ? i : (parent[i] = find(parent[i]!)));
    near.forEach((neighbours, i) => {
      for (const j of neighbours) {
        if (j > i && near[j]!.has(i) && dot(vectors[i]!, vectors[j]!) >= options.threshold) {
          const [a, b] = [find(i), find(j)];
          if (a !== b) parent[Math.max(a, b)] = Math.min(a, b);
        }
      }
    });
    const groups = new Map<number, number[]>();
    papers.forEach((_, i) => {
      const root = find(i);
      groups.set(root, [...(groups.get(root) ?? []), i]);
    });

    const docTerms = papers.map((p) => new Set(terms(`${p.title} ${store.paperByRowid(p.rowid).abstract}`)));
    const docFreq = new Map<string, number>();
    for (const set of docTerms) for (const t of set) docFreq.set(t, (docFreq.get(t) ?? 0) + 1);

    const members = [...groups.values()].filter((g) => g.length >= options.minSize);
    const clustered = new Set(members.flat());
    const clusters = members.map((group) => describe(group, vectors, papers, docTerms, docFreq));
    clusters.sort((a, b) => b.size - a.size || b.cohesion - a.cohesion || a.papers[0]!.id.localeCompare(b.papers[0]!.id));
    clusters.forEach((c, i) => (c.id = i + 1));
    return {
      threshold: options.threshold,
      clusters,
      unclustered: papers.filter((_, i) => !clustered.has(i)).map((p) => ({ id: p.id, title: p.title })),
    };
  });
}

function describe(
  group: number[],
  vectors: Float32Array[],
  papers: { id: string; title: string }[],
  docTerms: Set<string>[],
  docFreq: Map<string, number>,
): Cluster {
  const dims = vectors[0]!.length;
  const sum = new Float64Array(dims);
  for (const i of group) for (let d = 0; d < dims; d++) sum[d]! += vectors[i]![d]!;
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

  // Label: terms common in the cluster and rare elsewhere (share of members × inverse document frequency).
  const inCluster = new Map<string, number>();
  for (const i of group) for (const t of docTerms[i]!) inCluster.set(t, (inCluster.get(t) ?? 0) + 1);
  const total = docTerms.length;
  const label = [...inCluster.entries()]
    .filter(([, count]) => count >= Math.min(2, n))
    .map(([term, count]) => ({ term, score: (count / n) * Math.log((total + 1) / docFreq.get(term)!) }))
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
