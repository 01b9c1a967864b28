-- Denied requests (api/audit.go): every request the API refuses with 401, 403, 413
-- or 429 is counted here, by the minute it happened in, who made it (the
-- participant and the API key it presented; the key of a failed sign-in is the one
-- it named, whether or not it exists), the client's address, the route pattern
-- (never the raw path), the status and why. Each replica adds its counts up in
-- memory and writes them in batches, so a flood of refused requests costs a few
-- writes, not one each; rows older than the retention are deleted as new ones come.
-- They are the operator's bookkeeping, not changes of the exchange: written, never
-- filed.
CREATE TABLE denied_requests (
	minute         TEXT NOT NULL, -- the start of the minute, UTC, as store.FormatTime
	participant_id TEXT NOT NULL DEFAULT '',
	key_id         TEXT NOT NULL DEFAULT '',
	client_ip      TEXT NOT NULL,
	method         TEXT NOT NULL,
	route          TEXT NOT NULL,
	status         INTEGER NOT NULL,
	reason         TEXT NOT NULL, -- credentials, backoff, forbidden, rate, size
	detail         TEXT NOT NULL DEFAULT '', -- the last refusal's problem detail
	count          BIGINT NOT NULL,
	PRIMARY KEY (minute, participant_id, key_id, client_ip, method, route, status, reason)
);
CREATE INDEX denied_requests_by_participant ON denied_requests (participant_id, minute);
CREATE INDEX denied_requests_by_ip ON denied_requests (client_ip, minute);
