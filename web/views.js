// The views of the page, one per kind of URL. Each takes its URL's parameters and a context
// ({ side, map, current, stats }) and fills the side panel; `current()` is false once the reader has moved
// on, so a slow answer never overwrites a newer view.
import { api, el, hitList, link, metadataNode, paperHref, questionTerms, shown, textNode, topicHref } from "./ui.js";

/** The search fields a URL carries, in the order they appear in it. */
export const SEARCH_FIELDS = ["q", "mode", "category", "since", "until", "author"];

function heading(text) {
  const h = el("h2", "", text);
  h.tabIndex = -1;
  return h;
}

export async function homeView(_params, { side, map, stats, current }) {
  map.setRings([]);
  map.focus(null);
  const s = await stats;
  if (!current()) return null;
  side.replaceChildren(heading("Search the papers"));
  side.append(el("p", "empty", `Ask a question above, or click a point on the map.${s ? ` ${s.papers.toLocaleString("en")} papers.` : ""}`));
  // The topics follow once the map is ready (the first map of a large corpus takes a while).
  map.ready.then((data) => {
    if (!current() || !data.topics.length) return;
    const list = el("ul", "plain");
    for (const t of data.topics.slice(0, 30)) {
      const item = el("li", "hit");
      item.append(link(topicHref(t.id), t.label, "title"), el("div", "meta", `${t.size.toLocaleString("en")} papers`));
      list.append(item);
    }
    side.append(el("h2", "", "Topics"), list);
  });
  return "papersift";
}

export async function searchView(params, { side, map, current }) {
  const q = params.get("q");
  side.replaceChildren(el("p", "empty", "searching…"));
  map.focus(null);
  const query = new URLSearchParams({ k: "10" });
  for (const name of SEARCH_FIELDS) for (const value of params.getAll(name)) if (value) query.append(name, value);
  const body = await api(`/api/search?${query}`);
  if (!current()) return null;
  side.replaceChildren();
  if (body.noStrongMatch && body.results.length) {
    side.append(el("p", "notice", "No strong match in this corpus — closest papers:"));
  }
  side.append(heading(`${body.results.length} papers for “${body.query}”`));
  side.append(body.results.length ? hitList(body.results, questionTerms(body.query), (id) => map.hover(id)) : el("p", "empty", "no matching papers"));
  map.setRings(body.results.map((r) => r.id));
  return `${q} — papersift`;
}

/** The saved set the page's star adds to, and the "For you" view recommends from. */
export const STARRED = "starred";

/** The starred ids in a GET /api/tags answer (an own key only: a set may be named "constructor"). */
const starredIds = (tags) => (tags.tags && Object.hasOwn(tags.tags, STARRED) ? tags.tags[STARRED] : []);

/**
 * A toggle that puts the paper in the starred set or takes it out (PUT / DELETE /api/tags/starred/<id>), and
 * the line that says why when that fails (the button then stays as it was). Returns both, to be shown together.
 */
function starButton(id, starred) {
  const button = el("button", "star");
  button.type = "button";
  const problem = el("p", "star-error");
  problem.setAttribute("role", "alert");
  problem.hidden = true;
  const show = (on) => {
    button.setAttribute("aria-pressed", String(on));
    button.textContent = on ? "★ starred" : "☆ star";
    button.title = on ? "take it out of your starred papers" : "star it: papers like your starred ones are in For you";
  };
  show(starred);
  button.addEventListener("click", async () => {
    const on = button.getAttribute("aria-pressed") !== "true";
    problem.hidden = true;
    try {
      const response = await fetch(`/api/tags/${STARRED}/${encodeURIComponent(id)}`, { method: on ? "PUT" : "DELETE" });
      if (response.ok) return show(on);
      const body = await response.json().catch(() => ({}));
      const error = body.error ?? { message: response.statusText };
      problem.textContent = `${on ? "could not star it" : "could not unstar it"}: ${shown(error.message)}${error.hint ? ` (${shown(error.hint)})` : ""}`;
    } catch (error) {
      problem.textContent = `${on ? "could not star it" : "could not unstar it"}: ${shown(error.message)}`;
    }
    problem.hidden = false;
  });
  return [button, problem];
}

export async function paperView({ id }, { side, map, current, back }) {
  const [paper, related, tags] = await Promise.all([
    api(`/api/papers/${encodeURIComponent(id)}`),
    api(`/api/related/${encodeURIComponent(id)}?k=8`),
    api("/api/tags").catch(() => ({ tags: {} })),
  ]);
  if (!current()) return null;
  side.replaceChildren(back());
  const panel = el("article", "paper");
  panel.dataset.id = paper.id;
  panel.append(heading(paper.title), ...starButton(paper.id, starredIds(tags).includes(paper.id)));
  const biblio = metadataNode(paper);
  if (biblio) panel.append(biblio);
  panel.append(el("div", "meta", `${paper.id} · ${paper.source.file}:${paper.source.line}`));
  panel.append(el("p", "abstract", paper.abstract));
  panel.append(el("h2", "", "Related papers"));
  panel.append(hitList(related.results, new Set(), (hovered) => map.hover(hovered)));
  side.append(panel);
  map.setRings(related.results.map((r) => r.id));
  map.focus(paper.id);
  return `${paper.title} — papersift`;
}

/** One topic: its clusters, largest first, with their papers (from the map, which holds every paper's topic). */
export async function topicView({ id }, { side, map, current, back }) {
  if (!map.data) side.replaceChildren(back(), el("p", "empty", "waiting for the map…"));
  const data = await map.ready;
  if (!current()) return null;
  const topic = data.topics.find((t) => t.id === id);
  side.replaceChildren(back());
  if (!topic) {
    side.append(heading(`No topic ${id}`), el("p", "empty", "The corpus has changed since this link was made."));
    return "papersift";
  }
  map.setRings([]);
  map.focus(null);
  map.showTopic(id);
  side.append(heading(topic.label), el("div", "meta", `${topic.size.toLocaleString("en")} papers · `));
  side.lastChild.append(link("/", "all topics"));
  const members = data.points.filter((p) => p.topic === id);
  const groups = [...data.clusters.filter((c) => c.topic === id), { id: null, label: "not in a cluster", size: 0 }];
  const SHOWN = 300;
  let shown = 0;
  for (const cluster of groups) {
    const papers = members.filter((p) => p.cluster === cluster.id);
    if (!papers.length || shown >= SHOWN) continue;
    side.append(el("h2", "", `${cluster.label} (${papers.length})`));
    const list = el("ul", "plain");
    for (const p of papers.slice(0, SHOWN - shown)) {
      const item = el("li", "hit");
      item.dataset.id = p.id;
      item.append(link(paperHref(p.id), p.title, "title"));
      item.addEventListener("mouseenter", () => map.hover(p.id));
      item.addEventListener("mouseleave", () => map.hover(null));
      list.append(item);
      shown++;
    }
    side.append(list);
  }
  await addMetadata(side, current);
  if (!current()) return null;
  if (members.length > shown) side.append(el("p", "empty", `… and ${(members.length - shown).toLocaleString("en")} more: zoom into the map to see them.`));
  return `${topic.label} — papersift`;
}

/**
 * Authors, year and links under each listed paper, fetched for them all at once (the map, which lists them,
 * carries only ids and titles); the list is shown first and filled in when they come.
 */
async function addMetadata(side, current) {
  const items = [...side.querySelectorAll("li.hit")];
  // Batches of ids short enough for a URL (the server takes at most 8 KB).
  const batches = [[]];
  let length = 0;
  for (const li of items) {
    const param = `id=${encodeURIComponent(li.dataset.id)}`;
    if (length + param.length > 6_000) batches.push([]), (length = 0);
    batches.at(-1).push(param);
    length += param.length + 1;
  }
  try {
    const answers = await Promise.all(batches.filter((b) => b.length).map((b) => api(`/api/papers?${b.join("&")}`)));
    if (!current()) return;
    const byId = new Map(answers.flatMap((a) => a.papers).map((p) => [p.id, p]));
    for (const li of items) {
      const biblio = byId.has(li.dataset.id) ? metadataNode(byId.get(li.dataset.id)) : null;
      if (biblio) li.querySelector("a.title").after(biblio);
    }
  } catch (error) {
    // The list stands without them.
    console.warn(`papersift: no metadata for this list (${error.message})`);
  }
}

/** For you: papers like the starred ones, each with its reason (the starred papers it is like, the terms they share). */
export async function forYouView(_params, { side, map, current }) {
  map.focus(null);
  side.replaceChildren(el("p", "empty", "finding papers like your starred ones…"));
  const tags = await api("/api/tags");
  const starred = starredIds(tags);
  if (!current()) return null;
  side.replaceChildren(heading("For you"));
  if (!starred.length) {
    side.append(el("p", "empty", "Star papers (☆ on a paper's page): papers like them show up here."));
    map.setRings([]);
    return "For you — papersift";
  }
  const body = await api(`/api/recommend?tag=${STARRED}&k=20`);
  if (!current()) return null;
  side.append(el("div", "meta", `like your ${starred.length} starred ${starred.length === 1 ? "paper" : "papers"} · kept in ${tags.file}`));
  const list = el("ol", "hits");
  body.results.forEach((r, i) => {
    const item = el("li", "hit");
    item.dataset.id = r.id;
    const a = link(paperHref(r.id), null, "title");
    a.append(el("span", "rank", `${i + 1}`), textNode(r.title));
    item.append(a);
    const biblio = metadataNode(r);
    if (biblio) item.append(biblio);
    const like = r.reason.closest.map((c) => c.title).join("; ");
    item.append(el("div", "reason", `like ${like}${r.reason.terms.length ? ` · shares ${r.reason.terms.join(", ")}` : ""}`));
    if (r.snippet) item.append(el("div", "snippet", r.snippet));
    item.addEventListener("mouseenter", () => map.hover(r.id));
    item.addEventListener("mouseleave", () => map.hover(null));
    list.append(item);
  });
  side.append(body.results.length ? list : el("p", "empty", "no other papers yet"));
  map.setRings(body.results.map((r) => r.id));
  return "For you — papersift";
}
