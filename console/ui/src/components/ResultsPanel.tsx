// The collected results of a task (kept in this browser): the latest batch as a number or
// a bar chart per option, the batches over time as a line chart, a table and a CSV file.

import type { JSX } from 'preact';
import type { TaskDetail } from '../api';
import { count, csv, dateTime } from '../format';
import { download, fileName, results } from '../keystore';
import { useLoad } from '../load';
import { Chart, type Series } from './Chart';

/** The column names of a task's results. */
function columns(t: TaskDetail): string[] {
  const m = t.measurement;
  if (m.kind === 'count') return ['yes'];
  if (m.kind === 'sum') return ['sum'];
  return m.labels;
}

export function ResultsPanel(p: { task: TaskDetail; version: number }): JSX.Element {
  const t = p.task;
  const list = useLoad(() => results.forTask(t.id), [t.id, p.version]);
  const cols = columns(t);
  const rs = list.data ?? [];
  // The newest batch by time (the last collected among equal starts).
  const latest = rs.reduce<(typeof rs)[number] | undefined>(
    (best, r) => (best === undefined || r.start > best.start || (r.start === best.start && r.collectedAt > best.collectedAt) ? r : best),
    undefined,
  );
  const vector = cols.length > 1 || t.measurement.kind === 'sumvec';
  const series: Series[] = cols.slice(0, 10).map((c, i) => ({ label: c, data: rs.map((r) => Number(r.values[i] ?? 0)) }));
  const exportCsv = (): void => {
    const rows = rs.map((r) => [new Date(r.start * 1000).toISOString(), new Date((r.start + r.duration) * 1000).toISOString(), r.reportCount, ...r.values]);
    download(fileName(t.name, '-results.csv'), csv(['interval_start', 'interval_end', 'reports', ...cols], rows), 'text/csv');
  };
  return (
    <div class="card" id="results">
      <div class="actions">
        <h2>Results</h2>
        {rs.length > 0 && (
          <button class="secondary" type="button" onClick={exportCsv}>
            Download CSV
          </button>
        )}
      </div>
      {list.error !== '' && <p class="error">{list.error}</p>}
      {rs.length === 0 && <p class="muted">No results collected in this browser yet.</p>}
      {latest !== undefined && (
        <>
          <h3>
            Latest batch: {dateTime(latest.start)} to {dateTime(latest.start + latest.duration)}, {count(latest.reportCount)} reports
          </h3>
          {vector ? (
            <Chart type="bar" name="latest" labels={cols} series={[{ label: t.name, data: latest.values.map(Number) }]} yTitle={t.measurement.kind === 'sumvec' ? 'sum' : 'reports'} />
          ) : (
            <p class="big-number" data-result="latest">
              {latest.values[0]}
            </p>
          )}
        </>
      )}
      {rs.length > 1 && (
        <>
          <h3>Over time</h3>
          <Chart type="line" name="series" labels={rs.map((r) => dateTime(r.start))} series={series} />
        </>
      )}
      {rs.length > 0 && (
        <table class="small" id="results-table">
          <thead>
            <tr>
              <th>Interval</th>
              <th class="num">Reports</th>
              {cols.map((c) => (
                <th key={c} class="num">
                  {c}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rs.map((r) => (
              <tr key={r.key}>
                <td>
                  {dateTime(r.start)} to {dateTime(r.start + r.duration)}
                </td>
                <td class="num">{count(r.reportCount)}</td>
                {r.values.map((v, i) => (
                  <td key={i} class="num">
                    {v}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
