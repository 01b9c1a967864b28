-- The contract of a deal: the canonical JSON both sides sign (the provider when it
-- agrees, the buyer when it verifies), and the exchange's countersignature when the
-- deal is finalised; the signed bundle is kept in the blob store under its hash.
ALTER TABLE deals ADD COLUMN contract TEXT NOT NULL DEFAULT '';
ALTER TABLE deals ADD COLUMN contract_sha256 TEXT NOT NULL DEFAULT '';
ALTER TABLE deals ADD COLUMN provider_key_id TEXT NOT NULL DEFAULT '';
ALTER TABLE deals ADD COLUMN provider_signature TEXT NOT NULL DEFAULT '';
ALTER TABLE deals ADD COLUMN buyer_key_id TEXT NOT NULL DEFAULT '';
ALTER TABLE deals ADD COLUMN buyer_signature TEXT NOT NULL DEFAULT '';
ALTER TABLE deals ADD COLUMN countersignature TEXT NOT NULL DEFAULT '';
ALTER TABLE deals ADD COLUMN bundle_sha256 TEXT NOT NULL DEFAULT '';
ALTER TABLE deals ADD COLUMN max_uses BIGINT NOT NULL DEFAULT 0;
ALTER TABLE deals ADD COLUMN term_days BIGINT NOT NULL DEFAULT 0;
