-- Credit decisions (package credit): a merchant's score, risk grade and credit
-- line, computed from its attested order data by a sealed scorecard. Each is
-- filed (credit.decided) in the transaction that stores it; a decision is never
-- changed: a new one supersedes it.
CREATE TABLE credit_decisions (
	id             TEXT   PRIMARY KEY,
	merchant_id    TEXT   NOT NULL REFERENCES participants (id),
	decided_at     TEXT   NOT NULL,
	decided_by     TEXT   NOT NULL,
	model_id       TEXT   NOT NULL, -- the sealed scorecard's content id (SHA-256)
	model_version  TEXT   NOT NULL,
	feature_hash   TEXT   NOT NULL, -- SHA-256 of the canonical JSON of the inputs, data_through and model id
	data_through   BIGINT NOT NULL, -- the filing of the latest attested batch the features rest on
	score          BIGINT NOT NULL, -- points, rounded
	grade          TEXT   NOT NULL CHECK (grade IN ('A', 'B', 'C', 'D', 'E')),
	line_amount    BIGINT NOT NULL, -- minor units
	line_currency  TEXT   NOT NULL,
	filing_seq     BIGINT NOT NULL UNIQUE, -- its credit.decided filing: commit order, so the latest is the greatest
	decision       TEXT   NOT NULL -- the whole decision as JSON: inputs, PD, reasons, the line's basis
);
CREATE INDEX credit_decisions_by_merchant ON credit_decisions (merchant_id, filing_seq);
