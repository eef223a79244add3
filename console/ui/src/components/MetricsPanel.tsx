// The Leader's counters of a task: reports accepted, aggregated, and rejected per reason.

import type { JSX } from 'preact';
import { tasks, type TaskMetrics } from '../api';
import { count } from '../format';
import { useLoad } from '../load';
import { Notice } from './Notice';

/** Non-zero rejection counters, by a readable reason. */
function rejections(m: TaskMetrics): [string, number][] {
  const out: [string, number][] = [];
  const add = (prefix: string, o: Record<string, unknown>, skip: string[]): void => {
    for (const [k, v] of Object.entries(o)) {
      if (skip.includes(k) || typeof v !== 'number' || v === 0) continue;
      out.push([`${prefix}${k.replace(/_/g, ' ')}`, v]);
    }
  };
  add('upload: ', m.uploads, ['report_success', 'counters']);
  add('aggregation: ', m.aggregations, ['success', 'counters']);
  return out;
}

export function MetricsPanel(p: { account: string; taskId: string; version: number }): JSX.Element {
  const m = useLoad(() => tasks.metrics(p.account, p.taskId), [p.account, p.taskId, p.version]);
  const data = m.data;
  const rejected = data === undefined ? [] : rejections(data);
  const rejectedTotal = rejected.reduce((n, [, v]) => n + v, 0);
  return (
    <div class="card" id="metrics">
      <div class="actions">
        <h2>Reports at the Leader</h2>
        <button class="secondary" type="button" onClick={() => void m.reload()}>
          Refresh
        </button>
      </div>
      {m.error !== '' && <Notice kind="bad">{m.error}</Notice>}
      {data !== undefined && (
        <>
          <div class="stats">
            <div class="stat" data-metric="accepted">
              <b>{count(data.uploads.report_success)}</b>accepted
            </div>
            <div class="stat" data-metric="aggregated">
              <b>{count(data.aggregations.success)}</b>aggregated
            </div>
            <div class="stat" data-metric="rejected">
              <b>{count(rejectedTotal)}</b>rejected
            </div>
          </div>
          {rejected.length > 0 && (
            <table class="small">
              <tbody>
                {rejected.map(([reason, n]) => (
                  <tr key={reason}>
                    <td>{reason}</td>
                    <td class="num">{count(n)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      )}
    </div>
  );
}
