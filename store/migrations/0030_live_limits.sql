-- Finance: live ad-spend limits (投流貸). A live-stream seller's limit follows the
-- live flow of its orders, by arrival time; the operator sets each merchant's
-- policy, and every change of the limit is stored and filed
-- (finance.live_limit_changed).

-- A merchant's live-limit policy, set by the operator (finance.live_limit_policy_set).
-- Amounts in minor units of currency; ratios in basis points (10,000 = 1).
CREATE TABLE finance_live_policies (
	merchant_id         TEXT   PRIMARY KEY REFERENCES participants (id),
	currency            TEXT   NOT NULL,
	floor_amount        BIGINT NOT NULL CHECK (floor_amount >= 0),
	cap_amount          BIGINT NOT NULL CHECK (cap_amount >= floor_amount),
	step                BIGINT NOT NULL CHECK (step >= 1),
	multiplier_bp       BIGINT NOT NULL,
	window_seconds      BIGINT NOT NULL,
	recent_seconds      BIGINT NOT NULL,
	refund_penalty_bp   BIGINT NOT NULL,
	drop_tolerance_bp   BIGINT NOT NULL,
	rise_per_minute_bp  BIGINT NOT NULL,
	set_by              TEXT   NOT NULL,
	set_at              TEXT   NOT NULL,
	filing_seq          BIGINT NOT NULL
);

-- The live flow of a merchant with a policy: per 10-second bucket of arrival time
-- (the exchange's clock when the apply ran, not the orders' ordered_at), the live
-- sales and refunds that arrived. Kept up to date by every apply, in its
-- transaction; buckets that left the policy's window are deleted.
CREATE TABLE finance_live_flow (
	merchant_id    TEXT   NOT NULL,
	currency       TEXT   NOT NULL,
	bucket         BIGINT NOT NULL, -- the bucket's start, seconds since 1970
	paid_orders    BIGINT NOT NULL, -- orders that became sales
	paid_amount    BIGINT NOT NULL, -- minor units
	refunds        BIGINT NOT NULL, -- refunds, and cancellations of counted orders
	refund_amount  BIGINT NOT NULL, -- minor units
	PRIMARY KEY (merchant_id, currency, bucket)
);

-- The last stored limit of each merchant with a policy, with the factors it was
-- computed with, so that the next change can tell which of them moved.
CREATE TABLE finance_live_limits (
	merchant_id   TEXT   PRIMARY KEY REFERENCES participants (id),
	currency      TEXT   NOT NULL,
	amount        BIGINT NOT NULL, -- minor units
	reason        TEXT   NOT NULL,
	ceiling       BIGINT NOT NULL, -- the ceiling the next change rises from, minor units
	drop_ppm      BIGINT NOT NULL, -- drop factor, parts per million
	refund_ppm    BIGINT NOT NULL, -- refund factor, parts per million
	data_through  BIGINT NOT NULL, -- the merchant's latest attestation counted
	changed_at    TEXT   NOT NULL,
	filing_seq    BIGINT NOT NULL  -- the finance.live_limit_changed filing
);

-- Every change of a live limit, as filed.
CREATE TABLE finance_live_limit_changes (
	filing_seq         BIGINT PRIMARY KEY,
	merchant_id        TEXT   NOT NULL,
	currency           TEXT   NOT NULL,
	previous_amount    BIGINT NOT NULL, -- 0 when the policy was first set
	previous_currency  TEXT   NOT NULL,
	amount             BIGINT NOT NULL,
	reason             TEXT   NOT NULL,
	data_through       BIGINT NOT NULL,
	batch_id           TEXT   NOT NULL, -- the batch or chunk whose apply changed it; '' otherwise
	inputs             TEXT   NOT NULL, -- JSON: what it was computed from
	changed_by         TEXT   NOT NULL,
	changed_at         TEXT   NOT NULL
);
CREATE INDEX finance_live_limit_changes_by_merchant ON finance_live_limit_changes (merchant_id, filing_seq);
