// Regenerates the README's CLI reference from the CLI's own --help (npm run readme), so they cannot drift;
// tests/cli.test.ts fails when they do.
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";

const README = new URL("../README.md", import.meta.url);
const commands = ["ingest", "search", "related", "clusters", "stats"];
const help = (args: string[]) =>
  execFileSync(process.execPath, ["bin/papersift.js", ...args], { encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } }).trim();

const reference = [
  "```",
  help(["--help"]),
  "```",
  ...commands.flatMap((command) => ["", `### ${command}`, "```", help([command, "--help"]), "```"]),
].join("\n");

const text = readFileSync(README, "utf8");
const block = /<!-- cli:start -->[\s\S]*?<!-- cli:end -->/;
if (!block.test(text)) throw new Error("README has no <!-- cli:start --> … <!-- cli:end --> block");
writeFileSync(README, text.replace(block, () => `<!-- cli:start -->\n${reference}\n<!-- cli:end -->`));
