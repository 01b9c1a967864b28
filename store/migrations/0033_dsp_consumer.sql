-- The Dataspace Protocol 2025-1, dataport the consumer (package dsp).
--
-- dsp_peers: another connector this exchange talks to, as consumer or as provider. Its
-- owner is a registered participant (the protocol's participants are the exchange's:
-- its callbacks and requests authenticate with an API key issued to that participant);
-- the row adds the connector's DSP base address and the token that connector issued
-- to this exchange, sealed with a key derived from the exchange's secret (it must be
-- presented, so it cannot be hashed).
CREATE TABLE dsp_peers (
	participant_id TEXT PRIMARY KEY REFERENCES participants (id),
	address        TEXT NOT NULL,
	token_sealed   TEXT NOT NULL DEFAULT '',
	created_at     TEXT NOT NULL,
	updated_at     TEXT NOT NULL
);

-- dsp_consumer_negotiations: a contract negotiation a local buyer runs with a peer's
-- provider. consumer_pid is dataport's pid; provider_pid the peer's, once it answers.
-- offer is the policy last on the table (JSON), agreement the provider's Agreement
-- (JSON) with its @id in agreement_id and, when the provider is another dataport, the
-- SHA-256 of the contract it carries. state is the protocol's state as both sides
-- know it; every change is filed (dsp.consumer_negotiation_*).
CREATE TABLE dsp_consumer_negotiations (
	id              TEXT PRIMARY KEY,
	consumer_pid    TEXT NOT NULL UNIQUE,
	provider_pid    TEXT NOT NULL DEFAULT '',
	peer_id         TEXT NOT NULL REFERENCES participants (id),
	buyer_id        TEXT NOT NULL REFERENCES participants (id),
	dataset_id      TEXT NOT NULL,
	offer           TEXT NOT NULL,
	agreement       TEXT NOT NULL DEFAULT '',
	agreement_id    TEXT NOT NULL DEFAULT '',
	contract_sha256 TEXT NOT NULL DEFAULT '',
	state           TEXT NOT NULL,
	reason          TEXT NOT NULL DEFAULT '',
	created_at      TEXT NOT NULL,
	updated_at      TEXT NOT NULL
);
CREATE INDEX dsp_consumer_negotiations_buyer ON dsp_consumer_negotiations (buyer_id, created_at);
