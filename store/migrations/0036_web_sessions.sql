-- Console sessions (web/session.go). A person signs in to the web console with an
-- API key; the browser then holds a random session token in a cookie, and this
-- table keeps only the token's SHA-256, the participant and the API key it was made
-- from, the session's CSRF secret and its expiry, so that every replica serving the
-- console knows the session. The key and the participant are checked with the
-- registry on every request: a revoked key or a suspended participant ends the
-- session at once. Sessions are bookkeeping of the console, not changes of the
-- exchange: they are written, never filed.
CREATE TABLE web_sessions (
	token_sha256   TEXT PRIMARY KEY,
	participant_id TEXT NOT NULL REFERENCES participants (id),
	key_id         TEXT NOT NULL REFERENCES api_keys (id),
	csrf_secret    TEXT NOT NULL, -- base64url, 32 random bytes
	created_at     TEXT NOT NULL,
	expires_at     TEXT NOT NULL
);
CREATE INDEX web_sessions_by_expiry ON web_sessions (expires_at);
CREATE INDEX web_sessions_by_key ON web_sessions (key_id);
