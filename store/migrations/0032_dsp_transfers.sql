-- The Dataspace Protocol 2025-1 (package dsp): transfer processes in which dataport is
-- the provider. Each transfers a finalized deal's files (deal_id) to its buyer (the
-- consumer participant); a deal may have several. The row keeps the protocol's pids,
-- the consumer's callback address, the format asked for and the data address's
-- endpoint (made from the address the consumer reached dataport at). state is the
-- transfer's state, the truth every check and GET use; told is the state the consumer
-- was last told (sent in a provider message, or acknowledged to one of its own): while
-- told is behind state a message is owed, and send_attempts, send_after and send_error
-- say how sending it went and when it is tried again. reason is the last suspension's
-- or termination's, either side's. The pull token is kept as its SHA-256 (never the
-- token) with its expiry, '' when none is in force. Every change is filed
-- (dsp.transfer_*).
CREATE TABLE dsp_transfers (
	provider_pid     TEXT PRIMARY KEY,
	consumer_pid     TEXT NOT NULL,
	consumer_id      TEXT NOT NULL REFERENCES participants (id),
	callback_address TEXT NOT NULL,
	deal_id          TEXT NOT NULL REFERENCES deals (id),
	format           TEXT NOT NULL,
	endpoint         TEXT NOT NULL DEFAULT '',
	state            TEXT NOT NULL,
	told             TEXT NOT NULL,
	reason           TEXT NOT NULL DEFAULT '',
	token_sha256     TEXT NOT NULL DEFAULT '',
	token_expires_at TEXT NOT NULL DEFAULT '',
	send_attempts    INTEGER NOT NULL DEFAULT 0,
	send_after       TEXT NOT NULL DEFAULT '',
	send_error       TEXT NOT NULL DEFAULT '',
	created_at       TEXT NOT NULL,
	updated_at       TEXT NOT NULL,
	UNIQUE (consumer_id, consumer_pid)
);
CREATE INDEX dsp_transfers_deal ON dsp_transfers (deal_id, created_at);
-- The transfers whose consumer is owed a message, for the periodic sender.
CREATE INDEX dsp_transfers_owed ON dsp_transfers (send_after) WHERE told <> state;
