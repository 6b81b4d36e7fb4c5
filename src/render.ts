// Text rendering for the terminal. The CLI prints what these return; JSON output bypasses them.
import type { IngestSummary } from "./ingest.ts";
import type { Clustering, Hit, SearchResult, Stats } from "./index.ts";
import { terms } from "./query/terms.ts";

/**
 * Corpus text as it may be shown on a terminal: control characters (escape sequences that could clear the
 * screen or retitle the window) and bidirectional overrides removed. Newlines stay.
 */
export function printable(text: string): string {
  return text.replace(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, "");
}

const useColor = () => process.stdout.isTTY === true && !process.env.NO_COLOR;
const bold = (s: string) => (useColor() ? `\x1b[1m${s}\x1b[22m` : s);
const dim = (s: string) => (useColor() ? `\x1b[2m${s}\x1b[22m` : s);

/** Emphasise the words of the snippet that the question also has (bold on a terminal, *word* otherwise). */
function emphasise(text: string, question: string): string {
  const wanted = new Set(terms(question));
  return text.replace(/[\p{L}\p{N}]+/gu, (word) => {
    if (!wanted.has(word.toLowerCase())) return word;
    return useColor() ? bold(word) : `*${word}*`;
  });
}

export function renderHits(hits: Hit[], question: string): string {
  if (!hits.length) return "no matching papers\n";
  return hits
    .map((hit, i) => {
      // The ranking score first; in hybrid mode it differs from the cosine similarity, shown beside it.
      const similarity = hit.similarity !== null && hit.similarity !== hit.score ? ` · similarity ${hit.similarity.toFixed(3)}` : "";
      return [
        `${String(i + 1).padStart(2)}. ${bold(printable(hit.title))}  ${dim(`${hit.score.toFixed(3)}${similarity}`)}`,
        `    ${dim(printable(`${hit.id} · ${hit.source.file}:${hit.source.line}`))}`,
        `    ${emphasise(printable(hit.snippet), question)}`,
      ].join("\n");
    })
    .join("\n\n") + "\n";
}

export function renderSearch(result: SearchResult): string {
  return renderHits(result.results, result.query);
}

export function renderIngest(s: IngestSummary): string {
  if (s.dryRun) {
    const list = (label: string, ids: string[]) =>
      ids.length ? `${label} (${ids.length}):\n${ids.map((id) => `  ${id}`).join("\n")}\n` : "";
    const body = list("new", s.plan.added) + list("changed", s.plan.changed) + list("moved or metadata changed", s.plan.moved) + list("removed", s.plan.removed);
    return `dry run: nothing written. ${s.unchanged} unchanged.\n${body || "nothing to do\n"}`;
  }
  return (
    `${s.papers} papers, ${s.chunks} chunks: ${s.added} added, ${s.updated} updated, ${s.removed} removed, ${s.unchanged} unchanged; ` +
    `${s.embedded} chunks embedded, ${s.reused} reused, in ${s.seconds.toFixed(1)} s\n`
  );
}

const paperLine = (p: { id: string; title: string }) => `  ${printable(p.title)} ${dim(`[${printable(p.id)}]`)}`;

export function renderClusters(c: Clustering): string {
  const blocks = c.clusters.map((cluster) => {
    const head = `${bold(`Cluster ${cluster.id}`)}: ${printable(cluster.label)} ${dim(`(${cluster.size} papers, cohesion ${cluster.cohesion.toFixed(2)})`)}`;
    return [head, ...cluster.papers.map(paperLine)].join("\n");
  });
  const rest = c.unclustered.length
    ? `${bold(`Unclustered (${c.unclustered.length})`)}\n${c.unclustered.map(paperLine).join("\n")}`
    : "";
  return [`${c.clusters.length} clusters at similarity ≥ ${c.threshold}`, ...blocks, rest].filter(Boolean).join("\n\n") + "\n";
}

export function renderStats(s: Stats): string {
  const mb = (n: number) => `${(n / 2 ** 20).toFixed(1)} MB`;
  return [
    `index       ${s.index}`,
    `papers      ${s.papers}`,
    `chunks      ${s.chunks} (window ${s.chunking.windowTokens} tokens, overlap ${s.chunking.overlapTokens})`,
    `model       ${s.model.id} (${s.model.dims} dims)`,
    `hnsw        M=${s.hnsw.M} efConstruction=${s.hnsw.efConstruction} efSearch=${s.hnsw.efSearch}`,
    `on disk     ${mb(s.bytes.total)} (SQLite ${mb(s.bytes.db)}, HNSW ${mb(s.bytes.hnsw)})`,
    `last ingest ${s.lastIngest} (generation ${s.generation})`,
  ].join("\n") + "\n";
}
