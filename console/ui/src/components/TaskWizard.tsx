// The task wizard, in the subscriber's words: what to measure, how often, how many people
// a result covers at least, time windows or Leader-selected batches, start and end, the
// aggregators and the collector credential. The console provisions the Helper, then the
// Leader; if that fails, nothing is left behind and the reason is shown.

import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { aggregators, ApiError, credentials, tasks, type AccountRef, type BatchModeName, type Kind, type TaskRequest } from '../api';
import { fromLocalInput } from '../format';
import { keystore } from '../keystore';
import { useLoad } from '../load';
import { navigate } from '../router';
import { Field } from './Field';
import { Notice } from './Notice';
import { SelectField } from './SelectField';

const KINDS: { kind: Kind; title: string; help: string }[] = [
  { kind: 'count', title: 'A yes/no question', help: 'How many answered yes (e.g. "did the page load fail?").' },
  { kind: 'sum', title: 'A number, added up', help: 'The total of numbers up to a maximum (e.g. seconds spent).' },
  { kind: 'histogram', title: 'One choice among options', help: 'How many chose each option (e.g. a favourite colour).' },
  { kind: 'multihot', title: 'Several choices among options', help: 'How many chose each option, several per person allowed.' },
  { kind: 'sumvec', title: 'A number per entry', help: 'The total of each entry (e.g. time per feature).' },
];

const PRECISIONS = [
  { value: '60', label: 'Every minute' },
  { value: '900', label: 'Every 15 minutes' },
  { value: '3600', label: 'Every hour' },
  { value: '86400', label: 'Every day' },
  { value: '604800', label: 'Every week' },
];

export function TaskWizard(p: { account: AccountRef }): JSX.Element {
  const a = p.account.id;
  const choices = useLoad(async () => {
    const [aggs, creds, local] = await Promise.all([aggregators.list(a), credentials.list(a), keystore.all()]);
    return { aggs: aggs.aggregators, creds: creds.collector_credentials, local };
  }, [a]);
  const [name, setName] = useState('');
  const [kind, setKind] = useState<Kind | ''>('');
  const [labels, setLabels] = useState('');
  const [max, setMax] = useState('');
  const [maxChoices, setMaxChoices] = useState('');
  const [precision, setPrecision] = useState('3600');
  const [minBatch, setMinBatch] = useState('100');
  const [mode, setMode] = useState<BatchModeName>('time_interval');
  const [start, setStart] = useState('');
  const [end, setEnd] = useState('');
  const [leader, setLeader] = useState('');
  const [helper, setHelper] = useState('');
  const [credential, setCredential] = useState('');
  const [fields, setFields] = useState<Record<string, string>>({});
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    const d = choices.data;
    if (d === undefined) return;
    if (leader === '') setLeader(d.aggs.find((g) => g.id === 'shared-leader')?.id ?? d.aggs[0]?.id ?? '');
    if (helper === '') setHelper(d.aggs.find((g) => g.id === 'shared-helper')?.id ?? d.aggs[1]?.id ?? '');
    if (credential === '') setCredential(d.creds.find((c) => d.local.some((l) => l.id === c.id))?.id ?? d.creds[0]?.id ?? '');
  }, [choices.data]);

  const hasLabels = kind === 'histogram' || kind === 'multihot' || kind === 'sumvec';
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    setBusy(true);
    setFields({});
    setError('');
    const req: TaskRequest = {
      name,
      kind,
      labels: hasLabels ? labels.split('\n') : [],
      max,
      max_choices: maxChoices,
      time_precision: precision,
      min_batch_size: minBatch,
      batch_mode: mode,
      start: fromLocalInput(start),
      end: fromLocalInput(end),
      leader,
      helper,
      credential,
    };
    const badTimes: Record<string, string> = {};
    if (start.trim() !== '' && req.start === null) badTimes.start = 'enter a date and time';
    if (end.trim() !== '' && req.end === null) badTimes.end = 'enter a date and time';
    try {
      if (Object.keys(badTimes).length > 0) {
        setFields(badTimes);
        return;
      }
      const t = await tasks.create(a, req);
      navigate(`/a/${encodeURIComponent(a)}/tasks/${encodeURIComponent(t.id)}`);
    } catch (err) {
      if (err instanceof ApiError && Object.keys(err.fields).length > 0) setFields(err.fields);
      else setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  const d = choices.data;
  const aggOptions = [{ value: '', label: 'Choose…' }, ...(d?.aggs ?? []).map((g) => ({ value: g.id, label: `${g.name}${g.status === 'ok' ? '' : ' (unreachable)'}` }))];
  const credOptions = [
    { value: '', label: 'Choose…' },
    ...(d?.creds ?? []).map((c) => ({ value: c.id, label: `${c.name}${d?.local.some((l) => l.id === c.id) === true ? '' : ' (not in this browser)'}` })),
  ];
  return (
    <form onSubmit={(e) => void submit(e)} noValidate id="task-wizard">
      <h1>New task</h1>
      {choices.error !== '' && <Notice kind="bad">{choices.error}</Notice>}
      <div class="card">
        <Field label="Task name" name="name" value={name} onInput={setName} error={fields.name} placeholder="Favourite colour" />
        <fieldset class="choices" aria-invalid={fields.kind !== undefined}>
          <legend>What do you want to measure?</legend>
          {KINDS.map((k) => (
            <label key={k.kind}>
              <input type="radio" name="kind" value={k.kind} checked={kind === k.kind} onChange={() => setKind(k.kind)} />
              <span>
                <b>{k.title}</b> <span class="muted small">{k.help}</span>
              </span>
            </label>
          ))}
          {fields.kind !== undefined && <p class="error" data-error-for="kind">{fields.kind}</p>}
        </fieldset>
        {hasLabels && (
          <Field
            label={kind === 'sumvec' ? 'Entries' : 'Options'}
            name="labels"
            multiline
            rows={5}
            value={labels}
            onInput={setLabels}
            error={fields.labels}
            help="One per line. In your code, a measurement names them by position, from 0."
          />
        )}
        {(kind === 'sum' || kind === 'sumvec') && (
          <Field label="Largest value of a measurement" name="max" type="number" min={1} value={max} onInput={setMax} error={fields.max} />
        )}
        {kind === 'multihot' && (
          <Field label="Most options one person may choose" name="max_choices" type="number" min={1} value={maxChoices} onInput={setMaxChoices} error={fields.max_choices} />
        )}
      </div>
      <div class="card">
        <SelectField
          label="How often?"
          name="time_precision"
          value={precision}
          options={PRECISIONS}
          onChange={setPrecision}
          error={fields.time_precision}
          help="Reports are grouped into time windows of this length; results can be read per window or for several together."
        />
        <Field
          label="How many people does a result cover at least?"
          name="min_batch_size"
          type="number"
          min={1}
          value={minBatch}
          onInput={setMinBatch}
          error={fields.min_batch_size}
          help="No result is ever given for fewer reports than this (the minimum batch size). Larger batches hide each person better; smaller ones give results sooner. 100 or more is a common choice."
        />
        <fieldset class="choices">
          <legend>How are results formed?</legend>
          <label>
            <input type="radio" name="batch_mode" checked={mode === 'time_interval'} onChange={() => setMode('time_interval')} />
            <span>
              <b>By time window</b> <span class="muted small">You choose the windows to read (a time series).</span>
            </span>
          </label>
          <label>
            <input type="radio" name="batch_mode" checked={mode === 'leader_selected'} onChange={() => setMode('leader_selected')} />
            <span>
              <b>As reports arrive</b> <span class="muted small">The Leader forms batches of the minimum size; you read them in turn.</span>
            </span>
          </label>
          {fields.batch_mode !== undefined && <p class="error">{fields.batch_mode}</p>}
        </fieldset>
        <div class="row">
          <Field label="Start (optional)" name="start" type="datetime-local" value={start} onInput={setStart} error={fields.start} help="Reports from before are refused." />
          <Field label="End (optional)" name="end" type="datetime-local" value={end} onInput={setEnd} error={fields.end} help="Reports from then on are refused." />
        </div>
      </div>
      <div class="card">
        <div class="row">
          <SelectField label="Leader" name="leader" value={leader} options={aggOptions} onChange={setLeader} error={fields.leader} help="Receives the reports." />
          <SelectField label="Helper" name="helper" value={helper} options={aggOptions} onChange={setHelper} error={fields.helper} help="The other half: another party." />
        </div>
        <SelectField
          label="Collector credential"
          name="credential"
          value={credential}
          options={credOptions}
          onChange={setCredential}
          error={fields.credential}
          help="Results are encrypted to it; collect with the browser that holds it."
        />
      </div>
      {error !== '' && <Notice kind="bad">{error}</Notice>}
      <div class="actions">
        <button type="submit" disabled={busy || d === undefined}>
          {busy ? 'Creating the task on both aggregators…' : 'Create task'}
        </button>
      </div>
    </form>
  );
}
