// papersift mcp: the Model Context Protocol over stdio, for AI assistants. Four tools over one index, with
// zod input schemas (the library's own filter fields) and the library's JSON. Sized for an assistant's
// context (issue 20, §4): every tool answers a few kilobytes by default and caps what it can return, and
// says both in its description. A missing or damaged index still answers `initialize`; each tool then
// returns an error that says what to run. stdout carries only protocol messages.
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { z } from "zod";
import { DEFAULT_K, type PapersiftIndex, type PaperDetail, type Recommendation } from "./index.ts";
import { PapersiftError, surfaceHint, surfaceMessage } from "./errors.ts";
import { usageFor } from "./model.ts";
import { defaultResolution, type Clustering } from "./query/clusters.ts";
import { FilterFields } from "./query/filter.ts";
import { MAX_SNIPPET_CHARS } from "./query/snippet.ts";
import { isCorruption } from "./store/store.ts";

/**
 * A list argument that also takes one string (assistants often send "cs.CL" for ["cs.CL"]): the list schema,
 * with a lone string made a list of one.
 */
function oneOrMany<T extends z.ZodArray<z.ZodType<string>>>(list: T) {
  return z.union([list.element, list]).transform((v) => (typeof v === "string" ? [v] : v) as z.output<T>);
}
const Filters = { ...FilterFields, category: oneOrMany(FilterFields.category.unwrap()).optional().describe("category prefixes (one, or a list), any of which a paper must have: \"cs.CL\", or \"cs.\" for all of cs") };

type ToolResult = { content: { type: "text"; text: string }[]; isError?: boolean };

/** Most papers search_papers and related_papers return (about 0.6 KB each). */
export const MAX_PAPERS = 50;
/** recommend_papers: most liked (or not wanted) papers given. */
export const MAX_EXAMPLES = 200;
/** list_clusters: most topics listed, and a topic's papers by default and at most. */
export const MAX_TOPICS = 100;
export const DEFAULT_TOPIC_PAPERS = 20;
export const MAX_TOPIC_PAPERS = 200;
/** get_paper: an abstract or a metadata text is cut at this many characters. */
export const MAX_TEXT_CHARS = 5_000;
export const MAX_META_CHARS = 500;

/** Where the tools get the index: open once, or the reason it cannot be (asked again on every call). */
export interface IndexSource {
  /** The open index, or a PapersiftError that says what to run. */
  get(): Promise<PapersiftIndex>;
  /** The index if it is open now (tool descriptions state its defaults), without trying to open it. */
  current(): PapersiftIndex | null;
  /** The index and corpus folders, for the errors' fixes. */
  paths: { index: string; corpus: string };
}

/** Try the index on every call until it opens, so that running `papersift ingest` mends a running server. */
export function indexSource(paths: { index: string; corpus: string }, open: () => Promise<PapersiftIndex>): IndexSource {
  let index: PapersiftIndex | null = null;
  return {
    paths,
    current: () => index,
    async get() {
      index ??= await open();
      return index;
    },
  };
}

/** A tool's answer as JSON text; anything the user can fix as an error result that says how. */
async function answer({ index: dir, corpus }: IndexSource["paths"], work: () => Promise<unknown>): Promise<ToolResult> {
  const fail = (text: string): ToolResult => ({ content: [{ type: "text", text }], isError: true });
  try {
    return { content: [{ type: "text", text: JSON.stringify(await work()) }] };
  } catch (error) {
    if (error instanceof PapersiftError) {
      const fix =
        error.code === "INDEX_MISSING"
          ? `run \`papersift ingest --corpus ${corpus} --index ${dir}\` (--corpus: the folder of your papers), then call this tool again`
          : error.code === "INDEX_CORRUPT" || error.code === "INDEX_INCOMPATIBLE"
            ? `run \`papersift ingest --rebuild --index ${dir}\`, then restart the MCP server`
            : surfaceHint(error, "mcp");
      return fail(`${surfaceMessage(error, "mcp")} (${error.code}). Fix: ${fix}`);
    }
    if (isCorruption(error)) return fail(`the index at ${dir} is damaged (${(error as Error).message}). Fix: run \`papersift ingest --rebuild --index ${dir}\`, then restart the MCP server`);
    throw error;
  }
}

const clip = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/** Authors shown (as on the page: the first few, then "et al." with how many more), and any other list's items. */
export const MAX_AUTHORS = 3;
export const MAX_LIST_ITEMS = 20;

/**
 * An answer cut to the sizes the tool descriptions promise, whatever a record holds (a 3,000-author
 * collaboration, a title of pages): every text at most MAX_META_CHARS, authors as the first MAX_AUTHORS and
 * "et al. (N more)", other lists at most MAX_LIST_ITEMS and "… (N more)". `keep` texts are left whole (the
 * abstract, cut on its own).
 */
export function capped<T>(value: T, keep: string[] = [], key = ""): T {
  if (typeof value === "string") return (keep.includes(key) ? value : clip(value, MAX_META_CHARS)) as T;
  if (Array.isArray(value)) {
    const max = key === "authors" ? MAX_AUTHORS : MAX_LIST_ITEMS;
    const items = value.slice(0, max).map((v) => capped(v));
    if (value.length > max) items.push(key === "authors" ? `et al. (${value.length - max} more)` : `… (${value.length - max} more)`);
    return items as T;
  }
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, capped(v, keep, k)])) as T;
  return value;
}

/** One paper, with long texts cut (a BibTeX `file` or `note` field can run to pages). */
export function compactPaper(paper: PaperDetail): PaperDetail {
  const meta = paper.meta && Object.fromEntries(Object.entries(paper.meta).map(([key, value]) => {
    const text = typeof value === "string" ? value : JSON.stringify(value);
    return [key, text !== undefined && text.length > MAX_META_CHARS ? clip(text, MAX_META_CHARS) : value];
  }));
  return capped({ ...paper, abstract: clip(paper.abstract, MAX_TEXT_CHARS), meta }, ["abstract"]);
}

/** A result's id, title and metadata (capped() cuts the authors to the first three, as the page shows them). */
function compactHit(h: Recommendation) {
  return { id: h.id, title: h.title, authors: h.authors, date: h.date, venue: h.venue, doi: h.doi, arxiv: h.arxiv, pmid: h.pmid, url: h.url };
}

/** Topics with their sizes and labels only: what an assistant reads before asking for one topic. */

export function topicList(clustering: Clustering) {
  const { threshold, resolution, topics, coverage } = clustering;
  return {
    threshold,
    resolution,
    coverage,
    unclustered: clustering.unclustered.length,
    topics: topics.slice(0, MAX_TOPICS).map((t) => ({ id: t.id, label: t.label, size: t.size, clusters: t.clusters.length })),
    ...(topics.length > MAX_TOPICS ? { more: topics.length - MAX_TOPICS } : {}),
  };
}

/** One topic: its clusters (labels and sizes) and its most central papers, `limit` of them. */
export function topicDetail(clustering: Clustering, id: number, limit: number) {
  const topic = clustering.topics.find((t) => t.id === id);
  if (!topic) throw new PapersiftError("UNKNOWN_TOPIC", `no topic ${id} (topics: ${clustering.topics.map((t) => t.id).join(", ") || "none"})`, { hint: "call list_clusters without `topic` for the topic ids" });
  const clusters = clustering.clusters.filter((c) => c.topic === id);
  return {
    topic: { id: topic.id, label: topic.label, size: topic.size, cohesion: topic.cohesion },
    clusters: clusters.slice(0, MAX_TOPICS).map((c) => ({ id: c.id, label: c.label, size: c.size })),
    papers: topic.papers.slice(0, limit).map((p) => ({ id: p.id, title: p.title })),
    ...(topic.papers.length > limit ? { more: topic.papers.length - limit } : {}),
  };
}

/** The defaults list_clusters states: those of the open index, or the rule when none is open. */
function clusterDefaults(index: PapersiftIndex | null): { threshold: string; resolution: string } {
  if (!index) {
    return {
      threshold: `default: the index's model's, ${usageFor("BAAI/bge-small-en-v1.5").clusterThreshold} for bge-small`,
      resolution: `default: ${defaultResolution(1000)} up to 1,000 papers, rising to ${defaultResolution(10_000)} at 10,000`,
    };
  }
  const stats = index.stats();
  return {
    threshold: `default ${usageFor(stats.model.id).clusterThreshold}, this index's model's`,
    resolution: `default ${defaultResolution(stats.papers)} for this corpus's ${stats.papers} papers`,
  };
}

export function createMcpServer(source: IndexSource, version: string): McpServer {
  const server = new McpServer({ name: "papersift", version });
  const run = <T>(work: (index: PapersiftIndex) => T | Promise<T>) => answer(source.paths, async () => work(await source.get()));
  const k = z.number().int().min(1).max(MAX_PAPERS).optional().describe(`how many papers to return (default ${DEFAULT_K}, at most ${MAX_PAPERS})`);
  const id = z.string().min(1).describe("the paper: its id, its DOI, its exact title, or an unambiguous part of its title");
  const defaults = clusterDefaults(source.current());

  server.registerTool(
    "search_papers",
    {
      title: "Search papers",
      description: `Find the papers in the user's local corpus that best answer a question in plain language. Returns ${DEFAULT_K} papers by default, at most ${MAX_PAPERS} (about 0.6 KB each): id, title, score, each paper's estimated chance of being relevant (relevance, 0..1), the best-matching snippet (at most ${MAX_SNIPPET_CHARS} characters), the paper's file, and its authors (the first ${MAX_AUTHORS}, then "et al. (N more)"), date, venue and links; every text at most ${MAX_META_CHARS} characters; noStrongMatch is true when no result is likely relevant.`,
      inputSchema: { query: z.string().min(1).describe("the question, in plain language"), k, mode: z.enum(["hybrid", "dense", "lexical"]).optional().describe("default hybrid"), ...Filters },
    },
    ({ query, ...options }) => run(async (index) => {
      const { query: q, mode, noStrongMatch, results } = await index.search(query, options);
      return capped({ query: q, mode, noStrongMatch, results });
    }),
  );
  server.registerTool(
    "related_papers",
    {
      title: "Related papers",
      description: `Papers most similar to one paper of the corpus. Returns ${DEFAULT_K} papers by default, at most ${MAX_PAPERS} (about 0.6 KB each), in the same shape as search_papers.`,
      inputSchema: { id, k, ...Filters },
    },
    ({ id: ref, ...options }) => run((index) => capped(index.related(ref, options))),
  );
  server.registerTool(
    "recommend_papers",
    {
      title: "Recommend papers",
      description: `Papers of the user's corpus like the given ones ("papers like these"), best first. Give at most ${MAX_EXAMPLES} liked papers by id, DOI or arXiv id (exact titles work too), and optionally papers not wanted. Returns ${DEFAULT_K} papers by default, at most ${MAX_PAPERS} (about 0.5 KB each): id, title, authors (the first ${MAX_AUTHORS}, then "et al. (N more)"), date, venue, DOI, arXiv id, PMID and link where known, score, the ids of the liked papers it is closest to and the distinctive terms it shares with them; plus the given papers that matched nothing.`,
      inputSchema: {
        ids: oneOrMany(z.array(z.string().min(1)).min(1).max(MAX_EXAMPLES)).describe(`liked papers (one, or a list): ids, DOIs or arXiv ids (at most ${MAX_EXAMPLES})`),
        not: oneOrMany(z.array(z.string().min(1)).max(MAX_EXAMPLES)).optional().describe("papers not wanted (one, or a list): their neighbours move down"),
        k,
        ...Filters,
      },
    },
    ({ ids, not, ...options }) =>
      run(async (index) => {
        const r = await index.recommend({ liked: ids, not: not ?? [], ...options });
        return capped({
          liked: r.liked.map((m) => m.id),
          unmatched: r.unmatched.map((u) => ({ ref: u.ref, reason: u.reason })),
          results: r.results.map((h) => ({ ...compactHit(h), score: h.score, closest: h.reason.closest.map((c) => c.id), terms: h.reason.terms })),
        });
      }),
  );
  server.registerTool(
    "get_paper",
    {
      title: "Get paper",
      description: `One paper: title, abstract (at most ${MAX_TEXT_CHARS.toLocaleString("en")} characters), its file and line, its authors (the first ${MAX_AUTHORS}, then "et al. (N more)") and its metadata (each field at most ${MAX_META_CHARS} characters, each list at most ${MAX_LIST_ITEMS} items).`,
      inputSchema: { id },
    },
    ({ id: ref }) => run((index) => compactPaper(index.paper(ref))),
  );
  server.registerTool(
    "list_clusters",
    {
      title: "List topics, or one topic's papers",
      description:
        `The corpus grouped into topics. Without \`topic\`: every topic's id, label, size and number of clusters (at most ${MAX_TOPICS} topics, largest first; about 0.1 KB each). ` +
        `With \`topic\`: that topic's clusters (label, size) and its most central papers (id, title), ${DEFAULT_TOPIC_PAPERS} by default, at most ${MAX_TOPIC_PAPERS}.`,
      inputSchema: {
        topic: z.number().int().min(1).optional().describe("a topic id from the list: return its clusters and papers"),
        limit: z.number().int().min(1).max(MAX_TOPIC_PAPERS).optional().describe(`with topic: how many papers (default ${DEFAULT_TOPIC_PAPERS}, at most ${MAX_TOPIC_PAPERS})`),
        threshold: z.number().min(-1).max(1).optional().describe(`fine clusters: minimum mean cosine similarity between their papers (${defaults.threshold})`),
        resolution: z.number().positive().max(100).optional().describe(`topics: Louvain resolution, higher gives more, smaller topics (${defaults.resolution})`),
        ...Filters,
      },
    },
    ({ topic, limit, ...options }) =>
      run((index) => {
        const clustering = index.clusters(options);
        return topic === undefined ? topicList(clustering) : topicDetail(clustering, topic, limit ?? DEFAULT_TOPIC_PAPERS);
      }),
  );
  return server;
}

/** Serve MCP on stdin/stdout until the client disconnects. */
export async function runMcp(source: IndexSource, version: string): Promise<void> {
  const server = createMcpServer(source, version);
  const transport = new StdioServerTransport();
  const closed = new Promise<void>((resolve) => (transport.onclose = resolve));
  process.stdin.on("end", () => void server.close());
  await server.connect(transport);
  await closed;
}
