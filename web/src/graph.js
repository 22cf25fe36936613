// The operator graph as an SVG picture. layoutGraph() is a small layered
// (Sugiyama-style) layout: each node's layer is its longest path from a
// source, nodes in a layer are ordered by the barycentre of their neighbours
// over a few sweeps, and each takes the mean height of its inputs where that
// does not overlap, so chains stay straight. Edges run left to right.
// drawGraph() builds the SVG once per pipeline; updateGraph() only rewrites
// the figures in the nodes on every status event.

import { fmtRate, fmtBytes, fmtCompact } from './format.js';

const SVGNS = 'http://www.w3.org/2000/svg';
export const NODE_W = 126;
export const NODE_H = 74;
const GAP_X = 22;
const GAP_Y = 12;
const PAD = 6;

/** Positions for graph {nodes, edges}: Map id -> {x, y, layer}, plus the width and height. */
export function layoutGraph(graph) {
  const ids = graph.nodes.map((n) => n.id);
  const preds = new Map(ids.map((id) => [id, []]));
  const succs = new Map(ids.map((id) => [id, []]));
  for (const [a, b] of graph.edges) {
    if (!preds.has(a) || !preds.has(b)) continue;
    succs.get(a).push(b);
    preds.get(b).push(a);
  }
  // Layers: longest path from a node without inputs (Kahn's order; nodes on
  // a cycle, which a plan does not have, stay in layer 0).
  const layer = new Map(ids.map((id) => [id, 0]));
  const indeg = new Map(ids.map((id) => [id, preds.get(id).length]));
  const queue = ids.filter((id) => indeg.get(id) === 0);
  while (queue.length) {
    const id = queue.shift();
    for (const s of succs.get(id)) {
      layer.set(s, Math.max(layer.get(s), layer.get(id) + 1));
      indeg.set(s, indeg.get(s) - 1);
      if (indeg.get(s) === 0) queue.push(s);
    }
  }
  const nLayers = Math.max(0, ...layer.values()) + 1;
  const layers = Array.from({ length: nLayers }, () => []);
  for (const id of ids) layers[layer.get(id)].push(id);

  // Order within layers: barycentre sweeps, down then up.
  const pos = new Map();
  const index = () => layers.forEach((l) => l.forEach((id, i) => pos.set(id, i)));
  index();
  const bary = (id, nb) => {
    const ps = nb.get(id);
    return ps.length ? ps.reduce((s, p) => s + pos.get(p), 0) / ps.length : pos.get(id);
  };
  for (let sweep = 0; sweep < 4; sweep++) {
    for (let l = 1; l < nLayers; l++) {
      layers[l].sort((a, b) => bary(a, preds) - bary(b, preds));
      index();
    }
    for (let l = nLayers - 2; l >= 0; l--) {
      layers[l].sort((a, b) => bary(a, succs) - bary(b, succs));
      index();
    }
  }

  // Heights: stacked in the first layer, then the mean of the inputs pushed
  // down just enough not to overlap the node above.
  const y = new Map();
  const step = NODE_H + GAP_Y;
  layers.forEach((l, li) => {
    let prev = -Infinity;
    for (const id of l) {
      const ps = preds.get(id).filter((p) => y.has(p));
      let want = li === 0 || !ps.length ? prev + step : ps.reduce((s, p) => s + y.get(p), 0) / ps.length;
      if (!Number.isFinite(want)) want = 0;
      const v = Math.max(want, prev + step);
      y.set(id, v);
      prev = v;
    }
  });
  const minY = Math.min(0, ...y.values());
  const out = new Map();
  let maxY = 0;
  for (const id of ids) {
    const p = { x: PAD + layer.get(id) * (NODE_W + GAP_X), y: PAD + y.get(id) - minY, layer: layer.get(id) };
    maxY = Math.max(maxY, p.y);
    out.set(id, p);
  }
  return { pos: out, width: PAD * 2 + nLayers * NODE_W + (nLayers - 1) * GAP_X, height: maxY + NODE_H + PAD };
}

/** The CSS colour variable of an operator kind. */
export function kindColor(kind) {
  if (kind === 'Source') return 'var(--k-source)';
  if (kind === 'Sink') return 'var(--k-sink)';
  if (/Join/.test(kind)) return 'var(--k-join)';
  if (/Aggregate/.test(kind)) return 'var(--k-agg)';
  if (/Window|Session/.test(kind)) return 'var(--k-window)';
  if (kind === 'Exchange') return 'var(--k-exchange)';
  return 'var(--k-other)';
}

function el(name, attrs, parent) {
  const e = document.createElementNS(SVGNS, name);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (parent) parent.appendChild(e);
  return e;
}

/** Sets the text of t, cut with an ellipsis to fit width pixels (t must be in the document). */
function fit(t, text, width) {
  t.textContent = text;
  if (!t.getComputedTextLength || t.getComputedTextLength() <= width) return;
  let lo = 0, hi = text.length;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    t.textContent = text.slice(0, mid) + '…';
    if (t.getComputedTextLength() <= width) lo = mid; else hi = mid - 1;
  }
  t.textContent = text.slice(0, lo) + '…';
}

/**
 * Draws graph into container (replacing what it held), scaled down to the
 * container's width where that keeps the text readable, else scrollable.
 * Returns a Map id -> {g, line3, line4, line5} for updateGraph().
 */
export function drawGraph(container, graph) {
  container.textContent = '';
  const { pos, width, height } = layoutGraph(graph);
  const avail = container.clientWidth || width;
  const scale = Math.max(0.72, Math.min(1, avail / width));
  const svg = el('svg', {
    viewBox: `0 0 ${width} ${height}`, width: Math.round(width * scale), height: Math.round(height * scale),
    role: 'img', 'aria-label': 'operator graph',
  }, container);
  const defs = el('defs', {}, svg);
  const marker = el('marker', { id: 'arrow', viewBox: '0 0 8 8', refX: 7, refY: 4, markerWidth: 7, markerHeight: 7, orient: 'auto' }, defs);
  el('path', { d: 'M0,0 L8,4 L0,8 z', class: 'arrow' }, marker);
  const edges = el('g', { class: 'edges' }, svg);
  for (const [a, b] of graph.edges) {
    const pa = pos.get(a);
    const pb = pos.get(b);
    if (!pa || !pb) continue;
    const x1 = pa.x + NODE_W, y1 = pa.y + NODE_H / 2, x2 = pb.x - 1, y2 = pb.y + NODE_H / 2;
    const mx = (x1 + x2) / 2;
    el('path', { class: 'edge', d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}`, 'marker-end': 'url(#arrow)' }, edges);
  }
  const refs = new Map();
  for (const n of graph.nodes) {
    const p = pos.get(n.id);
    const g = el('g', { class: 'node', 'data-id': n.id, 'data-kind': n.kind, transform: `translate(${p.x},${p.y})` }, svg);
    el('title', {}, g).textContent = `#${n.id} ${n.kind}: ${n.label}`;
    el('rect', { class: 'box', width: NODE_W, height: NODE_H, rx: 6 }, g);
    el('rect', { class: 'band', width: 4, height: NODE_H - 8, x: 3, y: 4, rx: 2, fill: kindColor(n.kind) }, g);
    fit(el('text', { class: 'kind', x: 12, y: 15 }, g), n.kind, NODE_W - 18);
    fit(el('text', { class: 'sub', x: 12, y: 28 }, g), n.label || '', NODE_W - 18);
    const line3 = el('text', { class: 'rates', x: 12, y: 42 }, g);
    const line4 = el('text', { class: 'sub state', x: 12, y: 55 }, g);
    const line5 = el('text', { class: 'sub late', x: 12, y: 68 }, g);
    refs.set(n.id, { g, line3, line4, line5 });
  }
  return refs;
}

/** Sets the text of t, squeezed to the node's width where it is longer. */
function squeeze(t, text) {
  t.textContent = text;
  t.removeAttribute('textLength');
  if (t.getComputedTextLength && t.getComputedTextLength() > NODE_W - 18) {
    t.setAttribute('textLength', NODE_W - 18);
    t.setAttribute('lengthAdjust', 'spacingAndGlyphs');
  }
}

/** Writes the figures of the operators (status' operators array) into the nodes. */
export function updateGraph(refs, operators) {
  const byId = new Map((operators || []).map((o) => [o.id, o]));
  for (const [id, r] of refs) {
    const o = byId.get(id);
    if (!o) {
      squeeze(r.line3, '–');
      squeeze(r.line4, '');
      squeeze(r.line5, '');
      continue;
    }
    const kind = r.g.dataset.kind;
    squeeze(r.line3, kind === 'Source' ? `reads ${fmtRate(o.rows_out_per_s)}`
      : kind === 'Sink' ? `writes ${fmtRate(o.rows_in_per_s)}` : `${fmtRate(o.rows_in_per_s)} → ${fmtRate(o.rows_out_per_s)}`);
    squeeze(r.line4, o.state_bytes || o.state_keys ? `${fmtBytes(o.state_bytes)} · ${fmtCompact(o.state_keys)} keys`
                                                   : `${fmtCompact(o.rows_out)} rows out`);
    squeeze(r.line5, o.late_rows > 0 ? `${fmtCompact(o.late_rows)} late rows` : '');
    r.g.classList.toggle('late', o.late_rows > 0);
    r.g.setAttribute('data-late', o.late_rows || 0);
  }
}
