-- S3 access keys: a participant's credentials for the exchange's S3-compatible
-- endpoint. The secret is derived from the exchange's secret and the key id
-- (SigV4 needs the secret itself to check a signature), so none is stored.
CREATE TABLE s3_keys (
	id              TEXT PRIMARY KEY, -- the access key id
	participant_id  TEXT NOT NULL REFERENCES participants (id),
	name            TEXT NOT NULL,
	created_by      TEXT NOT NULL,
	created_at      TEXT NOT NULL,
	revoked_at      TEXT NOT NULL, -- '' while in force
	revoked_by      TEXT NOT NULL
);
CREATE INDEX s3_keys_by_participant ON s3_keys (participant_id, id);

-- Mirror upstreams: foreign object stores the domestic mirror serves from local
-- disk. Credentials, when any, are sealed (AES-GCM under a key derived from the
-- exchange's secret): the mirror must present them upstream.
CREATE TABLE mirror_upstreams (
	name        TEXT PRIMARY KEY, -- the bucket name the mirror shows
	endpoint    TEXT NOT NULL,
	secure      BOOLEAN NOT NULL,
	bucket      TEXT NOT NULL,
	region      TEXT NOT NULL,
	prefix      TEXT NOT NULL,
	arn         TEXT NOT NULL, -- the registry ARN it was made from, '' when given by endpoint
	credentials TEXT NOT NULL, -- sealed access and secret key; '' for anonymous
	status      TEXT NOT NULL CHECK (status IN ('active', 'removed')),
	created_by  TEXT NOT NULL,
	created_at  TEXT NOT NULL,
	updated_at  TEXT NOT NULL
);
