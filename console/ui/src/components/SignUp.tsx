// Sign up: email, password and the name of the first account.

import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { ApiError, session, type Me } from '../api';
import { Field } from './Field';
import { Link } from './Link';
import { Notice } from './Notice';

export function SignUp(p: { onDone: (me: Me) => void }): JSX.Element {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [accountName, setAccountName] = useState('');
  const [fields, setFields] = useState<Record<string, string>>({});
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    setBusy(true);
    setFields({});
    setError('');
    try {
      p.onDone(await session.signUp(email, password, accountName));
    } catch (err) {
      if (err instanceof ApiError && Object.keys(err.fields).length > 0) setFields(err.fields);
      else setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="narrow card">
      <h1>Create your account</h1>
      <form onSubmit={(e) => void submit(e)} noValidate>
        <Field label="Email address" name="email" type="email" autoComplete="email" value={email} onInput={setEmail} error={fields.email} />
        <Field
          label="Password"
          name="password"
          type="password"
          autoComplete="new-password"
          value={password}
          onInput={setPassword}
          error={fields.password}
          help="At least 10 characters. A passphrase of a few words is easy to remember."
        />
        <Field
          label="Account name"
          name="account_name"
          value={accountName}
          onInput={setAccountName}
          error={fields.account_name}
          placeholder="My team"
          help="Your tasks, aggregators and credentials belong to an account; you can invite others to it."
        />
        {error !== '' && <Notice kind="bad">{error}</Notice>}
        <div class="actions">
          <button type="submit" disabled={busy}>
            Create account
          </button>
          <span class="muted">
            Have one? <Link href="/signin">Sign in</Link>
          </span>
        </div>
      </form>
    </div>
  );
}
