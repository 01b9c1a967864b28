-- Lending: the merchant's consent to share its credit data with named financial
-- institutions, the institutions' subscriptions (criteria, terms, decision rules),
-- offers made on credit decisions, applications decided at once, loans with their
-- disbursement, repayments taken from settling receivables (T+0), and overdue.
-- Amounts are minor units; times fixed-width UTC text (store.FormatTime).

-- A merchant's consent. It names its institutions in lending_consent_institutions.
CREATE TABLE lending_consents (
	id             TEXT PRIMARY KEY,
	merchant_id    TEXT   NOT NULL REFERENCES participants (id),
	scope          TEXT   NOT NULL, -- JSON array: score, features, orders
	expires_at     TEXT   NOT NULL,
	status         TEXT   NOT NULL CHECK (status IN ('active', 'revoked')), -- expired is read from expires_at
	granted_by     TEXT   NOT NULL,
	granted_at     TEXT   NOT NULL,
	revoked_by     TEXT   NOT NULL,
	revoked_at     TEXT   NOT NULL,
	revoke_reason  TEXT   NOT NULL,
	filing_seq     BIGINT NOT NULL
);
CREATE INDEX lending_consents_by_merchant ON lending_consents (merchant_id, status, expires_at);

CREATE TABLE lending_consent_institutions (
	consent_id      TEXT NOT NULL REFERENCES lending_consents (id),
	institution_id  TEXT NOT NULL REFERENCES participants (id),
	PRIMARY KEY (consent_id, institution_id)
);
CREATE INDEX lending_consent_institutions_by_institution ON lending_consent_institutions (institution_id, consent_id);

-- An institution's subscription to offers: what it lends on (criteria), on what
-- terms, and the rules that decide its applications. Rules are versioned: every
-- change of the rules is a new version, and each decision names the version.
CREATE TABLE lending_subscriptions (
	id                   TEXT PRIMARY KEY,
	institution_id       TEXT   NOT NULL REFERENCES participants (id),
	product              TEXT   NOT NULL CHECK (product IN ('order_financing', 'procurement_financing', 'credit_sales', 'ad_spend_loan')),
	grades               TEXT   NOT NULL, -- JSON array of A–E; [] any
	min_line             BIGINT NOT NULL,
	max_line             BIGINT NOT NULL,
	sectors              TEXT   NOT NULL, -- JSON array of merchant categories; [] any
	currency             TEXT   NOT NULL, -- of the lines and the amounts (CNY: credit lines are)
	max_amount           BIGINT NOT NULL,
	rate_bps             BIGINT NOT NULL, -- annual, basis points
	term_days            BIGINT NOT NULL,
	repayment_share_bps  BIGINT NOT NULL,
	offer_valid_days     BIGINT NOT NULL,
	rules                TEXT   NOT NULL, -- JSON array of {id, expr, reason}
	rules_version        BIGINT NOT NULL,
	rules_sha256         TEXT   NOT NULL, -- of the rules' RFC 8785 canonical JSON
	status               TEXT   NOT NULL CHECK (status IN ('active', 'paused', 'cancelled')),
	created_by           TEXT   NOT NULL,
	created_at           TEXT   NOT NULL,
	updated_at           TEXT   NOT NULL,
	version              BIGINT NOT NULL
);
CREATE INDEX lending_subscriptions_by_institution ON lending_subscriptions (institution_id, status);

-- An offer made to an institution on a credit decision, under a consent.
CREATE TABLE lending_offers (
	id                   TEXT PRIMARY KEY,
	merchant_id          TEXT   NOT NULL REFERENCES participants (id),
	institution_id       TEXT   NOT NULL REFERENCES participants (id),
	subscription_id      TEXT   NOT NULL REFERENCES lending_subscriptions (id),
	consent_id           TEXT   NOT NULL REFERENCES lending_consents (id),
	product              TEXT   NOT NULL,
	currency             TEXT   NOT NULL,
	amount               BIGINT NOT NULL, -- the most that may be borrowed on it
	rate_bps             BIGINT NOT NULL,
	term_days            BIGINT NOT NULL,
	repayment_share_bps  BIGINT NOT NULL,
	expires_at           TEXT   NOT NULL,
	decision_id          TEXT   NOT NULL, -- the credit decision
	decided_at           TEXT   NOT NULL,
	grade                TEXT   NOT NULL,
	credit               TEXT   NOT NULL, -- JSON: the credit data disclosed under the consent's scope
	credit_sha256        TEXT   NOT NULL, -- of its RFC 8785 canonical JSON: what the filing carries
	scope                TEXT   NOT NULL, -- JSON array: the consent's scope when the offer was made
	status               TEXT   NOT NULL CHECK (status IN ('open', 'taken', 'superseded', 'withdrawn')), -- expired is read from expires_at
	status_reason        TEXT   NOT NULL,
	superseded_by        TEXT   NOT NULL,
	created_at           TEXT   NOT NULL,
	updated_at           TEXT   NOT NULL,
	filing_seq           BIGINT NOT NULL
);
-- Lists page by id: a party's offers, and its offers in one status (open, mostly).
-- Every index here is rewritten when an offer is taken, on the path of an
-- application's decision: withdrawals by consent or subscription, which are rare,
-- find their offers through these too.
CREATE INDEX lending_offers_by_merchant ON lending_offers (merchant_id, status, id);
CREATE INDEX lending_offers_by_institution ON lending_offers (institution_id, id);
CREATE INDEX lending_offers_by_institution_status ON lending_offers (institution_id, status, id);

-- An application against an offer and its decision, with every rule's result and
-- the inputs the rules saw.
CREATE TABLE lending_applications (
	id               TEXT PRIMARY KEY,
	offer_id         TEXT   NOT NULL REFERENCES lending_offers (id),
	merchant_id      TEXT   NOT NULL REFERENCES participants (id),
	institution_id   TEXT   NOT NULL REFERENCES participants (id),
	subscription_id  TEXT   NOT NULL,
	product          TEXT   NOT NULL,
	currency         TEXT   NOT NULL,
	amount           BIGINT NOT NULL,
	term_days        BIGINT NOT NULL,
	purpose          TEXT   NOT NULL,
	idempotency_key  TEXT   NOT NULL, -- '' when none was given
	request_sha256   TEXT   NOT NULL, -- offer, amount, term, purpose: a retry must match
	outcome          TEXT   NOT NULL CHECK (outcome IN ('approved', 'declined')),
	reasons          TEXT   NOT NULL, -- JSON array: the failed rules' reasons
	rule_results     TEXT   NOT NULL, -- JSON array: every rule and its result
	rules_version    BIGINT NOT NULL,
	rules_sha256     TEXT   NOT NULL,
	inputs           TEXT   NOT NULL, -- JSON: the variables the rules saw
	inputs_sha256    TEXT   NOT NULL, -- of their RFC 8785 canonical JSON
	loan_id          TEXT   NOT NULL, -- '' when declined
	created_by       TEXT   NOT NULL,
	created_at       TEXT   NOT NULL,
	filing_seq       BIGINT NOT NULL
);
CREATE UNIQUE INDEX lending_applications_by_key ON lending_applications (merchant_id, idempotency_key) WHERE idempotency_key <> '';
CREATE INDEX lending_applications_by_merchant ON lending_applications (merchant_id, id);
CREATE INDEX lending_applications_by_institution ON lending_applications (institution_id, id);

-- A loan: principal and the interest fixed at disbursement, what has been paid of
-- each, and its state.
CREATE TABLE lending_loans (
	id                   TEXT PRIMARY KEY,
	application_id       TEXT   NOT NULL UNIQUE REFERENCES lending_applications (id),
	offer_id             TEXT   NOT NULL UNIQUE REFERENCES lending_offers (id),
	merchant_id          TEXT   NOT NULL REFERENCES participants (id),
	institution_id       TEXT   NOT NULL REFERENCES participants (id),
	product              TEXT   NOT NULL,
	grade                TEXT   NOT NULL, -- of the credit decision it was made on
	currency             TEXT   NOT NULL,
	principal            BIGINT NOT NULL,
	interest             BIGINT NOT NULL,
	rate_bps             BIGINT NOT NULL,
	term_days            BIGINT NOT NULL,
	repayment_share_bps  BIGINT NOT NULL,
	disbursed_at         TEXT   NOT NULL,
	due_at               TEXT   NOT NULL,
	principal_paid       BIGINT NOT NULL,
	interest_paid        BIGINT NOT NULL,
	status               TEXT   NOT NULL CHECK (status IN ('active', 'overdue', 'closed')),
	overdue_since        TEXT   NOT NULL, -- '' unless it went overdue
	closed_at            TEXT   NOT NULL,
	filing_seq           BIGINT NOT NULL,
	CHECK (principal_paid >= 0 AND principal_paid <= principal AND interest_paid >= 0 AND interest_paid <= interest)
);
-- A merchant has few open loans: repayment order, its outstanding with a bank and
-- its lists all start from the first index.
CREATE INDEX lending_loans_open ON lending_loans (merchant_id, currency, status, due_at);
CREATE INDEX lending_loans_due ON lending_loans (status, due_at); -- the overdue sweep
CREATE INDEX lending_loans_by_institution ON lending_loans (institution_id, id);

-- The disbursement of a loan, as recorded: the institution pays the merchant.
CREATE TABLE lending_disbursements (
	id              TEXT PRIMARY KEY,
	loan_id         TEXT   NOT NULL UNIQUE REFERENCES lending_loans (id),
	merchant_id     TEXT   NOT NULL,
	institution_id  TEXT   NOT NULL,
	currency        TEXT   NOT NULL,
	amount          BIGINT NOT NULL,
	disbursed_at    TEXT   NOT NULL,
	filing_seq      BIGINT NOT NULL
);

-- A repayment, taken from a settling receivable of the merchant.
CREATE TABLE lending_repayments (
	id              TEXT PRIMARY KEY,
	loan_id         TEXT   NOT NULL REFERENCES lending_loans (id),
	merchant_id     TEXT   NOT NULL,
	institution_id  TEXT   NOT NULL,
	currency        TEXT   NOT NULL,
	amount          BIGINT NOT NULL, -- interest + principal
	interest        BIGINT NOT NULL,
	principal       BIGINT NOT NULL,
	source          TEXT   NOT NULL CHECK (source IN ('settlement')),
	settled_amount  BIGINT NOT NULL, -- the settlement it was taken from
	settled_at      TEXT   NOT NULL,
	outstanding     BIGINT NOT NULL, -- the loan's, after this repayment
	created_at      TEXT   NOT NULL,
	filing_seq      BIGINT NOT NULL
);
CREATE INDEX lending_repayments_by_loan ON lending_repayments (loan_id, id);
CREATE INDEX lending_repayments_by_institution ON lending_repayments (institution_id, id);
CREATE INDEX lending_repayments_by_merchant ON lending_repayments (merchant_id, id);
