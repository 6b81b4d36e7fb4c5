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
import { clusterPapers, defaultResolution, type Clustering } from "./query/clusters.ts";
import { checkRange, FilterFields } from "./query/filter.ts";
import { computeMap, storedMap, type CorpusMap, type MapProgress } from "./query/map.ts";
import { relatedPapers, resolvePaper } from "./query/related.ts";
import { metadataOf, parseBib, type PaperMetadata } from "./query/metadata.ts";
import { rankPapers, type Hit, type SearchMode } from "./query/search.ts";
import { queryFingerprint, usageFor, vendoredModelDir } from "./model.ts";
import { papersPerFile } from "./store/lookups.ts";
import { SCHEMA_VERSION } from "./store/schema.ts";
import { Store, type StoreState } from "./store/store.ts";

export { ingest, type IngestSummary, type IngestProgress } from "./ingest.ts";
export { readLibraryFile, type Bibliographic, type FileReport } from "./corpus/index.ts";
export type { PaperMetadata } from "./query/metadata.ts";
export { PapersiftError, exitCodeFor, type ErrorCode } from "./errors.ts";
export type { Explain, Hit, SearchMode } from "./query/search.ts";
export type { Filter } from "./query/filter.ts";
export type { CorpusMap, MapPoint, MapProgress } from "./query/map.ts";
export type { Cluster, Clustering, Topic } from "./query/clusters.ts";

/** The default mode is the one that scored best in `npm run eval` (docs/quality.md). */
export const DEFAULT_MODE: SearchMode = "hybrid";
/**
 * Smallest group reported as a topic: 0.2 % of the papers, and at least 5. On the 14,318-paper arXiv sample
 * (30 papers) that leaves 58 topics holding 88 % of the papers; without it, 115 more groups of 5–29.
 */
export const topicMinSize = (papers: number) => Math.max(5, Math.ceil(papers * 0.002));

const K = z.number().int().min(1).max(1_000_000);
/** Papers a search or related returns unless asked for more. */
export const DEFAULT_K = 10;

export const SearchOptions = z
  .object({
    ...FilterFields,
    k: K.default(DEFAULT_K),
    mode: z.enum(["hybrid", "dense", "lexical"]).default(DEFAULT_MODE),
    minScore: z.number().finite().optional(),
    /** Hybrid mode's weight of normalised BM25; default: the one tuned for the index's model. */
    lexicalWeight: z.number().min(0).max(5).optional(),
    /** Attach an `explain` object to every result. */
    explain: z.boolean().default(false),
  })
  .superRefine(checkRange);
export const RelatedOptions = z.object({ ...FilterFields, k: K.default(DEFAULT_K) }).superRefine(checkRange);
export const ClusterOptions = z
  .object({
    ...FilterFields,
    /** Default: the index's model's clusterThreshold (cosine levels differ by model). */
    threshold: z.number().min(-1).max(1).optional(),
    /** Topics: Louvain's resolution, higher gives more, smaller topics. Default: from the corpus size. */
    resolution: z.number().positive().max(100).optional(),
    minSize: z.number().int().min(2).default(2),
    /** Default: 0.2 % of the papers clustered, at least 5. */
    topicMinSize: z.number().int().min(2).optional(),
    neighbors: z.number().int().min(1).max(100).default(10),
  })
  .superRefine(checkRange);

export interface SearchResult {
  query: string;
  mode: SearchMode;
  results: Hit[];
  /**
   * No result is likely relevant: every hit's relevance is below the fit's threshold ("no strong match in
   * this corpus"). Always false where the index's model has no relevance fit for the mode.
   */
  noStrongMatch: boolean;
  notices: string[];
}

export interface Stats {
  index: string;
  papers: number;
  chunks: number;
  vectors: number;
  model: StoreState["model"];
  /**
   * Where the vectors came from: `endpoint` null for the vendored model; else the endpoint's URL and the
   * model name it was asked for, the cosine of its probe vector to the vendored twin's (null without one),
   * and where questions are embedded ("local" when the twin agrees).
   */
  embeddedBy: { endpoint: string | null; model: string; cosineToLocal: number | null; queries: "local" | "endpoint" };
  chunking: StoreState["chunking"];
  hnsw: StoreState["hnsw"];
  generation: number;
  lastIngest: string;
  schemaVersion: number;
  bytes: { db: number; hnsw: number; total: number };
  /** Every category with its number of papers, most papers first. */
  categories: { category: string; papers: number }[];
  /** The date range of the papers that have a date. */
  dates: { from: string | null; to: string | null; papers: number };
  /** Each corpus file of the last ingest: its format, papers in the index, and entries skipped. */
  files: { file: string; format: string | null; papers: number; noAbstract: number; malformed: number; skipped?: string }[];
}

/** One paper in full: its text, its metadata (as on every Hit), keywords and type, and the record as read. */
export interface PaperDetail extends PaperMetadata {
  id: string;
  title: string;
  abstract: string;
  /** Keywords, MeSH terms, arXiv categories, topics (what --category matches). */
  keywords: string[];
  /** The record's type (CSL terms where known: "article-journal", "paper-conference"). */
  type: string | null;
  source: { file: string; line: number };
  /** The record's own fields as read (JSONL fields, BibTeX fields, RIS tags, …), if any. */
  meta: Record<string, unknown> | null;
}

export interface PapersiftIndex {
  search(question: string, options?: z.input<typeof SearchOptions>): Promise<SearchResult>;
  related(paper: string, options?: z.input<typeof RelatedOptions>): { paper: { id: string; title: string }; results: Hit[] };
  clusters(options?: z.input<typeof ClusterOptions>): Clustering;
  /** One paper by exact id, exact title or an unambiguous part of a title. */
  paper(ref: string): PaperDetail;
  /**
   * Every paper as a point in 2-D with its topic and cluster: laid out once per index generation (seconds
   * to a minute at 10k+ papers) and kept in the index, so later calls and later processes read it back.
   * Concurrent calls share one layout.
   */
  map(): Promise<CorpusMap>;
  /** The current generation's map if it is ready, else how far its layout has got (null: not started), or why it failed. */
  mapStatus(): { ready: true; map: CorpusMap } | { ready: false; progress: MapProgress | null; error: unknown };
  stats(): Stats;
  /** The Embedder questions are embedded with (loaded on first use): a vendored model, or the index's endpoint. */
  embedder(): Promise<Embedder>;
  close(): void;
}

export interface OpenOptions {
  /** Model folder or hub id; must be the one the index was built with. */
  model?: string | undefined;
  /** Reuse an Embedder the caller already loaded. */
  embedder?: Embedder | undefined;
}

/** The last ingest's per-file report (meta `files`) with each file's papers now in the index. */
function corpusFilesOf(store: Store): Stats["files"] {
  const papers = new Map(papersPerFile(store).map((f) => [f.file, f.papers]));
  const value = store.meta("files");
  const parsed = value === undefined ? null : FilesRow.safeParse(JSON.parse(value));
  const reported = parsed?.success ? parsed.data : [];
  const files = reported.map((f) => ({ ...f, papers: papers.get(f.file) ?? 0 }));
  // Papers of files the last ingest could not read (kept as they were) still count.
  for (const [file, n] of papers) if (!reported.some((f) => f.file === file)) files.push({ file, format: null, papers: n, noAbstract: 0, malformed: 0 });
  return files.map(({ entries: _entries, ...f }) => f);
}

const FilesRow = z.array(
  z.object({
    file: z.string(),
    format: z.string().nullable(),
    entries: z.number().optional(),
    noAbstract: z.number(),
    malformed: z.number(),
    skipped: z.string().optional(),
  }),
);

/** Open a built index. Cheap: the model is loaded on the first search, never for stats/related/clusters. */
export async function openIndex(dir: string = DEFAULT_INDEX_DIR, options: OpenOptions = {}): Promise<PapersiftIndex> {
  const store = Store.open(dir);
  const state = () => {
    const s = store.state();
    if (!s) throw new PapersiftError("INDEX_MISSING", `the index at ${dir} is empty`);
    return s;
  };
  try {
    state();
  } catch (error) {
    // Papers without a state: an older papersift's first ingest that was stopped (it wrote the state last).
    const papers = store.counts().papers;
    store.close();
    if (papers) throw new PapersiftError("INDEX_NOT_EMPTY", `the index at ${dir} holds ${papers} papers from an ingest that did not finish`);
    throw error;
  }
  let embedder: Promise<Embedder> | undefined;
  const getEmbedder = async () => {
    const built = state();
    const wanted = queryFingerprint(built);
    if (wanted === null) {
      // Vectors from an endpoint no vendored model agrees with: questions go there too (a given Embedder
      // only lends its tokenizer).
      embedder ??= import("./embed/remote.ts").then((m) => m.endpointForQueries({ ...built, embedder: built.embedder! }, { local: options.embedder }));
      return embedder;
    }
    // Without --model, the vendored model the index was built with (or that agrees with its endpoint).
    const model = options.model ?? vendoredModelDir(built.model.id);
    embedder ??= options.embedder ? Promise.resolve(options.embedder) : import("./embed.ts").then((m) => m.loadEmbedder({ model }));
    const loaded = await embedder;
    if (loaded.model.fingerprint !== wanted) {
      throw new PapersiftError(
        "INDEX_INCOMPATIBLE",
        `the index at ${dir} was built with ${built.model.id} (${wanted.slice(-12)}), not ${loaded.model.id} (${loaded.model.fingerprint.slice(-12)})`,
      );
    }
    return loaded;
  };

  let mapJob: { generation: number; promise: Promise<CorpusMap>; map: CorpusMap | null; progress: MapProgress | null; error: unknown } | undefined;
  // The last questions' vectors: asking again (other mode, k or weight; a web page re-querying) skips the model.
  const queryVectors = new Map<string, Float32Array>();
  const remember = (query: string, vector: Float32Array) => {
    queryVectors.delete(query);
    queryVectors.set(query, vector);
    if (queryVectors.size > 256) queryVectors.delete(queryVectors.keys().next().value!);
  };

  const index: PapersiftIndex = {
    async search(question, input) {
      const options = parseOptions(SearchOptions, input);
      const query = question.replace(/\0/g, " ").trim();
      if (!query) throw new PapersiftError("EMPTY_QUESTION", "the question is empty");
      const notices: string[] = [];
      let vector: Float32Array | null = null;
      if (options.mode !== "lexical") {
        const model = await getEmbedder();
        const tokens = model.tokenize(model.model.queryPrefix + query).length;
        if (tokens > model.model.maxTokens) {
          notices.push(`the question is ${tokens} word pieces long; only the first ${model.model.maxTokens} were used`);
        }
        vector = queryVectors.get(query) ?? (await model.embed([query], undefined, "query"))[0]!;
        remember(query, vector);
      }
      const usage = usageFor(state().model.id);
      const lexicalWeight = options.lexicalWeight ?? usage.lexicalWeight;
      const { category, since, until, author } = options;
      const filter = { category, since, until, author };
      // A hybrid fit holds for the weight it was fitted at: another weight ranks differently.
      const fit = options.mode !== "hybrid" || lexicalWeight === usage.lexicalWeight ? usage.relevance?.[options.mode] : undefined;
      const ranking = rankPapers(store, query, vector ?? null, { ...options, lexicalWeight, filter, relevance: fit ?? null });
      return { query, mode: options.mode, ...ranking, notices };
    },
    related(paper, input) {
      const { k, ...filter } = parseOptions(RelatedOptions, input);
      return relatedPapers(store, paper, k, filter);
    },
    clusters(input) {
      const { category, since, until, author, threshold, resolution, topicMinSize: minTopic, ...options } = parseOptions(ClusterOptions, input);
      const defaults = usageFor(state().model.id);
      return clusterPapers(
        store,
        {
          ...options,
          threshold: threshold ?? defaults.clusterThreshold,
          resolution: resolution ?? defaultResolution,
          topicMinSize: minTopic ?? ((papers) => topicMinSize(papers)),
        },
        { category, since, until, author },
      );
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
      const hnsw = names.filter((n) => /^vectors-\d+(-\d+)?\.hnsw$/.test(n)).reduce((n, f) => n + size(f), 0);
      return {
        index: path.resolve(dir),
        ...store.counts(),
        model: s.model,
        embeddedBy: s.embedder
          ? { endpoint: s.embedder.url, model: s.embedder.model, cosineToLocal: s.embedder.cosineToLocal, queries: s.embedder.localFingerprint ? "local" : "endpoint" }
          : { endpoint: null, model: s.model.id, cosineToLocal: null, queries: "local" },
        chunking: s.chunking,
        hnsw: s.hnsw,
        generation: s.generation,
        lastIngest: s.lastIngest,
        schemaVersion: SCHEMA_VERSION,
        bytes: { db, hnsw, total: db + hnsw },
        ...store.facetSummary(),
        files: corpusFilesOf(store),
      };
    },
    paper(ref) {
      return store.read(() => {
        const row = store.paperByRowid(resolvePaper(store, ref).rowid);
        const bib = parseBib(row.bib);
        return {
          id: row.id,
          title: row.title,
          abstract: row.abstract,
          ...metadataOf(row.bib),
          keywords: bib?.keywords ?? [],
          type: bib?.type ?? null,
          source: { file: row.file, line: row.line },
          meta: row.meta ? (JSON.parse(row.meta) as Record<string, unknown>) : null,
        };
      });
    },
    map() {
      const generation = state().generation;
      if (mapJob?.generation !== generation || mapJob.error) {
        const stored = storedMap(store, generation);
        const job: NonNullable<typeof mapJob> = { generation, map: stored, progress: null, error: null, promise: Promise.resolve(stored!) };
        if (!stored) {
          job.promise = computeMap(store, generation, () => index.clusters(), (p) => (job.progress = p));
          job.promise.then((map) => (job.map = map), (error) => (job.error = error));
        }
        mapJob = job;
      }
      return mapJob.promise;
    },
    mapStatus() {
      const generation = state().generation;
      if (mapJob?.generation !== generation) {
        const stored = storedMap(store, generation);
        if (stored) mapJob = { generation, map: stored, progress: null, error: null, promise: Promise.resolve(stored) };
      }
      if (mapJob?.generation === generation && mapJob.map) return { ready: true, map: mapJob.map };
      return { ready: false, progress: mapJob?.generation === generation ? mapJob.progress : null, error: mapJob?.generation === generation ? mapJob.error : null };
    },
    embedder: getEmbedder,
    close() {
      store.close();
    },
  };
  return index;
}
