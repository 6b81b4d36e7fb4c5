// The corpus map: every paper as a point in 2-D, laid out by ForceAtlas2 (graphology) over the same k-NN
// paper graph that clusters use, so neighbours sit together and topics form regions. Chosen over UMAP
// (umap-js) because the graph is already built and a force layout of it costs seconds, not minutes, at 14k
// papers. Deterministic: seeded starting positions, a fixed number of iterations, no randomness inside.
import { UndirectedGraph } from "graphology";
import forceAtlas2Module from "graphology-layout-forceatlas2";
import type { Store } from "../store/store.ts";
import type { Clustering } from "./clusters.ts";
import { paperGraph, rememberGraph } from "./graph.ts";

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

export interface CorpusMap {
  points: MapPoint[];
  topics: { id: number; label: string; x: number; y: number; size: number }[];
  clusters: { id: number; topic: number | null; label: string; x: number; y: number; size: number }[];
}

const NEIGHBOURS = 8;
/** The graph clusters keep by default (ClusterOptions.neighbors), so the map reads it instead of computing one. */
const GRAPH_K = 10;

// A CommonJS module whose typings declare an ES default export: at run time the function is the module.
const forceAtlas2 = forceAtlas2Module as unknown as typeof forceAtlas2Module.default;

export function corpusMap(store: Store, clustering: Clustering): CorpusMap {
  const paperNeighbours = store.read(() => paperGraph(store, GRAPH_K, null));
  rememberGraph(store, paperNeighbours, GRAPH_K);
  // The layout uses only what was read: no read transaction is held through it.
  const { papers } = paperNeighbours;
  const graph = new UndirectedGraph();
  let seed = 42;
  const random = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
  papers.forEach((_, i) => graph.addNode(String(i), { x: random() * 100, y: random() * 100 }));
  papers.forEach((_, i) => {
    for (const j of paperNeighbours.neighbours[i]!.slice(0, NEIGHBOURS)) {
      if (!graph.hasEdge(String(i), String(j))) graph.addEdge(String(i), String(j));
    }
  });
  const settings = { ...forceAtlas2.inferSettings(graph), barnesHutOptimize: papers.length > 500 };
  const iterations = papers.length > 5_000 ? 60 : 150;
  const layout = forceAtlas2(graph, { iterations, settings });

  const topicOf = new Map(clustering.topics.flatMap((t) => t.papers.map((p) => [p.id, t.id] as [string, number])));
  const clusterOf = new Map(clustering.clusters.flatMap((c) => c.papers.map((p) => [p.id, c.id] as [string, number])));
  const round = (v: number) => Math.round(v * 100) / 100;
  const points = papers.map((p, i) => ({
    id: p.id,
    title: p.title,
    x: round(layout[String(i)]!.x),
    y: round(layout[String(i)]!.y),
    topic: topicOf.get(p.id) ?? null,
    cluster: clusterOf.get(p.id) ?? null,
  }));
  const byId = new Map(points.map((p) => [p.id, p]));
  const centre = (members: { id: string }[]) => ({
    x: round(members.reduce((s, m) => s + byId.get(m.id)!.x, 0) / members.length),
    y: round(members.reduce((s, m) => s + byId.get(m.id)!.y, 0) / members.length),
  });
  return {
    points,
    topics: clustering.topics.map((t) => ({ id: t.id, label: t.label, size: t.size, ...centre(t.papers) })),
    clusters: clustering.clusters.map((c) => ({ id: c.id, topic: c.topic, label: c.label, size: c.size, ...centre(c.papers) })),
  };
}
