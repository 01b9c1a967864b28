-- Deals: a negotiation in the states of the Eclipse Dataspace Protocol, and the
-- double-entry books that hold and move the money.
CREATE TABLE deals (
	id                  TEXT PRIMARY KEY,
	product_id          TEXT   NOT NULL REFERENCES products (id),
	revision            BIGINT NOT NULL,
	registration_number TEXT   NOT NULL,
	buyer_id            TEXT   NOT NULL REFERENCES participants (id),
	supplier_id         TEXT   NOT NULL REFERENCES participants (id),
	agent_id            TEXT   NOT NULL, -- '' for a domestic supplier
	provider_id         TEXT   NOT NULL, -- who negotiates for the supplier: the agent, or the supplier
	state               TEXT   NOT NULL CHECK (state IN ('REQUESTED', 'OFFERED', 'ACCEPTED', 'AGREED', 'VERIFIED', 'FINALIZED', 'TERMINATED')),
	plan                TEXT   NOT NULL, -- JSON: the price plan chosen
	price_amount        BIGINT NOT NULL, -- the price on the table, minor units
	currency            TEXT   NOT NULL,
	scenario            TEXT   NOT NULL,
	purpose             TEXT   NOT NULL,
	delivery_mode       TEXT   NOT NULL,
	assessment_id       TEXT   NOT NULL, -- the last assessment
	outcome             TEXT   NOT NULL,
	held_amount         BIGINT NOT NULL, -- in escrow now
	settled             TEXT   NOT NULL CHECK (settled IN ('', 'held', 'released', 'refunded')),
	terminated_by       TEXT   NOT NULL,
	termination_reason  TEXT   NOT NULL,
	created_at          TEXT   NOT NULL,
	updated_at          TEXT   NOT NULL,
	version             BIGINT NOT NULL
);
CREATE INDEX deals_by_buyer ON deals (buyer_id, id);
CREATE INDEX deals_by_provider ON deals (provider_id, id);
CREATE INDEX deals_by_supplier ON deals (supplier_id, id);

-- The books: every posting's lines sum to zero, so all balances together are zero.
CREATE TABLE postings (
	id              TEXT PRIMARY KEY,
	kind            TEXT NOT NULL, -- funding, hold, refund, release
	deal_id         TEXT NOT NULL, -- '' for funding
	idempotency_key TEXT NOT NULL, -- '' when none was given
	created_by      TEXT NOT NULL,
	created_at      TEXT NOT NULL
);
CREATE INDEX postings_by_deal ON postings (deal_id, id);
CREATE TABLE posting_lines (
	posting_id TEXT   NOT NULL REFERENCES postings (id),
	account    TEXT   NOT NULL,
	currency   TEXT   NOT NULL,
	amount     BIGINT NOT NULL, -- positive: into the account
	PRIMARY KEY (posting_id, account)
);
CREATE TABLE balances (
	account  TEXT   NOT NULL,
	currency TEXT   NOT NULL,
	amount   BIGINT NOT NULL,
	PRIMARY KEY (account, currency)
);

-- Idempotency keys of requests that move money: a retry returns what the first did.
CREATE TABLE idempotency_keys (
	participant_id TEXT NOT NULL,
	key            TEXT NOT NULL,
	operation      TEXT NOT NULL, -- e.g. "agree deal_…", "fund prt_…"
	result_id      TEXT NOT NULL,
	created_at     TEXT NOT NULL,
	PRIMARY KEY (participant_id, key)
);
