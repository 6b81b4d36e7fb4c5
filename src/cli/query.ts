// The read commands: search, related, clusters, stats.
import { Option, type Command } from "commander";
import { parseOptions } from "../config.ts";
import { PapersiftError } from "../errors.ts";
import { DEFAULT_MODE, openIndex, SearchOptions } from "../index.ts";
import { printable, renderClusters, renderHits, renderSearch, renderStats, renderTopic, renderTopics } from "../render.ts";
import { defaultResolution, RESOLUTION_RISE } from "../query/clusters.ts";
import { corpusOption, decimal, filterOf, filterOptions, indexOption, integer, json, jsonOption, kOption, modelOption, open, out, perModel, warn } from "./shared.ts";

/** Standard input as lines: split at "\n" (a "\r" before it is dropped); a lone "\r" is no line end. */
async function* stdinLines(): AsyncGenerator<string> {
  let rest = "";
  process.stdin.setEncoding("utf8");
  for await (const chunk of process.stdin as AsyncIterable<string>) {
    const lines = (rest + chunk).split("\n");
    rest = lines.pop()!;
    for (const line of lines) yield line.replace(/\r$/, "");
  }
  if (rest) yield rest.replace(/\r$/, "");
}

/** "1 up to 1,000 papers, rising to 3 at 10,000", from the rule itself. */
const resolutionRule = () => {
  const { from, to } = RESOLUTION_RISE;
  return `${defaultResolution(from)} up to ${from.toLocaleString("en")} papers, rising to ${defaultResolution(to)} at ${to.toLocaleString("en")}`;
};

export function registerQueries(program: Command): void {
filterOptions(program.command("search"))
  .description("find the papers that best answer a question")
  .argument("[question]", "what you want to know, in your own words")
  .addOption(kOption())
  .addOption(new Option("--mode <mode>", "dense (meaning), lexical (BM25 words) or hybrid (both, fused)").choices(["hybrid", "dense", "lexical"]).default(DEFAULT_MODE))
  .addOption(new Option("--min-score <x>", "drop results below this cosine similarity (BM25 score in lexical mode)").argParser(decimal("--min-score")))
  .option("--stdin", "read one question per line from standard input", false)
  .option("--explain", "show why each result ranks where it does: similarities, BM25 and matched terms, fused score, chunk", false)
  .addOption(indexOption())
  .addOption(corpusOption())
  .addOption(modelOption())
  .addOption(jsonOption())
  .addHelpText(
    "after",
    `\nScores: results rank by score. Similarity (-1..1) is the mean cosine of the question to the paper's\nbest chunk and to the whole paper; lexical ranks by BM25; hybrid adds to the similarity the model's\nword-match weight × the paper's BM25 ÷ the question's best BM25.\nWord-match weights: ${perModel("lexicalWeight")}.\nRelevance is the estimated chance that a person would judge the paper relevant (fitted per model on\nSciFact's judgments); when no result is likely relevant, search says "no strong match in this corpus".\nDense and hybrid modes embed the question: with the index's vendored model, or, for an index whose vectors\ncame from an endpoint no vendored model agrees with (papersift stats says which), by that endpoint, which\nmust then be up. --mode lexical needs neither model nor endpoint.\nA fresh clone builds the index from the corpus first.\n\nExamples:\n  papersift search "reward models that are robust to noisy preferences"\n  papersift search "diffusion fine-tuning" -k 5 --json\n  printf 'q1\\nq2\\n' | papersift search --stdin --json`,
  )
  .action(async (question: string | undefined, flags) => {
    const options = { k: flags.k, mode: flags.mode, minScore: flags.minScore, explain: flags.explain, ...filterOf(flags) };
    // A wrong flag is wrong for every line: exit 2 before building an index or reading a line (issue 17).
    parseOptions(SearchOptions, options);
    if (flags.stdin && question !== undefined) throw new PapersiftError("BAD_OPTION", "give a question or --stdin, not both");
    const index = await open(flags);
    try {
      const ask = async (q: string) => {
        const result = await index.search(q, options);
        for (const n of result.notices) warn(n);
        if (flags.json) json({ query: result.query, mode: result.mode, noStrongMatch: result.noStrongMatch, results: result.results });
        else out(renderSearch(result));
      };
      if (flags.stdin) {
        // One answer per input line, in order: a line that is not a question (blank, only NULs, a bad
        // request) gets an empty result with an error, and the batch goes on.
        for await (const line of stdinLines()) {
          try {
            await ask(line);
          } catch (error) {
            if (!(error instanceof PapersiftError && error.code === "EMPTY_QUESTION")) throw error;
            if (flags.json) json({ query: line, mode: flags.mode, results: [], error: { code: error.code, message: error.message } });
            else out(`papersift: ${printable(error.message)}\n`);
          }
          if (!flags.json) out("\n");
        }
      } else {
        if (question === undefined) throw new PapersiftError("EMPTY_QUESTION", "no question given");
        await ask(question);
      }
    } finally {
      index.close();
    }
  });

filterOptions(program.command("related"))
  .description("papers most similar to a given paper")
  .argument("<paper>", "an exact id, a DOI (or arXiv id, pmid:<n>), an exact title, or an unambiguous part of a title")
  .addOption(kOption())
  .addOption(indexOption())
  .addOption(jsonOption())
  .addHelpText("after", '\nExamples:\n  papersift related "submodular reinforcement learning"\n  papersift related submodular-reinforcement-learning -k 5 --json\n  papersift related 10.5555/jmls.2021.0012')
  .action(async (paper: string, flags) => {
    const index = await openIndex(flags.index);
    try {
      const result = index.related(paper, { k: flags.k, ...filterOf(flags) });
      if (flags.json) json(result);
      else out(`related to ${printable(result.paper.title)} [${printable(result.paper.id)}]\n\n${renderHits(result.results, "")}`);
    } finally {
      index.close();
    }
  });

filterOptions(program.command("clusters"))
  .description("group the corpus into topics, and topics into clusters of highly similar papers")
  .addOption(new Option("--level <level>", "topics (coarse, with their top papers) or fine (every cluster, every paper)").choices(["topics", "fine"]).default("topics"))
  .addOption(new Option("--topic <id>", "one topic: its clusters and all its papers").argParser(integer("--topic", 1)))
  .addOption(new Option("--threshold <t>", `fine clusters: minimum mean cosine similarity between their papers (default: the index's model's, ${perModel("clusterThreshold")})`).argParser(decimal("--threshold")))
  .addOption(new Option("--resolution <r>", `topics: higher gives more, smaller topics (default: ${resolutionRule()})`).argParser(decimal("--resolution")))
  .addOption(new Option("--min-size <m>", "smallest group reported as a cluster").argParser(integer("--min-size", 2)).default(2))
  .addOption(indexOption())
  .addOption(jsonOption())
  .addHelpText(
    "after",
    "\nTopics are communities of the graph of fine clusters (Louvain), so every cluster sits inside one topic.\nEach has a label (its most distinctive terms: a topic's against the corpus, a cluster's against the\nrest of its topic), a cohesion (mean pairwise cosine similarity) and its papers, most central first.\nA topic keeps its id across runs while most of its papers stay together. --json prints both levels.\n\nExamples:\n  papersift clusters\n  papersift clusters --topic 3\n  papersift clusters --level fine --json",
  )
  .action(async (flags) => {
    const index = await openIndex(flags.index);
    try {
      const result = index.clusters({ threshold: flags.threshold, resolution: flags.resolution, minSize: flags.minSize, ...filterOf(flags) });
      if (flags.topic !== undefined && !result.topics.some((t) => t.id === flags.topic)) {
        throw new PapersiftError("UNKNOWN_TOPIC", `no topic ${flags.topic} (topics: ${result.topics.map((t) => t.id).join(", ") || "none"})`);
      }
      if (flags.json) {
        json(flags.topic === undefined ? result : { ...result, topics: result.topics.filter((t) => t.id === flags.topic), clusters: result.clusters.filter((c) => c.topic === flags.topic) });
      } else if (flags.topic !== undefined) out(renderTopic(result, flags.topic));
      else out(flags.level === "fine" ? renderClusters(result) : renderTopics(result));
    } finally {
      index.close();
    }
  });

program
  .command("stats")
  .description("what the index holds: papers, chunks, model, parameters, size on disk, and what embedded it (a vendored model or an endpoint, and whether questions go to that endpoint)")
  .addOption(indexOption())
  .addOption(jsonOption())
  .action(async (flags) => {
    const index = await openIndex(flags.index);
    try {
      const stats = index.stats();
      if (flags.json) json(stats);
      else out(renderStats(stats));
    } finally {
      index.close();
    }
  });

}
