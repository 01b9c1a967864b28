-- The participant registry: organisations, their roles, API keys and signing keys.

CREATE TABLE participants (
	id                    TEXT PRIMARY KEY,
	legal_name_zh         TEXT    NOT NULL,
	legal_name_en         TEXT    NOT NULL,
	jurisdiction          TEXT    NOT NULL, -- ISO 3166-1 alpha-2
	kind                  TEXT    NOT NULL CHECK (kind IN ('domestic', 'foreign')),
	uscc                  TEXT UNIQUE,      -- domestic: unified social credit code (GB 32100-2015)
	registration_number   TEXT,             -- foreign: registration number in its jurisdiction
	merchant_category     TEXT    NOT NULL,
	ciio                  BOOLEAN NOT NULL,
	ftz                   TEXT    NOT NULL,
	kyc_status            TEXT    NOT NULL CHECK (kyc_status IN ('pending', 'verified', 'rejected')),
	kyc_by                TEXT    NOT NULL,
	kyc_at                TEXT    NOT NULL,
	kyc_note              TEXT    NOT NULL,
	whitelist_reference   TEXT    NOT NULL,
	whitelist_valid_until TEXT    NOT NULL,
	status                TEXT    NOT NULL CHECK (status IN ('active', 'suspended')),
	suspended_reason      TEXT    NOT NULL,
	suspended_by          TEXT    NOT NULL,
	suspended_at          TEXT    NOT NULL,
	contact_name          TEXT    NOT NULL,
	contact_email         TEXT    NOT NULL,
	contact_phone         TEXT    NOT NULL,
	created_at            TEXT    NOT NULL,
	updated_at            TEXT    NOT NULL,
	version               BIGINT  NOT NULL,
	UNIQUE (jurisdiction, registration_number)
);
CREATE INDEX participants_name_en ON participants (legal_name_en);

CREATE TABLE participant_roles (
	participant_id TEXT NOT NULL REFERENCES participants (id),
	role           TEXT NOT NULL,
	PRIMARY KEY (participant_id, role)
);
CREATE INDEX participant_roles_by_role ON participant_roles (role, participant_id);

-- API keys: the secret is shown once and only its SHA-256 is kept.
CREATE TABLE api_keys (
	id             TEXT PRIMARY KEY,
	participant_id TEXT NOT NULL REFERENCES participants (id),
	name           TEXT NOT NULL,
	secret_sha256  TEXT NOT NULL,
	roles          TEXT NOT NULL, -- comma-separated subset of the participant's roles
	created_at     TEXT NOT NULL,
	created_by     TEXT NOT NULL,
	expires_at     TEXT NOT NULL, -- '' = never
	revoked_at     TEXT NOT NULL, -- '' = in force
	revoked_by     TEXT NOT NULL
);
CREATE INDEX api_keys_by_participant ON api_keys (participant_id, id);

-- Ed25519 public keys a participant signs contracts and receipts with. The key id is
-- a prefix of the key's SHA-256, so anyone can recompute it.
CREATE TABLE signing_keys (
	id             TEXT PRIMARY KEY,
	participant_id TEXT NOT NULL REFERENCES participants (id),
	name           TEXT NOT NULL,
	algorithm      TEXT NOT NULL,
	public_key     TEXT NOT NULL UNIQUE, -- base64 (standard, padded)
	added_at       TEXT NOT NULL,
	added_by       TEXT NOT NULL,
	revoked_at     TEXT NOT NULL,
	revoked_by     TEXT NOT NULL
);
CREATE INDEX signing_keys_by_participant ON signing_keys (participant_id, id);
