// The real CLI, spawned on real temp folders: JSON shapes of the contract, exit codes, messages.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, renameSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ingest } from "../src/index.ts";
import { usageFor } from "../src/model.ts";
import { BUNDLED_CORPUS, bundledPapers, FORBID_MODEL, ROOT, runCli, sharedEmbedder, tempDir, writeTxt } from "./helpers.ts";

let index: string;
beforeAll(async () => {
  index = tempDir();
  await ingest({ corpus: BUNDLED_CORPUS, index }, { embedder: await sharedEmbedder() });
});

const parse = (stdout: string) => JSON.parse(stdout) as Record<string, unknown>;

describe("papersift search", () => {
  it("prints the contract's JSON: query and results with id, title, score, snippet, source", () => {
    const r = runCli(["search", "robustness of reward models for math reasoning", "-k", "3", "--index", index, "--json"]);
    expect(r.status).toBe(0);
    const body = parse(r.stdout) as { query: string; results: Record<string, unknown>[] };
    expect(body.query).toBe("robustness of reward models for math reasoning");
    expect(body.results).toHaveLength(3);
    expect(Object.keys(body.results[0]!)).toEqual(expect.arrayContaining(["id", "title", "score", "snippet", "source"]));
    expect(body.results[0]!.title).toBe("Evaluating Robustness of Reward Models for Mathematical Reasoning");
    expect(body).toMatchObject({ noStrongMatch: false });
    for (const r of body.results) expect(r.relevance).toSatisfy((p: unknown) => typeof p === "number" && p >= 0 && p <= 1);
  });

  it("says plainly when no result is likely relevant, and shows each result's relevance", () => {
    const r = runCli(["search", "--stdin", "-k", "2", "--index", index], { input: "protein folding with cryo-EM\nrobustness of reward models for math reasoning\n" });
    expect(r.status).toBe(0);
    // The off-topic question's closest papers come under the line; the other question's do not.
    expect(r.stdout).toMatch(/^no strong match in this corpus — closest papers:\n\n 1\. /);
    expect(r.stdout).toMatch(/\n\n 1\. Evaluating Robustness of Reward Models for Mathematical Reasoning  \d\.\d{3} · similarity \d\.\d{3} · relevance \d{1,3}%\n/);
    expect(r.stdout.match(/no strong match/g)).toHaveLength(1);
  });

  it("--stdin answers one JSON line per input line, in order, with the model loaded once", () => {
    const r = runCli(["search", "--stdin", "--json", "-k", "2", "--index", index], {
      input: "scaling laws for reward model overoptimization\n\ndiffusion models and human feedback\n",
    });
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split("\n").map((l) => parse(l) as { query: string; results: unknown[]; error?: { code: string } });
    expect(lines.map((l) => l.query)).toEqual(["scaling laws for reward model overoptimization", "", "diffusion models and human feedback"]);
    expect(lines.map((l) => l.results.length)).toEqual([2, 0, 2]);
    expect(lines.map((l) => l.error?.code)).toEqual([undefined, "EMPTY_QUESTION", undefined]);
  });

  it("renders a readable list: matching words in bold on a terminal, plain in a pipe or with NO_COLOR", () => {
    const r = runCli(["search", "overoptimization", "-k", "1", "--index", index]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^ 1\. .*Overoptimization  \d\.\d{3} · similarity \d\.\d{3} · relevance \d{1,3}%\n/);
    expect(r.stdout).not.toMatch(/\*|\x1b/);
    // A real terminal: `script` gives the CLI a pseudo-terminal.
    const tty = (env: string) =>
      spawnSync("script", ["-qec", `${env} "${process.execPath}" "${path.join(ROOT, "bin", "papersift.js")}" search overoptimization -k 1 --index "${index}"`, "/dev/null"], { encoding: "utf8" }).stdout;
    expect(tty("env -u NO_COLOR")).toMatch(/\x1b\[1m[Oo]veroptimization\x1b\[22m/);
    expect(tty("NO_COLOR=1")).not.toMatch(/\x1b\[/);
  });

  it("exits 2 with a one-line reason for an empty question or bad flags", () => {
    for (const args of [["search", "   "], ["search", "x", "-k", "0"], ["search", "x", "-k", "ten"], ["search", "x", "--mode", "fuzzy"], ["search", "x", "--nope"]]) {
      const r = runCli([...args, "--index", index]);
      expect(r.status, args.join(" ")).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr).toMatch(/^papersift: /);
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    }
  });

  it("never downloads a model unless told to, and says how", () => {
    const env = { PAPERSIFT_ALLOW_REMOTE: "" };
    const hub = runCli(["search", "x", "--index", index, "--model", "Xenova/all-MiniLM-L6-v2"], { env });
    expect(hub.status).toBe(2);
    expect(hub.stderr).toMatch(/Xenova\/all-MiniLM-L6-v2 is not a local folder, and downloads are off\n\s+fix: set PAPERSIFT_ALLOW_REMOTE=1/);
    const missing = runCli(["search", "x", "--index", index, "--model", "/no/such/model"], { env });
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/no model folder at \/no\/such\/model/);
  });

  it("--model picks a vendored model by name; the index then keeps it without --model", () => {
    const corpus = tempDir();
    writeTxt(path.join(corpus, "papers.txt"), bundledPapers().slice(0, 4));
    const idx = path.join(tempDir(), "idx");
    const built = runCli(["ingest", "--corpus", corpus, "--index", idx, "--model", "bge-small-en-v1.5", "--json"]);
    expect(built.status, built.stderr).toBe(0);
    const stats = parse(runCli(["stats", "--index", idx, "--json"]).stdout) as { model: { id: string; fingerprint: string } };
    expect(stats.model.id).toBe("BAAI/bge-small-en-v1.5");
    const search = runCli(["search", bundledPapers()[2]!.title, "-k", "1", "--index", idx, "--json"]);
    expect(search.status, search.stderr).toBe(0);
    expect((parse(search.stdout).results as { id: string }[])[0]!.id).toBe(bundledPapers()[2]!.id);
    const again = parse(runCli(["ingest", "--corpus", corpus, "--index", idx, "--json"]).stdout);
    expect(again).toMatchObject({ embedded: 0, unchanged: 4 });
    const unknown = runCli(["ingest", "--corpus", corpus, "--index", idx, "--model", "no-such-model"]);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/no vendored model of that name \(bge-small-en-v1\.5, all-MiniLM-L6-v2\)/);
  });

  it("on a terminal, ingest says how many chunks it will embed before it starts, then an estimate next time", () => {
    const corpus = tempDir();
    writeTxt(path.join(corpus, "papers.txt"), bundledPapers().slice(0, 40));
    const idx = path.join(tempDir(), "idx");
    const onTty = () =>
      spawnSync("script", ["-qec", `"${process.execPath}" "${path.join(ROOT, "bin", "papersift.js")}" ingest --corpus "${corpus}" --index "${idx}"`, "/dev/null"], { encoding: "utf8" }).stdout;
    const first = onTty();
    expect(first).toMatch(/embedding (\d+) new chunks, 0 reused/);
    const planned = Number(/embedding (\d+) new chunks/.exec(first)![1]);
    expect(first).toMatch(new RegExp(`${planned} chunks embedded`));
    writeTxt(path.join(corpus, "more.txt"), bundledPapers().slice(40, 71));
    // The second ingest knows this model's rate from the first: the plan comes with a time estimate.
    expect(onTty()).toMatch(/embedding \d+ new chunks \(~\d+ (s|min)\), \d+ reused/);
  });

  it("on a fresh clone builds the index from the corpus first, then answers", () => {
    const corpus = tempDir();
    writeTxt(path.join(corpus, "papers.txt"), bundledPapers().slice(0, 4));
    const fresh = path.join(tempDir(), "index-cache");
    const r = runCli(["search", bundledPapers()[2]!.title, "-k", "1", "--json"], {
      env: { PAPERSIFT_CORPUS: corpus, PAPERSIFT_INDEX: fresh },
    });
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/no index at .* yet: building it/);
    expect((parse(r.stdout) as { results: { id: string }[] }).results[0]!.id).toBe(bundledPapers()[2]!.id);
  });
});

describe("papersift related / clusters / stats / ingest", () => {
  it("related prints the paper and its neighbours, never itself", () => {
    const r = runCli(["related", "submodular reinforcement", "-k", "4", "--index", index, "--json"]);
    expect(r.status).toBe(0);
    const body = parse(r.stdout) as { paper: { id: string }; results: { id: string }[] };
    expect(body.paper.id).toBe("submodular-reinforcement-learning");
    expect(body.results).toHaveLength(4);
    expect(body.results.map((x) => x.id)).not.toContain(body.paper.id);
  });

  it("related exits 2 listing candidates for an ambiguous title", () => {
    const r = runCli(["related", "reward model", "--index", index], { nodeArgs: FORBID_MODEL });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/matches \d+ papers/);
  });

  it("clusters follows the contract without loading the model", () => {
    const r = runCli(["clusters", "--index", index, "--json"], { nodeArgs: FORBID_MODEL });
    expect(r.status).toBe(0);
    const body = parse(r.stdout) as { threshold: number; clusters: Record<string, unknown>[]; unclustered: unknown[] };
    expect(body.threshold).toBe(usageFor("BAAI/bge-small-en-v1.5").clusterThreshold); // the index's model's
    expect(Object.keys(body.clusters[0]!)).toEqual(expect.arrayContaining(["id", "label", "size", "cohesion", "papers"]));
    const count = body.clusters.reduce((n, c) => n + (c.size as number), 0) + body.unclustered.length;
    expect(count).toBe(71);
  });

  it("stats and --help never load the model", () => {
    const stats = runCli(["stats", "--index", index, "--json"], { nodeArgs: FORBID_MODEL });
    expect(stats.status).toBe(0);
    expect(parse(stats.stdout)).toMatchObject({ papers: 71, model: { id: "BAAI/bge-small-en-v1.5", dims: 384 } });
    for (const args of [["--help"], ["search", "--help"], ["ingest", "--help"]]) {
      expect(runCli(args, { nodeArgs: FORBID_MODEL }).status).toBe(0);
    }
  });

  it("a missing index says what to run and exits 2", () => {
    const r = runCli(["stats", "--index", path.join(tempDir(), "none")]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/no index at .*\n\s+fix: run `papersift ingest` first/);
  });

  it("ingest --json prints the summary; --dry-run changes nothing; a malformed entry is named", () => {
    const corpus = tempDir();
    writeTxt(path.join(corpus, "a.txt"), bundledPapers().slice(0, 2));
    const dir = path.join(tempDir(), "idx");
    const dry = runCli(["ingest", "--corpus", corpus, "--index", dir, "--dry-run", "--json"], { nodeArgs: FORBID_MODEL });
    expect(dry.status).toBe(0);
    expect(parse(dry.stdout)).toMatchObject({ added: 2, embedded: 0, dryRun: true });

    const r = runCli(["ingest", "--corpus", corpus, "--index", dir, "--json"]);
    expect(r.status).toBe(0);
    const summary = parse(r.stdout);
    for (const key of ["papers", "chunks", "added", "updated", "removed", "unchanged", "embedded", "reused", "seconds"]) {
      expect(summary).toHaveProperty(key);
    }
    expect(summary).toMatchObject({ papers: 2, added: 2 });

    // Unchanged corpus: no model load at all.
    const again = runCli(["ingest", "--corpus", corpus, "--index", dir, "--json"], { nodeArgs: FORBID_MODEL });
    expect(again.status).toBe(0);
    expect(parse(again.stdout)).toMatchObject({ unchanged: 2, embedded: 0 });

    const strict = runCli(["ingest", "--corpus", path.join(ROOT, "tests", "fixtures", "malformed"), "--index", dir, "--strict"]);
    expect(strict.status).toBe(2);
    expect(strict.stderr).toMatch(/broken\.jsonl:2: invalid JSON/);
  });
});

describe("papersift ingest --watch", () => {
  /** `ingest --watch --json` on a corpus: its summaries as they come, and `next(n)` resolving at the n-th. */
  const watchIngest = (corpus: string) => {
    const child = spawn(process.execPath, [path.join(ROOT, "bin", "papersift.js"), "ingest", "--watch", "--json", "--corpus", corpus, "--index", path.join(tempDir(), "idx")]);
    const summaries: Record<string, number>[] = [];
    let buffered = "";
    child.stdout.on("data", (d) => {
      buffered += d;
      const lines = buffered.split("\n");
      buffered = lines.pop()!;
      for (const line of lines) if (line.trim()) summaries.push(JSON.parse(line));
    });
    const next = (count: number) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no summary #${count}: a change was missed`)), 60_000);
        const check = () => {
          if (summaries.length >= count) {
            clearTimeout(timer);
            resolve();
          } else setTimeout(check, 50);
        };
        check();
      });
    return { child, summaries, next };
  };

  it("re-syncs shortly after a corpus file changes", async () => {
    const corpus = tempDir();
    writeTxt(path.join(corpus, "a.txt"), bundledPapers().slice(0, 2));
    const { child, summaries, next } = watchIngest(corpus);
    try {
      await next(1);
      expect(summaries[0]).toMatchObject({ papers: 2, added: 2 });
      writeTxt(path.join(corpus, "b.txt"), bundledPapers().slice(2, 3));
      await next(2);
      expect(summaries[1]).toMatchObject({ papers: 3, added: 1, unchanged: 2 });
    } finally {
      child.kill("SIGINT");
    }
  });

  it("re-syncs after each whole-file rewrite (a temp file renamed over it, as Zotero's auto-export writes)", async () => {
    const corpus = tempDir();
    const papers = bundledPapers().slice(0, 3);
    writeTxt(path.join(corpus, "library.txt"), papers);
    const { child, summaries, next } = watchIngest(corpus);
    try {
      await next(1);
      for (let round = 1; round <= 5; round++) {
        const edited = papers.map((p, i) => (i === 0 ? { ...p, abstract: `${p.abstract} Revision ${round}.` } : p));
        writeTxt(path.join(corpus, "library.txt.tmp"), edited);
        renameSync(path.join(corpus, "library.txt.tmp"), path.join(corpus, "library.txt"));
        await next(round + 1);
        expect(summaries[round], `rewrite ${round}: ${JSON.stringify(summaries)}`).toMatchObject({ papers: 3, updated: 1 });
      }
    } finally {
      child.kill("SIGINT");
    }
  });

  it("exits with the first sync's error instead of watching", () => {
    const malformed = path.join(ROOT, "tests", "fixtures", "malformed");
    const result = runCli(["ingest", "--watch", "--strict", "--corpus", malformed, "--index", path.join(tempDir(), "idx")]);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/broken\.jsonl:2: invalid JSON/);
  });
});

describe("docs", () => {
  it("docs/cli.md is the CLI's own --help, for every command", () => {
    const reference = readFileSync(path.join(ROOT, "docs", "cli.md"), "utf8");
    const top = runCli(["--help"]).stdout.trim();
    expect(reference, "run npm run readme").toContain(top);
    const commands = [...top.matchAll(/^ {2}(\w+) /gm)].map((m) => m[1]!).filter((c) => c !== "help");
    expect(commands.length).toBeGreaterThanOrEqual(5);
    for (const command of commands) {
      expect(reference, `docs/cli.md section for ${command} (run npm run readme)`).toContain(runCli([command, "--help"]).stdout.trim());
    }
  });

  it("the README and docs link nothing outside the repo, and every relative link resolves", () => {
    for (const file of ["README.md", path.join("models", "README.md"), ...["architecture.md", "storage.md", "quality.md", "benchmarks.md", "cli.md"].map((f) => path.join("docs", f))]) {
      const text = readFileSync(path.join(ROOT, file), "utf8");
      expect(text, file).not.toMatch(/https?:\/\/(?!127\.0\.0\.1|localhost)/);
      // Users have the repo only: no doc gives a path beside it (the benchmark data is named, not located).
      expect(text, file).not.toMatch(/\.\.\/shared|\/work\//);
      for (const [, target] of text.matchAll(/\]\(([^)#]+)(#[^)]*)?\)/g)) {
        expect(existsSync(path.join(ROOT, path.dirname(file), target!)), `${file} → ${target}`).toBe(true);
      }
    }
  });
});
