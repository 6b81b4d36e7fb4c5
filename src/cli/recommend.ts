// "Papers like these": recommend, digest, and the saved sets they read (tag add / rm / list).
import path from "node:path";
import { Option, type Command } from "commander";
import { PapersiftError } from "../errors.ts";
import { DIGEST_DAYS, readReferences, type ExampleInput, type RecommendResult } from "../index.ts";
import { isInside } from "../query/liked.ts";
import { printable, renderDigest, renderRecommendations } from "../render.ts";
import { readTags, removeFromTag, tagsFile, unknownTag, DEFAULT_TAGS_FILE } from "../tags.ts";
import { corpusOption, filterOf, filterOptions, indexOption, integer, json, jsonOption, kOption, modelOption, open, out, warn } from "./shared.ts";

const repeatable = (value: string, previous: string[] = []) => [...previous, value];

export const tagsOption = () => new Option("--tags <file>", `the tags file (env PAPERSIFT_TAGS; default ${DEFAULT_TAGS_FILE} in the working folder)`);

/** The tags file for these flags; never inside the corpus (never written) or the index folder (rebuilt). */
export function tagsFileOf(flags: { tags?: string; index: string; corpus: string }): string {
  const file = tagsFile(flags.tags);
  for (const [dir, what] of [[flags.corpus, "the corpus folder, which papersift never writes to"], [flags.index, "the index folder, which is rebuilt from the corpus"]] as const) {
    if (isInside(file, dir)) throw new PapersiftError("TAGS_MISPLACED", `the tags file ${file} is inside ${what} (${dir})`);
  }
  return file;
}

/** Typed references, then each --from file's entries (their problems reported, not fatal). */
/** Most examples one request takes (the library's limit on liked and on not-wanted papers). */
const MAX_EXAMPLES = 10_000;

function examplesOf(refs: string[], files: string[] = []): ExampleInput[] {
  const examples: ExampleInput[] = [...refs];
  for (const file of files) {
    const { references, problems } = readReferences(file);
    for (const p of problems) warn(p);
    if (!references.length) warn(`${file} names no papers`);
    if (examples.length + references.length > MAX_EXAMPLES) {
      throw new PapersiftError("BAD_OPTION", `${file} names ${references.length.toLocaleString("en")} papers: at most ${MAX_EXAMPLES.toLocaleString("en")} can be given at once`, {
        hint: "split the file, or keep the papers you want more of most",
      });
    }
    examples.push(...references.map(({ ref, id, doi, arxiv, title, abstract }) => ({ ref, id, doi, arxiv, title, abstract })));
  }
  return examples;
}

/** What did not match, on stderr; the rest goes on. */
function reportMatches(result: Pick<RecommendResult, "unmatched" | "likedExternal" | "notExternal">): void {
  const SHOWN = 20;
  for (const u of result.unmatched.slice(0, SHOWN)) warn(`${u.list === "not" ? "--not " : ""}${u.ref}: ${u.reason}; left out`);
  if (result.unmatched.length > SHOWN) warn(`… and ${result.unmatched.length - SHOWN} more not found (--json lists them all)`);
  const embedded = result.likedExternal.length + result.notExternal.length;
  if (embedded) warn(`${embedded} ${embedded === 1 ? "paper is" : "papers are"} not in the index: embedded from ${embedded === 1 ? "its" : "their"} title and abstract`);
}

/** The example flags recommend and digest share. */
function exampleOptions(command: Command): Command {
  return filterOptions(command)
    .argument("[papers...]", "liked papers: ids, DOIs, arXiv ids or titles")
    .addOption(new Option("--from <file>", "liked papers from a file: ids or DOIs one per line, or a library file ingest reads (repeatable)").argParser(repeatable))
    .addOption(new Option("--tag <name>", "liked papers from a saved set (repeatable; see `papersift tag`)").argParser(repeatable))
    .addOption(new Option("--not <paper>", "a paper you do not want more of: its neighbours move down (repeatable)").argParser(repeatable))
    .addOption(new Option("--not-from <file>", "papers you do not want more of, from a file as --from (repeatable)").argParser(repeatable))
    .option("--explain", "show how each score is made: lexical and dense parts, and the disliked papers' pull", false)
    .addOption(tagsOption())
    .addOption(indexOption())
    .addOption(corpusOption())
    .addOption(modelOption())
    .addOption(jsonOption());
}

interface ExampleFlags {
  from?: string[];
  tag?: string[];
  not?: string[];
  notFrom?: string[];
  tags?: string;
  explain: boolean;
  index: string;
  corpus: string;
  model?: string;
  json: boolean;
  k: number;
  category?: string[];
  since?: string;
  until?: string;
  author?: string;
}

function requestOf(papers: string[], flags: ExampleFlags) {
  return {
    liked: examplesOf(papers, flags.from),
    not: examplesOf(flags.not ?? [], flags.notFrom),
    tag: flags.tag ?? [],
    ...(flags.tag?.length ? { tagsFile: tagsFileOf(flags) } : {}),
    k: flags.k,
    explain: flags.explain,
    ...filterOf(flags),
  };
}

export function registerRecommend(program: Command): void {
  exampleOptions(program.command("recommend"))
    .description("papers like the ones you name: ranked by shared vocabulary and meaning, each with its reason")
    .addOption(kOption())
    .addHelpText(
      "after",
      `
Papers are matched by id, DOI, arXiv id, or exact title (or an unambiguous part of one). Entries of a
--from library file that are not in the index are embedded from their title and abstract; anything else
that matches nothing is reported on stderr, and the rest are used. Exit 2 when nothing matches.
Each result says which of your papers it is closest to and the distinctive terms it shares with them.

Examples:
  papersift recommend 2605.01234 10.1145/3580305.3599256 "Direct Preference Optimization"
  papersift recommend --from my-library.bib --since 2026-06-20 --category cs.CL
  papersift recommend --tag reading-group --not 2605.04321 -k 20 --json`,
    )
    .action(async (papers: string[], flags: ExampleFlags) => {
      const request = requestOf(papers, flags);
      const index = await open(flags);
      try {
        const result = await index.recommend(request);
        reportMatches(result);
        if (flags.json) json(result);
        else out(renderRecommendations(result));
      } finally {
        index.close();
      }
    });

  exampleOptions(program.command("digest"))
    .description("the new papers for a reader, grouped by topic, best first: a daily or weekly triage")
    .addOption(new Option("-k, --k <n>", "number of papers in the digest").argParser(integer("-k", 1)).default(30))
    .addHelpText(
      "after",
      `
Without --since, the digest covers the last ${DIGEST_DAYS} days of the corpus (up to its newest paper). Topics are the
ones \`papersift clusters\` shows, with the same stable ids.

Examples:
  papersift digest --tag reading-group --since 2026-06-20
  papersift digest --from my-library.bib --category cs.CL --json`,
    )
    .action(async (papers: string[], flags: ExampleFlags) => {
      const request = requestOf(papers, flags);
      const index = await open(flags);
      try {
        const result = await index.digest(request);
        reportMatches(result);
        if (flags.json) json(result);
        else out(renderDigest(result));
      } finally {
        index.close();
      }
    });

  const tag = program.command("tag").description("saved sets of papers (kept in a small JSON file of your own, apart from the index)");
  tag
    .command("add")
    .description("add papers to a set (made if new)")
    .argument("<name>", "the set: letters, digits, '.', '_' and '-'")
    .argument("[papers...]", "ids, DOIs, arXiv ids or titles")
    .addOption(new Option("--from <file>", "papers from a file: ids or DOIs one per line, or a library file ingest reads (repeatable)").argParser(repeatable))
    .addOption(tagsOption())
    .addOption(indexOption())
    .addOption(corpusOption())
    .addOption(jsonOption())
    .addHelpText("after", "\nExamples:\n  papersift tag add reading-group 2605.01234 \"Direct Preference Optimization\"\n  papersift tag add thesis --from my-library.bib")
    .action(async (name: string, papers: string[], flags: { from?: string[]; tags?: string; index: string; corpus: string; json: boolean }) => {
      const file = tagsFileOf(flags);
      const examples = examplesOf(papers, flags.from);
      if (!examples.length) throw new PapersiftError("NO_EXAMPLES", "no papers given");
      const index = await open({ ...flags, json: true });
      try {
        const result = index.tag(name, examples, { tagsFile: file });
        for (const u of result.unmatched) warn(`${u.ref}: ${u.reason}; not added`);
        if (flags.json) json(result);
        else out(`${name}: ${result.added.length} added${result.already.length ? `, ${result.already.length} already in it` : ""} (${path.resolve(file)})\n`);
      } finally {
        index.close();
      }
    });
  tag
    .command("rm")
    .description("remove papers from a set, or the whole set with --all")
    .argument("<name>", "the set")
    .argument("[papers...]", "ids (or DOIs, arXiv ids) as the set holds them")
    .option("--all", "remove the whole set", false)
    .addOption(tagsOption())
    .addOption(indexOption())
    .addOption(corpusOption())
    .addOption(jsonOption())
    .action((name: string, papers: string[], flags: { all: boolean; tags?: string; index: string; corpus: string; json: boolean }) => {
      if (!flags.all && !papers.length) throw new PapersiftError("BAD_OPTION", "name the papers to remove, or pass --all to remove the whole set");
      if (flags.all && papers.length) throw new PapersiftError("BAD_OPTION", "--all removes the whole set: name no papers with it");
      const file = tagsFileOf(flags);
      const result = removeFromTag(file, name, flags.all ? null : papers);
      for (const ref of result.missing) warn(`${ref} is not in ${name}`);
      if (flags.json) json({ tag: name, file, ...result });
      else out(result.tagRemoved ? `removed the set ${name} (${result.removed.length} papers)\n` : `${name}: ${result.removed.length} removed\n`);
      if (!result.removed.length && !result.tagRemoved) process.exitCode = 2;
    });
  tag
    .command("list")
    .description("the sets and where they are kept, or one set's papers")
    .argument("[name]", "one set: list its papers")
    .addOption(tagsOption())
    .addOption(indexOption())
    .addOption(corpusOption())
    .addOption(jsonOption())
    .action((name: string | undefined, flags: { tags?: string; index: string; corpus: string; json: boolean }) => {
      const file = tagsFileOf(flags);
      const tags = readTags(file);
      const tag = name === undefined ? undefined : tags.get(name.normalize("NFC"));
      if (name !== undefined && !tag) throw unknownTag(name, tags, file);
      if (flags.json) {
        json(tag === undefined ? { file: path.resolve(file), tags: Object.fromEntries([...tags].map(([n, e]) => [n, e.length])) } : { file: path.resolve(file), tag: name, papers: tag });
        return;
      }
      out(`tags file: ${path.resolve(file)}\n`);
      if (tag !== undefined) {
        // printable() escapes control characters, a newline among them: each line gets its own afterwards.
        for (const e of tag) out(`${printable(`  ${e.id}  ${e.title}${e.abstract ? "  (kept with its abstract: it was not in the index)" : ""}`)}\n`);
      } else if (!tags.size) {
        out("no tags yet: `papersift tag add <name> <paper>…` makes one\n");
      } else {
        for (const n of [...tags.keys()].sort()) out(`  ${n}  ${tags.get(n)!.length} papers\n`);
      }
    });
}
