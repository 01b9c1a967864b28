-- Filings (交易備案): the append-only record of every change, written in the same
-- transaction as the change. Each filing's entry (RFC 8785 canonical JSON) becomes a
-- leaf of the exchange's Merkle log; seq is its leaf index plus one.

-- One row that hands out sequence numbers. Updating it takes a row lock held until
-- commit, so concurrent writers queue: numbers are gap-free (a rolled-back
-- transaction returns its number) and commit order is seq order.
CREATE TABLE filing_sequence (
	id            INTEGER PRIMARY KEY CHECK (id = 1),
	last_seq      BIGINT NOT NULL,
	last_filed_at TEXT   NOT NULL
);
INSERT INTO filing_sequence (id, last_seq, last_filed_at) VALUES (1, 0, '');

CREATE TABLE filings (
	seq      BIGINT PRIMARY KEY CHECK (seq >= 1),
	filed_at TEXT   NOT NULL,
	actor    TEXT   NOT NULL,
	key_id   TEXT   NOT NULL,
	type     TEXT   NOT NULL,
	payload  TEXT   NOT NULL, -- canonical JSON
	entry    TEXT   NOT NULL, -- canonical JSON of the whole filing: the log leaf
	sha256   TEXT   NOT NULL  -- hex SHA-256 of entry
);
CREATE INDEX filings_type ON filings (type, seq);

-- The records a filing is about, for tracing by participant, product or deal.
CREATE TABLE filing_subjects (
	subject TEXT   NOT NULL,
	seq     BIGINT NOT NULL REFERENCES filings (seq),
	PRIMARY KEY (subject, seq)
);
