-- Quotes (報價): a supplier's (or agent's) answer to a demand with a product and price.
CREATE TABLE quotes (
	id         TEXT PRIMARY KEY,
	demand_id  TEXT   NOT NULL REFERENCES demands (id),
	product_id TEXT   NOT NULL REFERENCES products (id),
	quoted_by  TEXT   NOT NULL REFERENCES participants (id),
	amount     BIGINT NOT NULL, -- minor units
	currency   TEXT   NOT NULL,
	message    TEXT   NOT NULL,
	status     TEXT   NOT NULL CHECK (status IN ('open', 'accepted', 'declined')),
	created_at TEXT   NOT NULL,
	decided_at TEXT   NOT NULL
);
CREATE INDEX quotes_by_demand ON quotes (demand_id, id);
