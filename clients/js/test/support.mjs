// What the package's tests share: the parameters of the tasks the Rust harness
// (tests/js_client.rs) provisioned, the test measurements of each VDAF with their exact
// aggregate, a fetch that counts requests, and encoders for fake aggregator answers.

import { readFileSync } from 'node:fs';

/** The harness's parameters, or undefined when the tests run without a cluster. */
export function clusterParams() {
  const path = process.env.EDAP_JS_TEST_PARAMS;
  if (!path) return undefined;
  return JSON.parse(readFileSync(path, 'utf8'));
}

/** The tasks of one group ("node-js", "node-cli", "browser", "wrong-key"). */
export function tasksOf(params, group) {
  return params.tasks.filter((t) => t.group === group);
}

/** Five measurements per VDAF (every accepted JS form), their aggregate, and bad values. */
export const MEASUREMENTS = {
  count: { ms: [true, 0, 1, false, true], expected: 3, bad: [2, 'yes', [1], -1, 0.5] },
  sum: { ms: [0, 100, 7, 42n, 1], expected: 150, bad: [101, -3, 1.5, Number.NaN, '4'] },
  sumvec: {
    ms: [[1, 2, 3], [7, 0, 0], [0, 7, 7], [1n, 1, 1], [0, 0, 0]],
    expected: [9, 10, 11],
    bad: [[1, 2], [8, 0, 0], 3, [0, 0, -1]],
  },
  histogram: { ms: [0, 4, 4, 2, 1], expected: [1, 1, 1, 0, 2], bad: [5, -1, [1], true] },
  multihot: {
    ms: [[true, false, false, true], [0, 1, 1, 0], [0, 0, 0, 0], [1, 0, 0, 0], [false, true, false, false]],
    expected: [2, 2, 1, 1],
    bad: [[1, 1, 1, 0], [2, 0, 0, 0], [1, 0, 0], 1],
  },
};

/** The time-interval query covering now (the previous, current and next hour). */
export function currentInterval(precision = 3600) {
  const now = Math.floor(Date.now() / 1000);
  return { start: Math.floor(now / precision) * precision - precision, duration: 3 * precision };
}

/** A fetch that counts the requests it passes on. */
export function countingFetch(inner = globalThis.fetch) {
  const f = (input, init) => {
    f.count++;
    f.urls.push(String(input));
    return inner(input, init);
  };
  f.count = 0;
  f.urls = [];
  return f;
}

/** base64url (unpadded) to bytes. */
export function fromBase64url(s) {
  return new Uint8Array(Buffer.from(s.replace(/-/g, '+').replace(/_/g, '/'), 'base64'));
}

/** An encoded HpkeConfigList holding the given base64url HpkeConfigs. */
export function hpkeConfigList(...configs) {
  const parts = configs.map(fromBase64url);
  const len = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(2 + len);
  out[0] = len >> 8;
  out[1] = len & 0xff;
  let at = 2;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A Response. */
export function answer(status, body = new Uint8Array(), headers = {}) {
  return new Response(status === 204 ? null : body, { status, headers });
}
