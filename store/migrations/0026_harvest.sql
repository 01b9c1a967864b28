-- Harvest: international platforms whose datasets the exchange lists, the records
-- read from each and the product each became, and each run's report.
CREATE TABLE harvest_sources (
	id            TEXT PRIMARY KEY,
	name          TEXT   NOT NULL,
	kind          TEXT   NOT NULL CHECK (kind IN ('aws_odr', 'ckan', 'dcat', 'feed')),
	location      TEXT   NOT NULL, -- a folder or a URL
	supplier_id   TEXT   NOT NULL REFERENCES participants (id),
	agent_id      TEXT   NOT NULL, -- '' for a domestic platform
	settings      TEXT   NOT NULL, -- JSON: listing defaults, auto-listing criteria, connector options
	every_seconds BIGINT NOT NULL, -- 0: on demand only
	next_run_at   TEXT   NOT NULL,
	status        TEXT   NOT NULL CHECK (status IN ('active', 'removed')),
	created_by    TEXT   NOT NULL,
	created_at    TEXT   NOT NULL,
	updated_at    TEXT   NOT NULL
);

-- What each record became. Derived from the products' own filings, whose details
-- carry the source, the record id and its content hash.
CREATE TABLE harvest_records (
	source_id      TEXT NOT NULL REFERENCES harvest_sources (id),
	record_id      TEXT NOT NULL,
	product_id     TEXT NOT NULL,
	content_sha256 TEXT NOT NULL,
	state          TEXT NOT NULL CHECK (state IN ('active', 'removed')),
	updated_at     TEXT NOT NULL,
	PRIMARY KEY (source_id, record_id)
);

CREATE TABLE harvest_runs (
	id           TEXT PRIMARY KEY,
	source_id    TEXT   NOT NULL REFERENCES harvest_sources (id),
	started_at   TEXT   NOT NULL,
	finished_at  TEXT   NOT NULL,
	status       TEXT   NOT NULL CHECK (status IN ('succeeded', 'failed')),
	report       TEXT   NOT NULL, -- JSON: counts, problems, notices, duration
	filing_seq   BIGINT NOT NULL
);
CREATE INDEX harvest_runs_by_source ON harvest_runs (source_id, started_at);
