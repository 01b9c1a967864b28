-- The Dataspace Protocol 2025-1, dataport the consumer of a transfer (package dsp,
-- consumertransfer.go): a local buyer's transfer of a finalized consumer negotiation's
-- agreement from the peer's provider. consumer_pid is dataport's pid
-- (urn:dataport:consumer-transfer:<id>), provider_pid the provider's, from its answer to
-- the request. state is the protocol's state as both sides know it; reason the code and
-- reasons of the last suspension or termination, either side's.
--
-- The pull: data_address is the provider's start message's address (sealed with AES-GCM
-- under a key derived from the exchange's secret: it carries the provider's token).
-- pull_run names the current run of the background pull, so that a run that was stopped
-- or superseded (a suspension, a restart with a new address) records nothing; pull_state
-- is '' (nothing to pull yet), pulling, pulled, failed (pull_error says why) or stopped
-- (by a suspension or termination). A row left pulling is resumed at startup. The files
-- pulled, each verified against its size and SHA-256, are stored in the exchange's blob
-- store and listed in dsp_consumer_files. Every change is filed (dsp.consumer_transfer_*).
CREATE TABLE dsp_consumer_transfers (
	id             TEXT PRIMARY KEY,
	consumer_pid   TEXT NOT NULL UNIQUE,
	provider_pid   TEXT NOT NULL,
	negotiation_id TEXT NOT NULL REFERENCES dsp_consumer_negotiations (id),
	agreement_id   TEXT NOT NULL,
	peer_id        TEXT NOT NULL REFERENCES participants (id),
	buyer_id       TEXT NOT NULL REFERENCES participants (id),
	format         TEXT NOT NULL,
	state          TEXT NOT NULL,
	reason         TEXT NOT NULL DEFAULT '',
	data_address   TEXT NOT NULL DEFAULT '',
	pull_run       TEXT NOT NULL DEFAULT '',
	pull_state     TEXT NOT NULL DEFAULT '',
	pull_error     TEXT NOT NULL DEFAULT '',
	created_at     TEXT NOT NULL,
	updated_at     TEXT NOT NULL
);
CREATE INDEX dsp_consumer_transfers_buyer ON dsp_consumer_transfers (buyer_id, created_at);
CREATE INDEX dsp_consumer_transfers_pull ON dsp_consumer_transfers (pull_state);

-- dsp_consumer_files: a file a transfer pulled, as stored in the blob store (sha256 is
-- its address) and checked against what the provider's manifest said.
CREATE TABLE dsp_consumer_files (
	transfer_id TEXT NOT NULL REFERENCES dsp_consumer_transfers (id),
	path        TEXT NOT NULL,
	sha256      TEXT NOT NULL,
	size        INTEGER NOT NULL,
	media_type  TEXT NOT NULL DEFAULT '',
	pulled_at   TEXT NOT NULL,
	PRIMARY KEY (transfer_id, path)
);
