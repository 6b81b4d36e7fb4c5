// What the views share: fetching the API, making elements (text always through textContent, never as
// HTML), a paper's metadata line and links, and the list of hits.

export const $ = (id) => document.getElementById(id);

/** GET an API route; a non-2xx answer throws its message. */
export async function api(path) {
  const response = await fetch(path);
  const body = await response.json();
  if (!response.ok) throw new Error(body.error?.message ?? response.statusText);
  return body;
}

/**
 * Text as shown: the characters the CLI drops (src/text.ts: controls such as BEL and ESC, bidi overrides)
 * dropped here too; tabs and line breaks kept (an abstract keeps its paragraphs).
 */
export const shown = (text) => String(text).replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, "");

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = shown(text);
  return node;
}

/** A text node, control characters dropped (see shown). */
export const textNode = (text) => document.createTextNode(shown(text));

/** An in-page link: the router handles the click (see app.js), a modified click opens a tab as usual. */
export function link(href, text, className) {
  const a = el("a", className, text);
  a.href = href;
  return a;
}

export const paperHref = (id) => `/paper/${encodeURIComponent(id)}`;
export const topicHref = (id) => `/topic/${id}`;

const STOP = new Set("a an and are as at be by for from how in is it of on or that the this to was what when which with".split(" "));
export const questionTerms = (q) => new Set((q.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []).filter((t) => t.length > 1 && !STOP.has(t)));

/** The snippet with the question's words marked. */
function snippetNode(text, terms) {
  const node = el("div", "snippet");
  for (const part of text.split(/([\p{L}\p{N}]+)/u)) {
    if (terms.has(part.toLowerCase())) node.append(el("mark", "", part));
    else node.append(textNode(part));
  }
  return node;
}

/** "Ada Lovelace, Alan Turing, Grace Hopper et al." (the first three). */
export function authorLine(authors) {
  if (!Array.isArray(authors) || authors.length === 0) return null;
  return authors.slice(0, 3).join(", ") + (authors.length > 3 ? " et al." : "");
}

/** Links to the paper where it is known: DOI, arXiv, PubMed, or the best link the record gave. */
export function paperLinks(paper) {
  const links = [];
  const add = (href, text) => {
    const a = el("a", "ext", text);
    a.href = href;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    links.push(a);
  };
  if (paper.doi) add(`https://doi.org/${paper.doi}`, `DOI ${paper.doi}`);
  if (paper.arxiv) add(`https://arxiv.org/abs/${paper.arxiv}`, `arXiv:${paper.arxiv}`);
  if (paper.pmid) add(`https://pubmed.ncbi.nlm.nih.gov/${paper.pmid}/`, `PubMed ${paper.pmid}`);
  const shown = new Set(links.map((a) => a.href));
  // The server sends only sound http(s) URLs; a page never throws on one that is not.
  const url = typeof paper.url === "string" && /^https?:\/\//i.test(paper.url) && URL.canParse(paper.url) ? new URL(paper.url).href : null;
  if (url && !shown.has(url)) add(url, "link");
  return links;
}

/** Authors, year and venue on one line, and the links after them; null when the record has none of them. */
export function metadataNode(paper) {
  const parts = [authorLine(paper.authors), paper.date ? String(paper.date).slice(0, 4) : null, paper.venue || null].filter(Boolean);
  const links = paperLinks(paper);
  if (!parts.length && !links.length) return null;
  const node = el("div", "biblio", parts.join(" · "));
  for (const a of links) node.append(node.textContent ? " · " : "", a);
  return node;
}

/** Scores as people read them: the calibrated relevance when the index has one, else the raw score. */
function scoreText(hit) {
  const relevance = typeof hit.relevance === "number" ? `relevance ${Math.round(hit.relevance * 100)} %` : null;
  const raw = `score ${hit.score.toFixed(3)}${hit.similarity !== null && hit.similarity !== hit.score ? ` · similarity ${hit.similarity.toFixed(3)}` : ""}`;
  return [relevance, raw].filter(Boolean).join(" · ");
}

/**
 * Hits as an ordered list of links, rank first. `onHover(id | null)` rings the paper on the map while the
 * pointer or the keyboard focus is on it.
 */
export function hitList(hits, terms, onHover) {
  const list = el("ol", "hits");
  hits.forEach((hit, i) => {
    const item = el("li", "hit");
    item.dataset.id = hit.id;
    const a = link(paperHref(hit.id), null, "title");
    a.append(el("span", "rank", `${i + 1}`), textNode(hit.title));
    item.append(a);
    const biblio = metadataNode(hit);
    if (biblio) item.append(biblio);
    item.append(el("div", "meta", scoreText(hit)));
    if (hit.snippet) item.append(snippetNode(hit.snippet, terms));
    for (const [on, off] of [["mouseenter", "mouseleave"], ["focusin", "focusout"]]) {
      item.addEventListener(on, () => onHover?.(hit.id));
      item.addEventListener(off, () => onHover?.(null));
    }
    list.append(item);
  });
  return list;
}
