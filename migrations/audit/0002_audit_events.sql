-- Security and audit events, written in batches by the AUTH_EVENTS queue consumer, to the audit
-- database (storage.audit_database), never a session shard. (Numbered 0002: it was the second
-- migration of the single database before sharding, and keeps its name so that database's
-- migration history still matches.)
CREATE TABLE audit_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,                    -- epoch seconds when the event happened
  type TEXT NOT NULL,
  tenant TEXT,
  user_id TEXT,
  sid TEXT,
  request_id TEXT,
  detail TEXT NOT NULL                    -- JSON of the remaining fields (identifiers only)
);
CREATE INDEX audit_events_by_user ON audit_events (user_id, at);
CREATE INDEX audit_events_by_time ON audit_events (at);
