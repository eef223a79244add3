// API tokens of an account (owners): for scripts and tools, with everything the UI does.
// A new token is shown once; the console keeps only its hash.

import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { accounts, ApiError, type NewApiToken } from '../api';
import { dateTime } from '../format';
import { useLoad } from '../load';
import { Field } from './Field';
import { Notice } from './Notice';

export function ApiTokensPanel(p: { account: string }): JSX.Element {
  const list = useLoad(() => accounts.apiTokens(p.account), [p.account]);
  const [name, setName] = useState('');
  const [fields, setFields] = useState<Record<string, string>>({});
  const [made, setMade] = useState<NewApiToken | null>(null);
  const [error, setError] = useState('');

  const create = async (e: Event): Promise<void> => {
    e.preventDefault();
    setFields({});
    setError('');
    try {
      setMade(await accounts.createApiToken(p.account, name));
      setName('');
      await list.reload();
    } catch (err) {
      if (err instanceof ApiError && Object.keys(err.fields).length > 0) setFields(err.fields);
      else setError(err instanceof Error ? err.message : String(err));
    }
  };
  const revoke = async (id: string): Promise<void> => {
    try {
      await accounts.revokeApiToken(p.account, id);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
    await list.reload();
  };
  return (
    <form class="card" id="api-tokens" onSubmit={(e) => void create(e)} noValidate>
      <h2>API tokens</h2>
      <p class="muted small">
        Scripts use the same JSON API as this page, under <code>/api/v1/</code>, with <code>Authorization: Bearer TOKEN</code>.
      </p>
      {error !== '' && <Notice kind="bad">{error}</Notice>}
      <table class="small">
        <tbody>
          {(list.data?.api_tokens ?? []).map((t) => (
            <tr key={t.id}>
              <td>{t.name}</td>
              <td>
                <code>{t.hint}</code>
              </td>
              <td>{t.role}</td>
              <td>{t.revoked_at !== null ? `revoked ${dateTime(t.revoked_at)}` : t.last_used_at !== null ? `used ${dateTime(t.last_used_at)}` : 'never used'}</td>
              <td>
                {t.revoked_at === null && (
                  <button class="danger" type="button" onClick={() => void revoke(t.id)}>
                    Revoke
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <div class="row">
        <Field label="New token's name" name="name" value={name} onInput={setName} error={fields.name} placeholder="deploy script" />
        <div class="field">
          <button type="submit">Create API token</button>
        </div>
      </div>
      {made !== null && (
        <Notice kind="ok">
          Your new token (shown only now):
          <div class="secret" data-new-token>
            {made.token}
          </div>
        </Notice>
      )}
    </form>
  );
}
