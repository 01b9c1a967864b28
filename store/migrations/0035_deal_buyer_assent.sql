-- A buyer's verification of a deal's contract may be an authenticated protocol message
-- instead of an Ed25519 signature (a connector of a data space verifies an agreement with
-- a Dataspace Protocol message and holds no key registered here): buyer_assent is that
-- assent as JSON (trade.Assent: the protocol and message kind, the API key it was
-- authenticated with, the SHA-256 of the message's canonical JSON and of the contract).
-- The exchange's countersignature covers it as it covers a signature.
ALTER TABLE deals ADD COLUMN buyer_assent TEXT NOT NULL DEFAULT '';
