// The errors a caller sees against the real Leader: invalid measurements (before any
// request), an unreachable Leader, a wrong task ID, a wrong collector token, and a wrong
// collector key (after which the right key still reads the batch).

import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Collector,
  CollectorKeyPair,
  DecryptError,
  HttpError,
  InvalidMeasurementError,
  NetworkError,
  Task,
} from '@edap/dap';
import { MEASUREMENTS, clusterParams, countingFetch, currentInterval, tasksOf } from './support.mjs';

const params = clusterParams();
const skip = params === undefined ? 'needs the cluster of tests/js_client.rs' : false;

/** A loopback port nothing listens on (bound, then closed). */
async function closedPort() {
  const s = createServer();
  await new Promise((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address();
  await new Promise((resolve) => s.close(resolve));
  return port;
}

describe('errors against the workers', { skip }, () => {
  test('invalid measurements throw before any request, naming index and value', async () => {
    for (const t of tasksOf(params, 'node-js').filter((t) => t.params.batchMode === 'time_interval')) {
      const f = countingFetch();
      const task = new Task(t.params, { fetch: f });
      const { ms, bad } = MEASUREMENTS[t.vdafName];
      for (const value of bad) {
        await assert.rejects(task.sendMeasurements([...ms, value]), (e) => {
          assert.ok(e instanceof InvalidMeasurementError, `${t.vdafName} ${JSON.stringify(value)}: ${e}`);
          assert.equal(e.index, ms.length);
          assert.match(e.message, new RegExp(`^measurement ${ms.length} \\(`));
          return true;
        });
        await assert.rejects(task.sendMeasurement(value), InvalidMeasurementError);
      }
      assert.equal(f.count, 0, `${t.vdafName}: no request for invalid measurements`);
    }
  });

  test('an unreachable Leader is a NetworkError after the retries', async () => {
    const t = tasksOf(params, 'node-js')[0];
    const leader = `http://127.0.0.1:${await closedPort()}/`;
    const f = countingFetch();
    const task = new Task({ ...t.params, leader }, { fetch: f, backoffMs: 10, attempts: 3 });
    await assert.rejects(task.sendMeasurement(MEASUREMENTS[t.vdafName].ms[0]), (e) => {
      assert.ok(e instanceof NetworkError, String(e));
      assert.equal(e.attempts, 3);
      assert.match(e.message, /cannot reach http:\/\/127\.0\.0\.1:\d+\/hpke_config \(3 attempts\)/);
      return true;
    });
    assert.equal(f.urls.filter((u) => u.startsWith(leader)).length, 3);
  });

  test('a wrong task ID: the Leader refuses the upload and the collection', async () => {
    const t = tasksOf(params, 'node-js')[0];
    const id = randomBytes(32).toString('base64url');
    const task = new Task({ ...t.params, id });
    await assert.rejects(task.sendMeasurement(MEASUREMENTS[t.vdafName].ms[0]), (e) => {
      assert.ok(e instanceof HttpError, String(e));
      assert.equal(e.dapError, 'unrecognizedTask');
      assert.match(e.message, /urn:ietf:params:ppm:dap:error:unrecognizedTask/);
      assert.match(e.message, /does not know task/);
      return true;
    });
    const key = CollectorKeyPair.fromKeyFile(readFileSync(t.keyFile, 'utf8'));
    const collector = new Collector({ task, key, token: params.collectorToken });
    await assert.rejects(collector.collect(currentInterval()), (e) => {
      assert.ok(e instanceof HttpError, String(e));
      assert.equal(e.dapError, 'unrecognizedTask');
      assert.match(e.message, /^the Leader refused the collection: HTTP 4\d\d, urn:ietf:params:ppm:dap:error:unrecognizedTask/);
      return true;
    });
  });

  test('a wrong collector token is refused with a hint', async () => {
    const t = tasksOf(params, 'wrong-key')[0];
    const task = new Task(t.params);
    const key = CollectorKeyPair.fromKeyFile(readFileSync(t.keyFile, 'utf8'));
    const collector = new Collector({ task, key, token: 'not-the-token' });
    await assert.rejects(collector.collect(currentInterval()), (e) => {
      assert.ok(e instanceof HttpError, String(e));
      assert.equal(e.status, 403);
      assert.match(e.message, /check the collector token/);
      return true;
    });
  });

  test('a wrong collector key is a DecryptError; the right key then reads the batch', async () => {
    const t = tasksOf(params, 'wrong-key')[0];
    const task = new Task(t.params);
    const { ms, expected } = MEASUREMENTS[t.vdafName];
    assert.equal((await task.sendMeasurements(ms)).accepted, ms.length);
    const q = currentInterval();
    const wrong = new Collector({ task, key: CollectorKeyPair.generate(), token: params.collectorToken, pollTimeoutMs: 120_000 });
    await assert.rejects(wrong.collect(q), (e) => {
      assert.ok(e instanceof DecryptError, String(e));
      assert.match(e.message, /cannot decrypt the leader's aggregate share: wrong collector key/);
      return true;
    });
    // The job is left on the Leader, and the same request finds it again.
    const key = CollectorKeyPair.fromKeyFile(readFileSync(t.keyFile, 'utf8'));
    const right = new Collector({ task, key, token: params.collectorToken, pollTimeoutMs: 120_000 });
    assert.deepEqual((await right.collect(q)).result, expected);
  });
});
