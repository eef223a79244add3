// Collector credentials: made in this browser (an X25519 key pair and a collector token),
// kept in IndexedDB, backed up as files; the console holds only the public parts.

import type { JSX } from 'preact';
import { credentials, type AccountRef, type Credential } from '../api';
import { download, fileName, keystore, type LocalCredential } from '../keystore';
import { useLoad } from '../load';
import { CredentialForm } from './CredentialForm';
import { Notice } from './Notice';
import { RestoreForm } from './RestoreForm';

function CredentialRow(p: { c: Credential; local: LocalCredential | undefined; account: string; onChange: () => void }): JSX.Element {
  const { c, local } = p;
  const remove = async (): Promise<void> => {
    if (!confirm(`Remove ${c.name}? Results of tasks made with it can no longer be collected.`)) return;
    try {
      await credentials.remove(p.account, c.id);
      await keystore.remove(c.id);
    } catch (e) {
      alert(e instanceof Error ? e.message : String(e));
    }
    p.onChange();
  };
  return (
    <tr data-credential={c.id}>
      <td>
        <b>{c.name}</b>
        <div class="small muted">public key config {c.hpke_config.slice(0, 16)}…</div>
      </td>
      <td>{local !== undefined ? <span class="tag ok">in this browser</span> : <span class="tag bad">not in this browser</span>}</td>
      <td>
        {local !== undefined ? (
          <div class="actions">
            <button class="secondary" onClick={() => download(fileName(c.name, '.key.json'), local.keyFile)}>
              Download key file
            </button>
            <button class="secondary" onClick={() => download(fileName(c.name, '.token'), `${local.token}\n`, 'text/plain')}>
              Download token
            </button>
          </div>
        ) : (
          <RestoreForm credential={c} account={p.account} onRestored={p.onChange} />
        )}
      </td>
      <td>
        <button class="danger" onClick={() => void remove()}>
          Remove
        </button>
      </td>
    </tr>
  );
}

export function CredentialsPage(p: { account: AccountRef }): JSX.Element {
  const a = p.account.id;
  const state = useLoad(async () => {
    const [list, local] = await Promise.all([credentials.list(a), keystore.all()]);
    return { list: list.collector_credentials, local };
  }, [a]);
  return (
    <>
      <h1>Collector credentials</h1>
      <p class="muted">
        Results are encrypted to a collector credential's key, and the Leader hands them out only for its token. Both are
        made and kept in this browser: the console never sees them. Download the key file and token as a backup (and for{' '}
        <code>edap collect --key FILE</code>); a lost key cannot be replaced.
      </p>
      {state.error !== '' && <Notice kind="bad">{state.error}</Notice>}
      {state.data !== undefined && state.data.list.length > 0 && (
        <div class="card">
          <table>
            <tbody>
              {state.data.list.map((c) => (
                <CredentialRow
                  key={c.id}
                  c={c}
                  local={state.data?.local.find((l) => l.id === c.id)}
                  account={a}
                  onChange={() => void state.reload()}
                />
              ))}
            </tbody>
          </table>
        </div>
      )}
      <CredentialForm account={a} onCreated={() => void state.reload()} />
    </>
  );
}
