// Following an invitation link (/invite#TOKEN): sign in or up first, then join.

import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { accounts, type Me } from '../api';
import { navigate } from '../router';
import { Link } from './Link';
import { Notice } from './Notice';

export function InvitePage(p: { me: Me | null; onJoined: () => Promise<void> }): JSX.Element {
  const token = location.hash.replace(/^#/, '') || sessionStorage.getItem('edap-invite') || '';
  const [error, setError] = useState('');
  if (token === '') return <Notice kind="bad">This invitation link is incomplete.</Notice>;
  if (p.me === null) {
    sessionStorage.setItem('edap-invite', token);
    return (
      <div class="narrow card">
        <h1>You are invited</h1>
        <p>
          <Link href="/signin">Sign in</Link> or <Link href="/signup">create an account</Link> to join.
        </p>
      </div>
    );
  }
  const join = async (): Promise<void> => {
    try {
      const acc = await accounts.accept(token);
      sessionStorage.removeItem('edap-invite');
      await p.onJoined();
      navigate(`/a/${encodeURIComponent(acc.id)}`);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };
  return (
    <div class="narrow card">
      <h1>You are invited</h1>
      <p>Join the account as {p.me.user.email}?</p>
      {error !== '' && <Notice kind="bad">{error}</Notice>}
      <button onClick={() => void join()}>Join</button>
    </div>
  );
}
