// citation-js (https://citation.js.org), loaded on first use: a corpus without BibTeX or RIS files, and
// commands that read no corpus (stats, --help), never pay for loading it. It parses BibTeX (tokenizer,
// @string macros, LaTeX to Unicode, BibTeX name rules) and RIS, and maps both to CSL-JSON.
import { createRequire } from "node:module";

type Chain = (input: unknown, options: { forceType: string; generateGraph?: boolean }) => unknown;

let chainLink: Chain | undefined;

/** One step of citation-js's input chain: `@biblatex/text` → raw entries, `@biblatex/entries+list` → CSL, … */
export function citationJs(input: unknown, forceType: string): unknown {
  if (!chainLink) {
    const require = createRequire(import.meta.url);
    const core = require("@citation-js/core") as { plugins: { input: { chainLink: Chain } } };
    require("@citation-js/plugin-bibtex");
    require("@citation-js/plugin-ris");
    chainLink = core.plugins.input.chainLink;
  }
  return chainLink(input, { forceType, generateGraph: false });
}
