// Sign in with email and password.

import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { ApiError, session, type Me } from '../api';
import { Field } from './Field';
import { Link } from './Link';
import { Notice } from './Notice';

export function SignIn(p: { onDone: (me: Me) => void }): JSX.Element {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [fields, setFields] = useState<Record<string, string>>({});
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    setBusy(true);
    setFields({});
    setError('');
    try {
      p.onDone(await session.signIn(email, password));
    } catch (err) {
      if (err instanceof ApiError && Object.keys(err.fields).length > 0) setFields(err.fields);
      else setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="narrow card">
      <h1>Sign in</h1>
      <p class="muted">Privacy-preserving metrics with DAP: no single server sees a measurement.</p>
      <form onSubmit={(e) => void submit(e)} noValidate>
        <Field label="Email address" name="email" type="email" autoComplete="email" value={email} onInput={setEmail} error={fields.email} />
        <Field label="Password" name="password" type="password" autoComplete="current-password" value={password} onInput={setPassword} error={fields.password} />
        {error !== '' && <Notice kind="bad">{error}</Notice>}
        <div class="actions">
          <button type="submit" disabled={busy}>
            Sign in
          </button>
          <span class="muted">
            New here? <Link href="/signup">Create an account</Link>
          </span>
        </div>
      </form>
    </div>
  );
}
