// The tags file is the user's own data (review hostile-19/20 #1 #2 #4 #7 #8 #18): papersift changes only the
// tag it was asked to change and keeps everything else a person put there — fields, top-level keys, a tag
// named like an Object.prototype member, the file's symlink and its permissions — and refuses, in one line,
// a file it must not write. All through the real CLI on a small stand-in index.
import { chmodSync, lstatSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ingest, type DigestResult } from "../src/index.ts";
import { renderDigest } from "../src/render.ts";
import { bundledPapers, runCli, standInEmbedder, tempDir } from "./helpers.ts";

const papers = bundledPapers().slice(0, 6).map((p, i) => ({ id: `p${i}`, title: p.title, abstract: p.abstract }));

let corpus: string;
let indexDir: string;
beforeAll(async () => {
  corpus = tempDir();
  writeFileSync(path.join(corpus, "library.jsonl"), papers.map((p) => JSON.stringify(p)).join("\n") + "\n");
  indexDir = tempDir();
  await ingest({ corpus, index: indexDir }, { embedder: standInEmbedder() });
});

const cli = (file: string, ...args: string[]) => runCli([...args, "--tags", file, "--index", indexDir, "--corpus", corpus]);
const entry = (id: string, extra: object = {}) => ({ id, title: papers[Number(id.slice(1))]!.title, added: "2026-06-01", ...extra });

describe("a tags write keeps what a person added", () => {
  it("keeps unknown fields, top-level keys and a tag named __proto__", () => {
    const file = path.join(tempDir(), "notes.json");
    writeFileSync(
      file,
      JSON.stringify({ "papersift-tags": 1, _comment: "my group", tags: { rg: [entry("p0", { note: "read this first!", priority: 1 })], ["__proto__"]: [entry("p1")] } }, null, 2),
    );
    expect(Object.entries(JSON.parse(cli(file, "tag", "list", "--json").stdout).tags)).toEqual([["rg", 1], ["__proto__", 1]]);
    const r = cli(file, "tag", "add", "rg", "p2");
    expect(r.status, r.stderr).toBe(0);
    const saved = JSON.parse(readFileSync(file, "utf8"));
    expect(saved._comment).toBe("my group");
    expect(saved.tags.rg[0]).toMatchObject({ id: "p0", note: "read this first!", priority: 1 });
    expect(saved.tags.rg.map((e: { id: string }) => e.id)).toEqual(["p0", "p2"]);
    expect(Object.hasOwn(saved.tags, "__proto__")).toBe(true);
    expect(saved.tags["__proto__"]).toEqual([entry("p1")]);
  });

  it("writes through a symlinked file to its target and keeps the link", () => {
    const dir = tempDir();
    mkdirSync(path.join(dir, "repo"));
    const target = path.join(dir, "repo", "tags.json");
    writeFileSync(target, '{"papersift-tags":1,"tags":{}}');
    const link = path.join(dir, "link.json");
    symlinkSync(target, link);
    expect(cli(link, "tag", "add", "s", "p0").status).toBe(0);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(JSON.parse(readFileSync(target, "utf8")).tags.s.map((e: { id: string }) => e.id)).toEqual(["p0"]);
  });

  it("keeps the file's mode, and refuses a read-only file in one line without touching it", () => {
    const dir = tempDir();
    const priv = path.join(dir, "priv.json");
    writeFileSync(priv, '{"papersift-tags":1,"tags":{}}');
    chmodSync(priv, 0o600);
    expect(cli(priv, "tag", "add", "conc", "p0").status).toBe(0);
    expect(statSync(priv).mode & 0o777).toBe(0o600);

    const ro = path.join(dir, "ro.json");
    const before = '{"papersift-tags":1,"tags":{}}';
    writeFileSync(ro, before);
    chmodSync(ro, 0o444);
    const r = cli(ro, "tag", "add", "conc", "p0");
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/ro\.json is read-only/);
    expect(r.stderr.trim().split("\n").filter((l) => !/^\s*fix:/.test(l)), r.stderr).toHaveLength(1);
    expect(readFileSync(ro, "utf8")).toBe(before);
    expect(statSync(ro).mode & 0o777).toBe(0o444);
  });
});

describe("the tags file's place", () => {
  it("is refused inside the index or the corpus when reached through a symlinked folder", () => {
    const dir = tempDir();
    for (const real of [indexDir, corpus]) {
      const link = path.join(dir, path.basename(real) + "-link");
      symlinkSync(real, link);
      const r = cli(path.join(link, "t.json"), "tag", "add", "x", "p0");
      expect(r.status, r.stdout).toBe(2);
      expect(r.stderr).toMatch(/the tags file .* is inside/);
    }
  });
});

describe("tag names", () => {
  it("Object.prototype names are ordinary tags", () => {
    const file = path.join(tempDir(), "tags.json");
    for (const name of ["constructor", "toString"]) {
      const added = cli(file, "tag", "add", name, "p0", "p1");
      expect(added.status, added.stderr).toBe(0);
      expect(JSON.parse(cli(file, "tag", "list", name, "--json").stdout).papers.map((e: { id: string }) => e.id)).toEqual(["p0", "p1"]);
      if (name === "constructor") {
        const rec = cli(file, "recommend", "--tag", name, "-k", "2", "--json");
        expect(rec.status, rec.stderr).toBe(0);
      }
      expect(cli(file, "tag", "rm", name, "p0").status).toBe(0);
      expect(cli(file, "tag", "rm", name, "--all").status).toBe(0);
    }
    const missing = cli(file, "tag", "list", "toString", "--json");
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/no tag "toString"/);
    expect(cli(file, "recommend", "--tag", "valueOf").stderr).toMatch(/no tag "valueOf"/);
  });

  it("a name typed in decomposed form (NFD) is the same tag as the composed one, and errors never print control characters", () => {
    const file = path.join(tempDir(), "tags.json");
    expect(cli(file, "tag", "add", "cafe\u0301", "p0").status).toBe(0);
    expect(JSON.parse(cli(file, "tag", "list", "--json").stdout).tags).toEqual({ "caf\u00e9": 1 });
    const bell = cli(file, "tag", "add", "a\u0007", "p0");
    expect(bell.status).toBe(2);
    expect(bell.stderr).not.toMatch(/[\u0000-\u0008\u000b-\u001f]/);
  });
});

describe("messages that fit the mistake (review hostile-19/20 #14)", () => {
  it("an empty set says it is empty; a paper both liked and not wanted is refused; a folder for --tags is named as one", () => {
    const file = path.join(tempDir(), "tags.json");
    expect(cli(file, "tag", "add", "web", "p0").status).toBe(0);
    expect(cli(file, "tag", "rm", "web", "p0").status).toBe(0);
    const empty = cli(file, "recommend", "--tag", "web");
    expect(empty.status).toBe(2);
    expect(empty.stderr).toMatch(/the set "web" is empty/);
    const both = cli(file, "recommend", "p0", "p1", "--not", "p0");
    expect(both.status).toBe(2);
    expect(both.stderr).toMatch(/p0 is both liked and not wanted/);
    const folder = cli(tempDir(), "tag", "list");
    expect(folder.status).toBe(2);
    expect(folder.stderr).toMatch(/is a folder/);
    expect(folder.stderr).not.toMatch(/it is JSON/);
  });

  it("--from: an over-long line is skipped with its file and line, the rest used; a binary file is named as one", () => {
    const dir = tempDir();
    const long = path.join(dir, "longline.txt");
    writeFileSync(long, `${"x".repeat(2001)}\np0\n`);
    const r = cli(path.join(dir, "unused.json"), "recommend", "--from", long, "-k", "2", "--json");
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/longline\.txt:1: a line of 2,001 characters/);
    expect(JSON.parse(r.stdout).liked.map((m: { id: string }) => m.id)).toEqual(["p0"]);
    const binary = path.join(dir, "binls");
    writeFileSync(binary, Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 0, 1, 0, ...Buffer.from("x".repeat(3000))]));
    const b = cli(path.join(dir, "unused.json"), "recommend", "--from", binary);
    expect(b.status).toBe(2);
    expect(b.stderr).toMatch(/binls is a binary file/);
    const bin = path.join(dir, "bin.txt");
    writeFileSync(bin, Buffer.from([0, 1, 2, 3, 0, 0, 255, 254, 0]));
    const t = cli(path.join(dir, "unused.json"), "recommend", "--from", bin);
    expect(t.status).toBe(2);
    expect(t.stderr).not.toMatch(/papers in the index are kept/);
  });
});

describe("digest wording (review hostile-19/20 #20)", () => {
  it("on an undated index says no paper has a date; counts take their plural only when more than one", () => {
    const r = cli(path.join(tempDir(), "tags.json"), "digest", "p0", "--since", "2020");
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/0 new papers since 2020 in 0 topics/);
    expect(r.stdout).toMatch(/no paper in this index has a date/);
    const one = { liked: [], likedExternal: [], not: [], notExternal: [], unmatched: [], since: "2026-06-01", datedPapers: 5 };
    const hit = { id: "p1", title: "T", score: 1, snippet: "", source: { file: "f", line: 1 }, reason: { closest: [], terms: [] }, authors: [], date: null, venue: null, doi: null, arxiv: null, pmid: null, url: null };
    expect(renderDigest({ ...one, topics: [{ id: 1, label: "x", results: [hit] }] } as unknown as DigestResult)).toMatch(/· 1 new paper since 2026-06-01 in 1 topic\n/);
  });
});
