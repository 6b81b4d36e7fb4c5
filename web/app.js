// The papersift page: search, a paper with its related papers, and the corpus map. Plain DOM and canvas,
// no framework and no build step; all text goes in through textContent, never as HTML.
const $ = (id) => document.getElementById(id);
const api = async (path) => {
  const response = await fetch(path);
  const body = await response.json();
  if (!response.ok) throw new Error(body.error?.message ?? response.statusText);
  return body;
};
const el = (tag, className, text) => {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
};
const STOP = new Set("a an and are as at be by for from how in is it of on or that the this to was what when which with".split(" "));
const questionTerms = (q) => new Set((q.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []).filter((t) => t.length > 1 && !STOP.has(t)));

/** The snippet with the question's words marked. */
function snippetNode(text, terms) {
  const node = el("div", "snippet");
  for (const part of text.split(/([\p{L}\p{N}]+)/u)) {
    if (terms.has(part.toLowerCase())) node.append(el("mark", "", part));
    else node.append(document.createTextNode(part));
  }
  return node;
}

function hitList(hits, terms) {
  const list = el("ol");
  for (const hit of hits) {
    const item = el("li", "hit");
    item.dataset.id = hit.id;
    item.append(el("div", "title", hit.title));
    item.append(el("div", "meta", `${hit.score.toFixed(3)}${hit.similarity !== null && hit.similarity !== hit.score ? ` · similarity ${hit.similarity.toFixed(3)}` : ""} · ${hit.source.file}:${hit.source.line}`));
    item.append(snippetNode(hit.snippet, terms));
    item.addEventListener("click", () => openPaper(hit.id));
    list.append(item);
  }
  return list;
}

let lastResults = null;
async function search(q) {
  $("paper").hidden = true;
  const results = $("results");
  results.hidden = false;
  results.replaceChildren(el("p", "empty", "searching…"));
  try {
    const body = await api(`/api/search?${new URLSearchParams({ q, k: "10" })}`);
    lastResults = body;
    results.replaceChildren(el("h2", "", `${body.results.length} papers for “${body.query}”`));
    results.append(body.results.length ? hitList(body.results, questionTerms(body.query)) : el("p", "empty", "no matching papers"));
    map.highlight(new Set(body.results.map((r) => r.id)));
  } catch (error) {
    results.replaceChildren(el("p", "empty", error.message));
  }
}

async function openPaper(id) {
  const panel = $("paper");
  try {
    const [paper, related] = await Promise.all([api(`/api/papers/${encodeURIComponent(id)}`), api(`/api/related/${encodeURIComponent(id)}?k=8`)]);
    panel.replaceChildren();
    if (lastResults) {
      const back = el("div", "back", "← back to results");
      back.addEventListener("click", () => {
        panel.hidden = true;
        $("results").hidden = false;
      });
      panel.append(back);
    }
    panel.append(el("h2", "", paper.title));
    panel.append(el("div", "meta", `${paper.id} · ${paper.source.file}:${paper.source.line}`));
    panel.append(el("p", "abstract", paper.abstract));
    panel.append(el("h2", "", "Related papers"));
    panel.append(hitList(related.results, new Set()));
    panel.dataset.id = paper.id;
    $("results").hidden = true;
    panel.hidden = false;
    $("side").scrollTop = 0;
    map.focus(paper.id);
  } catch (error) {
    panel.replaceChildren(el("p", "empty", error.message));
    panel.hidden = false;
  }
}

// ---- the map ------------------------------------------------------------------------------------------
const PALETTE = ["#4269d0", "#efb118", "#ff725c", "#6cc5b0", "#3ca951", "#ff8ab7", "#a463f2", "#97bbf5", "#9c6b4e", "#9498a0"];
const colour = (topic) => (topic === null ? "#c3c7cf" : PALETTE[(topic - 1) % PALETTE.length]);

const map = (() => {
  const canvas = $("map");
  const ctx = canvas.getContext("2d");
  let data = { points: [], topics: [], clusters: [] };
  let view = { x: 0, y: 0, scale: 1 };
  let hits = new Set();
  let focused = null;
  let hover = null;

  const toScreen = (p) => [(p.x - view.x) * view.scale + canvas.width / 2, (p.y - view.y) * view.scale + canvas.height / 2];
  function fit() {
    if (!data.points.length) return;
    const xs = data.points.map((p) => p.x);
    const ys = data.points.map((p) => p.y);
    const [minX, maxX, minY, maxY] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
    view = { x: (minX + maxX) / 2, y: (minY + maxY) / 2, scale: 0.9 * Math.min(canvas.width / (maxX - minX || 1), canvas.height / (maxY - minY || 1)) };
  }
  function resize() {
    const rect = canvas.getBoundingClientRect();
    canvas.width = Math.max(1, rect.width * devicePixelRatio);
    canvas.height = Math.max(1, rect.height * devicePixelRatio);
  }
  function draw() {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    const base = data.points.length > 3000 ? 3 : 6;
    const r = Math.min(14, base * Math.sqrt(view.scale / initialScale)) * devicePixelRatio;
    const dim = hits.size > 0;
    for (const p of data.points) {
      const [x, y] = toScreen(p);
      if (x < -10 || y < -10 || x > canvas.width + 10 || y > canvas.height + 10) continue;
      ctx.globalAlpha = dim && !hits.has(p.id) ? 0.35 : 0.9;
      ctx.fillStyle = colour(p.topic);
      ctx.beginPath();
      ctx.arc(x, y, r / 2, 0, 2 * Math.PI);
      ctx.fill();
    }
    ctx.globalAlpha = 1;
    for (const p of data.points) {
      if (!hits.has(p.id) && p.id !== focused && p !== hover) continue;
      const [x, y] = toScreen(p);
      ctx.strokeStyle = p.id === focused ? "#111" : "#d62728";
      ctx.lineWidth = 2 * devicePixelRatio;
      ctx.beginPath();
      ctx.arc(x, y, r + 3 * devicePixelRatio, 0, 2 * Math.PI);
      ctx.stroke();
    }
    // Topic labels always; fine cluster labels once zoomed in.
    ctx.textAlign = "center";
    ctx.font = `${12 * devicePixelRatio}px system-ui, sans-serif`;
    const fine = view.scale > initialScale * 2.5;
    for (const label of fine ? data.clusters : data.topics) {
      const [x, y] = toScreen(label);
      const text = fine ? label.label : `${label.id}. ${label.label}`;
      ctx.lineWidth = 3 * devicePixelRatio;
      ctx.strokeStyle = "rgba(255,255,255,.85)";
      ctx.strokeText(text, x, y);
      ctx.fillStyle = fine ? "#333" : colour(label.id);
      ctx.fillText(text, x, y);
    }
  }
  let initialScale = 1;
  let frame = 0;
  const redraw = () => {
    if (!frame) frame = requestAnimationFrame(() => ((frame = 0), draw()));
  };
  function nearest(event) {
    const rect = canvas.getBoundingClientRect();
    const mx = (event.clientX - rect.left) * devicePixelRatio;
    const my = (event.clientY - rect.top) * devicePixelRatio;
    let best = null;
    let bestD = (8 * devicePixelRatio) ** 2;
    for (const p of data.points) {
      const [x, y] = toScreen(p);
      const d = (x - mx) ** 2 + (y - my) ** 2;
      if (d < bestD) [best, bestD] = [p, d];
    }
    return best;
  }
  let drag = null;
  canvas.addEventListener("mousedown", (e) => (drag = { x: e.clientX, y: e.clientY, moved: false }));
  window.addEventListener("mouseup", () => setTimeout(() => (drag = null)));
  canvas.addEventListener("mousemove", (e) => {
    if (drag) {
      const dx = e.clientX - drag.x;
      const dy = e.clientY - drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 2) drag.moved = true;
      view.x -= (dx * devicePixelRatio) / view.scale;
      view.y -= (dy * devicePixelRatio) / view.scale;
      drag.x = e.clientX;
      drag.y = e.clientY;
      redraw();
      return;
    }
    hover = nearest(e);
    const tip = $("tip");
    if (hover) {
      tip.textContent = hover.title;
      tip.style.left = `${e.offsetX + 12}px`;
      tip.style.top = `${e.offsetY + 12}px`;
      tip.style.display = "block";
      canvas.style.cursor = "pointer";
    } else {
      tip.style.display = "none";
      canvas.style.cursor = "grab";
    }
    redraw();
  });
  canvas.addEventListener("click", (e) => {
    if (drag?.moved) return;
    const p = nearest(e);
    if (p) openPaper(p.id);
  });
  canvas.addEventListener("wheel", (e) => {
    e.preventDefault();
    view.scale *= Math.exp(-e.deltaY * 0.0015);
    redraw();
  }, { passive: false });
  window.addEventListener("resize", () => (resize(), fit(), (initialScale = view.scale), redraw()));

  return {
    async load() {
      data = await api("/api/map");
      resize();
      fit();
      initialScale = view.scale;
      draw();
      canvas.dataset.points = String(data.points.length);
      const legend = $("legend");
      legend.replaceChildren(...data.topics.slice(0, 20).map((t) => {
        const row = el("div", "", `■ ${t.id}. ${t.label} (${t.size})`);
        row.style.color = colour(t.id);
        return row;
      }));
    },
    highlight(ids) {
      hits = ids;
      redraw();
    },
    focus(id) {
      focused = id;
      redraw();
    },
    /** For tests and the curious: what is drawn. */
    get state() {
      return { points: data.points.length, hits: hits.size, focused };
    },
  };
})();
window.papersiftMap = map;

$("search").addEventListener("submit", (event) => {
  event.preventDefault();
  const q = $("q").value.trim();
  if (q) search(q);
});

api("/api/stats")
  .then((s) => {
    $("stats").textContent = `${s.papers} papers · ${s.chunks} chunks · ${s.model.id} · last ingest ${new Date(s.lastIngest).toLocaleString()}`;
  })
  .catch((error) => ($("stats").textContent = error.message));
map.load().then(() => document.body.setAttribute("data-ready", "true"), (error) => ($("legend").textContent = error.message));
