// Aggregators: the service's own Leader and Helper and the ones this account paired, with
// what each supports; pairing another one by its aggregator API URL and token.

import type { JSX } from 'preact';
import { aggregators, type AccountRef, type Aggregator } from '../api';
import { useLoad } from '../load';
import { Notice } from './Notice';
import { PairForm } from './PairForm';

function AggregatorRow(p: { a: Aggregator; onRemove: () => void }): JSX.Element {
  const a = p.a;
  return (
    <tr data-aggregator={a.id}>
      <td>
        <b>{a.name}</b>
        <div class="small muted">{a.api_url}</div>
        {a.shared && <span class="tag">this service</span>}
      </td>
      <td>
        {a.status === 'ok' ? (
          <>
            <span class="tag ok">{a.protocol}</span> <span class="tag">{a.role}</span>
            <div class="small">DAP URL {a.dap_url}</div>
            <div class="small muted">{(a.vdafs ?? []).join(', ')}</div>
            <div class="small muted">{(a.batch_modes ?? []).join(', ')}</div>
          </>
        ) : (
          <span class="tag bad" title={a.problem}>
            {a.problem}
          </span>
        )}
      </td>
      <td class="small">{a.software}</td>
      <td>
        {!a.shared && (
          <button class="danger" onClick={p.onRemove}>
            Remove
          </button>
        )}
      </td>
    </tr>
  );
}

export function AggregatorsPage(p: { account: AccountRef }): JSX.Element {
  const a = p.account.id;
  const list = useLoad(() => aggregators.list(a), [a]);
  const remove = async (id: string): Promise<void> => {
    try {
      await aggregators.remove(a, id);
    } catch (e) {
      alert(e instanceof Error ? e.message : String(e));
    }
    await list.reload();
  };
  return (
    <>
      <h1>Aggregators</h1>
      <p class="muted">
        Every task has a Leader, which receives the measurements, and a Helper. Neither can read a measurement alone: keep
        them with different parties. This service runs one of each; to hold one half yourself, run a DAP-18 Helper
        (docs/pairing.md) and pair it here.
      </p>
      {list.error !== '' && <Notice kind="bad">{list.error}</Notice>}
      <div class="card">
        <table>
          <thead>
            <tr>
              <th>Aggregator</th>
              <th>Speaks</th>
              <th>Software</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {(list.data?.aggregators ?? []).map((g) => (
              <AggregatorRow key={g.id} a={g} onRemove={() => void remove(g.id)} />
            ))}
          </tbody>
        </table>
      </div>
      <PairForm account={a} onPaired={() => void list.reload()} />
    </>
  );
}
