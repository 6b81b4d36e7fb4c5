// From what a person named (ids, DOIs, titles, library entries, tags) to the examples recommend ranks against:
// papers of the index with their stored vectors, and papers outside it embedded from their title and
// abstract exactly as ingest would embed them (same chunking, passage mode, normalised mean of the chunks).
import { chunkPaper, type ChunkParams } from "../chunk.ts";
import type { Embedder } from "../embed.ts";
import { normalisedMean } from "../similarity.ts";
import type { Store } from "../store/store.ts";
import { tagEntries, type TagEntry } from "../tags.ts";
import { matchReferences, referenceOf, type ExternalPaper, type MatchedPaper, type Reference, type Unmatched } from "./liked.ts";
import type { Example } from "./recommend.ts";

/** A reference as the library API takes it: typed text, or the fields of a library entry. */
export type ExampleInput =
  | string
  | { id?: string | undefined; doi?: string | undefined; arxiv?: string | undefined; title?: string | undefined; abstract?: string | undefined; ref?: string | undefined };

export function toReference(input: ExampleInput): Reference {
  if (typeof input === "string") return referenceOf(input);
  const ref = referenceOf(input.id ?? input.doi ?? input.arxiv ?? input.title ?? "");
  return {
    ref: input.ref ?? ref.ref,
    id: input.id,
    doi: input.doi ? (referenceOf(input.doi).doi ?? input.doi.toLowerCase()) : undefined,
    arxiv: input.arxiv ? (referenceOf(input.arxiv).arxiv ?? input.arxiv) : undefined,
    title: input.title,
    abstract: input.abstract,
  };
}

/** A saved set's entries as references (an entry kept with its abstract can be embedded if its paper left the index). */
export function tagReferences(file: string, name: string): Reference[] {
  return tagEntries(file, name).map((e: TagEntry) => ({ ref: `${name}:${e.id}`, id: e.id, doi: e.doi, arxiv: e.arxiv, title: e.title || undefined, abstract: e.abstract }));
}

export interface ResolvedExamples {
  examples: Example[];
  matched: MatchedPaper[];
  external: ExternalPaper[];
  unmatched: Unmatched[];
}

/** Match references to the index; embed those outside it (the model loads only if there are any). */
export async function resolveExamples(
  store: Store,
  references: Reference[],
  embed: () => Promise<{ embedder: Embedder; chunking: ChunkParams }>,
): Promise<ResolvedExamples> {
  const { matched, external, unmatched } = store.read(() => matchReferences(store, references));
  const examples: Example[] = store.read(() =>
    matched.map((m) => {
      const paper = store.paperByRowid(m.rowid);
      return { rowid: m.rowid, id: m.id, title: paper.title, abstract: paper.abstract, vector: store.paperVector(m.rowid) };
    }),
  );
  if (external.length) {
    const { embedder, chunking } = await embed();
    const count = (text: string) => embedder.tokenize(text).length - 2;
    for (const e of external) {
      const chunks = chunkPaper({ id: e.ref, title: e.title, abstract: e.abstract, source: { file: e.ref, line: 0 } }, count, chunking);
      const vectors = await embedder.embed(chunks.map((c) => c.text));
      examples.push({ rowid: null, id: e.ref, title: e.title, abstract: e.abstract, vector: normalisedMean(vectors, embedder.model.dims) });
    }
  }
  return { examples, matched, external, unmatched };
}
