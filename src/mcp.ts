// papersift mcp: the Model Context Protocol over stdio, for AI assistants. Four tools over one open index,
// with zod input schemas (the library's own filter fields) and the same JSON as the CLI and the HTTP API.
// stdout carries only protocol messages; anything for people goes to stderr.
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { z } from "zod";
import { PapersiftError } from "./errors.ts";
import type { PapersiftIndex } from "./index.ts";
import { FilterFields } from "./query/filter.ts";

type ToolResult = { content: { type: "text"; text: string }[]; isError?: boolean };

/** A tool's answer as JSON text; a mistake the caller can fix as an error result saying how. */
async function answer(work: () => unknown): Promise<ToolResult> {
  try {
    return { content: [{ type: "text", text: JSON.stringify(await work()) }] };
  } catch (error) {
    if (!(error instanceof PapersiftError)) throw error;
    return { content: [{ type: "text", text: `${error.message} (${error.code}; ${error.hint})` }], isError: true };
  }
}

export function createMcpServer(index: PapersiftIndex, version: string): McpServer {
  const server = new McpServer({ name: "papersift", version });
  const k = z.number().int().min(1).max(100).optional().describe("how many papers to return (default 10)");
  server.registerTool(
    "search_papers",
    {
      title: "Search papers",
      description: "Find the papers in the user's local corpus that best answer a question in plain language. Returns ids, titles, scores, each paper's estimated chance of being relevant (relevance, 0..1), the best-matching snippet and where each paper is; noStrongMatch is true when no result is likely relevant.",
      inputSchema: { query: z.string().min(1).describe("the question, in plain language"), k, mode: z.enum(["hybrid", "dense", "lexical"]).optional(), ...FilterFields },
    },
    ({ query, ...options }) => answer(async () => {
      const { query: q, mode, noStrongMatch, results } = await index.search(query, options);
      return { query: q, mode, noStrongMatch, results };
    }),
  );
  server.registerTool(
    "related_papers",
    {
      title: "Related papers",
      description: "Papers most similar to a given paper of the corpus (by id, exact title, or an unambiguous part of a title).",
      inputSchema: { paper: z.string().min(1).describe("paper id or title"), k, ...FilterFields },
    },
    ({ paper, ...options }) => answer(() => index.related(paper, options)),
  );
  server.registerTool(
    "get_paper",
    {
      title: "Get paper",
      description: "The full title, abstract, source and metadata of one paper (by id, exact title, or an unambiguous part of a title).",
      inputSchema: { id: z.string().min(1).describe("paper id or title") },
    },
    ({ id }) => answer(() => index.paper(id)),
  );
  server.registerTool(
    "list_clusters",
    {
      title: "List topics and clusters",
      description: "The corpus grouped into topics, each split into clusters of highly similar papers, with labels and members.",
      inputSchema: {
        threshold: z.number().min(-1).max(1).optional().describe("fine clusters: minimum mean cosine similarity (default 0.6)"),
        resolution: z.number().positive().max(100).optional().describe("topics: Louvain resolution, higher gives more, smaller topics (default: 1 up to 1,000 papers, rising to 3 at 10,000)"),
        ...FilterFields,
      },
    },
    (options) => answer(() => index.clusters(options)),
  );
  return server;
}

/** Serve MCP on stdin/stdout until the client disconnects. */
export async function runMcp(index: PapersiftIndex, version: string): Promise<void> {
  const server = createMcpServer(index, version);
  const transport = new StdioServerTransport();
  const closed = new Promise<void>((resolve) => (transport.onclose = resolve));
  process.stdin.on("end", () => void server.close());
  await server.connect(transport);
  await closed;
}
