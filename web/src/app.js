// The runnel dashboard page. It loads /api/pipelines, /api/status and every
// dashboard table once, then lives on /api/stream (server-sent events,
// docs/dashboard.md): a 'status' event redraws the figures of the selected
// pipeline (operator graph, sources, sinks) and a 'tables' event the tables
// that changed. One pipeline is shown at a time (tabs; #p=NAME in the URL).
// A ?token=T in the page's URL is passed on to the API.
// Elements carry data-* attributes with the raw values (data-v on table
// cells, data-updated-ms on result cards, data-status-ms on the body: the
// time_ms of the status shown) so tests can compare them with the
// API without parsing formatted text.

import './style.css';
import { fmtInt, fmtRate, fmtBytes, fmtDuration, fmtClock, fmtBehind, fmtCompact } from './format.js';
import { drawGraph, updateGraph } from './graph.js';
import { makeChart, updateChart, resizeChart, destroyChart } from './charts.js';

const token = new URLSearchParams(location.search).get('token');
const $ = (id) => document.getElementById(id);

const st = {
  pipelines: [],          // /api/pipelines' pipelines, in its order
  status: null,           // the latest /api/status object
  tables: new Map(),      // "pipeline\0name" -> /api/tables/NAME object
  selected: null,         // name of the pipeline shown
  graphOf: null,          // name of the pipeline whose graph is drawn
  graphRefs: null,        // drawGraph()'s node references
  cards: new Map(),       // table key -> {el, chart, cols, shown, charted}
  refetching: false,      // a /api/pipelines reload is under way
};

function url(path) {
  return token ? path + (path.includes('?') ? '&' : '?') + 'token=' + encodeURIComponent(token) : path;
}

async function api(path) {
  const r = await fetch(path, { headers: token ? { Authorization: 'Bearer ' + token } : {} });
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
  return r.json();
}

function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

const tkey = (pipeline, name) => pipeline + '\u0000' + name;

// The pipeline whose dashboard tables a tab shows: a worker (`NAME-w1`,
// with "group": NAME) shows its process's tables, merged by the server.
function ownerOf(name) {
  const p = st.pipelines.find((x) => x.name === name);
  return p ? p.group || p.name : name;
}

// ---------------------------------------------------------------- theme

const THEMES = ['auto', 'dark', 'light'];

function applyTheme(t) {
  if (t === 'auto') delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = t;
  $('theme').textContent = t;
  $('theme').title = t === 'auto' ? 'Theme: follows the system' : `Theme: ${t}`;
  rebuildCharts();
}

function initTheme() {
  let t = 'auto';
  try { t = localStorage.getItem('runnel.theme') || 'auto'; } catch (e) { /* storage off */ }
  if (!THEMES.includes(t)) t = 'auto';
  applyTheme(t);
  $('theme').addEventListener('click', () => {
    const cur = document.documentElement.dataset.theme || 'auto';
    const next = THEMES[(THEMES.indexOf(cur) + 1) % THEMES.length];
    try { localStorage.setItem('runnel.theme', next); } catch (e) { /* storage off */ }
    applyTheme(next);
  });
  matchMedia('(prefers-color-scheme: dark)').addEventListener('change', rebuildCharts);
}

// ---------------------------------------------------------------- tabs

function statusOf(name) {
  return st.status ? st.status.pipelines.find((p) => p.name === name) : null;
}

function renderTabs() {
  const nav = $('tabs');
  const names = st.pipelines.map((p) => p.name);
  if (nav.dataset.names !== names.join('\n')) {
    nav.dataset.names = names.join('\n');
    nav.innerHTML = names.map((n) => `<button type="button" role="tab" data-pipeline="${esc(n)}"><span class="dot"></span>${esc(n)}</button>`).join('');
    for (const b of nav.querySelectorAll('button')) b.addEventListener('click', () => select(b.dataset.pipeline));
  }
  for (const b of nav.querySelectorAll('button')) {
    const s = statusOf(b.dataset.pipeline);
    const p = st.pipelines.find((x) => x.name === b.dataset.pipeline);
    b.querySelector('.dot').className = 'dot ' + ((s && s.state) || (p && p.state) || '');
    b.setAttribute('aria-selected', String(b.dataset.pipeline === st.selected));
  }
}

function select(name) {
  st.selected = name;
  history.replaceState(null, '', '#p=' + encodeURIComponent(name));
  render();
}

// ---------------------------------------------------------------- pipeline

function renderHeader() {
  const s = st.status;
  if (s && s.process) {
    $('uptime').textContent = fmtDuration(s.process.uptime_s);
    $('rss').textContent = fmtBytes(s.process.rss_bytes);
  }
  const p = st.pipelines.find((x) => x.name === st.selected);
  const ps = statusOf(st.selected);
  const state = (ps && ps.state) || (p && p.state) || '';
  const badge = $('pipe-state');
  badge.textContent = state;
  badge.className = 'badge ' + state;
  const err = (ps && ps.error) || (p && p.error);
  $('pipe-error').hidden = !err;
  $('pipe-error').textContent = err || '';
  const facts = [];
  if (p && p.file) facts.push(`<span>${esc(p.file)}</span>`);
  if (ps) {
    const inRate = ps.sources.reduce((a, x) => a + (x.records_per_s || 0), 0);
    const outRate = ps.sinks.reduce((a, x) => a + (x.records_per_s || 0), 0);
    facts.push(`<span>in <b>${fmtRate(inRate)}</b></span>`, `<span>out <b>${fmtRate(outRate)}</b></span>`);
  }
  if (p && p.started_ms) facts.push(`<span>started <b>${fmtClock(p.started_ms)}</b></span>`);
  $('pipe-facts').innerHTML = facts.join('');
}

function renderGraph() {
  const p = st.pipelines.find((x) => x.name === st.selected);
  if (!p) return;
  if (st.graphOf !== p.name) {
    st.graphRefs = drawGraph($('graph'), p.graph || { nodes: [], edges: [] });
    st.graphOf = p.name;
  }
  const ps = statusOf(p.name);
  updateGraph(st.graphRefs, ps ? ps.operators : []);
}

function cell(v, text, cls) {
  return `<td${cls ? ` class="${cls}"` : ''} data-v="${esc(JSON.stringify(v === undefined ? null : v))}">${text}</td>`;
}

// A repartition topic is named runnel.PIPELINE.TABLE-N-repartition: the
// prefix is the same on every row of the pipeline, so it is left out of the
// cell (the whole name is in the cell's tooltip).
function shortName(name, pipeline) {
  const pre = `runnel.${pipeline}.`;
  return typeof name === 'string' && name.startsWith(pre) ? name.slice(pre.length) : name;
}

// A text cell: its text cut with an ellipsis where the column is narrow,
// the whole value in its tooltip.
function textCell(v, text, title) {
  return `<td data-v="${esc(JSON.stringify(v === undefined ? null : v))}" title="${esc(title)}">${text}</td>`;
}

// A count in a narrow column: whole up to digits digits ("1,234,567"),
// compact past them ("12.3M"), the whole figure then in the tooltip.
function countCell(v, digits) {
  if (typeof v !== 'number' || Math.abs(v) < 10 ** digits) return cell(v, v === null ? '<span class="muted">–</span>' : fmtInt(v), 'num');
  return `<td class="num" data-v="${esc(JSON.stringify(v))}" title="${esc(fmtInt(v))}">${fmtCompact(v)}</td>`;
}

function renderSources(ps) {
  const now = st.status && st.status.time_ms;
  const pname = ps ? ps.name : '';
  const head = '<colgroup><col><col class="c-topic"><col class="c-part"><col class="c-rate"><col class="c-count">' +
               '<col class="c-lag"><col class="c-wm"><col class="c-flags"></colgroup>' +
               '<thead><tr><th>table</th><th>topic</th><th class="num" title="partition">part.</th><th class="num">rate</th>' +
               '<th class="num">records</th><th class="num">lag</th><th>watermark</th><th></th></tr></thead>';
  const rows = (ps ? ps.sources : []).map((s) => '<tr>' +
    textCell(s.table, esc(shortName(s.table, pname)), s.table) +
    (s.topic === null ? textCell(s.topic, '<span class="muted">–</span>', 'one entry for the whole table (a file, or a table without a WATERMARK)')
      : s.topic === s.table && shortName(s.table, pname) !== s.table ? textCell(s.topic, '<span class="muted">repartition</span>', s.topic)
        : textCell(s.topic, esc(s.topic), s.topic)) +
    cell(s.partition, s.partition < 0 ? '<span class="muted">–</span>' : fmtInt(s.partition), 'num') +
    cell(s.records_per_s, fmtRate(s.records_per_s), 'num') +
    countCell(s.records, 7) + countCell(s.lag, 5) +
    cell(s.watermark_ms, s.watermark_ms === null ? '<span class="muted">none yet</span>'
      : `${fmtClock(s.watermark_ms)} <span class="muted" title="behind the clock">${fmtBehind(s.watermark_ms, now)}</span>`, 'wm') +
    `<td class="flags">${s.idle ? '<span class="flag idle">idle</span>' : ''}${s.quiet ? '<span class="flag quiet">quiet</span>' : ''}</td></tr>`);
  $('sources').innerHTML = head + '<tbody>' + (rows.join('') || '<tr><td class="empty" colspan="8">no sources</td></tr>') + '</tbody>';
  // the flags' column takes room only while a source has a flag
  $('sources').classList.toggle('no-flags', !(ps && ps.sources.some((s) => s.idle || s.quiet)));
}

function renderSinks(ps) {
  const head = '<colgroup><col><col class="c-conn"><col class="c-rate"><col class="c-count"><col class="c-err"><col class="c-retry"></colgroup>' +
               '<thead><tr><th>table</th><th>connector</th><th class="num">rate</th><th class="num">records</th>' +
               '<th class="num">errors</th><th class="num">retries</th></tr></thead>';
  const rows = (ps ? ps.sinks : []).map((s) => '<tr>' +
    textCell(s.table, esc(s.table), s.table) + textCell(s.connector, esc(s.connector), s.connector) +
    cell(s.records_per_s, fmtRate(s.records_per_s), 'num') + countCell(s.records, 7) +
    (s.errors ? `<td class="num" data-v="${s.errors}" title="${esc(fmtInt(s.errors))}"><span class="bad">${fmtCompact(s.errors)}</span></td>` : cell(s.errors, '0', 'num')) +
    countCell(s.retries, 4) + '</tr>');
  $('sinks').innerHTML = head + '<tbody>' + (rows.join('') || '<tr><td class="empty" colspan="6">no sinks</td></tr>') + '</tbody>';
  const dlq = ps ? ps.dlq_records || 0 : 0;
  $('dlq').innerHTML = `<span>dead letters <b class="${dlq ? 'bad' : ''}" id="dlq-count" data-v="${dlq}">${fmtInt(dlq)}</b></span>`;
}

// ---------------------------------------------------------------- results

function isTimeCol(c) {
  return /^TIMESTAMP/i.test(c.type || '') || /^window_(start|end)$/.test(c.name);
}

function fmtValue(v, col) {
  if (v === null || v === undefined) return '<span class="muted">null</span>';
  if (typeof v === 'number') {
    if (isTimeCol(col)) return fmtClock(v);
    if (/(^|_)id$/i.test(col.name) && Number.isInteger(v)) return String(v); // an identifier, not a quantity
    return fmtInt(v);
  }
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'object') return esc(JSON.stringify(v));
  return esc(v);
}

function isNumCol(c) {
  return /^(TINYINT|SMALLINT|INT|INTEGER|BIGINT|FLOAT|DOUBLE|DECIMAL|REAL)/i.test(c.type || '');
}

function ensureCard(t) {
  const key = tkey(t.pipeline, t.name);
  let c = st.cards.get(key);
  if (c) return c;
  const el = document.createElement('section');
  el.className = 'panel card';
  el.dataset.table = t.name;
  el.dataset.pipeline = t.pipeline;
  el.innerHTML = '<div class="panel-head"><h3></h3><span class="meta"></span></div><div class="chart"></div>' +
                 '<div class="scroll"><table class="grid result"><thead></thead><tbody></tbody></table></div>';
  el.querySelector('h3').textContent = t.name;
  $('results').appendChild(el);
  c = { el, chart: null, cols: '' };
  st.cards.set(key, c);
  return c;
}

// Draws table object t on its card. A card keeps the object it shows
// (c.shown, c.charted): every status event redraws the page, and an
// unchanged table (no 'tables' event for it) is left as it is, so a large
// table costs nothing between its changes.
function renderCard(t) {
  const c = ensureCard(t);
  const chartDiv = c.el.querySelector('.chart');
  const kind = (t.chart && t.chart.kind) || 'none';
  if (c.shown === t && (kind === 'none' || !c.el.isConnected || c.charted === t)) return;
  if (c.shown !== t) renderRows(c, t);
  chartDiv.hidden = kind === 'none';
  c.el.dataset.chart = kind;
  if (!c.el.isConnected || chartDiv.hidden) return;
  if (!c.chart || !updateChart(c.chart, t)) {
    destroyChart(c.chart);
    chartDiv.textContent = '';
    c.chart = makeChart(chartDiv, t);
  }
  c.charted = t;
}

function renderRows(c, t) {
  c.shown = t;
  c.el.dataset.updatedMs = t.updated_ms;
  c.el.dataset.totalRows = t.total_rows;
  const shown = t.rows.length < t.total_rows ? `${fmtInt(t.rows.length)} of ${fmtInt(t.total_rows)} rows` : `${fmtInt(t.total_rows)} rows`;
  c.el.querySelector('.meta').textContent = `${shown} · updated ${fmtClock(t.updated_ms)}`;
  const cols = JSON.stringify(t.columns);
  if (c.cols !== cols) {
    c.cols = cols;
    c.el.querySelector('thead').innerHTML = '<tr>' + t.columns.map((col) =>
      `<th class="${isNumCol(col) ? 'num' : ''}" title="${esc(col.type)}">${esc(col.name)}${(t.key || []).includes(col.name) ? ' <span class="muted">key</span>' : ''}</th>`).join('') + '</tr>';
  }
  c.el.querySelector('tbody').innerHTML = t.rows.map((r) => '<tr>' + r.map((v, i) => isNumCol(t.columns[i])
    ? cell(v, fmtValue(v, t.columns[i]), 'num')
    : textCell(v, fmtValue(v, t.columns[i]), typeof v === 'string' ? v : JSON.stringify(v))).join('') + '</tr>').join('') ||
    `<tr><td class="empty" colspan="${t.columns.length}">no rows yet</td></tr>`;
}

function renderResults() {
  const p = st.pipelines.find((x) => x.name === st.selected);
  const names = p ? p.tables || [] : [];
  const owner = ownerOf(st.selected);
  const box = $('results');
  // Cards of other pipelines leave; those of this one come in its order.
  for (const [key, c] of st.cards) {
    if (c.el.dataset.pipeline !== owner) {
      destroyChart(c.chart);
      c.el.remove();
      st.cards.delete(key);
    }
  }
  let none = box.querySelector('.none');
  if (!names.length) {
    if (!none) box.insertAdjacentHTML('beforeend', '<div class="none">This pipeline has no dashboard tables.</div>');
    return;
  }
  if (none) none.remove();
  for (const n of names) {
    const t = st.tables.get(tkey(owner, n));
    if (t) renderCard(t);
  }
}

function rebuildCharts() {
  for (const c of st.cards.values()) {
    destroyChart(c.chart);
    c.chart = null;
    c.charted = null;
    c.el.querySelector('.chart').textContent = '';
    const t = st.tables.get(tkey(c.el.dataset.pipeline, c.el.dataset.table));
    if (t) renderCard(t);
  }
}

// ---------------------------------------------------------------- data

function render() {
  if (!st.selected || !st.pipelines.some((p) => p.name === st.selected)) {
    st.selected = st.pipelines.length ? st.pipelines[0].name : null;
  }
  renderTabs();
  renderHeader();
  if (!st.selected) return;
  renderGraph();
  const ps = statusOf(st.selected);
  renderSources(ps);
  renderSinks(ps);
  renderResults();
}

function tableQueryName(owner, name) {
  const owners = new Set(st.pipelines.filter((p) => (p.tables || []).includes(name)).map((p) => p.group || p.name));
  return owners.size > 1 ? `${owner}.${name}` : name;
}

async function loadPipelines() {
  const r = await api('api/pipelines');
  st.pipelines = r.pipelines || [];
  const wanted = [...new Map(st.pipelines.flatMap((p) => (p.tables || []).map((n) => [p.group || p.name, n]))
    .map((x) => [tkey(...x), x])).values()].filter(([p, n]) => !st.tables.has(tkey(p, n)));
  const got = await Promise.all(wanted.map(([p, n]) =>
    api('api/tables/' + encodeURIComponent(tableQueryName(p, n))).catch((e) => { console.warn(String(e)); return null; })));
  for (const t of got) if (t) st.tables.set(tkey(t.pipeline, t.name), t);
}

function onStatus(s) {
  st.status = s;
  document.body.dataset.statusMs = s.time_ms;
  const unknown = s.pipelines.some((p) => !st.pipelines.some((x) => x.name === p.name));
  if (unknown && !st.refetching) {
    st.refetching = true;
    loadPipelines().catch((e) => console.warn(String(e))).finally(() => { st.refetching = false; render(); });
  }
  render();
}

function onTables(obj) {
  let mine = false;
  for (const t of Object.values(obj)) {
    st.tables.set(tkey(t.pipeline, t.name), t);
    if (t.pipeline === ownerOf(st.selected)) mine = true;
  }
  if (mine) renderResults();
}

function setConn(state, text) {
  $('conn').dataset.state = state;
  $('conn').querySelector('b').textContent = text;
}

function connect() {
  const es = new EventSource(url('api/stream'));
  es.addEventListener('open', () => setConn('live', 'live'));
  es.addEventListener('error', () => setConn('down', es.readyState === EventSource.CLOSED ? 'disconnected' : 'reconnecting'));
  es.addEventListener('status', (e) => onStatus(JSON.parse(e.data)));
  es.addEventListener('tables', (e) => onTables(JSON.parse(e.data)));
}

async function main() {
  const m = /^#p=(.+)$/.exec(location.hash);
  if (m) st.selected = decodeURIComponent(m[1]);
  initTheme();
  try {
    const [, s] = await Promise.all([loadPipelines(), api('api/status')]);
    st.status = s;
  } catch (e) {
    setConn('down', 'API unreachable');
    console.warn(String(e));
  }
  render();
  connect();
  let last = 0;
  new ResizeObserver(() => {
    const w = $('main').clientWidth;
    if (w === last) return;
    last = w;
    for (const c of st.cards.values()) resizeChart(c.chart);
    st.graphOf = null;
    renderGraph();
  }).observe($('main'));
}

main();
