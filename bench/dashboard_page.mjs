// bench/dashboard_page.mjs - opens and closes the dashboard page in headless
// Chromium for bench/dashboard.py, the way a user watching it would.
//
//   node dashboard_page.mjs       (RUNNEL_WEB_MODULES: scripts/web-test-deps)
//
// Launches Debian's /usr/bin/chromium through playwright-core (as
// tests/web/test_dashboard.mjs does) on a blank page and prints "ready".
// Then reads commands, one a line, on stdin:
//   open URL   opens the dashboard at URL and waits until it is live on
//              /api/stream (#conn[data-state="live"]), then prints "live";
//              it stays open, redrawing its graphs, tables and charts
//              every second;
//   blank      checks that the page is still live, goes to about:blank
//              and prints "blank".
// At the end of stdin the browser is closed and the script exits 0. Any
// failure (a page error included): a message on stderr and exit 1.
import { createRequire } from 'node:module';
import path from 'node:path';
import readline from 'node:readline';

const modules = process.env.RUNNEL_WEB_MODULES;
if (!modules) { console.error('dashboard_page: set RUNNEL_WEB_MODULES (scripts/web-test-deps prints it)'); process.exit(2); }
const { chromium } = createRequire(path.join(modules, 'x.js'))('playwright-core');

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});
let rc = 0;
try {
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  await page.goto('about:blank');
  console.log('ready');
  for await (const line of readline.createInterface({ input: process.stdin })) {
    const [cmd, arg] = line.trim().split(/\s+/);
    if (cmd === 'open') {
      await page.goto(arg);
      await page.waitForSelector('#conn[data-state="live"]', { timeout: 15000 });
      console.log('live');
    } else if (cmd === 'blank') {
      const state = await page.getAttribute('#conn', 'data-state');
      if (state !== 'live') problems.push(`the page was ${state} before it was closed, not live`);
      await page.goto('about:blank');
      console.log('blank');
    } else {
      throw new Error('unknown command: ' + line);
    }
    if (problems.length) throw new Error(problems.join('\n'));
  }
} catch (e) {
  console.error('dashboard_page: ' + (e.stack || e));
  rc = 1;
} finally {
  await browser.close();
}
process.exit(rc);
