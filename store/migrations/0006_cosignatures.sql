-- Witness cosignatures (C2SP tlog-cosignature) on checkpoints the log signed.
CREATE TABLE log_cosignatures (
	size      BIGINT NOT NULL REFERENCES log_checkpoints (size),
	witness   TEXT   NOT NULL, -- the witness's key name
	signed_at BIGINT NOT NULL, -- the cosignature's own timestamp (POSIX seconds)
	line      TEXT   NOT NULL, -- the signature line, as served
	PRIMARY KEY (size, witness)
);
