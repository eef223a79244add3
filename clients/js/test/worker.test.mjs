// The package in Cloudflare Workers: test/worker/worker.mjs under `wrangler dev --local`
// (loopback, ephemeral ports, its own state directory, its own process group, stopped at
// the end) sends and collects the tasks of the "worker" group.

import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MEASUREMENTS, clusterParams, currentInterval, tasksOf } from './support.mjs';
import { sleep } from './sleep.mjs';

const params = clusterParams();
const skip = params === undefined ? 'needs the cluster of tests/js_client.rs' : false;
const HERE = fileURLToPath(new URL('.', import.meta.url));
const WRANGLER = join(HERE, '../../../node_modules/.bin/wrangler');

async function freePort() {
  const s = createServer();
  await new Promise((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address();
  await new Promise((resolve) => s.close(resolve));
  return port;
}

/** Waits (bounded) until something answers HTTP on the port. */
async function waitForHttp(port, child, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited with ${child.exitCode}`);
    try {
      await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2000) });
      return;
    } catch {
      await sleep(250);
    }
  }
  throw new Error(`wrangler dev did not answer on port ${port} within ${timeoutMs} ms`);
}

describe('the package in a Cloudflare Worker (wrangler dev)', { skip }, () => {
  let child;
  let port;
  let dir;
  let pgidFile;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'edap-js-worker-'));
    port = await freePort();
    const log = openSync(join(dir, 'wrangler.log'), 'w');
    child = spawn(
      WRANGLER,
      ['dev', '--local', '--config', join(HERE, 'worker/wrangler.toml'), '--ip', '127.0.0.1', '--port', String(port),
        '--inspector-port', String(await freePort()), '--persist-to', join(dir, 'state'), '--show-interactive-dev-session=false'],
      {
        cwd: join(HERE, 'worker'),
        detached: true, // its own process group: wrangler and the workerd it starts stop together
        stdio: ['ignore', log, log],
        env: {
          ...process.env,
          WRANGLER_SEND_METRICS: 'false',
          WRANGLER_SEND_ERROR_REPORTS: 'false',
          CLOUDFLARE_CF_FETCH_ENABLED: 'false',
          WRANGLER_HIDE_BANNER: 'true',
        },
      },
    );
    // If this process dies before after() runs, the Rust harness kills the group it names.
    pgidFile = join(params.scratch, `wrangler-${child.pid}.pgid`);
    writeFileSync(pgidFile, `${child.pid}\n`);
    try {
      await waitForHttp(port, child, 90_000);
    } catch (e) {
      throw new Error(`${e.message}\n${readFileSync(join(dir, 'wrangler.log'), 'utf8')}`);
    }
  });

  after(async () => {
    if (child && child.exitCode === null) {
      try {
        process.kill(-child.pid, 'SIGINT');
      } catch {
        // Already gone.
      }
      for (let i = 0; i < 40 && child.exitCode === null; i++) await sleep(250);
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Stopped by SIGINT.
      }
    }
    if (pgidFile) rmSync(pgidFile, { force: true });
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('a worker sends measurements and its Collector reads them back exactly', { timeout: 300_000 }, async () => {
    const tasks = tasksOf(params, 'worker');
    assert.ok(tasks.length > 0);
    const answers = await Promise.all(
      tasks.map(async (t) => {
        const { ms } = MEASUREMENTS[t.vdafName];
        const r = await fetch(`http://127.0.0.1:${port}/`, {
          method: 'POST',
          body: JSON.stringify({
            params: t.params,
            // JSON has no bigint: the worker gets plain numbers.
            measurements: ms.map((m) => (Array.isArray(m) ? m.map(Number) : typeof m === 'bigint' ? Number(m) : m)),
            keyFile: readFileSync(t.keyFile, 'utf8'),
            token: params.collectorToken,
            query: t.params.batchMode === 'time_interval' ? currentInterval(t.params.timePrecisionSeconds) : null,
          }),
          signal: AbortSignal.timeout(200_000),
        });
        return { t, status: r.status, body: await r.json() };
      }),
    );
    for (const { t, status, body } of answers) {
      const { ms, expected } = MEASUREMENTS[t.vdafName];
      assert.equal(status, 200, `${t.name}: ${JSON.stringify(body)}`);
      assert.equal(body.id, t.id);
      assert.deepEqual(body.sent, { accepted: ms.length, rejected: [] });
      assert.equal(body.reportCount, ms.length);
      assert.deepEqual(body.result, expected, t.name);
    }
  });
});
