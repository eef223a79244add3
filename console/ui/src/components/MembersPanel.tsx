// Members of an account with their roles; owners invite (a link, shown once), change roles
// and remove members; anyone may leave.

import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { accounts, type AccountRef, type Me, type NewInvitation, type Role } from '../api';
import { dateTime } from '../format';
import { useLoad } from '../load';
import { navigate } from '../router';
import { Notice } from './Notice';

export function MembersPanel(p: { account: AccountRef; me: Me; onChange: () => Promise<void> }): JSX.Element {
  const a = p.account.id;
  const owner = p.account.role === 'owner';
  const acc = useLoad(() => accounts.get(a), [a]);
  const invs = useLoad(async () => (owner ? (await accounts.invitations(a)).invitations : []), [a, owner]);
  const [role, setRole] = useState<Role>('member');
  const [link, setLink] = useState<NewInvitation | null>(null);
  const [error, setError] = useState('');

  const act = async (f: () => Promise<unknown>): Promise<void> => {
    setError('');
    try {
      await f();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
    await acc.reload();
    await invs.reload();
  };
  const leave = async (userId: string): Promise<void> => {
    await act(() => accounts.removeMember(a, userId));
    if (userId === p.me.user.id) {
      await p.onChange();
      navigate('/');
    }
  };
  return (
    <div class="card" id="members">
      <h2>Members of {acc.data?.name ?? p.account.name}</h2>
      {error !== '' && <Notice kind="bad">{error}</Notice>}
      <table>
        <tbody>
          {(acc.data?.members ?? []).map((m) => (
            <tr key={m.user_id}>
              <td>{m.email}</td>
              <td>
                {owner ? (
                  <select aria-label={`Role of ${m.email}`} value={m.role} onChange={(e) => void act(() => accounts.setRole(a, m.user_id, e.currentTarget.value as Role))}>
                    <option value="owner">owner</option>
                    <option value="member">member</option>
                  </select>
                ) : (
                  m.role
                )}
              </td>
              <td>
                {(owner || m.user_id === p.me.user.id) && (
                  <button class="danger" onClick={() => void leave(m.user_id)}>
                    {m.user_id === p.me.user.id ? 'Leave' : 'Remove'}
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {owner && (
        <>
          <h3>Invite someone</h3>
          <div class="actions">
            <select aria-label="Role of the invited" value={role} onChange={(e) => setRole(e.currentTarget.value as Role)}>
              <option value="member">as member</option>
              <option value="owner">as owner</option>
            </select>
            <button onClick={() => void act(async () => setLink(await accounts.invite(a, role)))}>Create invitation link</button>
          </div>
          {link !== null && (
            <Notice kind="ok">
              Send this link to the person you invite (it works once, until {dateTime(link.expires_at)}; it is shown only now):
              <div class="secret" data-invite-url>
                {link.url}
              </div>
            </Notice>
          )}
          {(invs.data ?? []).length > 0 && (
            <table class="small">
              <tbody>
                {(invs.data ?? []).map((i) => (
                  <tr key={i.id}>
                    <td>Open invitation ({i.role}), until {dateTime(i.expires_at)}</td>
                    <td>
                      <button class="secondary" onClick={() => void act(() => accounts.withdraw(a, i.id))}>
                        Withdraw
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      )}
    </div>
  );
}
