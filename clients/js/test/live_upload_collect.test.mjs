// Upload from Node and collect, against the Leader and Helper the Rust harness started:
// every VDAF x batch mode, collected by the JS Collector and by `edap collect`, exactly.

import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { promisify } from 'node:util';
import { Collector, CollectorKeyPair, Task } from '@edap/dap';
import { MEASUREMENTS, clusterParams, currentInterval, tasksOf } from './support.mjs';

const params = clusterParams();
const skip = params === undefined ? 'needs the cluster of tests/js_client.rs' : false;

/** Builds the task from its parameters (checking it matches what was provisioned) and uploads. */
async function upload(t) {
  const task = new Task(t.params);
  assert.equal(task.id, t.id, 'the task ID derived from the parameters');
  assert.equal(task.encodedConfig, t.encodedConfig, 'the TaskConfiguration built from the parameters');
  const same = Task.fromEncoded(t.encodedConfig, t.id);
  assert.deepEqual(same.config, task.config);
  const { ms } = MEASUREMENTS[t.vdafName];
  const first = await task.sendMeasurement(ms[0]);
  assert.deepEqual(first, { accepted: 1, rejected: [] });
  const rest = await task.sendMeasurements(ms.slice(1));
  assert.deepEqual(rest, { accepted: ms.length - 1, rejected: [] });
  return task;
}

function query(t) {
  return t.params.batchMode === 'time_interval' ? currentInterval(t.params.timePrecisionSeconds) : undefined;
}

describe('upload from Node, collect with the JS Collector', { skip, concurrency: true }, () => {
  for (const t of skip ? [] : tasksOf(params, 'node-js')) {
    test(t.name, async () => {
      const task = await upload(t);
      const keyText = readFileSync(t.keyFile, 'utf8');
      const key = CollectorKeyPair.fromKeyFile(keyText);
      assert.equal(key.toKeyFile(), keyText, 'the key file exported is the one edap wrote');
      const collector = new Collector({ task, key, token: params.collectorToken, pollTimeoutMs: 120_000 });
      const c = await collector.collect(query(t));
      const { expected, ms } = MEASUREMENTS[t.vdafName];
      assert.deepEqual(c.result, expected);
      assert.deepEqual(c.exact, Array.isArray(expected) ? expected.map(BigInt) : BigInt(expected));
      assert.equal(c.reportCount, ms.length);
      assert.ok(c.interval.duration > 0);
    });
  }
});

const run = promisify(execFile);

describe('upload from Node, collect with edap collect', { skip, concurrency: true }, () => {
  for (const t of skip ? [] : tasksOf(params, 'node-cli')) {
    test(t.name, async () => {
      await upload(t);
      const q = query(t);
      const args = ['collect', '--task', t.taskFile, '--key', t.keyFile, '--json', '--timeout', '120'];
      args.push(...(q ? ['--start', String(q.start), '--duration', String(q.duration)] : ['--leader-selected']));
      const { stdout } = await run(params.edap, args, {
        timeout: 180_000,
        env: { ...process.env, EDAP_COLLECTOR_TOKEN: params.collectorToken, XDG_CACHE_HOME: params.scratch },
      });
      const out = JSON.parse(stdout);
      const { expected, ms } = MEASUREMENTS[t.vdafName];
      assert.deepEqual(out.result, expected);
      assert.equal(out.report_count, ms.length);
    });
  }
});
