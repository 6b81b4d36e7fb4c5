// The papersift command line: parses flags, calls the library, renders text or JSON. No logic of its own.
// Each group of commands registers itself from cli/; this file maps errors to one line and an exit status.
import { Command, CommanderError } from "commander";
import { exitCodeFor } from "./errors.ts";
import { runInterruptHooks } from "./interrupt.ts";
import { registerIngest } from "./cli/ingest.ts";
import { registerQueries } from "./cli/query.ts";
import { registerRecommend } from "./cli/recommend.ts";
import { registerServers } from "./cli/servers.ts";
import { report, setCommand } from "./cli/shared.ts";

// A reader that stops early (`| head -1`) is not an error.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(0);
  throw error;
});

const program = new Command("papersift")
  .description("Local, offline semantic search over a folder of research-paper abstracts.")
  .version("0.1.0")
  .showHelpAfterError("(run with --help for usage)")
  .exitOverride()
  .configureOutput({ outputError: (text, write) => write(`papersift: ${text.replace(/^error: /, "")}`) })
  .hook("preAction", (_, action) => {
    // The whole path ("tag rm"), so that a hint names a command that exists.
    const names: string[] = [];
    for (let c: typeof action | null = action; c?.parent; c = c.parent) names.unshift(c.name());
    setCommand(names.join(" "));
  });

registerIngest(program);
registerQueries(program);
registerRecommend(program);
registerServers(program);

// Ctrl-C: workers end their current step first (interrupt.ts); a second Ctrl-C does not wait.
let interrupted = false;
process.on("SIGINT", () => {
  if (interrupted) process.exit(130);
  interrupted = true;
  process.exitCode = 130;
  void runInterruptHooks().finally(() => process.exit(130));
});
try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    process.exitCode = error.exitCode === 0 ? 0 : 2;
  } else if (!interrupted) {
    report(error);
    process.exitCode = exitCodeFor(error);
  }
}
