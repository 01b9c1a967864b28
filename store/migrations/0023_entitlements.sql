-- Entitlements: a finalised deal's right to use the agreed revision under the
-- contract's policy. Delivery asks Use whether an access is allowed; each use is
-- counted here and filed.
CREATE TABLE entitlements (
	id          TEXT PRIMARY KEY,
	deal_id     TEXT   NOT NULL UNIQUE REFERENCES deals (id),
	buyer_id    TEXT   NOT NULL REFERENCES participants (id),
	product_id  TEXT   NOT NULL REFERENCES products (id),
	revision    BIGINT NOT NULL,
	territory   TEXT   NOT NULL, -- ISO 3166-1 alpha-2: where the data may be used
	starts_on   TEXT   NOT NULL, -- YYYY-MM-DD, China time
	ends_on     TEXT   NOT NULL, -- the last day
	max_uses    BIGINT NOT NULL,
	uses        BIGINT NOT NULL,
	created_at  TEXT   NOT NULL,
	updated_at  TEXT   NOT NULL
);
CREATE INDEX entitlements_by_buyer ON entitlements (buyer_id, id);
