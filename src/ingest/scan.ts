// The first pass of an ingest: every entry streamed past once, keeping ids, content hashes and locations.
import { assignIds, corpusFiles, fileEntries, identityOf, type CorpusReport, type Identity } from "../corpus/index.ts";
import type { IngestProgress } from "../ingest.ts";
import { metaDigest, metaJson, type CorpusPaper } from "./plan.ts";

/** The corpus after the first pass: which files to read again, and each paper's identity. */
export interface Scan {
  files: { full: string; file: string }[];
  papers: Map<string, CorpusPaper>;
  report: CorpusReport;
}

/** First pass: every entry streamed past once, keeping ids, content hashes and locations only. */
export function scanCorpus(dir: string, progress: (p: IngestProgress) => void): Scan {
  const report: CorpusReport = { problems: [], notices: [], unreadable: [] };
  const files = corpusFiles(dir, report);
  const identities: Identity[] = [];
  const metas: (string | null)[] = [];
  for (const { full, file } of files) {
    const start = identities.length;
    for (const entry of fileEntries(full, file, report)) {
      identities.push(identityOf(entry));
      metas.push(metaDigest(metaJson(entry.meta)));
      if (identities.length % 1000 === 0) progress({ phase: "read", done: identities.length, total: 0 });
    }
    if (report.unreadable.includes(file)) {
      identities.length = start;
      metas.length = start;
    }
  }
  const papers = new Map<string, CorpusPaper>();
  assignIds(identities, report.notices).forEach((id, i) => {
    if (id === null) return;
    const { source, digest } = identities[i]!;
    papers.set(id, { file: source.file, line: source.line, contentHash: Buffer.from(digest.slice(0, 32), "hex"), meta: metas[i]! });
  });
  progress({ phase: "read", done: papers.size, total: papers.size });
  return { files, papers, report };
}

