// A new collector credential: generated in this browser, or from an existing key file
// (`edap hpke-keygen`). Only the public HpkeConfig and the token's hash are sent.

import { CollectorKeyPair } from '@edap/dap';
import type { JSX, TargetedEvent } from 'preact';
import { useState } from 'preact/hooks';
import { ApiError, credentials } from '../api';
import { download, fileName, keystore, newToken, tokenHash, type LocalCredential } from '../keystore';
import { Field } from './Field';
import { Notice } from './Notice';

export function CredentialForm(p: { account: string; onCreated: () => void }): JSX.Element {
  const [name, setName] = useState('');
  const [mode, setMode] = useState<'generate' | 'import'>('generate');
  const [keyFile, setKeyFile] = useState('');
  const [token, setToken] = useState('');
  const [fields, setFields] = useState<Record<string, string>>({});
  const [error, setError] = useState('');
  const [made, setMade] = useState<LocalCredential | null>(null);
  const [busy, setBusy] = useState(false);

  const readFile = async (e: TargetedEvent<HTMLInputElement>): Promise<void> => {
    const f = e.currentTarget.files?.[0];
    if (f !== undefined) setKeyFile(await f.text());
  };

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    setBusy(true);
    setFields({});
    setError('');
    setMade(null);
    try {
      let key: CollectorKeyPair;
      if (mode === 'import') {
        try {
          key = CollectorKeyPair.fromKeyFile(keyFile);
        } catch (err) {
          setFields({ key_file: `This is not a key file of edap hpke-keygen: ${err instanceof Error ? err.message : String(err)}` });
          return;
        }
      } else {
        key = CollectorKeyPair.generate({ configId: crypto.getRandomValues(new Uint8Array(1))[0] ?? 0 });
      }
      const t = mode === 'import' && token.trim() !== '' ? token.trim() : newToken();
      const c = await credentials.create(p.account, name, key.publicConfig, await tokenHash(t));
      const local: LocalCredential = { id: c.id, accountId: p.account, name: c.name, keyFile: key.toKeyFile(), token: t, savedAt: Date.now() };
      await keystore.save(local);
      setMade(local);
      setName('');
      setKeyFile('');
      setToken('');
      p.onCreated();
    } catch (err) {
      if (err instanceof ApiError && Object.keys(err.fields).length > 0) setFields(err.fields);
      else setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="card" id="new-credential" onSubmit={(e) => void submit(e)} noValidate>
      <h2>New collector credential</h2>
      <Field label="Name" name="name" value={name} onInput={setName} error={fields.name} placeholder="Analytics team" />
      <fieldset class="choices">
        <legend>Key</legend>
        <label>
          <input type="radio" name="mode" checked={mode === 'generate'} onChange={() => setMode('generate')} /> Generate a new key
          pair in this browser
        </label>
        <label>
          <input type="radio" name="mode" checked={mode === 'import'} onChange={() => setMode('import')} /> Import a key file
          (from <code>edap hpke-keygen</code> or a backup)
        </label>
      </fieldset>
      {mode === 'import' && (
        <>
          <div class="field">
            <label for="f-key-file-upload">Key file</label>
            <input id="f-key-file-upload" type="file" accept=".json,application/json" onChange={(e) => void readFile(e)} />
          </div>
          <Field label="…or paste it" name="key_file" multiline rows={4} value={keyFile} onInput={setKeyFile} error={fields.key_file ?? fields.hpke_config} />
          <Field
            label="Collector token (optional)"
            name="token"
            value={token}
            onInput={setToken}
            error={fields.token_hash}
            help="The token of this key, if you have one; otherwise a new one is made."
          />
        </>
      )}
      {error !== '' && <Notice kind="bad">{error}</Notice>}
      {made !== null && (
        <Notice kind="ok">
          Created {made.name}. It is kept in this browser; download a backup now:{' '}
          <button type="button" class="secondary" onClick={() => download(fileName(made.name, '.key.json'), made.keyFile)}>
            Download key file
          </button>{' '}
          <button type="button" class="secondary" onClick={() => download(fileName(made.name, '.token'), `${made.token}\n`, 'text/plain')}>
            Download token
          </button>
        </Notice>
      )}
      <div class="actions">
        <button type="submit" disabled={busy}>
          {mode === 'generate' ? 'Create credential' : 'Import credential'}
        </button>
      </div>
    </form>
  );
}
