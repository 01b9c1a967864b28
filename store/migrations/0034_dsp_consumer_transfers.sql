-- The Dataspace Protocol 2025-1, dataport the consumer of a transfer (package dsp): a
-- local buyer's transfer of a finalized consumer negotiation's agreement from the
-- peer's provider. data_address is the provider's start message's address for a pull
-- (sealed: it carries the provider's token); the files pulled from it are stored in
-- the exchange's blob store and listed in dsp_consumer_files. Every change is filed
-- (dsp.consumer_transfer_*).
CREATE TABLE dsp_consumer_transfers (
	id             TEXT PRIMARY KEY,
	consumer_pid   TEXT NOT NULL UNIQUE,
	provider_pid   TEXT NOT NULL DEFAULT '',
	negotiation_id TEXT NOT NULL REFERENCES dsp_consumer_negotiations (id),
	peer_id        TEXT NOT NULL REFERENCES participants (id),
	buyer_id       TEXT NOT NULL REFERENCES participants (id),
	format         TEXT NOT NULL,
	state          TEXT NOT NULL,
	data_address   TEXT NOT NULL DEFAULT '',
	pull_state     TEXT NOT NULL DEFAULT '',
	pull_error     TEXT NOT NULL DEFAULT '',
	created_at     TEXT NOT NULL,
	updated_at     TEXT NOT NULL
);
CREATE INDEX dsp_consumer_transfers_buyer ON dsp_consumer_transfers (buyer_id, created_at);

CREATE TABLE dsp_consumer_files (
	transfer_id TEXT NOT NULL REFERENCES dsp_consumer_transfers (id),
	path        TEXT NOT NULL,
	sha256      TEXT NOT NULL,
	size        INTEGER NOT NULL,
	pulled_at   TEXT NOT NULL,
	PRIMARY KEY (transfer_id, path)
);
