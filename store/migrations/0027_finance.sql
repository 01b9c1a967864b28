-- Finance, part one: merchants' shops, their order data (each batch or stream chunk
-- attested by its SHA-256 in a filing), and the daily aggregates the credit
-- features are computed from.

-- A shop on an e-commerce platform, connected by the merchant that runs it.
CREATE TABLE finance_shops (
	id           TEXT PRIMARY KEY,
	merchant_id  TEXT NOT NULL REFERENCES participants (id),
	platform     TEXT NOT NULL, -- taobao, jd, pinduoduo, douyin, amazon, shopee …
	external_id  TEXT NOT NULL, -- the shop's id on its platform
	name         TEXT NOT NULL,
	created_by   TEXT NOT NULL,
	created_at   TEXT NOT NULL,
	UNIQUE (merchant_id, platform, external_id)
);

-- One row per merchant that has sent data. Every apply updates it first, so that on
-- PostgreSQL two replicas applying data of one merchant take turns (its row lock);
-- it also names the merchant's latest attestation, which features cite.
CREATE TABLE finance_merchants (
	merchant_id      TEXT PRIMARY KEY REFERENCES participants (id),
	batches          BIGINT NOT NULL, -- attested batches and stream chunks
	last_batch_id    TEXT   NOT NULL,
	last_filing_seq  BIGINT NOT NULL,
	updated_at       TEXT   NOT NULL
);

-- An attested batch, or one chunk of a live stream. Only committed together with
-- the orders it brought and its filing: a batch that failed leaves no row.
CREATE TABLE finance_batches (
	id              TEXT PRIMARY KEY,
	merchant_id     TEXT   NOT NULL REFERENCES participants (id),
	kind            TEXT   NOT NULL CHECK (kind IN ('batch', 'stream')),
	format          TEXT   NOT NULL CHECK (format IN ('csv', 'jsonl')),
	stream_id       TEXT   NOT NULL, -- '' for a batch
	seq             BIGINT NOT NULL, -- a stream chunk's number from 1; 0 for a batch
	sha256          TEXT   NOT NULL, -- of exactly the bytes received (the chunk's, for a stream)
	stream_sha256   TEXT   NOT NULL, -- a stream's bytes from its start through this chunk; '' for a batch
	bytes           BIGINT NOT NULL,
	rows_read       BIGINT NOT NULL,
	accepted        BIGINT NOT NULL, -- valid rows: inserted + updated + duplicates + stale
	inserted        BIGINT NOT NULL,
	updated         BIGINT NOT NULL,
	duplicates      BIGINT NOT NULL,
	stale           BIGINT NOT NULL,
	rejected        BIGINT NOT NULL,
	first_order_at  TEXT   NOT NULL, -- '' when no row was valid
	last_order_at   TEXT   NOT NULL,
	filing_seq      BIGINT NOT NULL,
	created_by      TEXT   NOT NULL,
	created_at      TEXT   NOT NULL
);
CREATE INDEX finance_batches_by_merchant ON finance_batches (merchant_id, created_at);

-- Orders as they stand now. No foreign key to the shop: ingest resolves every row
-- to a shop of the merchant before it writes, shops are never deleted, and the
-- check would cost a lookup on the hottest path of the package.
CREATE TABLE finance_orders (
	shop_id              TEXT   NOT NULL,
	order_id             TEXT   NOT NULL,
	ordered_at           TEXT   NOT NULL,
	currency             TEXT   NOT NULL,
	amount               BIGINT NOT NULL, -- minor units
	status               TEXT   NOT NULL CHECK (status IN ('paid', 'shipped', 'delivered', 'returned', 'refunded', 'cancelled')),
	refund_amount        BIGINT NOT NULL, -- minor units
	complaint            BIGINT NOT NULL, -- 0 or 1
	rating               BIGINT NOT NULL, -- 1 to 5; 0 when not rated
	shipped_at           TEXT   NOT NULL, -- the first shipped logistics event; '' when none
	delivered_at         TEXT   NOT NULL, -- the first delivered logistics event; '' when none
	expected_settlement  TEXT   NOT NULL, -- YYYY-MM-DD (China Standard Time); '' when not given
	settled_at           TEXT   NOT NULL, -- '' while unsettled
	updated_at           TEXT   NOT NULL, -- the platform's version of the order; '' when not given
	batch_id             TEXT   NOT NULL, -- the attested batch that last changed it …
	batch_line           BIGINT NOT NULL, -- … and the line of that batch (or stream) it came from
	PRIMARY KEY (shop_id, order_id)
);

-- Per shop, day (China Standard Time, the day the order was placed) and currency:
-- the sums the features are computed from, kept up to date by every apply.
CREATE TABLE finance_daily (
	shop_id             TEXT   NOT NULL,
	day                 TEXT   NOT NULL, -- YYYY-MM-DD
	currency            TEXT   NOT NULL,
	merchant_id         TEXT   NOT NULL,
	orders              BIGINT NOT NULL, -- not cancelled
	cancelled           BIGINT NOT NULL,
	sales               BIGINT NOT NULL, -- minor units, orders not cancelled
	returns             BIGINT NOT NULL,
	refunds             BIGINT NOT NULL, -- orders with a refund
	refund_amount       BIGINT NOT NULL,
	complaints          BIGINT NOT NULL,
	rating_sum          BIGINT NOT NULL,
	ratings             BIGINT NOT NULL,
	dispatched          BIGINT NOT NULL, -- orders with a shipped event
	dispatched_on_time  BIGINT NOT NULL, -- shipped within 48 hours of the order
	PRIMARY KEY (shop_id, day, currency)
);
CREATE INDEX finance_daily_by_merchant ON finance_daily (merchant_id, day);

-- Open receivables per shop, expected settlement day and currency: what the
-- platform owes the merchant for orders paid, shipped or delivered, not settled.
CREATE TABLE finance_receivables (
	shop_id      TEXT   NOT NULL,
	due_on       TEXT   NOT NULL, -- YYYY-MM-DD
	currency     TEXT   NOT NULL,
	merchant_id  TEXT   NOT NULL,
	amount       BIGINT NOT NULL, -- minor units: order amount less refunds
	orders       BIGINT NOT NULL,
	PRIMARY KEY (shop_id, due_on, currency)
);
CREATE INDEX finance_receivables_by_merchant ON finance_receivables (merchant_id, due_on);
