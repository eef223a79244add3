// Collecting results in this browser: a time range (as one batch or one per time window)
// for a time-window task, or the next batch for a Leader-selected one.

import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import type { TaskDetail } from '../api';
import { batches, collectBatch } from '../collect';
import { dateTime, duration, fromLocalInput, now, toLocalInput } from '../format';
import { results, type LocalCredential } from '../keystore';
import { Field } from './Field';
import { Link } from './Link';
import { Notice } from './Notice';
import { SelectField } from './SelectField';

interface Props {
  account: string;
  task: TaskDetail;
  credential: LocalCredential | undefined;
  onCollected: () => void;
}

export function CollectPanel(p: Props): JSX.Element {
  const t = p.task;
  const step = t.time_precision;
  const windowStart = Math.floor(now() / step) * step;
  const [from, setFrom] = useState(toLocalInput(windowStart));
  const [to, setTo] = useState(toLocalInput(windowStart + step));
  const [split, setSplit] = useState('whole');
  const [busy, setBusy] = useState(false);
  const [messages, setMessages] = useState<{ kind: 'ok' | 'bad' | 'warn'; text: string }[]>([]);
  const [fields, setFields] = useState<Record<string, string>>({});

  if (p.credential === undefined) {
    return (
      <div class="card" id="collect">
        <h2>Collect results</h2>
        <Notice kind="warn">
          This browser does not hold the key of the task's collector credential ({t.credential.name ?? t.credential.id}). Restore
          it from its backup on the <Link href={`/a/${encodeURIComponent(p.account)}/credentials`}>credentials page</Link>.
        </Notice>
      </div>
    );
  }
  const credential = p.credential;

  const run = async (e: Event): Promise<void> => {
    e.preventDefault();
    setFields({});
    let queries: ({ start: number; duration: number } | null)[] = [null];
    if (t.batch_mode === 'time_interval') {
      const s = fromLocalInput(from);
      const en = fromLocalInput(to);
      const f: Record<string, string> = {};
      if (s === null) f.from = 'enter a date and time';
      if (en === null) f.to = 'enter a date and time';
      if (s !== null && en !== null && en <= s) f.to = 'must be after the start';
      if (Object.keys(f).length > 0 || s === null || en === null) {
        setFields(f);
        return;
      }
      const start = Math.floor(s / step) * step;
      const end = Math.ceil(en / step) * step;
      queries = batches(start, end, split === 'each' ? step : null);
    }
    setBusy(true);
    const out: { kind: 'ok' | 'bad' | 'warn'; text: string }[] = [];
    for (const q of queries) {
      const label = q === null ? 'The next batch' : `${dateTime(q.start)} to ${dateTime(q.start + q.duration)}`;
      const o = await collectBatch(p.account, t, credential, q);
      if (o.ok) {
        await results.save(o.result);
        out.push({ kind: 'ok', text: `${label}: ${o.result.reportCount} reports collected.` });
      } else {
        out.push({ kind: 'warn', text: `${label}: ${o.reason}` });
      }
      setMessages([...out]);
      p.onCollected();
    }
    setBusy(false);
  };

  return (
    <form class="card" id="collect" onSubmit={(e) => void run(e)} noValidate>
      <h2>Collect results</h2>
      <p class="muted small">
        This browser asks the Leader for the batch, decrypts both aggregators' shares with the credential's key and adds
        them up. A batch is given only once it holds at least {t.min_batch_size} reports.
      </p>
      {t.batch_mode === 'time_interval' ? (
        <>
          <div class="row">
            <Field label="From" name="from" type="datetime-local" value={from} onInput={setFrom} error={fields.from} />
            <Field label="To" name="to" type="datetime-local" value={to} onInput={setTo} error={fields.to} />
            <SelectField
              label="Results"
              name="split"
              value={split}
              onChange={setSplit}
              options={[
                { value: 'whole', label: 'One for the whole range' },
                { value: 'each', label: `One per time window (${duration(step)})` },
              ]}
            />
          </div>
          <p class="small muted">
            Times are rounded out to whole windows of {duration(step)}. Collecting closes a window for good: reports for it
            that arrive later are refused.
          </p>
        </>
      ) : (
        <p class="small">The Leader hands out its batches in order; each is collected once.</p>
      )}
      {messages.map((m, i) => (
        <Notice key={i} kind={m.kind}>
          {m.text}
        </Notice>
      ))}
      <div class="actions">
        <button type="submit" disabled={busy}>
          {busy ? 'Collecting…' : t.batch_mode === 'time_interval' ? 'Collect' : 'Collect the next batch'}
        </button>
      </div>
    </form>
  );
}
