// The time to build reports with the package's WebAssembly core, the same code in Node and
// in a browser page: per VDAF, one report at a time (check the measurement, shard, seal to
// both aggregators, encode the UploadRequest) and 1,000 in one request. Nothing is sent.
// `wasm` is the initialised module dist/wasm/edap_js.js.

export const VDAFS = [
  { name: 'Prio3Count', vdaf: { type: 'count' }, m: (i) => i % 2 === 0 },
  { name: 'Prio3Sum(max 2^20-1)', vdaf: { type: 'sum', maxMeasurement: 2 ** 20 - 1 }, m: (i) => i * 7919 % 2 ** 20 },
  { name: 'Prio3SumVec(100 x 1 bit)', vdaf: { type: 'sumvec', length: 100, maxMeasurement: 1 }, m: (i) => Array.from({ length: 100 }, (_, k) => (i + k) % 2) },
  { name: 'Prio3Histogram(100)', vdaf: { type: 'histogram', length: 100 }, m: (i) => i % 100 },
  { name: 'Prio3MultihotCountVec(100, weight 10)', vdaf: { type: 'multihot', length: 100, maxWeight: 10 }, m: (i) => Array.from({ length: 100 }, (_, k) => (k % 10 === i % 10 ? 1 : 0)) },
];

function list(wasm, id) {
  const key = wasm.CollectorKey.generate(id);
  const b64 = key.publicConfig.replace(/-/g, '+').replace(/_/g, '/');
  const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  const out = new Uint8Array(2 + bin.length);
  out[0] = bin.length >> 8;
  out[1] = bin.length & 0xff;
  for (let i = 0; i < bin.length; i++) out[2 + i] = bin.charCodeAt(i);
  key.free();
  return out;
}

/** Per VDAF: {name, single: mean ms per report built alone, bulk: ms per report in a 1,000-report request}. */
export function measure(wasm, { singles = 300, bulk = 1000 } = {}) {
  const leader = list(wasm, 1);
  const helper = list(wasm, 2);
  const time = Math.floor(Date.now() / 1000);
  const out = [];
  // Let V8 tier the module up (Liftoff, then TurboFan in the background) before timing.
  for (const v of VDAFS) measureOne(wasm, v, leader, helper, time, 100, 10);
  for (const v of VDAFS) out.push(measureOne(wasm, v, leader, helper, time, singles, bulk));
  return out;
}

function measureOne(wasm, v, leader, helper, time, singles, bulk) {
  const task = wasm.WasmTask.fromParams(
    JSON.stringify({ leader: 'https://leader.example/', helper: 'https://helper.example/', vdaf: v.vdaf, timePrecisionSeconds: 3600, minBatchSize: 100, batchMode: 'time_interval', taskInfo: 'bench' }),
  );
  const client = new wasm.WasmClient(task, leader, helper);
  const one = (i) => {
    const ms = task.checkMeasurements(JSON.stringify([v.m(i)]));
    const up = client.upload(ms, new Uint32Array([0]), time);
    const n = up.body.length;
    up.free();
    ms.free();
    return n;
  };
  for (let i = 0; i < 20; i++) one(i); // warm-up
  // Timed as a whole: browsers coarsen performance.now() to 0.1 ms or more.
  const s0 = performance.now();
  for (let i = 0; i < singles; i++) one(i);
  const single = (performance.now() - s0) / singles;
  const all = Array.from({ length: bulk }, (_, i) => v.m(i));
  const t0 = performance.now();
  const ms = task.checkMeasurements(JSON.stringify(all));
  const up = client.upload(ms, Uint32Array.from(all.keys()), time);
  const bytes = up.body.length;
  const bulkMs = performance.now() - t0;
  up.free();
  ms.free();
  client.free();
  task.free();
  return { name: v.name, single, bulk: bulkMs / bulk, bytesPerReport: bytes / bulk };
}
