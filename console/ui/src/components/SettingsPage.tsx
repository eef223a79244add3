// The account's people and machines: members and their roles, invitation links, API
// tokens for scripts and `edap`, and a new account.

import type { JSX } from 'preact';
import type { AccountRef, Me } from '../api';
import { ApiTokensPanel } from './ApiTokensPanel';
import { MembersPanel } from './MembersPanel';
import { NewAccountForm } from './NewAccountForm';

export function SettingsPage(p: { account: AccountRef; me: Me; onChange: () => Promise<void> }): JSX.Element {
  return (
    <>
      <h1>Members & API tokens</h1>
      <MembersPanel account={p.account} me={p.me} onChange={p.onChange} />
      {p.account.role === 'owner' && <ApiTokensPanel account={p.account.id} />}
      <NewAccountForm onCreated={p.onChange} />
    </>
  );
}
