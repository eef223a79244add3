// The top bar: the account's sections, the account switcher, who is signed in.

import type { JSX } from 'preact';
import { session, type AccountRef, type Me } from '../api';
import { navigate } from '../router';
import { Link } from './Link';

interface Props {
  me: Me;
  account: AccountRef;
  section: string;
  onSignOut: () => void;
}

export function Header(p: Props): JSX.Element {
  const base = `/a/${encodeURIComponent(p.account.id)}`;
  const sections: [string, string][] = [
    ['', 'Overview'],
    ['tasks', 'Tasks'],
    ['aggregators', 'Aggregators'],
    ['credentials', 'Collector credentials'],
    ['settings', 'Members & API tokens'],
  ];
  const signOut = async (): Promise<void> => {
    await session.signOut().catch(() => undefined);
    p.onSignOut();
    navigate('/signin');
  };
  return (
    <header class="top">
      <Link href={base} class="brand">
        edap console
      </Link>
      <nav>
        {sections.map(([s, label]) => (
          <Link key={s} href={s === '' ? base : `${base}/${s}`} class={p.section === s ? 'active' : ''}>
            {label}
          </Link>
        ))}
      </nav>
      <div class="who">
        {p.me.accounts.length > 1 && (
          <select
            aria-label="Account"
            value={p.account.id}
            onChange={(e) => navigate(`/a/${encodeURIComponent(e.currentTarget.value)}`)}
          >
            {p.me.accounts.map((a) => (
              <option key={a.id} value={a.id}>
                {a.name}
              </option>
            ))}
          </select>
        )}
        <span>{p.me.user.email}</span>
        <button class="secondary" onClick={() => void signOut()}>
          Sign out
        </button>
      </div>
    </header>
  );
}
