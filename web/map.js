// The corpus map on a canvas: every paper a dot coloured by its topic, pan and zoom (at the cursor, or with
// the +/−/reset buttons), rings with their rank around the hits of a search, a ring that follows the hovered
// result, and topic and cluster labels placed so that none overlaps another or leaves the canvas.
// Drawing is batched: one path per colour, so 14k points cost a few fills per frame, not 14k.
import { $, shown } from "./ui.js";

/** A topic's colour: hues a golden angle apart, so neighbouring ids never look alike. */
export const topicColour = (topic) => (topic === null ? "#b8bcc6" : `hsl(${(topic * 137.508) % 360} 62% 46%)`);
/** The same hue, dark enough to read as text on white. */
const labelColour = (topic) => `hsl(${(topic * 137.508) % 360} 70% 28%)`;

const ZOOM_STEP = 1.6;
/** Cluster labels appear once zoomed in this far past the fitted view. */
const CLUSTER_LABEL_ZOOM = 2.5;
const LABEL_CHARS = 42;

export function createMap({ onOpen }) {
  const canvas = $("map");
  const wrap = $("mapwrap");
  const ctx = canvas.getContext("2d", { alpha: false });
  let dpr = devicePixelRatio || 1;
  let data = null;
  let xs = new Float32Array(0);
  let ys = new Float32Array(0);
  /** Point indices by colour, and the colours: one path each. */
  let buckets = [];
  let indexOf = new Map();
  let view = { x: 0, y: 0, scale: 1 };
  let fitScale = 1;
  let rings = [];
  let hovered = null;
  let focused = null;
  let topic = null;
  const frameTimes = [];
  let resolveReady;
  const ready = new Promise((resolve) => (resolveReady = resolve));

  const width = () => canvas.width;
  const height = () => canvas.height;
  const toScreen = (x, y) => [(x - view.x) * view.scale + width() / 2, (y - view.y) * view.scale + height() / 2];
  const toData = (sx, sy) => [(sx - width() / 2) / view.scale + view.x, (sy - height() / 2) / view.scale + view.y];

  /** Fit the view to a set of points (all, or one topic's), with a margin for labels. */
  function fit(indices) {
    if (!data || !data.points.length) return;
    let [minX, maxX, minY, maxY] = [Infinity, -Infinity, Infinity, -Infinity];
    for (const i of indices ?? data.points.keys()) {
      [minX, maxX, minY, maxY] = [Math.min(minX, xs[i]), Math.max(maxX, xs[i]), Math.min(minY, ys[i]), Math.max(maxY, ys[i])];
    }
    const scale = 0.88 * Math.min(width() / (maxX - minX || 1), height() / (maxY - minY || 1));
    view = { x: (minX + maxX) / 2, y: (minY + maxY) / 2, scale: Math.min(scale, (indices ? 40 : 1) * 0.88 * Math.min(width(), height()) / 200) };
    if (!indices) fitScale = view.scale;
  }

  function resize() {
    const rect = canvas.getBoundingClientRect();
    const atFit = Math.abs(view.scale - fitScale) < 1e-9;
    dpr = devicePixelRatio || 1;
    canvas.width = Math.max(1, Math.round(rect.width * dpr));
    canvas.height = Math.max(1, Math.round(rect.height * dpr));
    if (atFit || !data) fit();
    else fitScale = 0.88 * Math.min(width(), height()) / 200;
  }

  // ---- drawing ----------------------------------------------------------------------------------------
  function dotRadius() {
    const n = data.points.length;
    const base = n > 5000 ? 1.6 : n > 1000 ? 2.4 : 4;
    return Math.min(9, base * Math.sqrt(view.scale / fitScale)) * dpr;
  }

  function drawPoints() {
    const r = dotRadius();
    const [w, h] = [width(), height()];
    const faded = topic !== null || rings.length > 0;
    for (const { colour, indices, topicId } of buckets) {
      const inTopic = topic === null || topicId === topic;
      ctx.globalAlpha = !inTopic ? 0.12 : faded && topic === null ? 0.45 : 0.9;
      ctx.fillStyle = colour;
      ctx.beginPath();
      for (const i of indices) {
        const sx = (xs[i] - view.x) * view.scale + w / 2;
        const sy = (ys[i] - view.y) * view.scale + h / 2;
        if (sx < -r || sy < -r || sx > w + r || sy > h + r) continue;
        // Below 2.5 px a square is indistinguishable from a disc and much cheaper to fill.
        if (r < 2.5 * dpr) ctx.rect(sx - r, sy - r, 2 * r, 2 * r);
        else {
          ctx.moveTo(sx + r, sy);
          ctx.arc(sx, sy, r, 0, 2 * Math.PI);
        }
      }
      ctx.fill();
    }
    ctx.globalAlpha = 1;
  }

  function ring(i, colour, lineWidth, radius) {
    const [sx, sy] = toScreen(xs[i], ys[i]);
    ctx.strokeStyle = colour;
    ctx.lineWidth = lineWidth * dpr;
    ctx.beginPath();
    ctx.arc(sx, sy, radius, 0, 2 * Math.PI);
    ctx.stroke();
    return [sx, sy];
  }

  /** Where each search hit's ring and rank badge go (canvas pixels), best rank last so it is drawn on top. */
  function ringMarks() {
    const r = dotRadius() + 4 * dpr;
    const marks = [];
    for (let rank = rings.length - 1; rank >= 0; rank--) {
      const i = indexOf.get(rings[rank]);
      if (i === undefined) continue;
      const [sx, sy] = toScreen(xs[i], ys[i]);
      const badge = (rank >= 9 ? 10 : 8) * dpr;
      marks.push({ i, rank, sx, sy, r, bx: sx + r + badge - 2 * dpr, by: sy - r - 2 * dpr, badge, hovered: rings[rank] === hovered });
    }
    return marks;
  }

  /** Search hits: a ring each, with the result's rank beside it; the hovered one stands out. */
  function drawRings(marks) {
    ctx.font = `700 ${11 * dpr}px system-ui, sans-serif`;
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    for (const m of marks) {
      const colour = m.hovered ? "#111" : "#d62728";
      ring(m.i, colour, m.hovered ? 3 : 2, m.hovered ? m.r + 3 * dpr : m.r);
      ctx.fillStyle = colour;
      ctx.beginPath();
      ctx.ellipse(m.bx, m.by, m.badge, 8 * dpr, 0, 0, 2 * Math.PI);
      ctx.fill();
      ctx.fillStyle = "#fff";
      ctx.fillText(String(m.rank + 1), m.bx, m.by + 0.5 * dpr);
    }
    const r = dotRadius() + 6 * dpr;
    for (const id of [focused, rings.includes(hovered) ? null : hovered]) {
      const i = id === null ? undefined : indexOf.get(id);
      if (i !== undefined) ring(i, "#111", 3, r);
    }
  }

  const widths = new Map();
  function textWidth(text, font) {
    const key = `${font}|${text}`;
    if (!widths.has(key)) {
      ctx.font = font;
      widths.set(key, ctx.measureText(text).width);
    }
    return widths.get(key);
  }

  /** Screen boxes (canvas pixels) of what floats over the map: labels keep out from under them. */
  function overlayBoxes() {
    const base = canvas.getBoundingClientRect();
    return [...wrap.querySelectorAll(".overlay")].filter((node) => node.offsetParent !== null).map((node) => {
      const r = node.getBoundingClientRect();
      return { x: (r.left - base.left) * dpr, y: (r.top - base.top) * dpr, w: r.width * dpr, h: r.height * dpr };
    });
  }

  /**
   * Labels, biggest topics first, then (zoomed in) the biggest clusters: each goes where its papers are,
   * moved inside the canvas if it would cross an edge, and is left out if it would overlap one already
   * placed or the overlays. So at every zoom the labels shown are the ones that fit.
   */
  function drawLabels(marks) {
    // Rings and their rank badges stay readable: labels keep out of them too.
    const placed = [...overlayBoxes(), ...marks.map((m) => ({ x: m.sx - m.r, y: m.by - 8 * dpr, w: m.bx + m.badge - (m.sx - m.r), h: m.sy + m.r - (m.by - 8 * dpr) }))];
    const pad = 4 * dpr;
    const candidates = data.topics
      .filter((t) => topic === null || t.id === topic)
      .map((t) => ({ ...t, font: `700 ${13 * dpr}px system-ui, sans-serif`, colour: labelColour(t.id) }));
    if (view.scale > fitScale * CLUSTER_LABEL_ZOOM || topic !== null) {
      for (const c of data.clusters) {
        if (c.size < 3 || (topic !== null && c.topic !== topic)) continue;
        candidates.push({ ...c, font: `400 ${11.5 * dpr}px system-ui, sans-serif`, colour: "#2b303b" });
      }
    }
    ctx.textAlign = "left";
    ctx.textBaseline = "middle";
    const shown = [];
    for (const c of candidates) {
      const [sx, sy] = toScreen(c.x, c.y);
      if (sx < 0 || sy < 0 || sx > width() || sy > height()) continue;
      const text = c.label.length > LABEL_CHARS ? `${c.label.slice(0, LABEL_CHARS - 1)}…` : c.label;
      const w = textWidth(text, c.font) + 2 * pad;
      const h = parseFloat(c.font.split(" ")[1]) * 1.25 + pad;
      if (w > width() - 2 * pad) continue;
      // On its papers' centre, else just above or below it.
      const box = [0, -1.1, 1.1, -2.2, 2.2]
        .map((shift) => ({ x: Math.min(Math.max(sx - w / 2, pad), width() - w - pad), y: Math.min(Math.max(sy - h / 2 + shift * h, pad), height() - h - pad), w, h }))
        .find((b) => !placed.some((o) => b.x < o.x + o.w && o.x < b.x + b.w && b.y < o.y + o.h && o.y < b.y + b.h));
      if (!box) continue;
      placed.push(box);
      // A light plate under the text: readable over the densest part of the map.
      ctx.fillStyle = "rgba(255,255,255,.82)";
      ctx.beginPath();
      ctx.roundRect(box.x, box.y, box.w, box.h, 4 * dpr);
      ctx.fill();
      ctx.font = c.font;
      ctx.fillStyle = c.colour;
      ctx.fillText(text, box.x + pad, box.y + box.h / 2);
      shown.push({ text, ...box });
    }
    canvas.dataset.labels = String(shown.length);
    lastLabels = shown;
  }
  let lastLabels = [];

  function draw() {
    const started = performance.now();
    ctx.fillStyle = "#fbfbfc";
    ctx.fillRect(0, 0, width(), height());
    if (data) {
      drawPoints();
      const marks = ringMarks();
      drawLabels(marks);
      drawRings(marks);
    }
    frameTimes.push(performance.now() - started);
    if (frameTimes.length > 600) frameTimes.shift();
  }
  let frame = 0;
  const redraw = () => {
    if (!frame) frame = requestAnimationFrame(() => ((frame = 0), draw()));
  };

  // ---- interaction ------------------------------------------------------------------------------------
  function pointerAt(event) {
    const rect = canvas.getBoundingClientRect();
    return [(event.clientX - rect.left) * dpr, (event.clientY - rect.top) * dpr];
  }
  function nearest(event) {
    if (!data) return null;
    const [mx, my] = pointerAt(event);
    let best = -1;
    let bestD = Math.max(8 * dpr, dotRadius() + 3 * dpr) ** 2;
    for (let i = 0; i < xs.length; i++) {
      if (topic !== null && data.points[i].topic !== topic) continue;
      const [sx, sy] = toScreen(xs[i], ys[i]);
      const d = (sx - mx) ** 2 + (sy - my) ** 2;
      if (d < bestD) [best, bestD] = [i, d];
    }
    return best < 0 ? null : data.points[best];
  }
  function zoomAt(factor, sx, sy) {
    const [dx, dy] = toData(sx, sy);
    view.scale = Math.min(Math.max(view.scale * factor, fitScale * 0.5), fitScale * 400);
    view.x = dx - (sx - width() / 2) / view.scale;
    view.y = dy - (sy - height() / 2) / view.scale;
    redraw();
  }

  const tip = $("tip");
  let drag = null;
  canvas.addEventListener("pointerdown", (e) => {
    drag = { x: e.clientX, y: e.clientY, moved: false };
    canvas.setPointerCapture(e.pointerId);
  });
  canvas.addEventListener("pointerup", (e) => {
    const wasClick = drag && !drag.moved;
    drag = null;
    if (wasClick) {
      const p = nearest(e);
      if (p) onOpen(p.id);
    }
  });
  canvas.addEventListener("pointermove", (e) => {
    if (drag) {
      const [dx, dy] = [e.clientX - drag.x, e.clientY - drag.y];
      if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
      if (!drag.moved) return;
      view.x -= (dx * dpr) / view.scale;
      view.y -= (dy * dpr) / view.scale;
      [drag.x, drag.y] = [e.clientX, e.clientY];
      tip.hidden = true;
      redraw();
      return;
    }
    const p = nearest(e);
    const id = p ? p.id : null;
    if (p) {
      tip.textContent = shown(p.title);
      const rect = canvas.getBoundingClientRect();
      tip.style.left = `${Math.min(e.clientX - rect.left + 12, rect.width - 200)}px`;
      tip.style.top = `${e.clientY - rect.top + 14}px`;
    }
    tip.hidden = !p;
    canvas.style.cursor = p ? "pointer" : "grab";
    if (id !== hovered) {
      hovered = id;
      redraw();
    }
  });
  canvas.addEventListener("pointerleave", () => {
    tip.hidden = true;
    if (hovered !== null && !drag) (hovered = null), redraw();
  });
  canvas.addEventListener("wheel", (e) => {
    e.preventDefault();
    const [sx, sy] = pointerAt(e);
    zoomAt(Math.exp(-e.deltaY * (e.deltaMode === 1 ? 0.05 : 0.0015)), sx, sy);
  }, { passive: false });
  $("zoom-in").addEventListener("click", () => zoomAt(ZOOM_STEP, width() / 2, height() / 2));
  $("zoom-out").addEventListener("click", () => zoomAt(1 / ZOOM_STEP, width() / 2, height() / 2));
  $("zoom-reset").addEventListener("click", () => {
    fit(topic === null ? undefined : topicIndices(topic));
    redraw();
  });
  new ResizeObserver(() => {
    resize();
    draw();
  }).observe(wrap);

  const topicIndices = (id) => [...data.points.keys()].filter((i) => data.points[i].topic === id);

  function setData(map) {
    data = map;
    xs = Float32Array.from(map.points, (p) => p.x);
    ys = Float32Array.from(map.points, (p) => p.y);
    indexOf = new Map(map.points.map((p, i) => [p.id, i]));
    const byTopic = new Map();
    map.points.forEach((p, i) => {
      if (!byTopic.has(p.topic)) byTopic.set(p.topic, []);
      byTopic.get(p.topic).push(i);
    });
    // Unclustered papers first, so that the topics' colours are drawn over them.
    buckets = [...byTopic].sort(([a], [b]) => (a === null ? -1 : b === null ? 1 : a - b)).map(([t, indices]) => ({ topicId: t, colour: topicColour(t), indices: Int32Array.from(indices) }));
    resize();
    fit();
    if (topic !== null) fit(topicIndices(topic));
    canvas.dataset.points = String(map.points.length);
    draw();
  }

  /** Poll while the server lays the map out (202), saying so; then draw it. */
  async function load() {
    const status = $("map-status");
    for (;;) {
      const response = await fetch("/api/map");
      const body = await response.json();
      if (response.status === 200) {
        status.hidden = true;
        setData(body);
        resolveReady(body);
        return body;
      }
      if (!response.ok) throw new Error(body.error?.message ?? response.statusText);
      const phase = { graph: "finding each paper's nearest papers", topics: "finding topics", layout: "laying out" }[body.phase] ?? "starting";
      const percent = body.total ? ` ${Math.round((100 * body.done) / body.total)} %` : "";
      status.textContent = `The map of ${body.papers.toLocaleString("en")} papers is being computed (once per index change): ${phase}${percent}…`;
      status.hidden = false;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }

  return {
    load,
    /** Resolves with the map's data once it is drawn. */
    ready,
    /** Ring these papers (ids in rank order); [] clears. */
    setRings(ids) {
      rings = ids;
      redraw();
    },
    hover(id) {
      hovered = id;
      redraw();
    },
    /** Ring one paper (the open one) and bring it into view if it is off the canvas. */
    focus(id) {
      focused = id;
      const i = id === null ? undefined : indexOf.get(id);
      if (i !== undefined) {
        const [sx, sy] = toScreen(xs[i], ys[i]);
        if (sx < 0 || sy < 0 || sx > width() || sy > height()) [view.x, view.y] = [xs[i], ys[i]];
      }
      redraw();
    },
    /** Show one topic (others faded, the view fitted to it), or all with null. */
    showTopic(id) {
      if (id === topic) return;
      topic = id;
      if (data) {
        if (id === null) fit();
        else fit(topicIndices(id));
      }
      redraw();
    },
    get data() {
      return data;
    },
    /** For tests and benchmarks: what is drawn, where a paper is on screen (CSS pixels), and frame times. */
    get state() {
      return { points: data?.points.length ?? 0, rings: [...rings], hovered, focused, topic, labels: lastLabels.map((l) => ({ ...l })), dpr, scale: view.scale / fitScale };
    },
    screenPosition(id) {
      const i = indexOf.get(id);
      if (i === undefined) return null;
      const rect = canvas.getBoundingClientRect();
      const [sx, sy] = toScreen(xs[i], ys[i]);
      return { x: rect.left + sx / dpr, y: rect.top + sy / dpr };
    },
    frameTimes: () => [...frameTimes],
    draw,
  };
}
