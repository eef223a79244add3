// The account's tasks.

import type { JSX } from 'preact';
import { tasks, type AccountRef } from '../api';
import { dateTime, duration } from '../format';
import { useLoad } from '../load';
import { Link } from './Link';
import { Notice } from './Notice';

export const KIND_NAMES: Record<string, string> = {
  count: 'Yes/no count',
  sum: 'Sum',
  histogram: 'One choice among options',
  multihot: 'Several choices among options',
  sumvec: 'A number per entry',
};

export function TasksPage(p: { account: AccountRef }): JSX.Element {
  const a = p.account.id;
  const list = useLoad(() => tasks.list(a), [a]);
  const base = `/a/${encodeURIComponent(a)}/tasks`;
  return (
    <>
      <h1>Tasks</h1>
      <div class="actions">
        <Link href={`${base}/new`} class="button">
          New task
        </Link>
      </div>
      {list.error !== '' && <Notice kind="bad">{list.error}</Notice>}
      {list.data !== undefined && list.data.tasks.length === 0 && <p class="muted">No tasks yet.</p>}
      {list.data !== undefined && list.data.tasks.length > 0 && (
        <div class="card">
          <table>
            <thead>
              <tr>
                <th>Task</th>
                <th>Measures</th>
                <th>Time windows</th>
                <th class="num">Min batch</th>
                <th>Created</th>
              </tr>
            </thead>
            <tbody>
              {list.data.tasks.map((t) => (
                <tr key={t.id}>
                  <td>
                    <Link href={`${base}/${encodeURIComponent(t.id)}`}>{t.name}</Link>
                  </td>
                  <td>{KIND_NAMES[t.kind] ?? t.kind}</td>
                  <td>{t.batch_mode === 'time_interval' ? duration(t.time_precision) : 'Leader-selected batches'}</td>
                  <td class="num">{t.min_batch_size}</td>
                  <td class="small">{dateTime(t.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
