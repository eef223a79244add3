-- The console's state (D1). Secrets are never stored in clear: passwords as PBKDF2 hashes,
-- session, invitation and API tokens as SHA-256 hashes, peer aggregator API tokens sealed
-- with AES-256-GCM (PEER_TOKEN_KEY). Collector keys and tokens never reach the console:
-- a credential is its public HpkeConfig and the hash of its token. Times are POSIX seconds.

CREATE TABLE users (
  id TEXT PRIMARY KEY,
  email TEXT NOT NULL UNIQUE,          -- trimmed, lower case
  password_hash TEXT NOT NULL,         -- pbkdf2-sha256$iterations$salt$hash
  created_at INTEGER NOT NULL
);

CREATE TABLE accounts (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  created_at INTEGER NOT NULL
);

CREATE TABLE memberships (
  account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  role TEXT NOT NULL CHECK (role IN ('owner', 'member')),
  created_at INTEGER NOT NULL,
  PRIMARY KEY (account_id, user_id)
);
CREATE INDEX memberships_by_user ON memberships(user_id);

CREATE TABLE sessions (
  token_hash TEXT PRIMARY KEY,         -- SHA-256 of the cookie's token
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  csrf_token TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_by_expiry ON sessions(expires_at);

-- One row per failed sign-in, per scope ('account': the email address; 'address': the
-- client's IP address); rows older than the window are deleted as new ones arrive.
CREATE TABLE sign_in_failures (
  scope TEXT NOT NULL,
  key TEXT NOT NULL,
  at INTEGER NOT NULL
);
CREATE INDEX sign_in_failures_by_key ON sign_in_failures(scope, key, at);

CREATE TABLE invitations (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  token_hash TEXT NOT NULL UNIQUE,
  role TEXT NOT NULL CHECK (role IN ('owner', 'member')),
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);

CREATE TABLE api_tokens (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  token_hash TEXT NOT NULL UNIQUE,
  hint TEXT NOT NULL,                  -- the token's first characters, to tell tokens apart
  role TEXT NOT NULL CHECK (role IN ('owner', 'member')),
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  last_used_at INTEGER,
  revoked_at INTEGER
);

-- A subscriber's own aggregators (the deployment's Leader and Helper come from variables).
CREATE TABLE aggregators (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  api_url TEXT NOT NULL,
  token_sealed TEXT NOT NULL,
  info TEXT NOT NULL,                  -- its GET / answer (JSON) at pairing time
  created_at INTEGER NOT NULL
);
CREATE INDEX aggregators_by_account ON aggregators(account_id);

CREATE TABLE collector_credentials (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  hpke_config TEXT NOT NULL,           -- base64url of the DAP HpkeConfig
  token_hash TEXT NOT NULL,            -- base64url SHA-256 of the collector auth token
  created_at INTEGER NOT NULL
);
CREATE INDEX collector_credentials_by_account ON collector_credentials(account_id);

CREATE TABLE tasks (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  dap_task_id TEXT NOT NULL,
  task_config TEXT NOT NULL,           -- base64url of the TaskConfiguration both hold
  measurement TEXT NOT NULL,           -- the wizard's measurement (JSON: kind, labels, ...)
  leader_id TEXT NOT NULL,             -- an aggregators.id or shared-leader / shared-helper
  helper_id TEXT NOT NULL,
  credential_id TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX tasks_by_account ON tasks(account_id);
