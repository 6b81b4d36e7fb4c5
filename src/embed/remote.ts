// An Embedder whose vectors come from an OpenAI-compatible embeddings endpoint (endpoint.ts), and the
// identity of those vectors. The vendored model of the same name (the "twin") still decides the prefixes,
// the window and the tokenizer the chunker counts with, so a remote bge-small gets exactly the text a local
// one would. Before an ingest trusts an endpoint, both embed PROBE_TEXT: if they agree, questions can be
// embedded locally; if not (or there is no twin), they go to the endpoint too. See docs/architecture.md.
import { PapersiftError } from "../errors.ts";
import { loadEmbedder, type Embedder, type TextKind } from "../embed.ts";
import {
  AGREEMENT,
  DEFAULT_MODEL_DIR,
  describeModel,
  endpointFingerprint,
  PROBE_TEXT,
  twinOf,
  usageFor,
  type EmbedderSource,
  type ModelInfo,
} from "../model.ts";
import { connect, type Endpoint, type EndpointOptions } from "./endpoint.ts";

export interface RemoteEmbedder extends Embedder {
  /** What the index records about where its vectors came from. */
  readonly source: EmbedderSource;
  readonly endpoint: Endpoint;
}

export const isRemote = (embedder: Embedder): embedder is RemoteEmbedder => "source" in embedder;

/** How to reach an endpoint. The key defaults to PAPERSIFT_EMBEDDER_KEY. */
export type RemoteSpec = Omit<EndpointOptions, "model"> & { model?: string | undefined };

const dot = (a: Float32Array, b: Float32Array) => a.reduce((sum, x, i) => sum + x * b[i]!, 0);
const encode = (v: Float32Array) => Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64");
const decode = (s: string) => {
  const bytes = Buffer.from(s, "base64");
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
};

/**
 * A question the endpoint could not embed: the fix names what works from `search` (the ingest's own hint
 * names ingest's options). The address is part of the vectors' identity (endpointFingerprint), so a server
 * that moved is followed only by re-embedding there.
 */
function forQuestions(error: unknown, url: string): unknown {
  if (!(error instanceof PapersiftError && (error.code === "EMBEDDER_UNREACHABLE" || error.code === "EMBEDDER_FAILED"))) return error;
  return new PapersiftError(error.code, error.message, {
    cause: error,
    hint: `start the embedding server at ${url}, or search with --mode lexical (related, recommend and clusters need no server); a server now at another address is reached only by re-embedding there: \`papersift ingest --embedder <url>\``,
  });
}

function remoteEmbedder(
  endpoint: Endpoint,
  tokenizer: Embedder,
  model: ModelInfo,
  source: EmbedderSource,
  hasTwin: boolean,
  /** Questions: a server that is down fails at once (a person is waiting), and `check` runs before the first. */
  forQueries?: { check: () => Promise<void> },
): RemoteEmbedder {
  const check = forQueries?.check;
  // Checked once it succeeds; a failed check (the server was down) is tried again on the next call.
  let checked: Promise<void> | undefined;
  const ready = () =>
    check
      ? (checked ??= check().catch((error: unknown) => {
          checked = undefined;
          throw error;
        }))
      : undefined;
  const tokenize = (text: string) => tokenizer.tokenize(text);
  const prefix = (kind: TextKind) => (kind === "query" ? model.queryPrefix : model.passagePrefix);
  // The twin's window, as the local Embedder truncates. Without a twin the server's own window applies.
  const clip = (text: string): string => {
    if (!hasTwin || tokenize(text).length <= model.maxTokens) return text;
    let [lo, hi] = [0, text.length];
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (tokenize(text.slice(0, mid)).length <= model.maxTokens) lo = mid;
      else hi = mid - 1;
    }
    const cut = text.slice(0, lo);
    const lastSpace = cut.search(/\s\S*$/);
    return lastSpace > 0 ? cut.slice(0, lastSpace) : cut;
  };
  return {
    model,
    source,
    endpoint,
    tokenize,
    modelInput(text, kind = "passage") {
      const ids = tokenize(prefix(kind) + text);
      return ids.length <= model.maxTokens ? ids : [...ids.slice(0, model.maxTokens - 1), ids[ids.length - 1]!];
    },
    async embed(texts, onProgress, kind = "passage") {
      try {
        await ready();
        return await endpoint.embed(texts.map((t) => clip(prefix(kind) + t)), { dims: model.dims, onProgress, interactive: !!forQueries });
      } catch (error) {
        throw forQueries ? forQuestions(error, endpoint.url) : error;
      }
    },
    embedTokenized() {
      throw new Error("an embeddings endpoint takes text: use embed()");
    },
  };
}

function remoteModelInfo(twin: ModelInfo | null, tokenizerDir: string, name: string, dims: number, fingerprint: string): ModelInfo {
  const usage = usageFor(twin?.id ?? name);
  return {
    dir: twin?.dir ?? tokenizerDir,
    id: twin?.id ?? name,
    onnxFile: "",
    quantized: false,
    dims,
    maxTokens: usage.maxTokens,
    pooling: usage.pooling,
    queryPrefix: usage.queryPrefix,
    passagePrefix: usage.passagePrefix,
    lexicalWeight: usage.lexicalWeight,
    fingerprint,
  };
}

/**
 * For an ingest: reach the endpoint, embed PROBE_TEXT there and with the vendored twin, and settle the
 * vectors' identity (EmbedderSource, and a fingerprint from endpointFingerprint). `local` is an Embedder
 * the caller already loaded, reused when it is the twin. `recorded` is what the index recorded last time:
 * the same URL and model whose probe still agrees keeps its fingerprint, so its vectors are reused.
 * Throws EMBEDDER_* (one line) when the endpoint is down, refuses, or answers nonsense.
 */
export async function connectEndpoint(
  spec: RemoteSpec,
  options: { local?: Embedder | undefined; recorded?: EmbedderSource | undefined; defaultModel?: string | undefined } = {},
): Promise<RemoteEmbedder> {
  const name = spec.model ?? options.defaultModel ?? describeModel(DEFAULT_MODEL_DIR).id;
  const endpoint = connect({ ...spec, model: name, key: spec.key ?? process.env.PAPERSIFT_EMBEDDER_KEY });
  const twinDir = twinOf(name);
  const usage = usageFor(twinDir ? describeModel(twinDir).id : name);
  const [remote] = await endpoint.embed([usage.passagePrefix + PROBE_TEXT], { interactive: true });
  const tokenizerDir = twinDir ?? DEFAULT_MODEL_DIR;
  // Without a twin the bundled model is loaded for its tokenizer only: the chunker counts with it.
  const local = options.local?.model.dir === tokenizerDir ? options.local : await loadEmbedder({ model: tokenizerDir });
  let cosine: number | null = null;
  if (twinDir && local.model.dims === remote!.length) cosine = dot(remote!, (await local.embed([PROBE_TEXT]))[0]!);
  const agrees = cosine !== null && cosine >= AGREEMENT;
  const recorded = options.recorded;
  const same =
    recorded?.url === endpoint.url && recorded.model === name && decode(recorded.probe).length === remote!.length && dot(decode(recorded.probe), remote!) >= AGREEMENT;
  const probe = same ? recorded.probe : encode(remote!);
  const localFingerprint = agrees ? local.model.fingerprint : null;
  const source: EmbedderSource = {
    url: endpoint.url,
    model: name,
    probe,
    cosineToLocal: cosine === null ? null : Math.round(cosine * 1e5) / 1e5,
    localFingerprint,
  };
  const fingerprint = endpointFingerprint(localFingerprint, endpoint.url, name, probe);
  const info = remoteModelInfo(twinDir ? local.model : null, tokenizerDir, name, remote!.length, fingerprint);
  return remoteEmbedder(endpoint, local, info, source, !!twinDir);
}

/**
 * What an ingest plans against before it contacts the endpoint (it probes only when it has chunks to embed,
 * so a dry run, or a sync with nothing new, works while the server is down): the index's recorded identity
 * when `url` (as endpointUrl gives it) and `model` are what it recorded, else an unprobed identity that no
 * index has, which plans every paper for re-embedding.
 */
export function presumedEndpoint(
  url: string,
  model: string,
  recorded: { model: { id: string; dims: number; fingerprint: string }; embedder?: EmbedderSource | undefined } | undefined,
): { model: ModelInfo; source: EmbedderSource; recorded: boolean } {
  const twinDir = twinOf(model);
  const twin = twinDir ? describeModel(twinDir) : null;
  if (recorded?.embedder && recorded.embedder.url === url && recorded.embedder.model === model) {
    const info = remoteModelInfo(twin, twinDir ?? DEFAULT_MODEL_DIR, model, recorded.model.dims, recorded.model.fingerprint);
    return { model: { ...info, id: recorded.model.id }, source: recorded.embedder, recorded: true };
  }
  const info = remoteModelInfo(twin, twinDir ?? DEFAULT_MODEL_DIR, model, twin?.dims ?? recorded?.model.dims ?? 0, `${model}@endpoint+unprobed`);
  return { model: info, source: { url, model, probe: "", cosineToLocal: null, localFingerprint: null }, recorded: false };
}

/**
 * For questions to an index whose vectors came from an endpoint that no vendored model agrees with. Before
 * the first question the endpoint embeds PROBE_TEXT again: if its answer moved, the endpoint now runs
 * another model and the index no longer fits it (INDEX_INCOMPATIBLE).
 */
export async function endpointForQueries(
  state: { model: { id: string; dims: number; fingerprint: string }; embedder: EmbedderSource },
  options: { local?: Embedder | undefined } = {},
): Promise<RemoteEmbedder> {
  const source = state.embedder;
  const endpoint = connect({ url: source.url, model: source.model, key: process.env.PAPERSIFT_EMBEDDER_KEY });
  const twinDir = twinOf(source.model) ?? DEFAULT_MODEL_DIR;
  const tokenizer = options.local?.model.dir === twinDir ? options.local : await loadEmbedder({ model: twinDir });
  const hasTwin = twinOf(source.model) !== undefined;
  const info = remoteModelInfo(hasTwin ? tokenizer.model : null, twinDir, source.model, state.model.dims, state.model.fingerprint);
  const recorded = decode(source.probe);
  const check = async () => {
    const [now] = await endpoint.embed([info.passagePrefix + PROBE_TEXT], { dims: recorded.length, interactive: true });
    if (dot(now!, recorded) < AGREEMENT) {
      throw new PapersiftError(
        "INDEX_INCOMPATIBLE",
        `the embedding endpoint ${source.url} no longer embeds as it did when this index was built (its model changed)`,
        { hint: "run `papersift ingest` to re-embed the corpus with it" },
      );
    }
  };
  return remoteEmbedder(endpoint, tokenizer, { ...info, id: state.model.id }, source, hasTwin, { check });
}
