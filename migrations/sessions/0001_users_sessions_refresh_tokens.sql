-- Users, sessions and refresh tokens (docs/STORAGE.md describes every column).
-- Times are epoch seconds. Refresh tokens are stored only as SHA-256 hashes.

CREATE TABLE users (
  id TEXT PRIMARY KEY,                    -- the access token's `sub`
  tenant TEXT NOT NULL,
  username TEXT NOT NULL,
  password_scheme TEXT NOT NULL CHECK (password_scheme IN ('argon2id', 'pbkdf2-sha256')),
  password_params TEXT NOT NULL,          -- JSON, e.g. {"m":19456,"t":2,"p":1}
  password_hash TEXT NOT NULL,            -- PHC-style string of that scheme
  scopes TEXT NOT NULL DEFAULT '',        -- space-delimited scopes the user may be granted
  status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
  password_changed_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  UNIQUE (tenant, username)
);

CREATE TABLE sessions (
  sid TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users (id),
  tenant TEXT NOT NULL,
  client_type TEXT NOT NULL CHECK (client_type IN ('web', 'mobile')),
  device_id TEXT,
  scope TEXT NOT NULL,                    -- granted at login; a refresh never widens it
  created_at INTEGER NOT NULL,
  last_used_at INTEGER NOT NULL,
  absolute_expires_at INTEGER NOT NULL,
  idle_expires_at INTEGER NOT NULL,
  revoked_at INTEGER,
  revoked_reason TEXT,
  created_country TEXT,
  last_country TEXT,
  user_agent_hash TEXT
);
CREATE INDEX sessions_by_user ON sessions (user_id, created_at);
CREATE INDEX sessions_by_expiry ON sessions (absolute_expires_at);

CREATE TABLE refresh_tokens (
  token_hash TEXT PRIMARY KEY,            -- base64url SHA-256 of the whole token
  sid TEXT NOT NULL REFERENCES sessions (sid),
  parent_hash TEXT,
  generation INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at INTEGER,                        -- set once, by the rotation that consumed it
  used_fingerprint TEXT,                  -- device fingerprint of that rotation
  successor_hash TEXT,
  successor_sealed TEXT,                  -- the successor, AES-GCM sealed under this token
  successor_sealed_until INTEGER          -- the reuse window; the seal is wiped after it
);
CREATE INDEX refresh_tokens_by_session ON refresh_tokens (sid);
CREATE INDEX refresh_tokens_by_expiry ON refresh_tokens (expires_at);

CREATE TABLE login_throttle (
  key TEXT PRIMARY KEY,                   -- 'u:' + tenant/username hash, or 'ip:' + address
  failures INTEGER NOT NULL,
  window_started_at INTEGER NOT NULL,
  blocked_until INTEGER NOT NULL DEFAULT 0
);
