// The app: the session, the header with the account's sections, and the pages by path.

import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { session, type Me } from '../api';
import { accountPath, navigate, usePath } from '../router';
import { AggregatorsPage } from './AggregatorsPage';
import { CredentialsPage } from './CredentialsPage';
import { Header } from './Header';
import { InvitePage } from './InvitePage';
import { Overview } from './Overview';
import { SettingsPage } from './SettingsPage';
import { SignIn } from './SignIn';
import { SignUp } from './SignUp';
import { TaskPage } from './TaskPage';
import { TasksPage } from './TasksPage';
import { TaskWizard } from './TaskWizard';

export function App(): JSX.Element {
  const path = usePath();
  const [me, setMe] = useState<Me | null | undefined>(undefined);
  const [error, setError] = useState('');

  const refresh = async (): Promise<void> => {
    try {
      setMe(await session.me());
    } catch (e) {
      setError(String(e));
    }
  };
  useEffect(() => {
    void refresh();
  }, []);

  if (error !== '') return <p class="notice bad">{error}</p>;
  if (me === undefined) return <p class="loading">Loading…</p>;

  const signedIn = (m: Me): void => {
    setMe(m);
    const pending = sessionStorage.getItem('edap-invite');
    navigate(pending !== null ? `/invite#${pending}` : `/a/${encodeURIComponent(m.accounts[0]?.id ?? '')}`);
  };

  if (path === '/invite') return <InvitePage me={me} onJoined={refresh} />;
  if (me === null) {
    return path === '/signup' ? <SignUp onDone={signedIn} /> : <SignIn onDone={signedIn} />;
  }
  const ap = accountPath(path);
  const account = me.accounts.find((a) => a.id === ap?.account) ?? me.accounts[0];
  if (account === undefined) {
    return <p class="notice bad">You belong to no account. Ask an owner for an invitation link.</p>;
  }
  if (ap === null || ap.account !== account.id) {
    // Sign-in pages, "/", or an account that is not (or no longer) yours.
    queueMicrotask(() => navigate(`/a/${encodeURIComponent(account.id)}`));
    return <p class="loading">Loading…</p>;
  }
  const [section, id] = ap.rest;
  let page: JSX.Element;
  switch (section) {
    case undefined:
      page = <Overview account={account} />;
      break;
    case 'aggregators':
      page = <AggregatorsPage account={account} />;
      break;
    case 'credentials':
      page = <CredentialsPage account={account} />;
      break;
    case 'tasks':
      page =
        id === undefined ? (
          <TasksPage account={account} />
        ) : id === 'new' ? (
          <TaskWizard account={account} />
        ) : (
          <TaskPage account={account} taskId={id} />
        );
      break;
    case 'settings':
      page = <SettingsPage account={account} me={me} onChange={refresh} />;
      break;
    default:
      page = <p class="notice bad">There is no such page.</p>;
  }
  return (
    <>
      <Header me={me} account={account} section={section ?? ''} onSignOut={() => setMe(null)} />
      <main>{page}</main>
    </>
  );
}
