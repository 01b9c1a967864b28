-- The catalog: data products, their revisions, and registration numbers.

CREATE TABLE products (
	id                  TEXT PRIMARY KEY,
	supplier_id         TEXT   NOT NULL REFERENCES participants (id),
	agent_id            TEXT REFERENCES participants (id), -- the domestic agent, for a foreign supplier
	status              TEXT   NOT NULL CHECK (status IN ('draft', 'submitted', 'under_review', 'listed', 'rejected', 'suspended', 'delisted')),
	latest_revision     BIGINT NOT NULL, -- the newest revision
	listed_revision     BIGINT NOT NULL, -- the revision buyers see; 0 before the first listing
	registration_number TEXT UNIQUE,     -- issued at the first listing
	registered_at       TEXT   NOT NULL,
	review_reasons      TEXT   NOT NULL, -- JSON array: why the last review rejected it
	suspended_reason    TEXT   NOT NULL,
	suspended_by        TEXT   NOT NULL,
	suspended_at        TEXT   NOT NULL,
	created_at          TEXT   NOT NULL,
	updated_at          TEXT   NOT NULL,
	version             BIGINT NOT NULL
);
CREATE INDEX products_by_supplier ON products (supplier_id, id);
CREATE INDEX products_by_agent ON products (agent_id, id);
CREATE INDEX products_by_status ON products (status, id);

-- Every revision of a product's details, kept: history stays readable.
CREATE TABLE product_revisions (
	product_id TEXT   NOT NULL REFERENCES products (id),
	revision   BIGINT NOT NULL,
	details    TEXT   NOT NULL, -- RFC 8785 canonical JSON
	sha256     TEXT   NOT NULL, -- of details
	created_at TEXT   NOT NULL,
	created_by TEXT   NOT NULL,
	PRIMARY KEY (product_id, revision)
);

-- Registration numbers DP-<year>-<n>, counted per year.
CREATE TABLE registration_sequence (
	year BIGINT PRIMARY KEY,
	last BIGINT NOT NULL
);
