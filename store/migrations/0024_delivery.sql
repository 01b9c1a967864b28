-- Delivery: the files of a product revision, their sealed manifest, resumable
-- uploads, and what was delivered to whom.

-- An upload in progress: its bytes are staged on the server's disk until complete.
CREATE TABLE uploads (
	id          TEXT PRIMARY KEY,
	product_id  TEXT   NOT NULL REFERENCES products (id),
	revision    BIGINT NOT NULL,
	path        TEXT   NOT NULL,
	size        BIGINT NOT NULL, -- declared
	sha256      TEXT   NOT NULL, -- declared, '' when not declared
	media_type  TEXT   NOT NULL,
	state       TEXT   NOT NULL CHECK (state IN ('open', 'complete', 'aborted')),
	created_by  TEXT   NOT NULL,
	created_at  TEXT   NOT NULL,
	updated_at  TEXT   NOT NULL
);
CREATE INDEX uploads_by_revision ON uploads (product_id, revision, state);

-- A revision's files: each a blob in the content-addressed store.
CREATE TABLE dataset_files (
	product_id  TEXT   NOT NULL REFERENCES products (id),
	revision    BIGINT NOT NULL,
	path        TEXT   NOT NULL,
	size        BIGINT NOT NULL,
	sha256      TEXT   NOT NULL,
	media_type  TEXT   NOT NULL,
	added_by    TEXT   NOT NULL,
	added_at    TEXT   NOT NULL,
	PRIMARY KEY (product_id, revision, path)
);

-- A sealed manifest: the revision's files are fixed and their Merkle root filed.
CREATE TABLE manifests (
	product_id  TEXT   NOT NULL REFERENCES products (id),
	revision    BIGINT NOT NULL,
	merkle_root TEXT   NOT NULL, -- hex
	files       BIGINT NOT NULL,
	bytes       BIGINT NOT NULL,
	filing_seq  BIGINT NOT NULL,
	sealed_by   TEXT   NOT NULL,
	sealed_at   TEXT   NOT NULL,
	PRIMARY KEY (product_id, revision)
);

-- Deliveries: one per download counted against an entitlement; resumed ranges
-- continue it. Completed when the file's last byte went out.
CREATE TABLE deliveries (
	id            TEXT PRIMARY KEY,
	deal_id       TEXT   NOT NULL REFERENCES deals (id),
	path          TEXT   NOT NULL,
	sha256        TEXT   NOT NULL,
	size          BIGINT NOT NULL,
	started_at    TEXT   NOT NULL,
	completed_at  TEXT   NOT NULL -- '' until complete
);
CREATE INDEX deliveries_by_deal ON deliveries (deal_id, path, started_at);
