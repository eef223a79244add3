// Pairing an aggregator: name, aggregator API URL and token. The console asks the
// aggregator what it is and says why it cannot be used, if it cannot.

import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { aggregators, ApiError, type Aggregator } from '../api';
import { Field } from './Field';
import { Notice } from './Notice';

export function PairForm(p: { account: string; onPaired: (a: Aggregator) => void }): JSX.Element {
  const [name, setName] = useState('');
  const [url, setUrl] = useState('');
  const [token, setToken] = useState('');
  const [fields, setFields] = useState<Record<string, string>>({});
  const [error, setError] = useState('');
  const [paired, setPaired] = useState<Aggregator | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    setBusy(true);
    setFields({});
    setError('');
    setPaired(null);
    try {
      const a = await aggregators.pair(p.account, name, url, token);
      setPaired(a);
      setName('');
      setUrl('');
      setToken('');
      p.onPaired(a);
    } catch (err) {
      if (err instanceof ApiError && Object.keys(err.fields).length > 0) setFields(err.fields);
      else setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="card" id="pair" onSubmit={(e) => void submit(e)} noValidate>
      <h2>Pair an aggregator</h2>
      <div class="row">
        <Field label="Name" name="name" value={name} onInput={setName} error={fields.name} placeholder="Our Helper" />
        <Field
          label="Aggregator API URL"
          name="api_url"
          value={url}
          onInput={setUrl}
          error={fields.api_url}
          placeholder="https://helper.example/api"
        />
      </div>
      <Field
        label="Aggregator API token"
        name="api_token"
        type="password"
        autoComplete="off"
        value={token}
        onInput={setToken}
        error={fields.api_token}
        help="One of its AGGREGATOR_API_TOKENS. Stored encrypted; used only to create and remove tasks."
      />
      {error !== '' && <Notice kind="bad">{error}</Notice>}
      {paired !== null && (
        <Notice kind="ok">
          Paired {paired.name}: {paired.protocol}, role {paired.role}, DAP URL {paired.dap_url}.
        </Notice>
      )}
      <div class="actions">
        <button type="submit" disabled={busy}>
          {busy ? 'Checking…' : 'Pair'}
        </button>
      </div>
    </form>
  );
}
