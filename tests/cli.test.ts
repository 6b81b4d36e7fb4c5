// The real CLI, spawned on real temp folders: JSON shapes of the contract, exit codes, messages.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ingest } from "../src/index.ts";
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

  it("renders a readable list with the matching words emphasised", () => {
    const r = runCli(["search", "overoptimization", "-k", "1", "--index", index]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^ 1\. .*Overoptimization.*\d\.\d{3}\n/);
    expect(r.stdout).toMatch(/\*overoptimization\*/i);
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
    expect(body.threshold).toBe(0.6);
    expect(Object.keys(body.clusters[0]!)).toEqual(expect.arrayContaining(["id", "label", "size", "cohesion", "papers"]));
    const count = body.clusters.reduce((n, c) => n + (c.size as number), 0) + body.unclustered.length;
    expect(count).toBe(71);
  });

  it("stats and --help never load the model", () => {
    const stats = runCli(["stats", "--index", index, "--json"], { nodeArgs: FORBID_MODEL });
    expect(stats.status).toBe(0);
    expect(parse(stats.stdout)).toMatchObject({ papers: 71, model: { id: "sentence-transformers/all-MiniLM-L6-v2", dims: 384 } });
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
  it("re-syncs shortly after a corpus file changes", async () => {
    const corpus = tempDir();
    writeTxt(path.join(corpus, "a.txt"), bundledPapers().slice(0, 2));
    const child = spawn(process.execPath, [path.join(ROOT, "bin", "papersift.js"), "ingest", "--watch", "--json", "--corpus", corpus, "--index", path.join(tempDir(), "idx")]);
    const summaries: Record<string, number>[] = [];
    let buffered = "";
    const next = (count: number) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no summary #${count}`)), 60_000);
        const check = () => {
          if (summaries.length >= count) {
            clearTimeout(timer);
            resolve();
          } else setTimeout(check, 50);
        };
        check();
      });
    child.stdout.on("data", (d) => {
      buffered += d;
      const lines = buffered.split("\n");
      buffered = lines.pop()!;
      for (const line of lines) if (line.trim()) summaries.push(JSON.parse(line));
    });
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

  it("exits with the first sync's error instead of watching", () => {
    const malformed = path.join(ROOT, "tests", "fixtures", "malformed");
    const result = runCli(["ingest", "--watch", "--strict", "--corpus", malformed, "--index", path.join(tempDir(), "idx")]);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/broken\.jsonl:2: invalid JSON/);
  });
});

describe("README", () => {
  it("its CLI reference is the CLI's own --help", () => {
    const readme = readFileSync(path.join(ROOT, "README.md"), "utf8");
    for (const command of ["search", "ingest", "related", "clusters", "stats"]) {
      const help = runCli([command, "--help"]).stdout.trim();
      expect(readme, `README section for ${command} (run npm run readme)`).toContain(help);
    }
  });
});
