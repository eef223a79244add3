// Collecting a task's results in the browser: the JS client's Collector with the key and
// token kept in this browser, straight from the Leader's DAP API. A batch that is not
// ready says why, with the report count the Leader has aggregated so far.

import { Collector, DecryptError, HttpError, NetworkError, Task, TimeoutError, type IntervalQuery } from '@edap/dap';
import { tasks, type TaskDetail } from './api';
import { keyPairOf, type LocalCredential, type StoredResult } from './keystore';

/** How long one collection waits for the Leader before it is reported as not ready. */
export const POLL_TIMEOUT_MS = 20_000;

export type Outcome = { ok: true; result: StoredResult } | { ok: false; reason: string };

/** Reports the Leader has aggregated for the task so far (all intervals). */
async function aggregated(accountId: string, task: TaskDetail): Promise<number | null> {
  try {
    const m = await tasks.metrics(accountId, task.id);
    return m.aggregations.success;
  } catch {
    return null;
  }
}

function tooFew(task: TaskDetail, n: number | null, scope: string): string {
  const have = n === null ? 'an unknown number of' : String(n);
  return `Not ready: a batch needs at least ${task.min_batch_size} reports, and the Leader has aggregated ${have} reports of this task so far${scope}. Send more, or wait a few seconds for aggregation, and collect again.`;
}

/** Collects one batch: `query` for a time-interval task, null for the next leader-selected batch. */
export async function collectBatch(
  accountId: string,
  task: TaskDetail,
  credential: LocalCredential,
  query: IntervalQuery | null,
): Promise<Outcome> {
  const before = await aggregated(accountId, task);
  if (before !== null && before < task.min_batch_size) {
    return { ok: false, reason: tooFew(task, before, '') };
  }
  const dapTask = Task.fromEncoded(task.task_config, task.task_id);
  const collector = new Collector({ task: dapTask, key: keyPairOf(credential), token: credential.token, pollTimeoutMs: POLL_TIMEOUT_MS });
  try {
    const c = query === null ? await collector.collect() : await collector.collect(query);
    const values = Array.isArray(c.exact) ? c.exact.map(String) : [String(c.exact)];
    const collectedAt = Date.now();
    return {
      ok: true,
      result: {
        key: query === null ? `${task.id}/batch/${collectedAt}` : `${task.id}/${query.start}/${query.duration}`,
        taskId: task.id,
        start: c.interval.start,
        duration: c.interval.duration,
        queryStart: query?.start ?? null,
        queryDuration: query?.duration ?? null,
        reportCount: c.reportCount,
        values,
        collectedAt,
      },
    };
  } catch (e) {
    if (e instanceof TimeoutError) {
      // Leave no pending job behind; a later collection of the same batch starts afresh.
      await fetch(e.url, { method: 'DELETE', headers: { authorization: `Bearer ${credential.token}` } }).catch(() => undefined);
      const n = await aggregated(accountId, task);
      return { ok: false, reason: tooFew(task, n, query === null ? '' : ' (in all intervals together)') };
    }
    if (e instanceof HttpError) {
      if (e.dapError === 'batchOverlap') {
        return { ok: false, reason: 'This interval, or part of it, was collected already: each report is counted in one batch only. Its result is in the browser that collected it.' };
      }
      if (e.dapError === 'invalidBatchSize' || e.dapError === 'batchInvalid') {
        return { ok: false, reason: `${tooFew(task, await aggregated(accountId, task), '')} (${e.message})` };
      }
      return { ok: false, reason: `The Leader refused: ${e.message}` };
    }
    if (e instanceof DecryptError) {
      return { ok: false, reason: 'The result does not decrypt with the key in this browser: is this the credential the task was made with?' };
    }
    if (e instanceof NetworkError) {
      return { ok: false, reason: `The Leader cannot be reached from this browser: ${e.message}` };
    }
    return { ok: false, reason: `Collection failed: ${e instanceof Error ? e.message : String(e)}` };
  }
}

/** The batches of a time range: the whole range, or one per `step` seconds. */
export function batches(start: number, end: number, step: number | null): IntervalQuery[] {
  if (end <= start) return [];
  if (step === null) return [{ start, duration: end - start }];
  const out: IntervalQuery[] = [];
  for (let s = start; s < end && out.length < 500; s += step) out.push({ start: s, duration: Math.min(step, end - s) });
  return out;
}
