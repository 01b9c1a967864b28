-- The search index moves into memory (catalog/search.Index). What stays in the
-- database is its durable copy: one row per product that has been listed, with the
-- analyzer's weighted terms, the filter fields, and the number of the filing that
-- last changed it. Filing numbers commit in order (ledger: the filing_sequence row
-- lock is held to commit), so every server keeps its index current by reading the
-- rows with seq greater than the last it applied. The catalog rebuilds these rows
-- from the listed products when the table is empty, as it is after this migration.
DROP TABLE search_postings;
DROP TABLE search_docs;

CREATE TABLE search_entries (
	product_id  TEXT   PRIMARY KEY REFERENCES products (id),
	seq         BIGINT NOT NULL, -- the filing of the change
	live        BIGINT NOT NULL, -- 1: listed and searchable; 0: taken off
	length      BIGINT NOT NULL, -- weighted number of terms
	type        TEXT   NOT NULL,
	category    TEXT   NOT NULL,
	origin      TEXT   NOT NULL,
	grade       TEXT   NOT NULL,
	supplier_id TEXT   NOT NULL,
	agent_id    TEXT   NOT NULL,
	listed_at   TEXT   NOT NULL,
	modes       TEXT   NOT NULL, -- ",api,file,"
	price_min   BIGINT NOT NULL, -- the lowest plan price, minor units; -1: none
	currency    TEXT   NOT NULL,
	terms       TEXT   NOT NULL  -- "term tf term tf …" (search.EncodeTerms)
);
CREATE INDEX search_entries_by_seq ON search_entries (seq);
CREATE INDEX search_entries_by_listed ON search_entries (live, listed_at, product_id);
CREATE INDEX participants_by_status ON participants (status, id);
