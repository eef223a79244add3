// Another account (the signed-in user owns it).

import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { accounts, ApiError } from '../api';
import { navigate } from '../router';
import { Field } from './Field';

export function NewAccountForm(p: { onCreated: () => Promise<void> }): JSX.Element {
  const [name, setName] = useState('');
  const [fields, setFields] = useState<Record<string, string>>({});
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    setFields({});
    try {
      const a = await accounts.create(name);
      await p.onCreated();
      navigate(`/a/${encodeURIComponent(a.id)}`);
    } catch (err) {
      setFields(err instanceof ApiError ? err.fields : { name: String(err) });
    }
  };
  return (
    <form class="card" onSubmit={(e) => void submit(e)} noValidate>
      <h2>New account</h2>
      <div class="row">
        <Field label="Account name" name="new_account_name" value={name} onInput={setName} error={fields.name} />
        <div class="field">
          <button type="submit">Create account</button>
        </div>
      </div>
    </form>
  );
}
