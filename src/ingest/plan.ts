// The plan of an ingest: what changed between the corpus (its first pass, which keeps no text) and the
// store. Pure: no I/O.
import { hash } from "node:crypto";
import type { ChunkParams } from "../chunk.ts";
import { isUnder, type Bibliographic, type Paper } from "../corpus/index.ts";
import { contentSuffix } from "../corpus/paper.ts";
import type { EmbedderSource, ModelInfo } from "../model.ts";
import type { StoredPaper, StoreState } from "../store/store.ts";

export interface Plan {
  added: string[];
  /** Title or abstract changed, or the model/chunking did (or --rebuild): re-chunked. */
  changed: string[];
  /** Only where it sits (file, line) or its metadata changed: no re-chunking. */
  moved: string[];
  removed: string[];
  unchanged: number;
  /** Papers of files that could not be read this time, kept as stored (re-chunked from the store if needed). */
  carried: string[];
  /** Why everything is re-chunked, if it is. */
  reason: string | null;
}

/** What the first pass keeps of a corpus paper: enough to plan, none of its text. */
export interface CorpusPaper {
  file: string;
  line: number;
  contentHash: Buffer;
  /** Digest of the metadata JSON, or null without metadata. */
  meta: string | null;
}

export type StoredIdentity = Pick<StoredPaper, "id" | "file" | "line" | "meta" | "bib" | "contentHash">;

/** The first 16 bytes of the digest that also gives derived ids their suffix (contentSuffix). */
export function contentHash(paper: Pick<Paper, "title" | "abstract">): Buffer {
  return Buffer.from(contentSuffix(paper.title, paper.abstract, 32), "hex");
}

export const metaJson = (meta: Record<string, unknown> | undefined) => (meta ? JSON.stringify(meta) : null);
export const bibJson = (bib: Bibliographic | undefined) => (bib ? JSON.stringify(bib) : null);
/** Digest of a paper's raw and normalised metadata: a change in either is a metadata-only update. */
export const metaDigest = (meta: string | null, bib: string | null) =>
  meta === null && bib === null ? null : hash("sha1", `${meta ?? ""}\0${bib ?? ""}`, "base64");

/**
 * Compare the corpus with what the store holds. Pure: no I/O. Stored papers are streamed past once; papers
 * of unreadable files are kept (carried), and re-chunked like the rest when everything is.
 */
export function plan(
  corpus: Map<string, CorpusPaper>,
  stored: Iterable<StoredIdentity>,
  options: { reason: string | null; unreadable?: string[]; rebuild?: boolean },
): Plan {
  // --rebuild starts over: every paper is written (and counted) as new, reusing vectors by content key.
  const reason = options.rebuild ? "--rebuild" : options.reason;
  const rewritten = options.rebuild ? "added" : "changed";
  const result: Plan = { added: [], changed: [], moved: [], removed: [], unchanged: 0, carried: [], reason };
  const inStore = new Set<string>();
  for (const s of stored) {
    const paper = corpus.get(s.id);
    if (!paper) {
      if (!isUnder(options.unreadable ?? [], s.file)) result.removed.push(s.id);
      else {
        result.carried.push(s.id);
        if (reason) result[rewritten].push(s.id);
        else result.unchanged++;
      }
      continue;
    }
    if (options.rebuild) continue;
    inStore.add(s.id);
    if (reason || !s.contentHash.equals(paper.contentHash)) result.changed.push(s.id);
    else if (s.file !== paper.file || s.line !== paper.line || metaDigest(s.meta, s.bib) !== paper.meta) result.moved.push(s.id);
    else result.unchanged++;
  }
  for (const id of corpus.keys()) if (!inStore.has(id)) result.added.push(id);
  return result;
}

/** Why the store's vectors or chunks no longer fit the requested model and chunking, if they don't. */
export function staleReason(state: StoreState | null, model: ModelInfo, chunking: ChunkParams, source?: EmbedderSource): string | null {
  if (!state) return null;
  if (state.moving !== undefined && state.moving !== targetOf(model.fingerprint, chunking, source) && sameTarget(state, model, chunking, source)) {
    return "an earlier ingest under another model or chunking was interrupted: re-checking every paper, reusing vectors of unchanged text";
  }
  if (state.model.fingerprint !== model.fingerprint && (state.embedder || source)) {
    const where = (id: string, s: EmbedderSource | undefined) => (s ? `${s.model} at ${s.url}` : `the vendored ${id}`);
    const [from, to] = [where(state.model.id, state.embedder), where(model.id, source)];
    return from === to ? `the endpoint ${source!.url} now embeds differently than before: re-embedding` : `the embedder changed (${from} → ${to}): re-embedding`;
  }
  if (state.model.fingerprint !== model.fingerprint) {
    return `the model changed (${state.model.fingerprint.slice(0, 60)}… → ${model.fingerprint.slice(0, 60)}…): re-embedding`;
  }
  if (state.chunking.windowTokens !== chunking.windowTokens || state.chunking.overlapTokens !== chunking.overlapTokens) {
    return `chunking changed (window ${state.chunking.windowTokens}/${state.chunking.overlapTokens} → ${chunking.windowTokens}/${chunking.overlapTokens}): re-chunking, reusing vectors of unchanged text`;
  }
  return null;
}

/** What an index's chunks are made with: the vectors' fingerprint and source, and the chunking. */
export function targetOf(fingerprint: string, chunking: ChunkParams, source?: EmbedderSource): string {
  return JSON.stringify([fingerprint, source ? [source.url, source.model] : null, chunking.windowTokens, chunking.overlapTokens]);
}

/** Whether an ingest with these settings writes what the index's state says it holds. */
function sameTarget(state: StoreState, model: ModelInfo, chunking: ChunkParams, source?: EmbedderSource): boolean {
  return targetOf(state.model.fingerprint, state.chunking, state.embedder) === targetOf(model.fingerprint, chunking, source);
}

