-- DPoP (RFC 9449): a session logged in with a proof is bound to the client's key. Its refresh
-- token is then refreshed only with a proof by that key, and every access token it issues carries
-- the key's thumbprint as cnf.jkt. NULL: a bearer session.
ALTER TABLE sessions ADD COLUMN dpop_jkt TEXT;
