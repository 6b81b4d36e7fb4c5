// papersift's library API. The CLI is a thin layer over exactly this.
//
//   import { ingest, openIndex } from "papersift";
//   await ingest({ corpus: "corpus", index: "index-cache" });
//   const index = await openIndex("index-cache");
//   const { results } = await index.search("reward models for RLHF", { k: 5 });
//   const { results: near } = index.related(results[0].id);
//   const { clusters } = index.clusters();
//   index.close();
import { statSync, readdirSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { DEFAULT_INDEX_DIR, parseOptions } from "./config.ts";
import type { Embedder } from "./embed.ts";
import { PapersiftError } from "./errors.ts";
import { clusterPapers, type Clustering } from "./query/clusters.ts";
import { relatedPapers } from "./query/related.ts";
import { rankPapers, type Hit, type SearchMode } from "./query/search.ts";
import { SCHEMA_VERSION } from "./store/schema.ts";
import { Store, type StoreState } from "./store/store.ts";

export { ingest, type IngestSummary, type IngestProgress } from "./ingest.ts";
export { PapersiftError, exitCodeFor, type ErrorCode } from "./errors.ts";
export type { Hit, SearchMode } from "./query/search.ts";
export type { Cluster, Clustering } from "./query/clusters.ts";

/** The default mode is the one that scored best in `npm run eval` (see README: quality). */
export const DEFAULT_MODE: SearchMode = "hybrid";
/**
 * Chosen from a sweep on the bundled corpus (npm run eval prints it): its background similarity (mean over all
 * pairs) is ≈0.48 and the median paper's nearest neighbour sits at ≈0.71; at 0.6 clusters stay topical
 * (mean cohesion 0.65, largest 18 papers) while 52 of 71 papers still join one. At 0.55 one cluster swallows 43.
 */
export const DEFAULT_CLUSTER_THRESHOLD = 0.6;

const K = z.number().int().min(1).max(1_000_000);

export const SearchOptions = z.object({
  k: K.default(10),
  mode: z.enum(["hybrid", "dense", "lexical"]).default(DEFAULT_MODE),
  minScore: z.number().finite().optional(),
});
export const RelatedOptions = z.object({ k: K.default(10) });
export const ClusterOptions = z.object({
  threshold: z.number().min(-1).max(1).default(DEFAULT_CLUSTER_THRESHOLD),
  minSize: z.number().int().min(2).default(2),
  neighbors: z.number().int().min(1).max(100).default(10),
});

export interface SearchResult {
  query: string;
  mode: SearchMode;
  results: Hit[];
  notices: string[];
}

export interface Stats {
  index: string;
  papers: number;
  chunks: number;
  vectors: number;
  model: StoreState["model"];
  chunking: StoreState["chunking"];
  hnsw: StoreState["hnsw"];
  generation: number;
  lastIngest: string;
  schemaVersion: number;
  bytes: { db: number; hnsw: number; total: number };
}

export interface PapersiftIndex {
  search(question: string, options?: z.input<typeof SearchOptions>): Promise<SearchResult>;
  related(paper: string, options?: z.input<typeof RelatedOptions>): { paper: { id: string; title: string }; results: Hit[] };
  clusters(options?: z.input<typeof ClusterOptions>): Clustering;
  stats(): Stats;
  close(): void;
}

export interface OpenOptions {
  /** Model folder or hub id; must be the one the index was built with. */
  model?: string | undefined;
  /** Reuse an Embedder the caller already loaded. */
  embedder?: Embedder | undefined;
}

/** Open a built index. Cheap: the model is loaded on the first search, never for stats/related/clusters. */
export async function openIndex(dir: string = DEFAULT_INDEX_DIR, options: OpenOptions = {}): Promise<PapersiftIndex> {
  const store = Store.open(dir);
  const state = () => {
    const s = store.state();
    if (!s) throw new PapersiftError("INDEX_MISSING", `the index at ${dir} is empty`);
    return s;
  };
  state();
  let embedder: Promise<Embedder> | undefined = options.embedder && Promise.resolve(options.embedder);
  const getEmbedder = async () => {
    embedder ??= import("./embed.ts").then((m) => m.loadEmbedder({ model: options.model }));
    const loaded = await embedder;
    const built = state().model;
    if (loaded.model.fingerprint !== built.fingerprint) {
      throw new PapersiftError(
        "INDEX_INCOMPATIBLE",
        `the index at ${dir} was built with ${built.id} (${built.fingerprint.slice(-12)}), not ${loaded.model.id} (${loaded.model.fingerprint.slice(-12)})`,
      );
    }
    return loaded;
  };

  return {
    async search(question, input) {
      const options = parseOptions(SearchOptions, input);
      const query = question.replace(/\0/g, " ").trim();
      if (!query) throw new PapersiftError("EMPTY_QUESTION", "the question is empty");
      const notices: string[] = [];
      let vector: Float32Array | null = null;
      if (options.mode !== "lexical") {
        const model = await getEmbedder();
        const tokens = model.tokenize(query).length;
        if (tokens > model.model.maxTokens) {
          notices.push(`the question is ${tokens} word pieces long; only the first ${model.model.maxTokens} were used`);
        }
        vector = (await model.embed([query]))[0]!;
      }
      return { query, mode: options.mode, results: rankPapers(store, query, vector ?? null, options), notices };
    },
    related(paper, input) {
      return relatedPapers(store, paper, parseOptions(RelatedOptions, input).k);
    },
    clusters(input) {
      return clusterPapers(store, parseOptions(ClusterOptions, input));
    },
    stats() {
      const s = state();
      const size = (name: string) => {
        try {
          return statSync(path.join(dir, name)).size;
        } catch {
          return 0;
        }
      };
      const names = readdirSync(dir);
      const db = names.filter((n) => n.startsWith("papersift.db")).reduce((n, f) => n + size(f), 0);
      const hnsw = names.filter((n) => /^vectors-\d+\.hnsw$/.test(n)).reduce((n, f) => n + size(f), 0);
      return {
        index: path.resolve(dir),
        ...store.counts(),
        model: s.model,
        chunking: s.chunking,
        hnsw: s.hnsw,
        generation: s.generation,
        lastIngest: s.lastIngest,
        schemaVersion: SCHEMA_VERSION,
        bytes: { db, hnsw, total: db + hnsw },
      };
    },
    close() {
      store.close();
    },
  };
}
