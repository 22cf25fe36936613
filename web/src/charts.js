// Charts of dashboard tables with uPlot: 'bars' draws the top 10 rows by
// value (x the key column, y the value column), 'line' the value column over
// window_end (rows with the same window_end summed). A chart keeps its uPlot
// instance across updates and is rebuilt only when the theme changes.

import uPlot from 'uplot';
import { fmtCompact, fmtClock } from './format.js';

const TOP = 10;

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

function colIndex(table, name) {
  return table.columns.findIndex((c) => c.name === name);
}

function toMs(v) {
  if (typeof v === 'number') return v;
  const t = Date.parse(typeof v === 'string' && !/[zZ]|[+-]\d\d:?\d\d$/.test(v) ? v.replace(' ', 'T') + 'Z' : v);
  return Number.isNaN(t) ? null : t;
}

/** uPlot's data arrays and the x labels for table's chart; null when it has no chart. */
export function chartData(table) {
  const c = table.chart || { kind: 'none' };
  const xi = colIndex(table, c.x);
  const yi = colIndex(table, c.y);
  if (c.kind === 'none' || xi < 0 || yi < 0) return null;
  if (c.kind === 'bars') {
    const rows = table.rows.filter((r) => typeof r[yi] === 'number').slice().sort((a, b) => b[yi] - a[yi]).slice(0, TOP);
    return { kind: 'bars', labels: rows.map((r) => String(r[xi])), data: [rows.map((_, i) => i), rows.map((r) => r[yi])] };
  }
  const sums = new Map();
  for (const r of table.rows) {
    const x = toMs(r[xi]);
    if (x === null || typeof r[yi] !== 'number') continue;
    sums.set(x, (sums.get(x) || 0) + r[yi]);
  }
  const xs = [...sums.keys()].sort((a, b) => a - b);
  return { kind: 'line', labels: null, data: [xs.map((x) => x / 1000), xs.map((x) => sums.get(x))] };
}

/** A chart of table in div; returns a handle for updateChart(), or null (no chart). */
export function makeChart(div, table) {
  const d = chartData(table);
  if (!d) return null;
  // h.width: the chart's width, kept here so that drawing never reads the
  // layout (a read there would lay out the whole page, its big tables too,
  // once per axis label)
  const h = { kind: d.kind, labels: d.labels, n: d.data[0].length, u: null, div, width: Math.max(200, div.clientWidth) };
  const axis = { stroke: cssVar('--muted'), grid: { stroke: cssVar('--grid'), width: 1 }, ticks: { stroke: cssVar('--grid'), width: 1 },
                 font: '11px system-ui, sans-serif' };
  const y = table.chart.y;
  const opts = {
    width: h.width, height: div.clientHeight || 150,
    legend: { show: false }, cursor: { points: { size: 6 } },
    padding: [8, 8, 0, 0],
  };
  if (d.kind === 'bars') {
    const chars = () => Math.max(4, Math.floor((h.width - 60) / Math.max(1, h.n) / 7));
    opts.scales = { x: { time: false, range: () => [-0.5, Math.max(1, h.n) - 0.5] }, y: { range: (u, lo, hi) => [0, hi > 0 ? hi * 1.1 : 1] } };
    opts.axes = [
      { ...axis, grid: { show: false }, splits: () => h.labels.map((_, i) => i),
        values: (u, splits) => splits.map((i) => { const s = h.labels[i] ?? ''; return s.length > chars() ? s.slice(0, chars() - 1) + '…' : s; }) },
      { ...axis, size: 48, values: (u, splits) => splits.map(fmtCompact) },
    ];
    opts.series = [{}, { label: y, fill: cssVar('--bar'), stroke: cssVar('--bar'), width: 0,
                         paths: uPlot.paths.bars({ size: [0.65, 48] }), points: { show: false } }];
  } else {
    opts.scales = { x: { time: true }, y: { range: (u, lo, hi) => [Math.min(0, lo), hi > 0 ? hi * 1.1 : 1] } };
    opts.axes = [{ ...axis, values: (u, splits) => splits.map((s) => fmtClock(s * 1000)) },
                 { ...axis, size: 48, values: (u, splits) => splits.map(fmtCompact) }];
    const c = cssVar('--series');
    opts.series = [{}, { label: y, stroke: c, width: 2, fill: c + '22', points: { show: true, size: 5, fill: c } }];
  }
  h.u = new uPlot(opts, d.data, div);
  return h;
}

/** New rows for handle h; false when the chart must be rebuilt (its kind changed). */
export function updateChart(h, table) {
  const d = chartData(table);
  if (!d || d.kind !== h.kind) return false;
  h.labels = d.labels;
  h.n = d.data[0].length;
  h.u.setData(d.data, true);
  return true;
}

/** Follows the width of the chart's div. */
export function resizeChart(h) {
  if (!h || !h.u) return;
  h.width = Math.max(200, h.div.clientWidth);
  h.u.setSize({ width: h.width, height: h.div.clientHeight || 150 });
}

export function destroyChart(h) {
  if (h && h.u) h.u.destroy();
}
