// tests/web/test_dashboard.mjs - the dashboard page in real headless Chromium.
//
//   node test_dashboard.mjs BASE_URL [--table NAME] [--screenshot FILE] [--out DIR]
//
// BASE_URL is a server of docs/dashboard.md's API and page: the fixture
// server (tests/web/fixture_server.py) or `runnel run --http`. Drives Debian's
// /usr/bin/chromium with playwright-core, found in $RUNNEL_WEB_MODULES
// (scripts/web-test-deps prints it). Checks, at 1280x800:
//  - the page loads and goes live with no console error, page error or
//    failed request;
//  - every pipeline's graph has one SVG node per operator of /api/pipelines
//    and one edge per edge, nodes do not overlap, each shows its rates;
//  - the sources, sinks, dead letters and late rows equal /api/status of
//    the same time_ms;
//  - the result table NAME (default: the first dashboard table) holds exactly
//    the rows of /api/tables/NAME of the same updated_ms, numbers formatted
//    as the values, and has its chart;
//  - a change of the table on the server reaches the page within 2 s;
//  - dark and light render (prefers-color-scheme and the toggle), the page
//    has no horizontal scroll bar;
//  - in both themes, every pipeline's sources, sinks and result tables fit
//    their panels (no hidden column), no number or watermark is cut off,
//    and a name cut with an ellipsis has its whole text in its tooltip.
// Saves the screenshot (dark) to --screenshot, and both themes to --out.
import { createRequire } from 'node:module';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

const args = process.argv.slice(2);
const opt = (name, def) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : def; };
const base = (args[0] || '').replace(/\/?$/, '/');
if (!/^https?:\/\//.test(base)) {
  console.error('usage: test_dashboard.mjs BASE_URL [--table NAME] [--screenshot FILE] [--out DIR]');
  process.exit(2);
}
const modules = process.env.RUNNEL_WEB_MODULES;
if (!modules) { console.error('test_dashboard: set RUNNEL_WEB_MODULES (scripts/web-test-deps prints it)'); process.exit(2); }
const { chromium } = createRequire(path.join(modules, 'x.js'))('playwright-core');
const outDir = opt('--out', null);
const shot = opt('--screenshot', null);
const UPDATE_LIMIT_MS = 2000;

async function api(p) {
  const r = await fetch(base + p);
  assert.equal(r.status, 200, `${p}: HTTP ${r.status}`);
  return r.json();
}

function step(what) { console.log('-', what); }

const pipelines = (await api('api/pipelines')).pipelines;
assert.ok(pipelines.length > 0, 'no pipelines');
const tableName = opt('--table', pipelines.flatMap((p) => p.tables || [])[0]);
assert.ok(tableName, 'no dashboard table to check');
const owner = pipelines.find((p) => (p.tables || []).includes(tableName));
assert.ok(owner, `no pipeline has the table ${tableName}`);
const dup = pipelines.filter((p) => (p.tables || []).includes(tableName)).length > 1;
const tablePath = 'api/tables/' + encodeURIComponent(dup ? `${owner.name}.${tableName}` : tableName);

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});
const problems = [];
let failed = false;
try {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: 'dark' });
  const page = await ctx.newPage();
  page.on('console', (m) => { if (m.type() === 'error') problems.push('console: ' + m.text()); });
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  page.on('requestfailed', (r) => { if (!r.url().includes('/api/stream')) problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`); });
  page.on('response', (r) => { if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`); });

  // The tables of pipeline name at 1280 px: no table wider than its panel
  // (a hidden column), no number or watermark cut off, and a name cut
  // with an ellipsis keeps its whole text in the cell's tooltip.
  const checkFit = async (name) => {
    await page.click(`#tabs button[data-pipeline="${name}"]`);
    await page.waitForFunction((n) => document.querySelector('#tabs button[aria-selected="true"]')?.dataset.pipeline === n &&
                                      document.querySelector('#sources tbody tr'), name);
    const f = await page.evaluate(() => {
      const boxes = [...document.querySelectorAll('#sources, #sinks, #results table.result')].map((t) => t.closest('.scroll'));
      const cut = (td) => td.scrollWidth > td.clientWidth + 1;
      const cells = [...document.querySelectorAll('#sources td, #sinks td, #results table.result td')].filter((td) => !td.classList.contains('empty'));
      return {
        wide: boxes.filter((b) => b.scrollWidth > b.clientWidth + 1)
          .map((b) => `${b.querySelector('table').id || b.closest('.card').dataset.table}: ${b.scrollWidth} > ${b.clientWidth}`),
        cutNumbers: cells.filter((td) => (td.classList.contains('num') || td.classList.contains('wm')) && cut(td)).map((td) => td.textContent),
        cutNoTitle: cells.filter((td) => cut(td) && !td.title).map((td) => td.textContent),
        sourceCols: document.querySelectorAll('#sources thead th').length,
        hiddenCols: [...document.querySelectorAll('#sources thead th, #sinks thead th')]
          .filter((th) => th.textContent && th.getBoundingClientRect().width < th.scrollWidth - 1).map((th) => th.textContent),
      };
    });
    assert.deepEqual(f.wide, [], `${name}: tables wider than their panel at 1280`);
    assert.deepEqual(f.cutNumbers, [], `${name}: numbers cut off`);
    assert.deepEqual(f.cutNoTitle, [], `${name}: names cut off without a tooltip`);
    assert.deepEqual(f.hiddenCols, [], `${name}: column headers cut off`);
    assert.equal(f.sourceCols, 8, `${name}: source columns`);
  };

  step('page loads and goes live');
  await page.goto(base + '#p=' + encodeURIComponent(owner.name));
  await page.waitForSelector('#conn[data-state="live"]', { timeout: 10000 });

  step('graphs: one SVG node per operator');
  for (const p of pipelines) {
    await page.click(`#tabs button[data-pipeline="${p.name}"]`);
    await page.waitForFunction((n) => document.querySelector('#tabs button[aria-selected="true"]')?.dataset.pipeline === n, p.name);
    const g = await page.evaluate(() => {
      const nodes = [...document.querySelectorAll('#graph svg g.node')];
      const boxes = nodes.map((n) => n.querySelector('rect.box').getBoundingClientRect());
      let overlaps = 0;
      for (let i = 0; i < boxes.length; i++) {
        for (let j = i + 1; j < boxes.length; j++) {
          const a = boxes[i], b = boxes[j];
          if (a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1) overlaps++;
        }
      }
      return { ids: nodes.map((n) => Number(n.dataset.id)).sort((a, b) => a - b), edges: document.querySelectorAll('#graph svg path.edge').length,
               overlaps, rates: nodes.map((n) => n.querySelector('text.rates').textContent),
               // text sticking out of its box
               spills: nodes.filter((n) => { const b = n.querySelector('rect.box').getBoundingClientRect();
                 return [...n.querySelectorAll('text')].some((t) => t.getBoundingClientRect().right > b.right + 1); }).length };
    });
    assert.deepEqual(g.ids, p.graph.nodes.map((n) => n.id).sort((a, b) => a - b), `${p.name}: graph nodes`);
    assert.equal(g.edges, p.graph.edges.length, `${p.name}: graph edges`);
    assert.equal(g.overlaps, 0, `${p.name}: overlapping nodes`);
    assert.equal(g.spills, 0, `${p.name}: nodes whose text spills out of the box`);
    for (const t of g.rates) assert.match(t, /^(reads |writes )?[\d.,KMB]+\/s( → [\d.,KMB]+\/s)?$/, `${p.name}: node rates "${t}"`);
    console.log(`  ${p.name}: ${g.ids.length} nodes, ${g.edges} edges`);
  }
  step('every column of sources, sinks and results fits at 1280 (dark)');
  for (const p of pipelines) await checkFit(p.name);
  await page.click(`#tabs button[data-pipeline="${owner.name}"]`);

  step('sources, sinks and operators equal /api/status of the same time_ms');
  // waits (in the page, up to 2 s) until the page shows the snapshot of
  // time_ms want or a newer one, then reads it in the same task: what it
  // reads is one snapshot, whatever the stream delivers meanwhile
  const readStatus = (want) => page.evaluate(async (want) => {
    const deadline = Date.now() + 2000;
    while (Number(document.body.dataset.statusMs) < want && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 5));
    const rows = (sel) => [...document.querySelectorAll(sel + ' tbody tr')].filter((tr) => !tr.querySelector('td.empty'))
      .map((tr) => [...tr.querySelectorAll('td[data-v]')].map((td) => JSON.parse(td.dataset.v)));
    return { ms: Number(document.body.dataset.statusMs), sources: rows('#sources'), sinks: rows('#sinks'),
             dlq: Number(document.getElementById('dlq-count').dataset.v),
             late: [...document.querySelectorAll('#graph g.node')].map((g) => [Number(g.dataset.id), Number(g.dataset.late)]) };
  }, want);
  let stMatched = false;
  // a server with several pipelines publishes often: the page may show a
  // newer snapshot by the time it shows this one; many tries, each a fresh pair
  for (let i = 0; i < 300 && !stMatched; i++) {
    const apiSt = await api('api/status');
    const shownSt = await readStatus(apiSt.time_ms);
    if (shownSt.ms !== apiSt.time_ms) { await page.waitForTimeout(30); continue; }
    stMatched = true;
    const ps = apiSt.pipelines.find((p) => p.name === owner.name);
    assert.ok(ps, `${owner.name} not in /api/status`);
    assert.deepEqual(shownSt.sources, ps.sources.map((s) => [s.table, s.topic, s.partition, s.records_per_s, s.records, s.lag, s.watermark_ms]),
                     'sources on the page = /api/status');
    assert.deepEqual(shownSt.sinks, ps.sinks.map((s) => [s.table, s.connector, s.records_per_s, s.records, s.errors, s.retries]),
                     'sinks on the page = /api/status');
    assert.equal(shownSt.dlq, ps.dlq_records, 'dead letters');
    const late = new Map(ps.operators.map((o) => [o.id, o.late_rows]));
    for (const [id, n] of shownSt.late) assert.equal(n, late.get(id) ?? 0, `late rows of operator ${id}`);
    console.log(`  ${ps.sources.length} sources, ${ps.sinks.length} sinks, ${shownSt.late.length} operators match (time_ms ${shownSt.ms})`);
  }
  assert.ok(stMatched, 'the page never showed the time_ms that /api/status had');

  step(`result table ${tableName} equals ${tablePath}`);
  const card = `#results .card[data-table="${tableName}"][data-pipeline="${owner.name}"]`;
  await page.waitForSelector(card);
  const readCard = () => page.$eval(card, (c) => ({
    updated: Number(c.dataset.updatedMs),
    rows: [...c.querySelectorAll('tbody tr')].filter((tr) => !tr.querySelector('td.empty'))
      .map((tr) => [...tr.querySelectorAll('td')].map((td) => ({ v: JSON.parse(td.dataset.v), text: td.textContent }))),
    canvas: c.querySelectorAll('.chart canvas').length, chart: c.dataset.chart,
  }));
  let matched = null;
  // the demo's tables change several times a second: many tries, each a fresh pair
  for (let i = 0; i < 300 && !matched; i++) {
    const [shown, fromApi] = [await readCard(), await api(tablePath)];
    if (shown.updated !== fromApi.updated_ms) { await page.waitForTimeout(30); continue; }
    matched = { shown, fromApi };
  }
  assert.ok(matched, 'the page never showed the updated_ms that the API had');
  const { shown, fromApi } = matched;
  assert.deepEqual(shown.rows.map((r) => r.map((c) => c.v)), fromApi.rows, 'rows on the page = rows of the API');
  fromApi.columns.forEach((col, i) => {
    if (!/INT/.test(col.type)) return;
    for (const r of shown.rows) if (r[i].v !== null) assert.equal(Number(r[i].text.replace(/,/g, '')), r[i].v, `${col.name}: "${r[i].text}"`);
  });
  console.log(`  ${shown.rows.length} rows match (updated_ms ${shown.updated})`);
  assert.equal(shown.chart, fromApi.chart.kind, 'chart kind');
  if (fromApi.chart.kind !== 'none') assert.ok(shown.canvas > 0, 'the chart is drawn');

  step(`an update on the server reaches the page within ${UPDATE_LIMIT_MS} ms`);
  const before = (await readCard()).updated;
  let changedAt = 0, target = 0;
  for (const deadline = Date.now() + 10000; Date.now() < deadline;) {
    const t = await api(tablePath);
    if (t.updated_ms > before) { changedAt = Date.now(); target = t.updated_ms; break; }
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(changedAt, `${tableName} did not change on the server within 10 s`);
  await page.waitForFunction(([sel, u]) => Number(document.querySelector(sel)?.dataset.updatedMs) >= u, [card, target],
                             { timeout: Math.max(1, UPDATE_LIMIT_MS - (Date.now() - changedAt)), polling: 50 });
  console.log(`  shown ${Date.now() - changedAt} ms after the API had it`);

  step('dark and light');
  const bg = () => page.evaluate(() => {
    const m = getComputedStyle(document.body).backgroundColor.match(/\d+/g).map(Number);
    return (0.2126 * m[0] + 0.7152 * m[1] + 0.0722 * m[2]) / 255;
  });
  await page.waitForTimeout(300); // charts drawn after the last update
  assert.ok(await bg() < 0.3, 'prefers-color-scheme: dark gives a dark page');
  const wide = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(wide <= 1280, `the page is ${wide} px wide at 1280`);
  if (shot) { fs.mkdirSync(path.dirname(path.resolve(shot)), { recursive: true }); await page.screenshot({ path: shot }); }
  if (outDir) { fs.mkdirSync(outDir, { recursive: true }); await page.screenshot({ path: path.join(outDir, 'dashboard-dark.png') }); }
  await page.emulateMedia({ colorScheme: 'light' });
  assert.ok(await bg() > 0.7, 'prefers-color-scheme: light gives a light page');
  if (outDir) await page.screenshot({ path: path.join(outDir, 'dashboard-light.png') });
  await page.click('#theme');
  assert.equal(await page.getAttribute('html', 'data-theme'), 'dark', 'the toggle goes to dark');
  assert.ok(await bg() < 0.3, 'the toggle makes a light-preferring page dark');
  await page.click('#theme');
  assert.ok(await bg() > 0.7, 'the toggle makes it light again');
  await page.click('#theme');
  assert.equal(await page.getAttribute('html', 'data-theme'), null, 'the toggle goes back to the system theme');
  step('every column of sources, sinks and results fits at 1280 (light)');
  for (const p of pipelines) await checkFit(p.name);

  assert.deepEqual(problems, [], 'console errors, page errors or failed requests');
  console.log('ok');
} catch (e) {
  failed = true;
  console.error('FAIL:', e.message);
  if (problems.length) console.error('browser problems:\n  ' + problems.join('\n  '));
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
