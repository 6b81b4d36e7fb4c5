// Applying a plan: read the planned papers again, chunk them, embed the chunks whose content key has no
// vector yet, write them in batches of one transaction each, then update the HNSW file.
import { chunkPaper, chunkText, type ChunkParams } from "../chunk.ts";
import { parseBib } from "../corpus/bibliographic.ts";
import { fileEntries, type CorpusReport, type Paper } from "../corpus/index.ts";
import type { Embedder } from "../embed.ts";
import { failpoint } from "../failpoint.ts";
import type { IngestProgress, IngestSummary } from "../ingest.ts";
import type { EmbedderSource, ModelInfo } from "../model.ts";
import { DEFAULT_HNSW } from "../store/hnsw.ts";
import type { NewChunk, PaperWrite, Store, StoredPaper, StoreState } from "../store/store.ts";
import { contentKey } from "../store/vectors.ts";
import { applyChange, missingVectors, putVectors } from "../store/write.ts";
import { HnswUpdate } from "./hnsw-update.ts";
import { bibJson, contentHash, metaJson, targetOf, type Plan } from "./plan.ts";
import type { Scan } from "./scan.ts";

/** A stored paper as the corpus would give it (for papers of files that could not be read this time). */
const storedPaper = (s: StoredPaper): Paper => ({
  id: s.id,
  title: s.title,
  abstract: s.abstract,
  source: { file: s.file, line: s.line },
  ...(s.meta ? { meta: JSON.parse(s.meta) as Record<string, unknown> } : {}),
  ...(s.bib ? { bib: parseBib(s.bib)! } : {}),
});


function toWrite(paper: Paper, digest: Buffer, chunks?: NewChunk[]): PaperWrite {
  return {
    id: paper.id,
    title: paper.title,
    abstract: paper.abstract,
    file: paper.source.file,
    line: paper.source.line,
    meta: metaJson(paper.meta),
    bib: bibJson(paper.bib),
    contentHash: digest,
    chunks,
  };
}

/** What an ingest did: the papers it wrote, by kind, and the chunks. */
export interface Done {
  written: { added: string[]; changed: string[]; moved: string[]; removed: string[] };
  /** Papers in the index afterwards. */
  papers: number;
  chunks: number;
  embedded: number;
  reused: number;
  embedSeconds: number;
}

/** Chunks embedded and stored per step: what is stored survives a killed ingest. */
const EMBED_STEP = 64;
/**
 * Papers written per transaction. Memory holds one batch of text and chunks, whatever the corpus size, and
 * every batch committed survives a killed ingest. An ingest writing this few papers is one transaction.
 */
export const BATCH_PAPERS = 256;

/**
 * Second pass: stream the papers the plan names, chunk them, embed the chunks that have no vector yet and
 * write them in batches; the last batch also removes papers and moves the generation. Then the HNSW file.
 */
export async function apply(
  store: Store,
  work: Plan,
  scan: Scan,
  ctx: {
    model: ModelInfo;
    /** Where the vectors come from when an endpoint embeds them (recorded in the state). */
    source?: EmbedderSource | undefined;
    chunking: ChunkParams;
    rebuild: boolean;
    state: StoreState | null;
    notices: string[];
    getEmbedder: () => Promise<Embedder>;
    progress: (p: IngestProgress) => void;
    summary: (done: Done) => IngestSummary;
  },
): Promise<IngestSummary> {
  failpoint("after-plan");
  const rechunk = new Set([...work.added, ...work.changed]);
  const todo = new Map<string, { id: string; chunk: boolean }>();
  for (const [ids, chunk] of [[work.added, true], [work.changed, true], [work.moved, false]] as const) {
    for (const id of ids) {
      const paper = scan.papers.get(id);
      if (paper) todo.set(`${paper.file}\n${paper.line}`, { id, chunk });
    }
  }
  const carried = work.carried.filter((id) => rechunk.has(id));
  const toChunk = work.added.length + work.changed.length;
  const changedMeanwhile = new Set<string>();

  /**
   * The planned papers, read again in corpus order (then carried ones from the store), with their content
   * hash. `found` collects the planned locations this pass met.
   */
  function* plannedPapers(found?: Set<string>): Generator<{ paper: Paper; chunk: boolean; digest: Buffer }> {
    const quiet: CorpusReport = { problems: [], notices: [], unreadable: [], files: [] }; // reported by the first pass
    for (const { full, file } of scan.files) {
      if (scan.report.unreadable.includes(file)) continue;
      for (const entry of fileEntries(full, file, quiet)) {
        const where = `${file}\n${entry.source.line}`;
        const planned = todo.get(where);
        if (!planned) continue;
        found?.add(where);
        const digest = scan.papers.get(planned.id)!.contentHash;
        if (!contentHash(entry).equals(digest)) {
          changedMeanwhile.add(`${file}:${entry.source.line}`);
          continue;
        }
        yield { paper: { ...entry, id: planned.id }, chunk: planned.chunk, digest };
      }
    }
    for (const id of carried) {
      const stored = store.paperById(id);
      if (stored) yield { paper: storedPaper(stored), chunk: true, digest: stored.contentHash };
    }
  }

  const embedder = toChunk ? await ctx.getEmbedder() : null;
  const count = (text: string) => embedder!.tokenize(text).length - 2;
  const chunksOf = (paper: Paper): NewChunk[] =>
    chunkPaper(paper, count, ctx.chunking).map((c) => ({ ...c, key: contentKey(ctx.model.fingerprint, c.text) }));

  // Chunk first, so the plan ("embedding N new chunks (~T)") is known before the slow part starts. Only
  // the chunks' spans and keys are kept (their text is cut from the paper again when it is written).
  const missing = new Set<string>();
  const spans = new Map<string, (Omit<NewChunk, "text" | "key"> & { key: string })[]>();
  let totalChunks = 0;
  if (toChunk) {
    let done = 0;
    for (const { paper, chunk } of plannedPapers()) {
      if (!chunk) continue;
      const chunks = chunksOf(paper);
      totalChunks += chunks.length;
      spans.set(paper.id, chunks.map(({ text: _text, key, ...span }) => ({ ...span, key: key.toString("base64") })));
      for (const key of missingVectors(store, chunks.map((c) => c.key))) missing.add(key.toString("base64"));
      ctx.progress({ phase: "chunk", done: ++done, total: toChunk });
    }
  }
  const plannedChunks = (paper: Paper): NewChunk[] => {
    const planned = spans.get(paper.id);
    spans.delete(paper.id);
    if (!planned) return chunksOf(paper);
    return planned.map((c) => ({
      ...c,
      key: Buffer.from(c.key, "base64"),
      text: chunkText(paper.title, c.titleChars, paper.abstract, c.start, c.end),
    }));
  };
  const toEmbed = missing.size;
  if (toEmbed) ctx.progress({ phase: "plan", done: toEmbed, total: totalChunks, rate: store.embedRate(ctx.model.fingerprint) ?? undefined });

  const previous = ctx.state;
  const params = previous?.hnsw ?? DEFAULT_HNSW;
  const finalState = {
    model: { id: ctx.model.id, dims: ctx.model.dims, fingerprint: ctx.model.fingerprint },
    ...(ctx.source ? { embedder: ctx.source } : {}),
    chunking: ctx.chunking,
    hnsw: params,
  };
  // Until the last batch, the index keeps the state it had (model, endpoint, chunking): a killed ingest must
  // leave the next one a reason to re-embed the rest. A new index records the ones in use from its first batch.
  // While the batches write another target than the state's, `moving` says so: an ingest back to the old
  // target must then re-check the papers these batches wrote (plan.ts staleReason).
  const target = targetOf(finalState.model.fingerprint, finalState.chunking, finalState.embedder);
  const stepState = previous
    ? (({ generation: _g, lastIngest: _l, ...kept }) => {
        const moving = kept.moving ?? (targetOf(kept.model.fingerprint, kept.chunking, kept.embedder) === target ? undefined : target);
        return { ...kept, ...(moving === undefined ? {} : { moving }) };
      })(previous)
    : finalState;
  const writeTotal = todo.size + carried.length;
  // The HNSW segment is built beside the batches: in a worker thread when there are several to overlap with.
  const keepsGraph = previous && !ctx.rebuild && previous.model.dims === ctx.model.dims;
  const hnsw = HnswUpdate.start(store, {
    dims: ctx.model.dims,
    params,
    previousGeneration: keepsGraph ? previous.generation : null,
    newChunks: totalChunks,
    replacedChunks: store.chunksOf([...work.removed, ...work.changed]),
    inWorker: writeTotal > BATCH_PAPERS,
  });
  const kindOf = new Map<string, "added" | "changed" | "moved">();
  for (const kind of ["added", "changed", "moved"] as const) for (const id of work[kind]) kindOf.set(id, kind);
  const written: Done["written"] = { added: [], changed: [], moved: [], removed: [] };
  let writtenChunks = 0;
  let generation = 0;
  let embedded = 0;
  let done = 0;
  let embedSeconds = 0;
  const batch: PaperWrite[] = [];

  const flush = async (last: boolean) => {
    const need = new Map<string, { key: Buffer; text: string }>();
    for (const write of batch) {
      for (const c of write.chunks ?? []) {
        const k = c.key.toString("base64");
        if (missing.has(k)) need.set(k, { key: c.key, text: c.text });
      }
    }
    const steps = [...need.values()];
    for (let i = 0; i < steps.length; i += EMBED_STEP) {
      const step = steps.slice(i, i + EMBED_STEP);
      const before = embedded;
      const t = performance.now();
      const vectors = await embedder!.embed(
        step.map((s) => s.text),
        (done) => ctx.progress({ phase: "embed", done: before + done, total: toEmbed }),
      );
      embedSeconds += (performance.now() - t) / 1000;
      putVectors(store, step.map((s, j) => ({ key: s.key, vector: vectors[j]! })));
      embedded += step.length;
      if (before === 0) failpoint("after-first-embed-step");
    }
    for (const k of need.keys()) missing.delete(k);
    const result = applyChange(store, { write: batch, remove: last ? work.removed : [], state: last ? finalState : stepState, last });
    for (const write of batch) {
      written[kindOf.get(write.id)!].push(write.id);
      writtenChunks += write.chunks?.length ?? 0;
    }
    written.removed.push(...result.removed);
    hnsw.added(result.addedLabels);
    generation = result.generation;
    done += batch.length;
    batch.length = 0;
    ctx.progress({ phase: "write", done, total: writeTotal });
    if (!last) failpoint("after-batch-commit");
  };

  const found = new Set<string>();
  try {
    for (const { paper, chunk, digest } of plannedPapers(found)) {
      batch.push(toWrite(paper, digest, chunk ? plannedChunks(paper) : undefined));
      if (batch.length >= BATCH_PAPERS) await flush(false);
    }
    await flush(true);
    ctx.progress({ phase: "index", done: 0, total: 1 });
    await hnsw.finish(generation);
    ctx.progress({ phase: "index", done: 1, total: 1 });
  } finally {
    await hnsw.close();
  }
  if (toEmbed >= EMBED_STEP && embedSeconds > 0) store.recordEmbedRate(ctx.model.fingerprint, embedded / embedSeconds);
  // Entries edited, moved or cut off (a file truncated in place) after the first pass are not written, and
  // the summary counts only what was (issue 17).
  for (const where of todo.keys()) if (!found.has(where)) changedMeanwhile.add(where.replace("\n", ":"));
  if (changedMeanwhile.size) {
    const where = [...changedMeanwhile];
    ctx.notices.push(`${where.length} entries changed or were gone when this ingest read them again (${where.slice(0, 3).join(", ")}): run ingest again to take them in`);
  }

  const { chunks: chunkCount, papers } = store.counts();
  return ctx.summary({ written, papers, embedded, reused: writtenChunks - embedded, chunks: chunkCount, embedSeconds });
}
