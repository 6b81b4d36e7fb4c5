// The papersift page: a router over a few views (views.js), the corpus map (map.js), and the keyboard.
// Plain DOM and canvas, no framework and no build step.
//
// Every view has a URL, so Back/Forward, bookmarks and a fresh tab all show the same thing:
//   /?q=…&mode=…&category=…&since=…&until=…   search results      /paper/<id>   a paper and its related papers
//   /topic/<id>                               one topic's papers   /            the start page
//   /for-you                                  papers like the starred ones (the star on a paper's page)
// To add a view: write `async function xView(params, context)` in views.js (fill context.side, return the
// page title), add a row to VIEWS below, and add its path to PAGE_ROUTES in src/serve.ts.
import { createMap, topicColour } from "./map.js";
import { $, api, el, link, shown, topicHref } from "./ui.js";
import { forYouView, homeView, paperView, SEARCH_FIELDS, searchView, topicView } from "./views.js";

const VIEWS = [
  { name: "paper", match: (url) => /^\/paper\/(.+)$/.exec(url.pathname) && { id: decodeURIComponent(url.pathname.slice("/paper/".length)) }, render: paperView },
  { name: "topic", match: (url) => /^\/topic\/(\d+)$/.exec(url.pathname) && { id: Number(url.pathname.slice("/topic/".length)) }, render: topicView },
  { name: "for-you", match: (url) => url.pathname === "/for-you" && {}, render: forYouView },
  { name: "search", match: (url) => url.pathname === "/" && url.searchParams.get("q")?.trim() && url.searchParams, render: searchView },
  { name: "home", match: (url) => url.pathname === "/" && url.searchParams, render: homeView },
];

const side = $("side");
const form = $("search");
const map = createMap({ onOpen: (id) => navigate(`/paper/${encodeURIComponent(id)}`) });
const stats = api("/api/stats").catch(() => null);

/** How many entries of this page's own history lie behind the current one (Esc and "back" use it). */
const depth = () => history.state?.depth ?? 0;

function back() {
  const a = depth() > 0 ? el("a", "back", "← back") : link("/", "← start", "back");
  if (depth() > 0) {
    a.href = "#";
    a.addEventListener("click", (e) => (e.preventDefault(), history.back()));
  }
  return a;
}

let token = 0;
async function route() {
  const url = new URL(location.href);
  const mine = ++token;
  // "true" again once this view is drawn (tests and benchmarks wait for it; so does Back's).
  document.body.dataset.ready = "false";
  syncForm(url);
  const view = VIEWS.find((v) => v.match(url));
  document.body.dataset.view = view?.name ?? "none";
  if (view?.name !== "topic") map.showTopic(null);
  markLegend(view?.name === "topic" ? Number(url.pathname.split("/")[2]) : null);
  const hadFocus = side.contains(document.activeElement);
  try {
    if (!view) {
      side.replaceChildren(back(), el("p", "empty", `Nothing lives at ${url.pathname}.`));
      return;
    }
    const title = await view.render(view.match(url), { side, map, stats, back, current: () => mine === token });
    if (mine !== token) return;
    if (title) document.title = shown(title);
    side.scrollTop = 0;
    // Keyboard readers land on the new view's heading; arrows then move through its list.
    if (hadFocus) side.querySelector("h2")?.focus({ preventScroll: true });
  } catch (error) {
    if (mine === token) side.replaceChildren(back(), el("p", "empty", error.message));
  } finally {
    if (mine === token) document.body.dataset.ready = "true";
  }
}

export function navigate(href, { replace = false } = {}) {
  const url = new URL(href, location.href);
  if (url.href === location.href && !replace) return;
  if (replace) history.replaceState({ depth: depth() }, "", url);
  else history.pushState({ depth: depth() + 1 }, "", url);
  route();
}

// ---- the search form mirrors the URL, and submits to one ---------------------------------------------
function syncForm(url) {
  const params = url.pathname === "/" ? url.searchParams : new URLSearchParams();
  $("q").value = params.get("q") ?? "";
  $("mode").value = params.get("mode") ?? "hybrid";
  $("since").value = params.get("since") ?? "";
  $("until").value = params.get("until") ?? "";
  const category = params.get("category") ?? "";
  if (category && ![...$("category").options].some((o) => o.value === category)) $("category").append(new Option(category, category));
  $("category").value = category;
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  if (!form.reportValidity()) return;
  const params = new URLSearchParams();
  for (const name of SEARCH_FIELDS) {
    const value = form.elements[name]?.value?.trim();
    if (value && !(name === "mode" && value === "hybrid")) params.set(name, value);
  }
  if (params.get("q")) navigate(`/?${params}`);
});
// A changed filter re-runs the search in place.
for (const id of ["mode", "category"]) $(id).addEventListener("change", () => $("q").value.trim() && form.requestSubmit());

// In-page links go through the router; a modified click, another origin or a new tab behave as usual.
document.addEventListener("click", (event) => {
  const a = event.target.closest?.("a[href]");
  if (!a || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  if (a.target || a.origin !== location.origin || a.getAttribute("href") === "#") return;
  event.preventDefault();
  navigate(a.href);
});
addEventListener("popstate", route);

// ---- keyboard: / to search, arrows through the list, Enter opens, Esc goes back -----------------------
const typing = (node) => node instanceof HTMLInputElement || node instanceof HTMLSelectElement || node instanceof HTMLTextAreaElement;
document.addEventListener("keydown", (event) => {
  if (event.metaKey || event.ctrlKey || event.altKey) return;
  const active = document.activeElement;
  if (event.key === "/" && !typing(active)) {
    event.preventDefault();
    $("q").focus();
    $("q").select();
  } else if ((event.key === "ArrowDown" || event.key === "ArrowUp") && (active === $("q") || side.contains(active))) {
    const items = [...side.querySelectorAll("a.title")];
    if (!items.length) return;
    event.preventDefault();
    const at = items.indexOf(active);
    const next = event.key === "ArrowDown" ? (at < 0 ? 0 : Math.min(at + 1, items.length - 1)) : at <= 0 ? (at === 0 ? -1 : 0) : at - 1;
    if (next < 0) $("q").focus();
    else items[next].focus();
  } else if (event.key === "Escape") {
    if (typing(active)) return active.blur();
    if (depth() > 0) history.back();
    else if (location.pathname !== "/" || location.search) navigate("/");
  }
});

// ---- the legend: topics, largest first; a click shows one topic -----------------------------------------
function buildLegend(data) {
  const list = $("legend-list");
  list.replaceChildren(...data.topics.map((t) => {
    const a = link(topicHref(t.id), null);
    a.dataset.topic = String(t.id);
    const swatch = el("span", "swatch");
    swatch.style.background = topicColour(t.id);
    a.append(swatch, `${t.label} (${t.size.toLocaleString("en")})`);
    return a;
  }));
  $("legend").querySelector("summary").textContent = `Topics (${data.topics.length})`;
  $("legend").hidden = data.topics.length === 0;
  // Open where it covers little of the map: a wide screen and a short list. Folded, it is one line.
  $("legend").open = matchMedia("(min-width: 721px)").matches && data.topics.length <= 12;
}
function markLegend(topic) {
  for (const a of $("legend-list").querySelectorAll("a")) {
    if (Number(a.dataset.topic) === topic) a.setAttribute("aria-current", "true");
    else a.removeAttribute("aria-current");
  }
}
$("legend").addEventListener("toggle", () => map.draw());

// ---- start -------------------------------------------------------------------------------------------
stats.then((s) => {
  if (!s) return ($("stats").textContent = "the index could not be read");
  $("stats").textContent = `${s.papers.toLocaleString("en")} papers · ${s.chunks.toLocaleString("en")} chunks · ${s.model.id} · last ingest ${new Date(s.lastIngest).toLocaleString()}`;
  // Filters the index can answer: categories and dates where papers have them.
  const select = $("category");
  for (const c of s.categories.slice(0, 200)) if (![...select.options].some((o) => o.value === c.category)) select.append(new Option(`${c.category} (${c.papers.toLocaleString("en")})`, c.category));
  $("category-filter").hidden = s.categories.length === 0;
  $("since-filter").hidden = $("until-filter").hidden = s.dates.papers === 0;
  syncForm(new URL(location.href));
});
map.load().then(
  (data) => {
    buildLegend(data);
    markLegend(document.body.dataset.view === "topic" ? Number(location.pathname.split("/")[2]) : null);
    document.body.dataset.map = "ready";
  },
  (error) => {
    $("map-status").textContent = error.message;
    $("map-status").hidden = false;
  },
);
history.replaceState({ depth: depth() }, "", location.href);
route();
window.papersiftMap = map;
