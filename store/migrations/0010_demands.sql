-- Demands (需求): what buyers look for; and each participant's inbox.
CREATE TABLE demands (
	id              TEXT PRIMARY KEY,
	buyer_id        TEXT   NOT NULL REFERENCES participants (id),
	text            TEXT   NOT NULL,
	category        TEXT   NOT NULL,
	budget_min      BIGINT NOT NULL, -- minor units
	budget_max      BIGINT NOT NULL, -- minor units; 0: no upper bound
	currency        TEXT   NOT NULL,
	jurisdictions   TEXT   NOT NULL, -- JSON array of origin jurisdictions accepted; [] any
	delivery_mode   TEXT   NOT NULL, -- '' any
	deadline        TEXT   NOT NULL, -- YYYY-MM-DD; '' none
	status          TEXT   NOT NULL CHECK (status IN ('open', 'closed')),
	created_at      TEXT   NOT NULL
);
CREATE INDEX demands_open ON demands (status, id);

CREATE TABLE notifications (
	id             TEXT PRIMARY KEY,
	participant_id TEXT NOT NULL REFERENCES participants (id),
	kind           TEXT NOT NULL,
	payload        TEXT NOT NULL, -- JSON
	created_at     TEXT NOT NULL
);
CREATE INDEX notifications_by_participant ON notifications (participant_id, id);
