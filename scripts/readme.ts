// Writes docs/cli.md, the CLI reference, from the CLI's own --help (npm run readme), so the two cannot drift;
// tests/cli.test.ts fails when they do.
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";

const commands = ["ingest", "search", "related", "clusters", "recommend", "digest", "tag", "tag add", "tag rm", "tag list", "stats", "serve", "mcp"];
const help = (args: string[]) =>
  execFileSync(process.execPath, ["bin/papersift.js", ...args], { encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } }).trim();
const available = help(["--help"]);

const reference = [
  "# papersift command reference",
  "",
  "Generated from `--help` by `npm run readme`; do not edit by hand.",
  "",
  "```",
  available,
  "```",
  ...commands
    .filter((c) => available.includes(`  ${c.split(" ")[0]} `))
    .flatMap((command) => ["", `## ${command}`, "", "```", help([...command.split(" "), "--help"]), "```"]),
  "",
].join("\n");
writeFileSync(new URL("../docs/cli.md", import.meta.url), reference);
