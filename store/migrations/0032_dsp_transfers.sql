-- The Dataspace Protocol 2025-1 (package dsp): transfer processes in which dataport is
-- the provider. Each transfers a finalized deal's files (deal_id) to its buyer (the
-- consumer participant); the row keeps the protocol's pids, the consumer's callback
-- address, the format asked for, the state the consumer was last told, and the SHA-256
-- of the current pull token (never the token) with its expiry.
CREATE TABLE dsp_transfers (
	provider_pid     TEXT PRIMARY KEY,
	consumer_pid     TEXT NOT NULL,
	consumer_id      TEXT NOT NULL REFERENCES participants (id),
	callback_address TEXT NOT NULL,
	deal_id          TEXT NOT NULL REFERENCES deals (id),
	format           TEXT NOT NULL,
	state            TEXT NOT NULL,
	told             TEXT NOT NULL,
	token_sha256     TEXT NOT NULL DEFAULT '',
	token_expires_at TEXT NOT NULL DEFAULT '',
	created_at       TEXT NOT NULL,
	updated_at       TEXT NOT NULL,
	UNIQUE (consumer_id, consumer_pid)
);
CREATE INDEX dsp_transfers_deal ON dsp_transfers (deal_id);
