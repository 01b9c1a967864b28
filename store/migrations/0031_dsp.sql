-- The Dataspace Protocol 2025-1 (package dsp): contract negotiations in which dataport is
-- the provider. Each is a trade deal (deal_id); the row keeps what the protocol adds to
-- it: the provider pid dataport gave it, the consumer's pid and callback address, the
-- offer the consumer's request named, and the state the consumer was last told (sent in
-- a provider message or acknowledged to one of its own), which dsp brings up to the
-- deal's state by posting the provider's messages (dsp.negotiation_* filings).
CREATE TABLE dsp_negotiations (
	provider_pid     TEXT PRIMARY KEY,
	consumer_pid     TEXT NOT NULL,
	consumer_id      TEXT NOT NULL REFERENCES participants (id),
	callback_address TEXT NOT NULL,
	deal_id          TEXT NOT NULL UNIQUE REFERENCES deals (id),
	offer_id         TEXT NOT NULL,
	state            TEXT NOT NULL,
	created_at       TEXT NOT NULL,
	updated_at       TEXT NOT NULL,
	UNIQUE (consumer_id, consumer_pid)
);
