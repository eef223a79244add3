// The account's start page: the steps from nothing to results (aggregators, a collector
// credential, a task, measurements, results), each marked when done.

import type { JSX } from 'preact';
import { aggregators, credentials, tasks, type AccountRef } from '../api';
import { keystore } from '../keystore';
import { useLoad } from '../load';
import { Link } from './Link';
import { Notice } from './Notice';

export function Overview(p: { account: AccountRef }): JSX.Element {
  const a = p.account.id;
  const state = useLoad(async () => {
    const [aggs, creds, ts, local] = await Promise.all([
      aggregators.list(a),
      credentials.list(a),
      tasks.list(a),
      keystore.all(),
    ]);
    return { aggs: aggs.aggregators, creds: creds.collector_credentials, tasks: ts.tasks, local };
  }, [a]);
  const base = `/a/${encodeURIComponent(a)}`;
  if (state.error !== '') return <Notice kind="bad">{state.error}</Notice>;
  const s = state.data;
  if (s === undefined) return <p class="loading">Loading…</p>;
  const usable = s.aggs.filter((g) => g.status === 'ok');
  const localCreds = s.creds.filter((c) => s.local.some((l) => l.id === c.id));
  const steps: { done: boolean; body: JSX.Element }[] = [
    {
      done: usable.length >= 2,
      body: (
        <>
          <b>Aggregators.</b> A task needs a Leader and a Helper run by different parties.{' '}
          {usable.length >= 2
            ? `${usable.length} are ready (${usable.map((g) => g.name).join(', ')}).`
            : 'This service provides both; you can also pair your own Helper.'}{' '}
          <Link href={`${base}/aggregators`}>Aggregators</Link>
        </>
      ),
    },
    {
      done: localCreds.length > 0,
      body: (
        <>
          <b>A collector credential.</b> A key pair and token made in this browser; only its public part leaves it.{' '}
          <Link href={`${base}/credentials`}>Collector credentials</Link>
        </>
      ),
    },
    {
      done: s.tasks.length > 0,
      body: (
        <>
          <b>Your first task.</b> Say what to measure, how often and how many people a result must cover at least.{' '}
          <Link href={`${base}/tasks/new`}>New task</Link>
        </>
      ),
    },
    {
      done: false,
      body: (
        <>
          <b>Send measurements and see the results.</b> The task page has the code for your app and collects the results
          into charts. {s.tasks[0] !== undefined && <Link href={`${base}/tasks/${encodeURIComponent(s.tasks[0].id)}`}>Open {s.tasks[0].name}</Link>}
        </>
      ),
    },
  ];
  return (
    <>
      <h1>{p.account.name}</h1>
      <div class="card">
        <h2>Getting started</h2>
        <ol class="steps">
          {steps.map((st, i) => (
            <li key={i} class={st.done ? 'done' : ''}>
              {st.body}
            </li>
          ))}
        </ol>
      </div>
    </>
  );
}
