-- The compliance engine: rule packs, approvals on file, the year-to-date PI counters
-- (R14), and the assessments made for listings and deals.
CREATE TABLE rule_packs (
	version      TEXT PRIMARY KEY,
	sha256       TEXT NOT NULL,
	source       TEXT NOT NULL, -- the YAML as uploaded
	status       TEXT NOT NULL CHECK (status IN ('uploaded', 'active', 'retired')),
	uploaded_by  TEXT NOT NULL,
	uploaded_at  TEXT NOT NULL,
	activated_at TEXT NOT NULL
);
CREATE INDEX rule_packs_by_status ON rule_packs (status, version);

CREATE TABLE approvals (
	id              TEXT PRIMARY KEY,
	kind            TEXT   NOT NULL,
	reference       TEXT   NOT NULL,
	exporter_id     TEXT   NOT NULL REFERENCES participants (id),
	recipients      TEXT   NOT NULL, -- JSON array; [] any
	categories      TEXT   NOT NULL, -- JSON array; [] any
	issued_on       TEXT   NOT NULL, -- YYYY-MM-DD
	effective_on    TEXT   NOT NULL,
	filed_on        TEXT   NOT NULL,
	valid_until     TEXT   NOT NULL,
	extended        BIGINT NOT NULL, -- 0 or 1
	revoked         BIGINT NOT NULL, -- 0 or 1
	revoked_reason  TEXT   NOT NULL,
	evidence_sha256 TEXT   NOT NULL,
	recorded_by     TEXT   NOT NULL,
	recorded_at     TEXT   NOT NULL,
	updated_at      TEXT   NOT NULL,
	UNIQUE (kind, reference)
);
CREATE INDEX approvals_by_exporter ON approvals (exporter_id, kind);

-- R14: per exporter per calendar year (Asia/Shanghai), the PI and sensitive-PI
-- subjects of completed export deals.
CREATE TABLE pi_counters (
	exporter_id           TEXT   NOT NULL REFERENCES participants (id),
	year                  BIGINT NOT NULL,
	pi_subjects           BIGINT NOT NULL,
	sensitive_pi_subjects BIGINT NOT NULL,
	PRIMARY KEY (exporter_id, year)
);

CREATE TABLE assessments (
	id           TEXT PRIMARY KEY,
	context      TEXT NOT NULL,
	subject_id   TEXT NOT NULL, -- the product or deal assessed; '' for a what-if
	outcome      TEXT NOT NULL,
	pack_version TEXT NOT NULL,
	facts        TEXT NOT NULL, -- canonical JSON
	facts_sha256 TEXT NOT NULL,
	result       TEXT NOT NULL, -- JSON
	created_by   TEXT NOT NULL,
	created_at   TEXT NOT NULL
);
CREATE INDEX assessments_by_subject ON assessments (subject_id, id);
