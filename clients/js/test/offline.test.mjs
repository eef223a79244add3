// The package's HTTP behaviour against a fake fetch (no server): HPKE configuration caching
// by Cache-Control, the refetch on outdated_config, retries with backoff on 5xx and network
// errors, the timeout, collection polling, and the validation of task parameters and keys.

import { beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Collector,
  CollectorKeyError,
  CollectorKeyPair,
  DapError,
  HttpError,
  InvalidQueryError,
  InvalidTaskError,
  NetworkError,
  Task,
  TimeoutError,
  clearHpkeConfigCache,
} from '@edap/dap';
import { answer, hpkeConfigList } from './support.mjs';

const LEADER = 'https://leader.test/';
const HELPER = 'https://helper.test/';
const PARAMS = {
  leader: LEADER,
  helper: HELPER,
  vdaf: { type: 'count' },
  timePrecisionSeconds: 3600,
  minBatchSize: 10,
  batchMode: 'time_interval',
  taskInfo: 'offline',
};
const HPKE = 'application/ppm-dap;message=hpke-config-list';

/** A fake pair of aggregators: `routes(method, url, attempt)` answers each request. */
function fakeFetch(routes) {
  const calls = [];
  const f = async (input, init = {}) => {
    const url = String(input);
    const method = init.method ?? 'GET';
    const n = calls.filter((c) => c.method === method && c.url === url).length + 1;
    calls.push({ method, url, body: init.body, headers: init.headers });
    return routes(method, url, n, init);
  };
  f.calls = calls;
  f.count = (method, url) => calls.filter((c) => c.method === method && c.url === url).length;
  return f;
}

const keys = [CollectorKeyPair.generate({ configId: 1 }), CollectorKeyPair.generate({ configId: 2 })];
const lists = keys.map((k) => hpkeConfigList(k.publicConfig));

function hpkeAnswer(url, cacheControl) {
  const list = url.startsWith(LEADER) ? lists[0] : lists[1];
  return answer(200, list, cacheControl === undefined ? { 'content-type': HPKE } : { 'content-type': HPKE, 'cache-control': cacheControl });
}

const reportsUrl = (task) => `${LEADER}tasks/${task.id}/reports`;

beforeEach(() => clearHpkeConfigCache());

describe('HPKE configurations', () => {
  for (const [cc, fetches] of [['max-age=600', 1], ['no-store', 2], [undefined, 2], ['max-age=600, no-cache', 2]]) {
    test(`Cache-Control ${cc ?? '(none)'}: ${fetches} fetch(es) for two uploads`, async () => {
      const f = fakeFetch((method, url) => (url.endsWith('/hpke_config') ? hpkeAnswer(url, cc) : answer(200)));
      const task = new Task(PARAMS, { fetch: f });
      await task.sendMeasurement(true);
      await task.sendMeasurement(false);
      assert.equal(f.count('GET', `${LEADER}hpke_config`), fetches);
      assert.equal(f.count('GET', `${HELPER}hpke_config`), fetches);
      assert.equal(f.count('POST', reportsUrl(task)), 2);
    });
  }

  test('outdated_config: both configurations are fetched again and the report is resent once', async () => {
    const f = fakeFetch((method, url, n, init) => {
      if (url.endsWith('/hpke_config')) return hpkeAnswer(url, 'max-age=600');
      if (n === 1) {
        // upload-errors: the first report's ID (the first 16 bytes of the body), outdated_config(11).
        const id = new Uint8Array(init.body).slice(0, 16);
        return answer(200, new Uint8Array([...id, 11]), { 'content-type': 'application/ppm-dap;message=upload-errors' });
      }
      return answer(200);
    });
    const task = new Task(PARAMS, { fetch: f });
    assert.deepEqual(await task.sendMeasurement(1), { accepted: 1, rejected: [] });
    assert.equal(f.count('GET', `${LEADER}hpke_config`), 2);
    assert.equal(f.count('GET', `${HELPER}hpke_config`), 2);
    assert.equal(f.count('POST', reportsUrl(task)), 2);
  });

  test('outdated_config twice: the second is returned to the caller', async () => {
    const f = fakeFetch((method, url, n, init) => {
      if (url.endsWith('/hpke_config')) return hpkeAnswer(url, 'max-age=600');
      const body = new Uint8Array(init.body);
      return answer(200, new Uint8Array([...body.slice(0, 16), 11]), { 'content-type': 'application/ppm-dap;message=upload-errors' });
    });
    const task = new Task(PARAMS, { fetch: f });
    const r = await task.sendMeasurements([1]);
    assert.equal(r.accepted, 0);
    assert.deepEqual(r.rejected.map((x) => [x.index, x.error]), [[0, 'outdated_config']]);
    assert.equal(f.count('POST', reportsUrl(task)), 2);
  });

  test('a Leader without a supported configuration', async () => {
    // One config with KEM 0x0012 (DHKEM(P-521)), which the client does not implement.
    const unsupported = new Uint8Array([0, 11, 5, 0x00, 0x12, 0x00, 0x01, 0x00, 0x01, 0x00, 0x02, 0xaa, 0xbb]);
    const f = fakeFetch(() => answer(200, unsupported, { 'content-type': HPKE }));
    await assert.rejects(new Task(PARAMS, { fetch: f }).sendMeasurement(1), /advertises no HPKE configuration this client supports/);
  });
});

describe('retries and timeouts', () => {
  test('5xx answers are retried with backoff, then succeed', async () => {
    const f = fakeFetch((method, url, n) => {
      if (url.endsWith('/hpke_config')) return hpkeAnswer(url, 'max-age=600');
      return n < 3 ? answer(503, new TextEncoder().encode('busy')) : answer(200);
    });
    const task = new Task(PARAMS, { fetch: f, backoffMs: 1 });
    assert.equal((await task.sendMeasurement(1)).accepted, 1);
    assert.equal(f.count('POST', reportsUrl(task)), 3);
  });

  test('a 5xx that lasts is an HttpError after the attempts', async () => {
    const problem = { type: 'about:blank', title: 'Service Unavailable', status: 503, detail: 'try later' };
    const f = fakeFetch((method, url) =>
      url.endsWith('/hpke_config')
        ? hpkeAnswer(url, 'max-age=600')
        : answer(503, new TextEncoder().encode(JSON.stringify(problem)), { 'content-type': 'application/problem+json' }),
    );
    const task = new Task(PARAMS, { fetch: f, backoffMs: 1, attempts: 2 });
    await assert.rejects(task.sendMeasurement(1), (e) => {
      assert.ok(e instanceof HttpError && e instanceof DapError);
      assert.equal(e.status, 503);
      assert.deepEqual(e.problem, problem);
      assert.equal(e.message, 'uploading to the Leader: HTTP 503, about:blank: try later');
      return true;
    });
    assert.equal(f.count('POST', reportsUrl(task)), 2);
  });

  test('4xx answers are not retried', async () => {
    const f = fakeFetch((method, url) => (url.endsWith('/hpke_config') ? hpkeAnswer(url, 'max-age=600') : answer(400)));
    const task = new Task(PARAMS, { fetch: f, backoffMs: 1 });
    await assert.rejects(task.sendMeasurement(1), HttpError);
    assert.equal(f.count('POST', reportsUrl(task)), 1);
  });

  test('network errors are retried, then a NetworkError', async () => {
    const f = fakeFetch(() => {
      throw new TypeError('fetch failed', { cause: new Error('ECONNRESET') });
    });
    const task = new Task(PARAMS, { fetch: f, backoffMs: 1, attempts: 4 });
    await assert.rejects(task.sendMeasurement(1), (e) => {
      assert.ok(e instanceof NetworkError);
      assert.equal(e.attempts, 4);
      assert.match(e.message, /fetch failed: ECONNRESET/);
      return true;
    });
    assert.equal(f.count('GET', `${LEADER}hpke_config`), 4);
  });

  test('an attempt that gets no answer in time is a TimeoutError', async () => {
    const f = fakeFetch((method, url, n, init) => new Promise((_, reject) => init.signal.addEventListener('abort', () => reject(init.signal.reason))));
    const task = new Task(PARAMS, { fetch: f, timeoutMs: 50 });
    // AbortSignal.timeout's timer does not keep Node's event loop alive (a real request's
    // socket does); this one stands in for the socket.
    const alive = setInterval(() => {}, 1000);
    try {
      await assert.rejects(task.sendMeasurement(1), (e) => {
        assert.ok(e instanceof TimeoutError);
        assert.equal(e.timeoutMs, 50);
        return true;
      });
    } finally {
      clearInterval(alive);
    }
  });
});

describe('collection', () => {
  test('polls the job as Retry-After says, and reports a refusal with its problem document', async () => {
    const problem = { type: 'urn:ietf:params:ppm:dap:error:invalidBatchSize', title: 'x', status: 400, detail: 'the batch holds too few reports' };
    const f = fakeFetch((method, url, n) => {
      if (method === 'POST') return answer(201, new Uint8Array(), { location: '/tasks/t/collection_jobs/job1', 'retry-after': '1' });
      if (n < 3) return answer(200, new Uint8Array(), { 'retry-after': '1' });
      return answer(400, new TextEncoder().encode(JSON.stringify(problem)), { 'content-type': 'application/problem+json' });
    });
    const task = new Task({ ...PARAMS, batchMode: 'leader_selected' });
    const collector = new Collector({ task, key: keys[0], token: 'tok', fetch: f });
    await assert.rejects(collector.collect(), (e) => {
      assert.ok(e instanceof HttpError);
      assert.equal(e.dapError, 'invalidBatchSize');
      assert.match(e.message, /^the collection job failed: HTTP 400, urn:ietf:params:ppm:dap:error:invalidBatchSize: the batch holds too few reports$/);
      return true;
    });
    assert.equal(f.count('GET', 'https://leader.test/tasks/t/collection_jobs/job1'), 3);
    assert.equal(f.calls[0].headers.authorization, 'Bearer tok');
    assert.equal(f.calls[0].headers['content-type'], 'application/ppm-dap;message=collection-job-req');
  });

  test('gives up after pollTimeoutMs', async () => {
    const f = fakeFetch((method) =>
      method === 'POST' ? answer(201, new Uint8Array(), { location: 'https://leader.test/j' }) : answer(200, new Uint8Array(), { 'retry-after': '1' }),
    );
    const task = new Task({ ...PARAMS, batchMode: 'leader_selected' });
    const collector = new Collector({ task, key: keys[0], token: 'tok', fetch: f, pollTimeoutMs: 100 });
    await assert.rejects(collector.collect(), TimeoutError);
  });

  test('a query that does not fit the batch mode', async () => {
    const collector = new Collector({ task: new Task(PARAMS), key: keys[0], token: 'tok', fetch: fakeFetch(() => answer(500)) });
    await assert.rejects(collector.collect(), InvalidQueryError);
    await assert.rejects(collector.collect({ start: -1, duration: 3600 }), InvalidQueryError);
  });
});

describe('tasks and keys', () => {
  test('parameters are checked with a clear message', () => {
    const bad = [
      [{ ...PARAMS, vdaf: { type: 'sum' } }, /missing field `maxMeasurement`/],
      [{ ...PARAMS, vdaf: { type: 'avg' } }, /unknown variant `avg`/],
      [{ ...PARAMS, timePrecision: 60 }, /unknown field `timePrecision`/],
      [{ ...PARAMS, batchMode: 'daily' }, /batchMode must be/],
      [{ ...PARAMS, id: 'xyz' }, /task ID/],
      [{ ...PARAMS, minBatchSize: 0 }, /min_batch_size/],
      [{ encodedConfig: 'AAAA' }, /does not decode/],
    ];
    for (const [p, re] of bad) {
      assert.throws(() => new Task(p), (e) => e instanceof InvalidTaskError && re.test(e.message), JSON.stringify(p));
    }
  });

  test('the chunk length defaults as in edap task new, and the ID is derived', () => {
    const a = new Task({ ...PARAMS, vdaf: { type: 'histogram', length: 10 } });
    const b = Task.fromEncoded(a.encodedConfig);
    assert.equal(b.id, a.id);
    assert.equal(a.config.vdaf.type, 'prio3_histogram');
    assert.equal(typeof a.config.vdaf.chunk_length, 'number');
  });

  test('key files round-trip and bad ones are refused', () => {
    const k = CollectorKeyPair.generate({ configId: 9 });
    const again = CollectorKeyPair.fromKeyFile(k.toKeyFile());
    assert.equal(again.publicConfig, k.publicConfig);
    assert.equal(again.configId, 9);
    assert.equal(CollectorKeyPair.fromKeyFile(JSON.parse(k.toKeyFile())).publicConfig, k.publicConfig);
    assert.throws(() => CollectorKeyPair.fromKeyFile('{}'), CollectorKeyError);
    const other = JSON.parse(CollectorKeyPair.generate().toKeyFile());
    const mixed = { ...JSON.parse(k.toKeyFile()), private_key: other.private_key };
    assert.throws(() => CollectorKeyPair.fromKeyFile(mixed), /unusable/);
    assert.throws(() => CollectorKeyPair.generate({ configId: 256 }), RangeError);
  });
});
