// What a corpus read reports as wrong, in the order a user reads it, and --strict's stop: every problem
// listed, each with its kind for scripts.
import { PapersiftError } from "../errors.ts";
import { printable } from "../text.ts";
import type { CorpusReport, ReadCorpusOptions } from "./index.ts";
import type { CorpusProblem } from "./paper.ts";

/**
 * Problems in reading order: files as they were read, and within a file by line number (a reader reports
 * a malformed entry as it parses and an entry without an abstract later; a user reads a file top down).
 */
export function orderProblems(report: CorpusReport): void {
  const fileOrder = new Map<string, number>();
  for (const p of report.problems) if (!fileOrder.has(p.file)) fileOrder.set(p.file, fileOrder.size);
  report.problems.sort((a, b) => fileOrder.get(a.file)! - fileOrder.get(b.file)! || a.line - b.line);
}

/** A problem's kind for scripts (--json): "no-abstract", "unreadable" (its papers kept) or "malformed". */
export const kindOf = (p: CorpusProblem, report: Pick<CorpusReport, "unreadable">): NonNullable<CorpusProblem["kind"]> =>
  p.kind ?? (report.unreadable.includes(p.file) ? "unreadable" : "malformed");

/**
 * With --strict, any problem stops the read before anything is written: the error lists every problem
 * (file:line: message, without the "; skipped" a plain read says), and carries them with their kind and
 * the per-file report in `details` for --json.
 */
export function failIfStrict(report: CorpusReport, options: ReadCorpusOptions): void {
  const { problems } = report;
  if (!options.strict || !problems.length) return;
  const lines = problems.map((p) => `  ${printable(p.file)}:${p.line}: ${printable(p.message.replace(/; skipped$/, ""))}`);
  throw new PapersiftError(
    "CORPUS_MALFORMED",
    `stopped by --strict: ${problems.length} problem${problems.length === 1 ? "" : "s"} in the corpus (fix them, or drop --strict to skip them):\n${lines.join("\n")}`,
    { details: { problems: problems.map((p) => ({ ...p, kind: kindOf(p, report) })), files: report.files } },
  );
}
