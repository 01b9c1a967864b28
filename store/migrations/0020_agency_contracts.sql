-- Agency contracts (R22): a foreign supplier and a domestic agent agree the scope and
-- term; both sign the contract's RFC 8785 canonical JSON with registered Ed25519
-- keys; the exchange certifies it with its own signature. Only a certified contract
-- in force lets the agent list and trade the supplier's products.
CREATE TABLE agency_contracts (
	id                 TEXT PRIMARY KEY,
	supplier_id        TEXT NOT NULL REFERENCES participants (id),
	agent_id           TEXT NOT NULL REFERENCES participants (id),
	document           TEXT NOT NULL, -- canonical JSON: what both parties sign
	document_sha256    TEXT NOT NULL,
	valid_from         TEXT NOT NULL, -- YYYY-MM-DD
	valid_until        TEXT NOT NULL,
	supplier_key_id    TEXT NOT NULL,
	supplier_signature TEXT NOT NULL, -- base64
	agent_key_id       TEXT NOT NULL,
	agent_signature    TEXT NOT NULL,
	certificate        TEXT NOT NULL, -- the exchange's signed note over the certificate
	status             TEXT NOT NULL CHECK (status IN ('proposed', 'signed', 'certified', 'revoked')),
	status_reason      TEXT NOT NULL,
	created_by         TEXT NOT NULL,
	created_at         TEXT NOT NULL,
	certified_at       TEXT NOT NULL,
	updated_at         TEXT NOT NULL
);
CREATE INDEX agency_contracts_by_agent ON agency_contracts (agent_id, supplier_id, status);
CREATE INDEX agency_contracts_by_supplier ON agency_contracts (supplier_id, id);
