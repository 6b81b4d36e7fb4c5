// The library's options and answers: the zod schemas of what every method accepts, with their defaults, and
// the shapes of what it returns. src/index.ts implements them (openIndex) and re-exports everything here.
import { z } from "zod";
import type { Embedder } from "./embed.ts";
import type { EmbeddedBy } from "./model.ts";
import type { Clustering } from "./query/clusters.ts";
import { checkRange, FilterFields } from "./query/filter.ts";
import type { CorpusMap, MapProgress } from "./query/map.ts";
import type { PaperMetadata } from "./query/metadata.ts";
import type { ExampleInput } from "./query/examples.ts";
import type { ExternalPaper, MatchedPaper, Unmatched } from "./query/liked.ts";
import type { Recommendation } from "./query/recommend.ts";
import type { Hit, SearchMode } from "./query/search.ts";
import type { StoreState } from "./store/store.ts";

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
/** A liked or disliked paper as a caller names it: an id, a DOI, or a paper not in the index. */
export const Example = z.union([
  z.string().trim().min(1).max(2_000),
  z
    .object({
      id: z.string().trim().min(1).max(2_000).optional(),
      doi: z.string().trim().min(1).max(2_000).optional(),
      arxiv: z.string().trim().min(1).max(2_000).optional(),
      title: z.string().trim().min(1).max(1_000).optional(),
      abstract: z.string().trim().min(1).max(100_000).optional(),
      /** How to name it in reports (a library file's `file:line`); default: its id, DOI, arXiv id or title. */
      ref: z.string().trim().min(1).max(2_000).optional(),
    })
    .strict()
    .refine((e) => e.id ?? e.doi ?? e.arxiv ?? e.title, "a paper needs an id, DOI, arXiv id or title"),
]);
export const RecommendOptions = z
  .object({
    ...FilterFields,
    /** Papers liked: ids, DOIs, arXiv ids or titles, or library entries ({ id?, doi?, arxiv?, title?, abstract? }). */
    liked: z.array(Example).max(10_000).default([]),
    /** Papers not wanted: their neighbours are pushed down. */
    not: z.array(Example).max(10_000).default([]),
    /** Saved sets whose papers are liked too (read from tagsFile). */
    tag: z.array(z.string()).max(64).default([]),
    /** Default: --tags / PAPERSIFT_TAGS / papersift-tags.json (see tags.ts). */
    tagsFile: z.string().min(1).optional(),
    k: K.default(DEFAULT_K),
    explain: z.boolean().default(false),
  })
  .strict()
  .superRefine(checkRange);
export const DigestOptions = RecommendOptions.safeExtend({ k: K.default(30) });
/** A digest without --since covers the last week of the corpus: the 7 days up to its newest paper. */
export const DIGEST_DAYS = 7;
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

export type Matched = Omit<MatchedPaper, "rowid">;

export interface RecommendResult {
  /** Examples found in the index, with what matched them (id, doi, arxiv or title). */
  liked: Matched[];
  /** Examples not in the index, embedded from their title and abstract. */
  likedExternal: Pick<ExternalPaper, "ref" | "title">[];
  not: Matched[];
  notExternal: Pick<ExternalPaper, "ref" | "title">[];
  /** What matched nothing, and why; `list` says whether it was liked or not wanted. */
  unmatched: (Unmatched & { list: "liked" | "not" })[];
  results: Recommendation[];
}

export interface DigestResult extends Omit<RecommendResult, "results"> {
  /** The first day covered (the option, or a week before the newest paper). */
  since: string | null;
  /** How many papers of the index have a date: with none, no paper is ever "new since" a day. */
  datedPapers: number;
  /** Topics (stable ids, as `clusters` gives them) holding new papers, the one with the best paper first; id null: papers in no topic. */
  topics: { id: number | null; label: string; results: Recommendation[] }[];
}

export interface TagResult {
  tag: string;
  file: string;
  added: string[];
  already: string[];
  unmatched: Unmatched[];
}

export interface Stats {
  index: string;
  papers: number;
  chunks: number;
  vectors: number;
  model: StoreState["model"];
  embeddedBy: EmbeddedBy;
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
  files: { file: string; format: string | null; papers: number; noAbstract: number; malformed: number; duplicates: number; skipped?: string }[];
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
  /**
   * Papers like the liked ones (and unlike the `not` ones), best first, each with its reason. NO_EXAMPLES
   * when no liked paper matches the index and none can be embedded.
   */
  recommend(options: z.input<typeof RecommendOptions>): Promise<RecommendResult>;
  /**
   * Add papers to a saved set (created if new) in the tags file, matched as recommend matches them; entries
   * outside the index are kept with their abstract. Nothing is written when nothing matched.
   */
  tag(name: string, papers: ExampleInput[], options?: { tagsFile?: string | undefined }): TagResult;
  /** The best new papers for a reader (recommend over papers dated since `since`), grouped by topic. */
  digest(options: z.input<typeof DigestOptions>): Promise<DigestResult>;
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
