-- Second factors and step-up (docs/STORAGE.md). A session remembers how its user authenticated:
-- `amr` (RFC 8176 method names, space-separated) and `auth_time` (epoch seconds; NULL on rows
-- from before this migration means created_at). A refresh carries them unchanged; a step-up
-- replaces them.
ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT 'pwd';
ALTER TABLE sessions ADD COLUMN auth_time INTEGER;

-- A user's second factors, on the user's shard. TOTP secrets are sealed (AES-GCM under a key
-- derived from KEY_ENCRYPTION_SECRET, bound to the factor and user ids); totp_last_step is the
-- newest time step a code was accepted for, so each code works once. A passkey keeps its
-- credential id, COSE public key, sign counter and transports.
CREATE TABLE factors (
  id TEXT PRIMARY KEY,                    -- fac_<random>
  user_id TEXT NOT NULL REFERENCES users (id),
  tenant TEXT NOT NULL,
  type TEXT NOT NULL CHECK (type IN ('totp', 'passkey')),
  status TEXT NOT NULL CHECK (status IN ('pending', 'active')),
  label TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  last_used_at INTEGER,
  totp_secret_sealed TEXT,
  totp_last_step INTEGER,
  credential_id TEXT UNIQUE,              -- base64url
  public_key TEXT,                        -- base64url COSE_Key
  sign_count INTEGER,
  transports TEXT,                        -- space-separated
  backed_up INTEGER                       -- 1: a synced passkey (amr swk), 0: device-bound (hwk)
);
CREATE INDEX factors_by_user ON factors (user_id);

-- Recovery codes: SHA-256 hashes only, each usable once.
CREATE TABLE recovery_codes (
  code_hash TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users (id),
  created_at INTEGER NOT NULL,
  used_at INTEGER
);
CREATE INDEX recovery_codes_by_user ON recovery_codes (user_id);

-- Single-use, short-lived challenges: an mfa_token after a correct password, a passkey ceremony's
-- challenge, a step-up's passkey challenge. Stored by the SHA-256 of the token the client holds,
-- on the shard the token names; consumed by one conditional DELETE, so a replay in another
-- isolate finds nothing.
CREATE TABLE auth_challenges (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('mfa', 'passkey_login', 'passkey_register', 'step_up')),
  user_id TEXT,
  sid TEXT,
  payload TEXT NOT NULL,                  -- JSON: the WebAuthn challenge, the pending login
  failures INTEGER NOT NULL DEFAULT 0,
  expires_at INTEGER NOT NULL
);
CREATE INDEX auth_challenges_by_expiry ON auth_challenges (expires_at);
