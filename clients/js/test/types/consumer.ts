// Type-checked (never run) by scripts/test: an application's use of the published types,
// resolved through the package's "exports" as a dependent project resolves them.

import {
  Collector,
  CollectorKeyPair,
  DapError,
  DecryptError,
  HttpError,
  InvalidMeasurementError,
  Task,
  type Collection,
  type Measurement,
  type TaskParams,
  type UploadResult,
} from '@edap/dap';
import { init } from '@edap/dap/manual';

const params: TaskParams = {
  leader: 'https://leader.example/',
  helper: 'https://helper.example/',
  vdaf: { type: 'histogram', length: 10 },
  timePrecisionSeconds: 3600,
  minBatchSize: 100,
  batchMode: 'time_interval',
  taskInfo: 'example',
};

export async function example(): Promise<number[]> {
  await init(new URL('https://cdn.example/edap_js_bg.wasm'));
  const task = new Task(params, { timeoutMs: 10_000 });
  const ms: Measurement[] = [1, 2n, 3];
  const sent: UploadResult = await task.sendMeasurements(ms);
  for (const r of sent.rejected) console.log(r.index, r.error satisfies string);
  try {
    await task.sendMeasurement(11);
  } catch (e) {
    if (e instanceof InvalidMeasurementError) console.log(e.index, e.value, e.reason);
    else if (e instanceof HttpError) console.log(e.status, e.dapError, e.problem?.detail);
    else if (e instanceof DapError) throw e;
  }
  const key = CollectorKeyPair.generate();
  const again = CollectorKeyPair.fromKeyFile(key.toKeyFile());
  const c: Collection = await new Collector({ task, key: again, token: 't' }).collect({ start: 0, duration: 3600 });
  if (c.result instanceof Array) return c.result;
  throw new DecryptError(`scalar ${c.exact}`);
}
