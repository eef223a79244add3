// Putting a credential's key file and token back into this browser (from the backup),
// checked against the public parts the console holds.

import { CollectorKeyPair } from '@edap/dap';
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import type { Credential } from '../api';
import { keystore, tokenHash } from '../keystore';

export function RestoreForm(p: { credential: Credential; account: string; onRestored: () => void }): JSX.Element {
  const [open, setOpen] = useState(false);
  const [keyFile, setKeyFile] = useState('');
  const [token, setToken] = useState('');
  const [error, setError] = useState('');
  if (!open) {
    return (
      <button class="secondary" onClick={() => setOpen(true)}>
        Restore from backup
      </button>
    );
  }
  const restore = async (): Promise<void> => {
    setError('');
    try {
      const key = CollectorKeyPair.fromKeyFile(keyFile);
      if (key.publicConfig !== p.credential.hpke_config) {
        setError('This key file belongs to another credential.');
        return;
      }
      if ((await tokenHash(token.trim())) !== p.credential.token_hash) {
        setError('This token belongs to another credential.');
        return;
      }
      await keystore.save({ id: p.credential.id, accountId: p.account, name: p.credential.name, keyFile, token: token.trim(), savedAt: Date.now() });
      p.onRestored();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };
  return (
    <div>
      <input
        type="file"
        aria-label="Key file"
        onChange={(e) => {
          const f = e.currentTarget.files?.[0];
          if (f !== undefined) void f.text().then(setKeyFile);
        }}
      />
      <input aria-label="Collector token" placeholder="collector token" value={token} onInput={(e) => setToken(e.currentTarget.value)} />
      {error !== '' && <p class="error">{error}</p>}
      <button class="secondary" onClick={() => void restore()}>
        Restore
      </button>
    </div>
  );
}
