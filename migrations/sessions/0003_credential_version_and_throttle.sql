-- A per-user credential version (issue: password-change race). A password change increments it;
-- a session records the version its login verified, and refreshes only while the two agree, so a
-- login racing a password change cannot outlive it (a timestamp comparison can, within a second).
ALTER TABLE users ADD COLUMN credential_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN credential_version INTEGER NOT NULL DEFAULT 0;

-- The login throttle marks which attempt last counted on a key, so that blocking for the next
-- attempt applies only to keys this very attempt counted on (src/accounts/login-throttle.ts).
ALTER TABLE login_throttle ADD COLUMN last_attempt TEXT;
