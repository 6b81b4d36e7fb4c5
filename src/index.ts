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
import { clusterPapers, defaultResolution, type Clustering, type Topic } from "./query/clusters.ts";
import { computeMap, storedMap, type CorpusMap, type MapProgress } from "./query/map.ts";
import { relatedPapers, resolvePaper } from "./query/related.ts";
import { parseBib } from "./corpus/bibliographic.ts";
import { metadataOf } from "./query/metadata.ts";
import { rankPapers } from "./query/search.ts";
import { resolveExamples, tagReferences, toReference, type ExampleInput } from "./query/examples.ts";
import { loadLexicon, type Lexicon } from "./query/lexicon.ts";
import type { ExternalPaper, MatchedPaper, Reference } from "./query/liked.ts";
import { recommendPapers, type Recommendation } from "./query/recommend.ts";
import { addToTag, checkTagName, tagsFile, today, type TagEntry } from "./tags.ts";
import { isInside, matchReferences } from "./query/liked.ts";
import { slugify } from "./corpus/paper.ts";
import { embeddedBy, queryFingerprint, usageFor, vendoredModelDir } from "./model.ts";
import { parseJson } from "./store/folder.ts";
import { papersPerFile } from "./store/lookups.ts";
import { SCHEMA_VERSION } from "./store/schema.ts";
import { Store } from "./store/store.ts";
import { isBlank } from "./text.ts";

import { Example, topicMinSize, SearchOptions, RelatedOptions, RecommendOptions, DigestOptions, DIGEST_DAYS, ClusterOptions, type Matched, type Stats, type PapersiftIndex, type OpenOptions } from "./api.ts";

export * from "./api.ts";
export { ingest, type IngestSummary, type IngestProgress } from "./ingest.ts";
export { readLibraryFile, type Bibliographic, type FileReport } from "./corpus/index.ts";
export type { PaperMetadata } from "./query/metadata.ts";
export { PapersiftError, exitCodeFor, type ErrorCode } from "./errors.ts";
export type { Explain, Hit, SearchMode } from "./query/search.ts";
export type { Filter } from "./query/filter.ts";
export type { CorpusMap, MapPoint, MapProgress } from "./query/map.ts";
export type { Cluster, Clustering, Topic } from "./query/clusters.ts";
export type { Reason, Recommendation, RecommendExplain } from "./query/recommend.ts";
export type { ExampleInput } from "./query/examples.ts";
export type { ExternalPaper, MatchedPaper, Unmatched } from "./query/liked.ts";
export { readReferences } from "./query/liked.ts";
export { addToTag, readTags, removeFromTag, tagsFile, DEFAULT_TAGS_FILE, type TagEntry, type Tags } from "./tags.ts";

/** The last ingest's per-file report (meta `files`) with each file's papers now in the index. */
function corpusFilesOf(store: Store): Stats["files"] {
  const papers = new Map(papersPerFile(store).map((f) => [f.file, f.papers]));
  const value = store.meta("files");
  // A damaged row counts as missing (it is a report, rewritten by the next ingest).
  const parsed = value === undefined ? null : FilesRow.safeParse(parseJson(value));
  const reported = parsed?.success ? parsed.data : [];
  const files = reported.map((f) => ({ ...f, papers: papers.get(f.file) ?? 0 }));
  // Papers of files the last ingest could not read (kept as they were) still count.
  for (const [file, n] of papers) if (!reported.some((f) => f.file === file)) files.push({ file, format: null, papers: n, noAbstract: 0, malformed: 0, duplicates: 0 });
  return files.map(({ entries: _entries, ...f }) => f);
}

const FilesRow = z.array(
  z.object({
    file: z.string(),
    format: z.string().nullable(),
    entries: z.number().optional(),
    noAbstract: z.number(),
    malformed: z.number(),
    // Absent in an index written before duplicates were counted.
    duplicates: z.number().default(0),
    skipped: z.string().optional(),
  }),
);

/** The ISO date `days` days before an ISO date. */
function daysBefore(date: string, days: number): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() - days);
  return d.toISOString().slice(0, 10);
}

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

  let lastClustering: { generation: number; key: string; result: Clustering } | undefined;
  let mapJob: { generation: number; promise: Promise<CorpusMap>; map: CorpusMap | null; progress: MapProgress | null; error: unknown } | undefined;
  // What recommend reads of every paper, kept for the generation it was read in (a server answers in ms).
  let lexiconCache: { generation: number; lexicon: Lexicon; vectors: Map<number, Float32Array> } | undefined;
  const recommendData = () => {
    const generation = state().generation;
    if (lexiconCache?.generation !== generation) {
      lexiconCache = store.read(() => ({ generation, lexicon: loadLexicon(store), vectors: store.paperVectors() }));
    }
    return lexiconCache;
  };
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
      // Controls (NUL, a lone CR) are word breaks; a question of invisible characters only is empty.
      const query = question.replace(/[\u0000-\u001f\u007f]/g, " ").trim();
      if (isBlank(query)) throw new PapersiftError("EMPTY_QUESTION", "the question is empty");
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
      const parsed = parseOptions(ClusterOptions, input);
      const { category, since, until, author, threshold, resolution, topicMinSize: minTopic, ...options } = parsed;
      // The last clustering is kept for its generation and options: an assistant asking for the topics and
      // then one topic's papers, or the page after the map, waits once (seconds at 14k papers), not twice.
      const key = JSON.stringify(parsed);
      const generation = state().generation;
      if (lastClustering?.generation === generation && lastClustering.key === key) return lastClustering.result;
      const defaults = usageFor(state().model.id);
      const result = clusterPapers(
        store,
        {
          ...options,
          threshold: threshold ?? defaults.clusterThreshold,
          resolution: resolution ?? defaultResolution,
          topicMinSize: minTopic ?? ((papers) => topicMinSize(papers)),
        },
        { category, since, until, author },
      );
      lastClustering = { generation, key, result };
      return result;
    },
    async recommend(input) {
      const options = parseOptions(RecommendOptions, input);
      const file = tagsFile(options.tagsFile);
      const liked: Reference[] = [...options.tag.flatMap((name) => tagReferences(file, checkTagName(name))), ...options.liked.map((e: ExampleInput) => toReference(e))];
      const not = options.not.map((e: ExampleInput) => toReference(e));
      const embed = async () => ({ embedder: await getEmbedder(), chunking: state().chunking });
      const likes = await resolveExamples(store, liked, embed);
      const dislikes = await resolveExamples(store, not, embed);
      const unmatched = [...likes.unmatched.map((u) => ({ ...u, list: "liked" as const })), ...dislikes.unmatched.map((u) => ({ ...u, list: "not" as const }))];
      if (!liked.length && options.tag.length) {
        const sets = options.tag.map((name) => JSON.stringify(name)).join(", ");
        throw new PapersiftError("NO_EXAMPLES", `the set${options.tag.length > 1 ? "s" : ""} ${sets} ${options.tag.length > 1 ? "are" : "is"} empty: there is nothing to recommend from`, {
          hint: "add papers to it with `papersift tag add <name> <paper>…` (or the star on the page)",
        });
      }
      const likedIds = new Set(likes.matched.map((m) => m.id));
      const both = [...new Set(dislikes.matched.filter((m) => likedIds.has(m.id)).map((m) => m.id))];
      if (both.length) {
        throw new PapersiftError("BAD_OPTION", `${both.join(", ")} ${both.length > 1 ? "are" : "is"} both liked and not wanted`, { hint: "name each paper in one list only" });
      }
      if (!likes.examples.length) {
        const shown = unmatched.filter((u) => u.list === "liked").slice(0, 5).map((u) => `${u.ref} (${u.reason})`).join("; ");
        throw new PapersiftError("NO_EXAMPLES", liked.length ? `none of the ${liked.length} liked papers is in the index: ${shown}` : "no liked papers given");
      }
      const { lexicon, vectors } = recommendData();
      const { category, since, until, author } = options;
      const results = recommendPapers(store, lexicon, { of: (rowid) => vectors.get(rowid)! }, likes.examples, dislikes.examples, {
        k: options.k,
        explain: options.explain,
        filter: { category, since, until, author },
      });
      const brief = (e: ExternalPaper) => ({ ref: e.ref, title: e.title });
      const shown = (m: MatchedPaper): Matched => ({ ref: m.ref, id: m.id, title: m.title, by: m.by, ...(m.doi ? { doi: m.doi } : {}), ...(m.arxiv ? { arxiv: m.arxiv } : {}) });
      return { liked: likes.matched.map(shown), likedExternal: likes.external.map(brief), not: dislikes.matched.map(shown), notExternal: dislikes.external.map(brief), unmatched, results };
    },
    async digest(input) {
      const options = parseOptions(DigestOptions, input);
      const { to: newest, papers: datedPapers } = store.facetSummary().dates;
      const since = options.since ?? (newest ? daysBefore(newest, DIGEST_DAYS - 1) : undefined);
      const { results, ...rest } = await index.recommend({ ...options, since });
      const clustering = index.clusters();
      const topicOf = new Map(clustering.topics.flatMap((t) => t.papers.map((p) => [p.id, t] as [string, Topic])));
      const groups = new Map<number | null, { id: number | null; label: string; results: Recommendation[] }>();
      for (const hit of results) {
        const topic = topicOf.get(hit.id) ?? null;
        const key = topic?.id ?? null;
        if (!groups.has(key)) groups.set(key, { id: key, label: topic?.label ?? "in no topic", results: [] });
        groups.get(key)!.results.push(hit);
      }
      return { ...rest, since: since ?? null, datedPapers, topics: [...groups.values()] };
    },
    tag(name, papers, options = {}) {
      name = checkTagName(name);
      const file = tagsFile(options.tagsFile);
      if (isInside(file, dir)) {
        throw new PapersiftError("TAGS_MISPLACED", `the tags file ${file} is inside the index folder ${dir}, which is rebuilt from the corpus`);
      }
      const references = z.array(Example).max(10_000).parse(papers).map((e: ExampleInput) => toReference(e));
      const { matched, external, unmatched } = store.read(() => matchReferences(store, references));
      const added = today();
      const entries: TagEntry[] = [
        ...matched.map((m) => ({ id: m.id, title: m.title, ...(m.doi ? { doi: m.doi } : {}), ...(m.arxiv ? { arxiv: m.arxiv } : {}), added })),
        ...external.map((e) => ({ id: e.id ?? e.doi ?? e.arxiv ?? slugify(e.title), title: e.title, ...(e.doi ? { doi: e.doi } : {}), ...(e.arxiv ? { arxiv: e.arxiv } : {}), abstract: e.abstract, added })),
      ];
      if (!entries.length) {
        throw new PapersiftError("NO_EXAMPLES", `none of the ${references.length} papers is in the index: ${unmatched.slice(0, 5).map((u) => `${u.ref} (${u.reason})`).join("; ")}`);
      }
      return { tag: name, file, ...addToTag(file, name, entries), unmatched };
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
        embeddedBy: embeddedBy(s),
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
