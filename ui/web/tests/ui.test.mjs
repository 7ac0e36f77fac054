// Browser tests of weft's UI: Debian's chromium driven by playwright-core against ui/testserver (the UI bundle
// and a Jaeger-compatible API over generated traces, including one of about 100,000 spans). Every page renders
// and its key interactions work; screenshots go to test-results/. Run with `node --test tests/`.
//
// Environment: WEFT_UI_URL uses an already running server (e.g. `weft serve --demo`) instead of starting the
// test server; then WEFT_UI_BIG_TRACE names the large trace to open. CHROMIUM overrides /usr/bin/chromium.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../../..');
const results = path.resolve(here, '../test-results');
fs.mkdirSync(results, { recursive: true });

let server; // the child process, when we started one
let info; // {addr, bigTrace, someTrace, errTrace}
let base;
let browser;
let userDir;
const pageErrors = [];
const outside = [];

async function startServer() {
  if (process.env.WEFT_UI_URL) {
    base = process.env.WEFT_UI_URL.replace(/\/$/, '');
    info = { bigTrace: process.env.WEFT_UI_BIG_TRACE || '' };
    return;
  }
  const bin = path.join(os.tmpdir(), `weft-ui-testserver-${process.pid}`);
  execFileSync('go', ['build', '-o', bin, './ui/testserver'], { cwd: repo, stdio: 'inherit' });
  server = spawn(bin, ['-addr', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  server.on('exit', () => fs.rmSync(bin, { force: true }));
  info = await new Promise((resolve, reject) => {
    let buf = '';
    server.stdout.on('data', (d) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl >= 0) resolve(JSON.parse(buf.slice(0, nl)));
    });
    server.on('exit', (code) => reject(new Error('test server exited with ' + code)));
    // unref: a timer left running would keep the test process alive for up to 120 s after the tests.
    setTimeout(() => reject(new Error('test server did not start in 120 s')), 120000).unref();
  });
  base = 'http://' + info.addr;
}

before(async () => {
  await startServer();
  userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-ui-chromium-'));
  browser = await chromium.launchPersistentContext(userDir, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1440, height: 900 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
  browser.on('page', watch);
});

after(async () => {
  await browser?.close();
  if (server) server.kill();
  if (userDir) fs.rmSync(userDir, { recursive: true, force: true });
});

function watch(page) {
  page.on('pageerror', (e) => pageErrors.push(`${page.url()}: ${e.message}`));
  page.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith(base) && !u.startsWith('data:') && !u.startsWith('blob:')) outside.push(u);
  });
}

async function open(url) {
  const page = await browser.newPage();
  page.setDefaultTimeout(60000);
  await page.goto(base + url);
  return page;
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(results, name + '.png') });
}

async function firstTraceOf(service) {
  const r = await fetch(`${base}/api/traces?service=${service}&limit=5&lookback=2h`);
  const body = await r.json();
  return body.data.map((t) => t.traceID);
}

test('search: results list and scatter plot; a click opens the trace', async () => {
  const page = await open('/search?service=frontend&limit=50&lookback=3h&run=1');
  await page.waitForSelector('tr.result');
  const rows = await page.locator('tr.result').count();
  assert.ok(rows > 5, `expected results, got ${rows}`);
  assert.ok(await page.locator('svg.scatter circle.dotc').count() >= rows);
  assert.ok(await page.locator('tr.result.error').count() > 0, 'traces with errors are marked');
  await shot(page, 'search');
  const id = await page.locator('tr.result').first().getAttribute('data-trace');
  await page.locator('tr.result').first().click();
  await page.waitForURL('**/trace/' + id);
  await page.waitForSelector('.wf-row');
  // A click on the scatter plot opens a trace too.
  await page.goBack();
  await page.waitForSelector('svg.scatter circle.dotc');
  const dotID = await page.locator('svg.scatter circle.dotc').last().getAttribute('data-trace');
  await page.locator('svg.scatter circle.dotc').last().click({ force: true });
  await page.waitForURL('**/trace/' + dotID);
  await page.close();
});

test('search: autocompletion offers keys and values', async () => {
  const page = await open('/search?service=frontend&run=1');
  await page.waitForSelector('tr.result');
  const q = page.locator('input.q-input');
  await q.click();
  await q.pressSequentially('deploy.ver');
  await page.waitForSelector('.ac-item');
  assert.match(await page.locator('.ac-item').first().innerText(), /deploy\.version/);
  await q.press('Enter');
  await q.pressSequentially('= ');
  await page.waitForSelector('.ac-item');
  const values = await page.locator('.ac-item').allInnerTexts();
  assert.ok(values.some((v) => /^v\d/.test(v)), 'values of deploy.version: ' + values.join(','));
  await shot(page, 'search-autocomplete');
  await page.close();
});

test('trace: select a span, collapse a subtree, event view, flame graph', async () => {
  const id = info.someTrace || (await firstTraceOf('frontend'))[0];
  const page = await open('/trace/' + id);
  await page.waitForSelector('.wf-row');
  const before = await page.evaluate(() => document.querySelector('.wf-inner').style.height);
  // Select the second row: the details show its attributes.
  await page.locator('.wf-row .op').nth(1).click();
  await page.waitForSelector('.details.ready .d-title');
  assert.match(await page.locator('.details').innerText(), /ATTRIBUTES \(\d+\)|Attributes \(\d+\)/);
  assert.match(await page.locator('.details').innerText(), /service\.name/);
  assert.match(page.url(), /span=/);
  // Collapse the root's subtree.
  await page.locator('.wf-row .tog').first().click();
  await page.waitForFunction((h) => document.querySelector('.wf-inner').style.height !== h, before);
  const after = await page.evaluate(() => document.querySelector('.wf-inner').style.height);
  assert.equal(after, '24px', 'collapsing the root leaves one row');
  await page.locator('.wf-row .tog').first().click();
  await page.waitForFunction((h) => document.querySelector('.wf-inner').style.height === h, before);
  assert.ok(await page.locator('.wf-row .crit-dot:visible').count() > 0, 'the critical path is marked');
  await shot(page, 'trace');
  await page.click('button[data-mode=events]');
  await page.waitForSelector('.canvas-wrap canvas');
  await page.waitForTimeout(300);
  assert.match(await page.locator('.toolbar').last().innerText(), /execution units/);
  assert.match(page.url(), /view=events/);
  await shot(page, 'trace-events');
  await page.click('button[data-mode=flame]');
  await page.waitForTimeout(300);
  await shot(page, 'trace-flame');
  // Download as OTLP JSON.
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('text=OTLP JSON')]);
  const file = await download.path();
  const otlp = JSON.parse(fs.readFileSync(file, 'utf8'));
  assert.ok(otlp.resourceSpans.length > 0, 'OTLP JSON has resourceSpans');
  await page.close();
});

test('trace: a 100K-span trace is interactive quickly', async () => {
  if (!info.bigTrace) return;
  const page = await browser.newPage();
  page.setDefaultTimeout(120000);
  await page.goto(base + '/trace/' + info.bigTrace, { waitUntil: 'commit' });
  await page.waitForSelector('.wf-row');
  // Scroll to the middle and wait for the rows there (in the page, without a round trip per step), then click one
  // with the mouse: its details must be shown, attributes and all ('ready'). The page notes the frame in which they
  // first are, so the figure does not include the test's own polling.
  const box = await page.evaluate(() => new Promise((resolve) => {
    const s = document.querySelector('.wf-scroll');
    s.scrollTop = s.scrollHeight / 2;
    const mid = s.scrollTop + s.clientHeight / 2;
    const check = () => {
      const there = [...document.querySelectorAll('.wf-row')].some((r) => {
        const m = /translateY\(([0-9.e+]+)px\)/.exec(r.style.transform);
        return m && Math.abs(Number(m[1]) - mid) < s.clientHeight;
      });
      if (!there) return requestAnimationFrame(check);
      window.detailsShown = new Promise((shown) => {
        const mo = new MutationObserver(() => {
          if (!document.querySelector('.details.ready .d-title')) return;
          mo.disconnect();
          requestAnimationFrame(() => shown(performance.now()));
        });
        mo.observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['class'] });
      });
      const b = s.getBoundingClientRect();
      resolve({ x: b.x, y: b.y, width: b.width, height: b.height });
    };
    requestAnimationFrame(check);
  }));
  await page.mouse.click(box.x + 120, box.y + box.height / 2);
  const interactive = await page.evaluate(() => window.detailsShown);
  await page.waitForSelector('.details.ready .d-title');
  const t = await page.evaluate(() => ({
    seen: performance.now(),
    spans: document.querySelector('.trace-head .stats').innerText,
    // How far the selected row is from the middle of the whole waterfall, in rows.
    fromMiddle: (() => {
      const sel = document.querySelector('.wf-row.sel');
      const m = sel && /translateY\(([0-9.e+]+)px\)/.exec(sel.style.transform);
      return m ? Math.abs(Number(m[1]) - document.querySelector('.wf-scroll').scrollHeight / 2) / 24 : Infinity;
    })(),
    marks: Object.fromEntries(performance.getEntriesByType('mark').map((m) => [m.name.replace(/^weft:/, ''), Math.round(m.startTime)])),
    // The API requests: when each started, when its answer began and ended, and the server's own timing.
    requests: performance.getEntriesByType('resource').filter((r) => r.name.includes('/api/')).map((r) => [
      r.name.replace(/^.*\/api\/(weft\/v1\/)?/, '').replace(/[0-9a-f]{16,}/g, '…'), Math.round(r.startTime), Math.round(r.responseStart),
      Math.round(r.responseEnd), r.serverTiming.map((x) => `${x.name} ${Math.round(x.duration)}`).join(', ')]),
  }));
  const spans = Number((/Spans ([\d,]+)/.exec(t.spans) || [])[1]?.replace(/,/g, ''));
  t.interactive = interactive;
  // First rows: the page's own mark, set when the first rows are in the DOM (the test's polling sees them later
  // when the main thread is busy). Interactive: the test scrolled to the middle, clicked a row there with the mouse,
  // and the row's details were on screen (the frame in which they first were; the test saw them at 'seen').
  console.log(`# 100K-span trace (${spans} spans): first rows ${t.marks.rows} ms, interactive (scroll + click answered) ${Math.round(t.interactive)} ms after navigation start (seen by the test at ${Math.round(t.seen)} ms); marks ${JSON.stringify(t.marks)}; requests [path, start, first byte, end, server] ${JSON.stringify(t.requests)}; load average ${os.loadavg()[0].toFixed(1)}`);
  fs.writeFileSync(path.join(results, 'big-trace-timing.json'), JSON.stringify({ ...t, spans, loadavg: os.loadavg() }, null, 2));
  assert.ok(spans >= 90000, 'the large trace has ~100K spans: ' + spans);
  assert.ok(t.fromMiddle < 40, `the clicked row is in the middle of the waterfall: ${t.fromMiddle} rows away`);
  await shot(page, 'trace-100k');
  // Collapse to two levels: far fewer rows, still responsive.
  await page.click('text=Collapse to 2 levels');
  await page.waitForFunction(() => parseInt(document.querySelector('.wf-inner').style.height) < 24 * 1000);
  await page.close();
});

test('aggregate: calling-context tree, request-flow graph, structure groups', async () => {
  const page = await open('/aggregate?service=frontend&lookback=3h&limit=200');
  await page.waitForSelector('table.cct tbody tr');
  assert.ok(await page.locator('table.cct tbody tr').count() > 3);
  assert.ok(await page.locator('table.cct .exemplars a').count() > 0, 'exemplar links');
  await shot(page, 'aggregate-tree');
  await page.click('button[data-tab=graph]');
  await page.waitForSelector('svg.graph g.gnode');
  assert.ok(await page.locator('svg.graph g.gnode').count() >= 5);
  await page.locator('svg.graph g.gnode').nth(1).click();
  await page.waitForSelector('.sidepanel .card-head');
  assert.match(await page.locator('.sidepanel').innerText(), /p99/);
  await shot(page, 'aggregate-graph');
  await page.click('button[data-tab=groups]');
  await page.waitForSelector('table.groups tbody tr');
  await shot(page, 'aggregate-groups');
  // An exemplar opens its trace.
  await page.locator('table.groups .exemplars a').first().click();
  await page.waitForSelector('.wf-row');
  await page.close();
});

test('compare: two populations and two traces', async () => {
  const q = new URLSearchParams({ 'a.service': 'matchmaker', 'a.q': 'deploy.version = "v1"', 'b.service': 'matchmaker', 'b.q': 'deploy.version = "v2"', 'a.lookback': '3h', 'b.lookback': '3h' });
  const page = await open('/compare?' + q);
  await page.waitForSelector('table.cmp tbody tr');
  assert.ok(await page.locator('table.cmp tbody tr').count() > 3);
  assert.match(await page.locator('.card').nth(2).innerText(), /taster/);
  await shot(page, 'compare-populations');
  const ids = await firstTraceOf('matchmaker');
  await page.goto(`${base}/compare?a=${ids[0]}&b=${ids[1]}`);
  await page.waitForSelector('table.cmp-traces tbody tr');
  assert.ok(await page.locator('table.cmp-traces tbody tr').count() > 3);
  await shot(page, 'compare-traces');
  await page.close();
});

test('services: map with edges, operations with histograms that open traces', async () => {
  const page = await open('/services?lookback=3h');
  await page.waitForSelector('svg.graph g.gnode');
  assert.ok(await page.locator('svg.graph g.gnode').count() >= 5);
  assert.ok(await page.locator('svg.graph g.gedge').count() >= 4);
  // The map's head counts what the map draws.
  const nodes = await page.locator('svg.graph g.gnode').count();
  const edges = await page.locator('svg.graph g.gedge').count();
  assert.match(await page.locator('.card-head').first().innerText(), new RegExp(`^Service map\\s+${nodes} services, ${edges} edges, from \\d+ traces`));
  await page.waitForSelector('table.ops .hist div');
  await shot(page, 'services');
  await page.locator('svg.graph g.gnode[data-id=taster]').click();
  await page.waitForFunction(() => document.querySelector('table.ops')?.closest('.card')?.innerText.includes('taster'));
  await page.locator('table.ops .hist div').first().click();
  await page.waitForURL(/\/search\?.*minDuration=/);
  await page.waitForSelector('tr.result, .empty');
  await page.close();
});

test('no page error and nothing loaded from outside the server', () => {
  assert.deepEqual(pageErrors, []);
  assert.deepEqual(outside, []);
});
