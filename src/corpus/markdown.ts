// Markdown: one paper per file. The first `#` heading is the title; everything after it is the abstract.
import type { ReadResult } from "./paper.ts";

export function readMarkdown(text: string, file: string): ReadResult {
  const lines = text.split(/\r\n|\r|\n/);
  const headingAt = lines.findIndex((l) => /^#\s+\S/.test(l));
  if (headingAt < 0) {
    return { entries: [], problems: [{ file, line: 1, message: "no `# Title` heading" }] };
  }
  const title = lines[headingAt]!.replace(/^#\s+/, "").replace(/\s+#+\s*$/, "");
  const abstract = lines.slice(headingAt + 1).join("\n").trim();
  if (!abstract) {
    return { entries: [], problems: [{ file, line: headingAt + 1, message: "no abstract after the title" }] };
  }
  return { entries: [{ title, abstract, source: { file, line: headingAt + 1 } }], problems: [] };
}
