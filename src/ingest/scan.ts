// The first pass of an ingest: every entry streamed past once, keeping ids, content hashes and locations.
import { corpusFiles, fileEntries, assignFileIds, identityOf, orderProblems, type CorpusReport, type Identity, type KnownIds } from "../corpus/index.ts";
import type { IngestProgress } from "../ingest.ts";
import { bibJson, metaDigest, metaJson, type CorpusPaper } from "./plan.ts";

/** What the first pass read: every entry's identity, no text. */
export interface Identities {
  files: { full: string; file: string }[];
  identities: Identity[];
  /** Digest of each entry's metadata, beside its identity. */
  metas: (string | null)[];
  report: CorpusReport;
}

/** The corpus after the first pass: which files to read again, and each paper's identity. */
export interface Scan {
  files: { full: string; file: string }[];
  papers: Map<string, CorpusPaper>;
  report: CorpusReport;
}

/** First pass: every entry streamed past once, keeping identities, content hashes and locations only. */
export function readIdentities(dir: string, progress: (p: IngestProgress) => void): Identities {
  const report: CorpusReport = { problems: [], notices: [], unreadable: [], files: [] };
  const files = corpusFiles(dir, report);
  const identities: Identity[] = [];
  const metas: (string | null)[] = [];
  for (const { full, file } of files) {
    const start = identities.length;
    for (const entry of fileEntries(full, file, report)) {
      identities.push(identityOf(entry));
      metas.push(metaDigest(metaJson(entry.meta), bibJson(entry.bib)));
      if (identities.length % 1000 === 0) progress({ phase: "read", done: identities.length, total: 0 });
    }
    if (report.unreadable.includes(file)) {
      identities.length = start;
      metas.length = start;
    }
  }
  orderProblems(report);
  return { files, identities, metas, report };
}

/**
 * Ids for what the first pass read. `known` (the index being written) keeps every id the index already
 * gave: see corpus/ids.ts.
 */
export function identify(read: Identities, progress: (p: IngestProgress) => void, known?: KnownIds): Scan {
  const { identities, metas, report } = read;
  const papers = new Map<string, CorpusPaper>();
  assignFileIds(identities, report, known).forEach((id, i) => {
    if (id === null) return;
    const { source, digest } = identities[i]!;
    papers.set(id, { file: source.file, line: source.line, contentHash: Buffer.from(digest.slice(0, 32), "hex"), meta: metas[i]! });
  });
  progress({ phase: "read", done: papers.size, total: papers.size });
  return { files: read.files, papers, report };
}
