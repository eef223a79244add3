// The console's typed API client: every request the UI makes to the console goes through
// here (the JSON API under /api/v1, the same one scripts use with API tokens). It keeps the
// session's CSRF token and sends it with every state-changing request.

/** An error answer of the API. `fields` maps form fields to their messages. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly fields: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export type Role = 'owner' | 'member';

export interface AccountRef {
  id: string;
  name: string;
  role: Role;
}

export interface Me {
  user: { id: string; email: string };
  csrf_token: string;
  accounts: AccountRef[];
}

export interface Member {
  user_id: string;
  email: string;
  role: Role;
  created_at: number;
}

export interface Account {
  id: string;
  name: string;
  created_at: number;
  role: Role;
  members: Member[];
}

export interface Invitation {
  id: string;
  role: Role;
  created_at: number;
  expires_at: number;
}

export interface NewInvitation extends Invitation {
  token: string;
  url: string;
}

export interface ApiToken {
  id: string;
  name: string;
  hint: string;
  role: Role;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

export interface NewApiToken extends ApiToken {
  token: string;
}

export interface Aggregator {
  id: string;
  name: string;
  shared: boolean;
  api_url: string;
  created_at: number;
  status: 'ok' | 'unreachable';
  problem?: string;
  dap_url?: string;
  protocol?: string;
  role?: 'Either' | 'Leader' | 'Helper';
  vdafs?: string[];
  batch_modes?: string[];
  features?: string[];
  software?: string;
}

export interface Credential {
  id: string;
  name: string;
  hpke_config: string;
  token_hash: string;
  created_at: number;
}

export type Kind = 'count' | 'sum' | 'histogram' | 'multihot' | 'sumvec';
export type BatchModeName = 'time_interval' | 'leader_selected';

export interface MeasurementSpec {
  kind: Kind;
  labels: string[];
  max?: number;
  max_choices?: number;
}

export interface TaskSummary {
  id: string;
  name: string;
  task_id: string;
  kind: Kind;
  batch_mode: BatchModeName;
  min_batch_size: number;
  time_precision: number;
  created_at: number;
}

export interface TaskDetail {
  id: string;
  name: string;
  task_id: string;
  task_config: string;
  task_info: string;
  measurement: MeasurementSpec;
  vdaf: { type: string; [param: string]: unknown };
  time_precision: number;
  min_batch_size: number;
  batch_mode: BatchModeName;
  task_start: number | null;
  task_end: number | null;
  leader: { id: string; name: string; dap_url: string };
  helper: { id: string; name: string; dap_url: string };
  credential: { id: string; name?: string; hpke_config?: string };
  snippets: { js: string; cli: string; task_file: string };
  created_at: number;
}

/** What the wizard sends; numbers may be the text the user typed (the server checks). */
export interface TaskRequest {
  name: string;
  kind: Kind | '';
  labels: string[];
  max: string;
  max_choices: string;
  time_precision: string;
  min_batch_size: string;
  batch_mode: BatchModeName;
  start: number | null;
  end: number | null;
  leader: string;
  helper: string;
  credential: string;
}

/** The Leader's counters (Janus's field names, plus every raw counter). */
export interface TaskMetrics {
  uploads: Record<string, number> & { report_success: number; counters: Record<string, number> };
  aggregations: Record<string, number> & { success: number; counters: Record<string, number> };
}

let csrfToken = '';

async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken !== '') headers['x-csrf-token'] = csrfToken;
  let resp: Response;
  try {
    resp = await fetch(`/api/v1/${path}`, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? null : JSON.stringify(body),
    });
  } catch (e) {
    throw new ApiError(0, 'network', `the console cannot be reached: ${String(e)}`);
  }
  if (resp.status === 204) return undefined as T;
  const text = await resp.text();
  let json: unknown = undefined;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (!resp.ok) {
    const o = (json ?? {}) as { error?: string; message?: string; fields?: Record<string, string> };
    throw new ApiError(resp.status, o.error ?? 'http', o.message ?? `HTTP ${resp.status}`, o.fields ?? {});
  }
  return json as T;
}

const acct = (a: string, rest = ''): string => `accounts/${encodeURIComponent(a)}${rest}`;

/** The session: sign-up, sign-in, sign-out, who am I. */
export const session = {
  async me(): Promise<Me | null> {
    try {
      const me = await request<Me>('GET', 'me');
      csrfToken = me.csrf_token;
      return me;
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) return null;
      throw e;
    }
  },
  async signUp(email: string, password: string, accountName: string): Promise<Me> {
    const me = await request<Me>('POST', 'signup', { email, password, account_name: accountName });
    csrfToken = me.csrf_token;
    return me;
  },
  async signIn(email: string, password: string): Promise<Me> {
    const me = await request<Me>('POST', 'signin', { email, password });
    csrfToken = me.csrf_token;
    return me;
  },
  async signOut(): Promise<void> {
    await request<void>('POST', 'signout', {});
    csrfToken = '';
  },
};

export const accounts = {
  create: (name: string) => request<AccountRef>('POST', 'accounts', { name }),
  get: (a: string) => request<Account>('GET', acct(a)),
  rename: (a: string, name: string) => request<Account>('PATCH', acct(a), { name }),
  setRole: (a: string, userId: string, role: Role) =>
    request<{ members: Member[] }>('PATCH', acct(a, `/members/${encodeURIComponent(userId)}`), { role }),
  removeMember: (a: string, userId: string) => request<void>('DELETE', acct(a, `/members/${encodeURIComponent(userId)}`)),
  invitations: (a: string) => request<{ invitations: Invitation[] }>('GET', acct(a, '/invitations')),
  invite: (a: string, role: Role) => request<NewInvitation>('POST', acct(a, '/invitations'), { role }),
  withdraw: (a: string, id: string) => request<void>('DELETE', acct(a, `/invitations/${encodeURIComponent(id)}`)),
  accept: (token: string) => request<Account>('POST', 'invitations/accept', { token }),
  apiTokens: (a: string) => request<{ api_tokens: ApiToken[] }>('GET', acct(a, '/api_tokens')),
  createApiToken: (a: string, name: string) => request<NewApiToken>('POST', acct(a, '/api_tokens'), { name }),
  revokeApiToken: (a: string, id: string) => request<void>('DELETE', acct(a, `/api_tokens/${encodeURIComponent(id)}`)),
};

export const aggregators = {
  list: (a: string) => request<{ aggregators: Aggregator[] }>('GET', acct(a, '/aggregators')),
  pair: (a: string, name: string, apiUrl: string, apiToken: string) =>
    request<Aggregator>('POST', acct(a, '/aggregators'), { name, api_url: apiUrl, api_token: apiToken }),
  remove: (a: string, id: string) => request<void>('DELETE', acct(a, `/aggregators/${encodeURIComponent(id)}`)),
};

export const credentials = {
  list: (a: string) => request<{ collector_credentials: Credential[] }>('GET', acct(a, '/collector_credentials')),
  create: (a: string, name: string, hpkeConfig: string, tokenHash: string) =>
    request<Credential>('POST', acct(a, '/collector_credentials'), { name, hpke_config: hpkeConfig, token_hash: tokenHash }),
  remove: (a: string, id: string) => request<void>('DELETE', acct(a, `/collector_credentials/${encodeURIComponent(id)}`)),
};

export const tasks = {
  list: (a: string) => request<{ tasks: TaskSummary[] }>('GET', acct(a, '/tasks')),
  create: (a: string, t: TaskRequest) => request<TaskDetail>('POST', acct(a, '/tasks'), t),
  get: (a: string, id: string) => request<TaskDetail>('GET', acct(a, `/tasks/${encodeURIComponent(id)}`)),
  remove: (a: string, id: string) => request<void>('DELETE', acct(a, `/tasks/${encodeURIComponent(id)}`)),
  metrics: (a: string, id: string) => request<TaskMetrics>('GET', acct(a, `/tasks/${encodeURIComponent(id)}/metrics`)),
};
