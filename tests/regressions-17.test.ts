// Issue 17 §7, §14, §15, §18, each with more hostile inputs of its class. Stand-in embedder: none of these
// depends on meaning.
import { rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { readCorpus } from "../src/corpus/index.ts";
import { PapersiftError } from "../src/errors.ts";
import { ingest, openIndex } from "../src/index.ts";
import { Store } from "../src/store/store.ts";
import { standInEmbedder, tempDir } from "./helpers.ts";

const embedder = standInEmbedder();
const sync = (corpus: string, index: string) => ingest({ corpus, index }, { embedder });
const md = (dir: string, name: string, title: string, abstract: string) => writeFileSync(path.join(dir, name), `# ${title}\n\n${abstract}\n`);
/** Paper ids by abstract, as the index holds them. */
async function idsByAbstract(index: string): Promise<Record<string, string>> {
  const store = Store.open(index);
  try {
    return Object.fromEntries(store.papers().map((p) => [p.abstract, p.id]));
  } finally {
    store.close();
  }
}

describe("issue 17 §7: an id, once given, never changes while its paper is in the corpus", () => {
  it("a slug id keeps no hash when another paper with the same title appears (related <slug> still works)", async () => {
    const [corpus, index] = [tempDir(), tempDir()];
    md(corpus, "a.md", "Attention Is All You Need", "The original transformer paper abstract.");
    await sync(corpus, index);
    md(corpus, "b.md", "Attention Is All You Need", "A different paper that borrowed the title.");
    await sync(corpus, index);
    const ids = await idsByAbstract(index);
    expect(ids["The original transformer paper abstract."]).toBe("attention-is-all-you-need");
    expect(ids["A different paper that borrowed the title."]).toMatch(/^attention-is-all-you-need-[0-9a-f]{8}$/);
    const opened = await openIndex(index, { embedder });
    expect(opened.related("attention-is-all-you-need").paper.id).toBe("attention-is-all-you-need");
    opened.close();
  });

  it("an NFD/NFC twin (a dropped duplicate) does not give the kept paper a hash", () => {
    const dir = tempDir();
    md(dir, "a.md", "Caf\u00e9 Networks", "Same abstract.");
    md(dir, "b.md", "Cafe\u0301 Networks", "Same abstract.");
    const { papers, notices } = readCorpus(dir);
    expect(papers.map((p) => p.id)).toEqual(["cafe-networks"]);
    expect(notices).toEqual(["the same title and abstract as cafe-networks at b.md:1: kept the one at a.md:1"]);
  });

  it("three more of the class: a twin leaving, a copy arriving, an edited abstract, a deleted neighbour", async () => {
    const [corpus, index] = [tempDir(), tempDir()];
    md(corpus, "a.md", "Shared Title", "First of three.");
    md(corpus, "b.md", "Shared Title", "Second of three.");
    md(corpus, "c.md", "Shared Title", "Third of three.");
    md(corpus, "d.md", "Unique Title", "Only one.");
    await sync(corpus, index);
    const before = await idsByAbstract(index);
    // The middle one leaves, the first is edited in place, and an exact copy of the unique paper arrives.
    rmSync(path.join(corpus, "b.md"));
    md(corpus, "a.md", "Shared Title", "First of three, edited.");
    md(corpus, "e.md", "Unique Title", "Only one.");
    const summary = await sync(corpus, index);
    const after = await idsByAbstract(index);
    expect(after["First of three, edited."]).toBe(before["First of three."]);
    expect(after["Third of three."]).toBe(before["Third of three."]);
    expect(after["Only one."]).toBe("unique-title");
    expect(summary.notices).toContain("the same title and abstract as unique-title at e.md:1: kept the one at d.md:1");
    // Now only one "Shared Title" paper remains beside the edited one: neither falls back to the bare slug.
    rmSync(path.join(corpus, "c.md"));
    await sync(corpus, index);
    expect((await idsByAbstract(index))["First of three, edited."]).toBe(before["First of three."]);
  });
});

const jsonl = (dir: string, records: object[]) => writeFileSync(path.join(dir, "p.jsonl"), records.map((r) => JSON.stringify(r)).join("\n") + "\n");

describe("issue 17 §14: --author folds letters, not only accents (Unicode data, not a hand list)", () => {
  it("ö/o, ø/o, ł/l, æ/ae, ß/ss, and three more: Đ, Œ, Cyrillic", async () => {
    const [corpus, index] = [tempDir(), tempDir()];
    const people = ["Hans Christian Ørsted", "Lech Wałęsa", "Ærø Bjørnsdóttir", "Anna Straße", "Jörg Müller", "Đorđe Đorđević", "Œdipe Lefèvre", "Иван Петров"];
    jsonl(corpus, people.map((authors, i) => ({ id: `p${i}`, title: `Paper ${i}`, abstract: `Magnetism study number ${i}.`, authors })));
    await sync(corpus, index);
    const opened = await openIndex(index, { embedder });
    const found = async (author: string) => (await opened.search("magnetism study", { mode: "lexical", author, k: 20 })).results.map((r) => r.id);
    expect(await found("orsted")).toEqual(["p0"]);
    expect(await found("walesa")).toEqual(["p1"]);
    expect(await found("aero")).toEqual(["p2"]);
    expect(await found("bjornsdottir")).toEqual(["p2"]);
    expect(await found("strasse")).toEqual(["p3"]);
    expect(await found("muller")).toEqual(["p4"]);
    expect(await found("dordevic")).toEqual(["p5"]);
    expect(await found("oedipe")).toEqual(["p6"]);
    expect(await found("petrov")).toEqual(["p7"]);
    expect(await found("Ørsted")).toEqual(["p0"]);
    opened.close();
  });
});

describe("issue 17 §15: impossible dates are reported and ignored", () => {
  it("2026-13-45 and 0000-00-00, and three more: Feb 29 of a common year, April 31, month 00", async () => {
    const [corpus, index] = [tempDir(), tempDir()];
    const dates = ["2021-05-01", "2026-13-45", "0000-00-00", "2023-02-29", "2021-04-31", "2021-00-10"];
    jsonl(corpus, dates.map((date, i) => ({ id: `d${i}`, title: `Dated ${i}`, abstract: `Abstract ${i}.`, date })));
    const summary = await sync(corpus, index);
    for (const [i, date] of dates.entries()) {
      if (i > 0) expect(summary.notices).toContain(`p.jsonl:${i + 1}: impossible date "${date}" ignored`);
    }
    const opened = await openIndex(index, { embedder });
    expect(opened.stats().dates).toEqual({ from: "2021-05-01", to: "2021-05-01", papers: 1 });
    opened.close();
  });
});

describe("issue 17 §18: when an ingest finds zero papers, each file's reason is said", () => {
  it("unknown type, entries without abstracts, malformed lines, an empty file, XML and JSON that are not papers", async () => {
    const [corpus, index] = [tempDir(), tempDir()];
    writeFileSync(path.join(corpus, "paper.pdf"), "%PDF-1.7");
    writeFileSync(path.join(corpus, "bad.jsonl"), "{not json\n");
    writeFileSync(path.join(corpus, "titles.jsonl"), JSON.stringify({ title: "Only a title", abstract: "" }) + "\n" + JSON.stringify({ title: "Another", abstract: " " }) + "\n");
    writeFileSync(path.join(corpus, "empty.md"), "");
    writeFileSync(path.join(corpus, "feed.xml"), "<rss><channel></channel></rss>\n");
    writeFileSync(path.join(corpus, "settings.json"), '{"theme": "dark"}\n');
    const error = await sync(corpus, index).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PapersiftError);
    const message = (error as PapersiftError).message;
    expect((error as PapersiftError).code).toBe("CORPUS_EMPTY");
    expect(message).toContain("paper.pdf: unknown file type");
    expect(message).toContain("titles.jsonl: 2 entries, none with an abstract");
    expect(message).toMatch(/bad\.jsonl: 1 malformed entry \(line 1: invalid JSON/);
    expect(message).toMatch(/empty\.md: 1 malformed entry \(line 1: no `# Title` heading\)/);
    expect(message).toContain("feed.xml: XML that is not PubMed's (<PubmedArticleSet>)");
    expect(message).toContain("settings.json: JSON that is neither CSL-JSON (items with a title or type) nor OpenAlex works");
  });
});
