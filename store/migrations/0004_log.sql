-- The exchange's Merkle log over the filings (RFC 6962 hashing, served as a C2SP
-- tlog-tiles log). Leaf n is filing n+1's entry. The integrator adds leaves after
-- their filings commit, so the tree may trail the filings by a moment.

-- Every stored hash of the tree (golang.org/x/mod/sumdb/tlog's layout: all levels,
-- indexed by tlog.StoredHashIndex), hex.
CREATE TABLE log_hashes (
	id   BIGINT PRIMARY KEY,
	hash TEXT   NOT NULL
);

-- How far the tree is integrated.
CREATE TABLE log_tree (
	id   INTEGER PRIMARY KEY CHECK (id = 1),
	size BIGINT  NOT NULL,
	root TEXT    NOT NULL -- hex; '' for the empty tree
);
INSERT INTO log_tree (id, size, root) VALUES (1, 0, '');

-- Every checkpoint the log signed (C2SP tlog-checkpoint in a signed note).
CREATE TABLE log_checkpoints (
	size      BIGINT PRIMARY KEY,
	root      TEXT   NOT NULL, -- hex
	note      TEXT   NOT NULL, -- the signed note, as served
	signed_at TEXT   NOT NULL
);
