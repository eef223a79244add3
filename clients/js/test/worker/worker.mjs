// POST a JSON {params, measurements, keyFile, token, query}: the worker sends the
// measurements to the task's Leader and collects them, with the package's workerd build.
import { Collector, CollectorKeyPair, Task } from '@edap/dap';

export default {
  async fetch(request) {
    if (request.method !== 'POST') return new Response('POST a task\n', { status: 405 });
    const { params, measurements, keyFile, token, query } = await request.json();
    try {
      const task = new Task(params);
      const sent = await task.sendMeasurements(measurements);
      const key = CollectorKeyPair.fromKeyFile(keyFile);
      const c = await new Collector({ task, key, token, pollTimeoutMs: 120_000 }).collect(query ?? undefined);
      return Response.json({ id: task.id, sent, reportCount: c.reportCount, result: c.result });
    } catch (e) {
      return Response.json({ error: `${e.name}: ${e.message}` }, { status: 500 });
    }
  },
};
