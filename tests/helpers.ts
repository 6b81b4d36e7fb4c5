// Shared by the tests: temp folders, small real corpora cut from the bundled one, one Embedder per file,
// and a runner for the real CLI.
import { spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll } from "vitest";
import { readCorpus, type Paper } from "../src/corpus/index.ts";
import { loadEmbedder, type Embedder } from "../src/embed.ts";

export const ROOT = fileURLToPath(new URL("..", import.meta.url));
export const BUNDLED_CORPUS = path.join(ROOT, "corpus");

const temps: string[] = [];
afterAll(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

export function tempDir(prefix = "papersift-test-"): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  temps.push(dir);
  return dir;
}

let embedder: Promise<Embedder> | undefined;
export function sharedEmbedder(): Promise<Embedder> {
  embedder ??= loadEmbedder();
  return embedder;
}

let bundled: Paper[] | undefined;
export function bundledPapers(): Paper[] {
  bundled ??= readCorpus(BUNDLED_CORPUS).papers;
  return bundled;
}

/** Write papers as a .txt corpus file in the bundled layout (title, blank line, abstract). */
export function writeTxt(file: string, papers: Pick<Paper, "title" | "abstract">[]): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, "Some page banner\n\n" + papers.map((p) => `${p.title}\n\n${p.abstract}\n`).join("\n"));
}

/** Node flags that make loading the model stack an error (see fixtures/forbid-model.mjs). */
export const FORBID_MODEL = ["--import", path.join(ROOT, "tests", "fixtures", "forbid-model.mjs")];

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(
  args: string[],
  options: { input?: string; env?: Record<string, string>; cwd?: string; nodeArgs?: string[]; timeoutMs?: number } = {},
): CliResult {
  const result = spawnSync(process.execPath, [...(options.nodeArgs ?? []), path.join(ROOT, "bin", "papersift.js"), ...args], {
    cwd: options.cwd ?? ROOT,
    input: options.input ?? "",
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1", ...options.env },
    timeout: options.timeoutMs ?? 120_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/**
 * Resolves, with its stderr so far, once a child process has written `text` there (a failpoint's ":report"
 * or ":stop" line, a "waiting for" notice): tests wait for the event, never for a fixed time.
 */
export function stderrSays(child: ChildProcess, text: string): Promise<string> {
  return new Promise((resolve) => {
    let stderr = "";
    child.stderr!.on("data", (d) => {
      stderr += d;
      if (stderr.includes(text)) resolve(stderr);
    });
  });
}

/**
 * Resolves once a child that announced a ":stop" failpoint has really stopped itself: its line comes just
 * before its SIGSTOP, and a SIGCONT sent in between would be lost.
 */
export async function stoppedAt(child: ChildProcess, failpoint: string): Promise<void> {
  await stderrSays(child, `failpoint ${failpoint}`);
  const state = () => {
    const stat = readFileSync(`/proc/${child.pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  };
  while (state() !== "T") await new Promise((resolve) => setTimeout(resolve, 5));
}

export { standInEmbedder } from "./stand-in-embedder.ts";

/** Debian's Chromium (.ci/run installs it), another usual place, or the one PAPERSIFT_CHROMIUM names. */
export const CHROMIUM = [process.env.PAPERSIFT_CHROMIUM, "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].find((p) => p && existsSync(p));
/** Why a browser test skips itself: tests/skip-notes-reporter.ts lists it after the summary, never silently. */
export const NO_CHROMIUM = "no Chromium (apt-get install -y chromium, or set PAPERSIFT_CHROMIUM to a Chromium binary)";
