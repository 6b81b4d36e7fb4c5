// Text rendering for the terminal. The CLI prints what these return; JSON output bypasses them.
import type { IngestSummary } from "./ingest.ts";
import type { Cluster, Clustering, DigestResult, Hit, Recommendation, RecommendResult, SearchResult, Stats } from "./index.ts";
import { terms } from "./query/terms.ts";
import { printable } from "./text.ts";

export { printable } from "./text.ts";

const useColor = () => process.stdout.isTTY === true && !process.env.NO_COLOR;
const bold = (s: string) => (useColor() ? `\x1b[1m${s}\x1b[22m` : s);
const dim = (s: string) => (useColor() ? `\x1b[2m${s}\x1b[22m` : s);

/** Emphasise the words of the snippet that the question also has: bold on a terminal, plain in a pipe. */
function emphasise(text: string, question: string): string {
  if (!useColor()) return text;
  const wanted = new Set(terms(question));
  return text.replace(/[\p{L}\p{N}]+/gu, (word) => (wanted.has(word.toLowerCase()) ? bold(word) : word));
}

/** The --explain block under a result: how each signal contributed to the score. */
function renderExplain(hit: Hit): string[] {
  const e = hit.explain;
  if (!e) return [];
  const lines: string[] = [];
  if (e.dense) lines.push(`dense    similarity ${e.dense.similarity.toFixed(3)} = mean of best chunk ${e.dense.bestChunk.toFixed(3)} and whole paper ${e.dense.paper.toFixed(3)}`);
  else lines.push("dense    –");
  if (e.lexical) {
    lines.push(`lexical  BM25 ${e.lexical.bm25.toFixed(2)} (${e.lexical.normalised.toFixed(2)} of the best) in chunk ${e.lexical.chunk}; matched: ${printable(e.lexical.matched.join(", ")) || "–"}`);
  } else lines.push("lexical  no question term in this paper");
  if (e.weight !== null) lines.push(`score    ${e.score.toFixed(3)} = ${e.dense?.similarity.toFixed(3) ?? "0"} + ${e.weight} × ${(e.lexical?.normalised ?? 0).toFixed(2)}`);
  else lines.push(`score    ${e.score.toFixed(3)}`);
  lines.push(`chunk    ${e.chunk.ord}: ${printable(e.chunk.text.replace(/\n/g, " — ")).slice(0, 160)}${e.chunk.text.length > 160 ? "…" : ""}`);
  return lines.map((l) => `    ${dim(l)}`);
}

/** One short line of a result's metadata: "Müller, Ørsted et al. · 2021 · Journal of … · https://doi.org/…". */
export function metadataLine(hit: Pick<Hit, "authors" | "date" | "venue" | "url">): string {
  const authors = hit.authors ?? [];
  const names = authors.length > 2 ? `${authors.slice(0, 2).join(", ")} et al.` : authors.join(", ");
  const venue = hit.venue && hit.venue.length > 60 ? `${hit.venue.slice(0, 59)}…` : hit.venue;
  return [names, hit.date, venue, hit.url].filter(Boolean).join(" · ");
}

export function renderHits(hits: Hit[], question: string): string {
  if (!hits.length) return "no matching papers\n";
  return hits
    .map((hit, i) => {
      // The ranking score first; in hybrid mode it differs from the cosine similarity, shown beside it.
      const similarity = hit.similarity !== null && hit.similarity !== hit.score ? ` · similarity ${hit.similarity.toFixed(3)}` : "";
      const relevance = hit.relevance === null ? "" : ` · relevance ${Math.round(hit.relevance * 100)}%`;
      const metadata = metadataLine(hit);
      return [
        `${String(i + 1).padStart(2)}. ${bold(printable(hit.title))}  ${dim(`${hit.score.toFixed(3)}${similarity}${relevance}`)}`,
        ...(metadata ? [`    ${printable(metadata)}`] : []),
        `    ${dim(printable(`${hit.id} · ${hit.source.file}:${hit.source.line}`))}`,
        `    ${emphasise(printable(hit.snippet), question)}`,
        ...renderExplain(hit),
      ].join("\n");
    })
    .join("\n\n") + "\n";
}

/** The results; when none is likely relevant, a plain line saying so first. */
export function renderSearch(result: SearchResult): string {
  const warning = result.noStrongMatch && result.results.length ? `${NO_STRONG_MATCH}\n\n` : "";
  return warning + renderHits(result.results, result.query);
}

export const NO_STRONG_MATCH = "no strong match in this corpus — closest papers:";

export function renderIngest(s: IngestSummary): string {
  if (s.dryRun) {
    const list = (label: string, ids: string[]) =>
      ids.length ? `${label} (${ids.length}):\n${ids.map((id) => `  ${printable(id)}`).join("\n")}\n` : "";
    const body = list("new", s.plan.added) + list("changed", s.plan.changed) + list("moved or metadata changed", s.plan.moved) + list("removed", s.plan.removed);
    return `dry run: nothing written. ${s.unchanged} unchanged.\n${body || "nothing to do\n"}`;
  }
  return (
    `${plural(s.papers, "paper")}, ${plural(s.chunks, "chunk")}: ${s.added} added, ${s.updated} updated, ${s.removed} removed, ${s.unchanged} unchanged; ` +
    `${plural(s.embedded, "chunk")} embedded, ${s.reused} reused, in ${s.seconds.toFixed(1)} s\n`
  );
}

const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? "" : "s"}`;

const paperLine = (p: { id: string; title: string }) => `  ${printable(p.title)} ${dim(`[${printable(p.id)}]`)}`;

const clusterBlock = (cluster: Cluster) =>
  [
    `${bold(`Cluster ${cluster.id}`)}: ${printable(cluster.label)} ${dim(`(${cluster.size} papers, cohesion ${cluster.cohesion.toFixed(2)}${cluster.topic === null ? "" : `, topic ${cluster.topic}`})`)}`,
    ...cluster.papers.map(paperLine),
  ].join("\n");

/** The fine level: every cluster with all its papers, then the papers in none. */
export function renderClusters(c: Clustering): string {
  const rest = c.unclustered.length
    ? `${bold(`Unclustered (${c.unclustered.length})`)}\n${c.unclustered.map(paperLine).join("\n")}`
    : "";
  return [`${plural(c.clusters.length, "cluster")} at similarity ≥ ${c.threshold}`, ...c.clusters.map(clusterBlock), rest].filter(Boolean).join("\n\n") + "\n";
}

/** The coarse level: each topic with its size, label, fine clusters and most central papers. */
export function renderTopics(c: Clustering, shown = 5): string {
  if (!c.topics.length) return c.notices.map(printable).join("\n") + "\n";
  const papers = c.topics.reduce((n, t) => n + t.size, 0);
  const one = c.topics.length === 1;
  const head =
    `${plural(c.topics.length, "topic")} (resolution ${c.resolution}) ${one ? "holds" : "hold"} ${plural(papers, "paper")}, ${(c.coverage * 100).toFixed(1)}% of the corpus; ` +
    `${plural(c.clusters.length, "cluster")} at ≥ ${c.threshold} inside ${one ? "it" : "them"} (--topic <id> or --level fine to see them)`;
  const blocks = c.topics.map((t) =>
    [
      `${bold(`Topic ${t.id}`)}: ${printable(t.label)} ${dim(`(${plural(t.size, "paper")}, ${plural(t.clusters.length, "cluster")}, cohesion ${t.cohesion.toFixed(2)})`)}`,
      ...t.papers.slice(0, shown).map(paperLine),
      ...(t.size > shown ? [dim(`  … and ${t.size - shown} more`)] : []),
    ].join("\n"),
  );
  return [head, ...blocks].join("\n\n") + "\n";
}

/** One topic: its fine clusters with their papers, then its papers in no fine cluster. */
export function renderTopic(c: Clustering, id: number): string {
  const topic = c.topics.find((t) => t.id === id)!;
  const clusters = c.clusters.filter((x) => x.topic === id);
  const inCluster = new Set(clusters.flatMap((x) => x.papers.map((p) => p.id)));
  const loose = topic.papers.filter((p) => !inCluster.has(p.id));
  const head = `${bold(`Topic ${topic.id}`)}: ${printable(topic.label)} ${dim(`(${topic.size} papers, cohesion ${topic.cohesion.toFixed(2)})`)}`;
  const rest = loose.length ? `${bold(`In no cluster (${loose.length})`)}\n${loose.map(paperLine).join("\n")}` : "";
  return [head, ...clusters.map(clusterBlock), rest].filter(Boolean).join("\n\n") + "\n";
}

function embeddedBy(e: Stats["embeddedBy"], dims: number): string {
  if (e.endpoint === null) return "the vendored model, on this machine";
  const agreement =
    e.cosineToLocal !== null
      ? `cosine ${e.cosineToLocal.toFixed(4)} to the vendored model`
      : e.twinDims === null
        ? "no vendored model of that name"
        : e.twinDims !== dims
          ? `${dims} dims where the vendored model of that name has ${e.twinDims}`
          : "not compared with the vendored model of that name";
  const queries = e.queries === "local" ? "questions are embedded locally" : "questions go to the endpoint too";
  return `the endpoint ${e.endpoint} (model ${e.model}; ${agreement}: ${queries})`;
}

/** Formats, papers per file and entries skipped, one line per file (the first 20). */
function renderFiles(files: Stats["files"]): string[] {
  if (!files.length) return [];
  const formats = [...new Set(files.map((f) => f.format).filter(Boolean))].join(", ");
  const line = (f: Stats["files"][number]) => {
    const skipped = [f.noAbstract && `${f.noAbstract} without an abstract`, f.malformed && `${f.malformed} malformed`, f.duplicates && plural(f.duplicates, "duplicate"), f.skipped].filter(Boolean).join(", ");
    return `  ${printable(f.file)} (${f.format ?? "not read"}): ${plural(f.papers, "paper")}${skipped ? `; skipped ${printable(skipped)}` : ""}`;
  };
  return [
    `formats     ${formats || "–"}`,
    `files       ${files.length}`,
    ...files.slice(0, 20).map(line),
    ...(files.length > 20 ? [`  … ${files.length - 20} more (--json lists all)`] : []),
  ];
}

export function renderStats(s: Stats): string {
  const mb = (n: number) => `${(n / 2 ** 20).toFixed(1)} MB`;
  return [
    `index       ${printable(s.index)}`,
    `papers      ${s.papers}`,
    `chunks      ${s.chunks} (window ${s.chunking.windowTokens} tokens, overlap ${s.chunking.overlapTokens})`,
    `model       ${printable(s.model.id)} (${s.model.dims} dims)`,
    `embedded by ${printable(embeddedBy(s.embeddedBy, s.model.dims))}`,
    `hnsw        M=${s.hnsw.M} efConstruction=${s.hnsw.efConstruction} efSearch=${s.hnsw.efSearch}`,
    `on disk     ${mb(s.bytes.total)} (SQLite ${mb(s.bytes.db)}, HNSW ${mb(s.bytes.hnsw)})`,
    `last ingest ${printable(s.lastIngest)} (generation ${s.generation})`,
    ...(s.dates.papers ? [`dates       ${printable(`${s.dates.from} … ${s.dates.to}`)} (${s.dates.papers} papers dated)`] : []),
    ...renderFiles(s.files),
    ...(s.categories.length
      ? [`categories  ${s.categories.slice(0, 12).map((c) => `${printable(c.category)} ${c.papers}`).join(", ")}${s.categories.length > 12 ? `, … ${s.categories.length - 12} more (--json lists all)` : ""}`]
      : []),
  ].join("\n") + "\n";
}

/** One recommendation: title and score, where it is, a snippet, and its reason ("like …; shares …"). */
function renderRecommendation(hit: Recommendation, rank: number): string {
  const closest = hit.reason.closest.map((c) => printable(c.title)).join("; ");
  const e = hit.explain;
  const metadata = metadataLine(hit);
  return [
    `${String(rank).padStart(2)}. ${bold(printable(hit.title))}  ${dim(hit.score.toFixed(3))}`,
    ...(metadata ? [`    ${printable(metadata)}`] : []),
    `    ${dim(printable(`${hit.id} · ${hit.source.file}:${hit.source.line}`))}`,
    `    ${emphasise(printable(hit.snippet), hit.reason.terms.join(" "))}`,
    `    ${dim(`like: ${closest}${hit.reason.terms.length ? ` · shares: ${printable(hit.reason.terms.join(", "))}` : ""}`)}`,
    ...(e
      ? [
          `    ${dim(`lexical  similarity ${e.lexical.similarity.toFixed(3)} (z ${e.lexical.z.toFixed(2)}) · dense ${e.dense.similarity.toFixed(3)} = mean cosine to the ${e.dense.nearest === 1 ? "nearest liked paper" : `${e.dense.nearest} nearest liked papers`} (z ${e.dense.z.toFixed(2)})`)}`,
          `    ${dim(`score    ${e.score.toFixed(3)} = ${e.lexical.z.toFixed(2)} + ${e.weights.dense} × ${e.dense.z.toFixed(2)}${e.disliked ? ` − ${e.weights.dislike} × ${e.disliked.z.toFixed(2)} (disliked: lexical ${e.disliked.lexical.toFixed(3)}, dense ${e.disliked.dense.toFixed(3)})` : ""}`)}`,
          `    ${dim(`closest  cosine to each: ${hit.reason.closest.map((c) => `${printable(c.id)} ${c.similarity.toFixed(3)}`).join(", ")}`)}`,
        ]
      : []),
  ].join("\n");
}

const examplesLine = (r: Pick<RecommendResult, "liked" | "likedExternal" | "not" | "notExternal">) => {
  const liked = r.liked.length + r.likedExternal.length;
  const not = r.not.length + r.notExternal.length;
  return `like ${liked} ${liked === 1 ? "paper" : "papers"}${r.likedExternal.length ? ` (${r.likedExternal.length} embedded: not in the index)` : ""}${not ? `, unlike ${not}` : ""}`;
};

export function renderRecommendations(r: RecommendResult): string {
  if (!r.results.length) return `${examplesLine(r)}: no other papers to recommend (none is left once the liked papers and any filters are set aside)\n`;
  return `${dim(examplesLine(r))}\n\n${r.results.map((hit, i) => renderRecommendation(hit, i + 1)).join("\n\n")}\n`;
}

export function renderDigest(d: DigestResult): string {
  const count = d.topics.reduce((n, t) => n + t.results.length, 0);
  const head = `${examplesLine(d)} · ${plural(count, "new paper")}${d.since ? ` since ${d.since}` : ""} in ${plural(d.topics.length, "topic")}`;
  if (!count && !d.datedPapers) return `${head}\nno paper in this index has a date, so none is new since a day: \`papersift recommend\` ranks them all\n`;
  if (!count) return `${head}\n`;
  let rank = 0;
  const blocks = d.topics.map((t) =>
    [
      bold(t.id === null ? `In no topic` : `Topic ${t.id}: ${printable(t.label)}`) + dim(` (${t.results.length})`),
      ...t.results.map((hit) => renderRecommendation(hit, ++rank)),
    ].join("\n\n"),
  );
  return `${dim(head)}\n\n${blocks.join("\n\n")}\n`;
}
