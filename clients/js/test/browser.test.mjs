// The same upload and collection from a page in headless Chromium: the page and the
// package are served from a loopback server on an ephemeral port (another origin than the
// aggregators', so the requests are cross-origin), and the page sends every measurement
// and collects every task of the "browser" group with the package's browser entry point.
// Chromium is Debian's (/usr/bin/chromium, installed by scripts/setup), driven by
// playwright-core; nothing is downloaded.

import { createServer } from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { MEASUREMENTS, clusterParams, currentInterval, tasksOf } from './support.mjs';

const params = clusterParams();
const CHROMIUM = process.env.EDAP_CHROMIUM ?? '/usr/bin/chromium';
const skip = params === undefined ? 'needs the cluster of tests/js_client.rs' : false;
const PACKAGE = fileURLToPath(new URL('..', import.meta.url));
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm' };

/** Serves the package directory (GET only, no path outside it) on 127.0.0.1, an ephemeral port. */
async function servePackage() {
  const server = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname));
    const file = join(PACKAGE, path);
    if (req.method !== 'GET' || !file.startsWith(PACKAGE) || path.split(sep).includes('..')) {
      res.writeHead(404).end();
      return;
    }
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

describe('the package in headless Chromium', { skip }, () => {
  let server;
  let browser;

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: scripts/setup installs Debian's chromium`);
    server = await servePackage();
    // Playwright starts Chromium with a new, empty profile of its own.
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      timeout: 60_000,
      // This machine has no network: without the background-networking flags Chromium keeps
      // trying to reach Google's services.
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });

  after(async () => {
    await browser?.close();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve()));
  });

  test('a page sends every VDAF x batch mode and its Collector reads them back exactly', { timeout: 300_000 }, async () => {
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    const { port } = server.address();
    await page.goto(`http://127.0.0.1:${port}/test/browser/page.html`);
    await page.waitForFunction(() => window.dap !== undefined, null, { timeout: 60_000 });
    const tasks = tasksOf(params, 'browser').map((t) => ({
      name: t.name,
      params: t.params,
      keyFile: readFileSync(t.keyFile, 'utf8'),
      ms: MEASUREMENTS[t.vdafName].ms.map((m) => (Array.isArray(m) ? m.map((x) => Number(x)) : typeof m === 'bigint' ? Number(m) : m)),
      query: t.params.batchMode === 'time_interval' ? currentInterval(t.params.timePrecisionSeconds) : null,
    }));
    const results = await page.evaluate(
      async ({ tasks, token }) => {
        const { Task, Collector, CollectorKeyPair } = window.dap;
        return Promise.all(
          tasks.map(async (t) => {
            const task = new Task(t.params);
            const first = await task.sendMeasurement(t.ms[0]);
            const rest = await task.sendMeasurements(t.ms.slice(1));
            const key = CollectorKeyPair.fromKeyFile(t.keyFile);
            const c = await new Collector({ task, key, token, pollTimeoutMs: 120000 }).collect(t.query ?? undefined);
            return {
              name: t.name,
              id: task.id,
              accepted: first.accepted + rest.accepted,
              rejected: first.rejected.length + rest.rejected.length,
              reportCount: c.reportCount,
              result: c.result,
              exact: Array.isArray(c.exact) ? c.exact.map(String) : String(c.exact),
            };
          }),
        );
      },
      { tasks, token: params.collectorToken },
    );
    assert.deepEqual(errors, []);
    const groups = tasksOf(params, 'browser');
    assert.equal(results.length, groups.length);
    for (const [i, r] of results.entries()) {
      const t = groups[i];
      const { ms, expected } = MEASUREMENTS[t.vdafName];
      assert.equal(r.id, t.id, r.name);
      assert.equal(r.accepted, ms.length, r.name);
      assert.equal(r.rejected, 0, r.name);
      assert.equal(r.reportCount, ms.length, r.name);
      assert.deepEqual(r.result, expected, r.name);
      assert.deepEqual(r.exact, Array.isArray(expected) ? expected.map(String) : String(expected), r.name);
    }
    await page.close();
  });
});
