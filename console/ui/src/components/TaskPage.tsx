// A task's page: what it measures and where, the client snippets, the Leader's counters,
// collecting results in this browser, and the results as charts.

import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { tasks, type AccountRef, type TaskDetail } from '../api';
import { dateTime, duration } from '../format';
import { keystore } from '../keystore';
import { useLoad } from '../load';
import { navigate } from '../router';
import { CollectPanel } from './CollectPanel';
import { MetricsPanel } from './MetricsPanel';
import { Notice } from './Notice';
import { ResultsPanel } from './ResultsPanel';
import { Snippet } from './Snippet';
import { KIND_NAMES } from './TasksPage';

function Facts(p: { t: TaskDetail }): JSX.Element {
  const t = p.t;
  const m = t.measurement;
  return (
    <dl class="facts">
      <dt>Measures</dt>
      <dd>
        {KIND_NAMES[m.kind] ?? m.kind}
        {m.max !== undefined && `, up to ${m.max}`}
        {m.max_choices !== undefined && `, at most ${m.max_choices} chosen`}
      </dd>
      {m.labels.length > 0 && (
        <>
          <dt>{m.kind === 'sumvec' ? 'Entries' : 'Options'}</dt>
          <dd>{m.labels.map((l, i) => `${i} = ${l}`).join(', ')}</dd>
        </>
      )}
      <dt>Time windows</dt>
      <dd>{duration(t.time_precision)}</dd>
      <dt>Smallest batch</dt>
      <dd>{t.min_batch_size} reports</dd>
      <dt>Batches</dt>
      <dd>{t.batch_mode === 'time_interval' ? 'by time window' : 'formed by the Leader as reports arrive'}</dd>
      {(t.task_start !== null || t.task_end !== null) && (
        <>
          <dt>Accepts reports</dt>
          <dd>
            {t.task_start !== null ? `from ${dateTime(t.task_start)}` : ''} {t.task_end !== null ? `until ${dateTime(t.task_end)}` : ''}
          </dd>
        </>
      )}
      <dt>Leader</dt>
      <dd>
        {t.leader.name} ({t.leader.dap_url})
      </dd>
      <dt>Helper</dt>
      <dd>
        {t.helper.name} ({t.helper.dap_url})
      </dd>
      <dt>Collector credential</dt>
      <dd>{t.credential.name ?? t.credential.id}</dd>
      <dt>Task ID</dt>
      <dd>
        <code>{t.task_id}</code>
      </dd>
    </dl>
  );
}

export function TaskPage(p: { account: AccountRef; taskId: string }): JSX.Element {
  const a = p.account.id;
  const state = useLoad(async () => {
    const t = await tasks.get(a, p.taskId);
    return { t, credential: await keystore.get(t.credential.id) };
  }, [a, p.taskId]);
  const [version, setVersion] = useState(0);
  const [deleteError, setDeleteError] = useState('');
  if (state.error !== '') return <Notice kind="bad">{state.error}</Notice>;
  if (state.data === undefined) return <p class="loading">Loading…</p>;
  const { t, credential } = state.data;
  const remove = async (): Promise<void> => {
    if (!confirm(`Delete ${t.name} on both aggregators? Reports not yet collected are lost.`)) return;
    try {
      await tasks.remove(a, t.id);
      navigate(`/a/${encodeURIComponent(a)}/tasks`);
    } catch (e) {
      setDeleteError(e instanceof Error ? e.message : String(e));
    }
  };
  return (
    <>
      <h1>{t.name}</h1>
      <div class="card">
        <Facts t={t} />
      </div>
      <div class="card" id="snippets">
        <h2>Send measurements</h2>
        <p class="muted small">
          From a web page, Node.js or a Worker with the <code>@edap/dap</code> package: each measurement is split between
          the two aggregators and encrypted before it leaves the device.
        </p>
        <Snippet title="JavaScript" name="js" code={t.snippets.js} />
        <Snippet title="Command line (edap)" name="cli" code={t.snippets.cli} />
      </div>
      <MetricsPanel account={a} taskId={t.id} version={version} />
      <CollectPanel account={a} task={t} credential={credential} onCollected={() => setVersion((v) => v + 1)} />
      <ResultsPanel task={t} version={version} />
      <div class="actions">
        <button class="danger" type="button" onClick={() => void remove()}>
          Delete task
        </button>
      </div>
      {deleteError !== '' && <Notice kind="bad">{deleteError}</Notice>}
    </>
  );
}
