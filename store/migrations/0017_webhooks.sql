-- Webhooks: participants register HTTPS endpoints; every notification to them is
-- also delivered there, signed (Standard Webhooks 1.0, ed25519 "v1a"), and retried
-- on a schedule spanning days until the endpoint answers 2xx.
CREATE TABLE webhooks (
	id                  TEXT PRIMARY KEY,
	participant_id      TEXT   NOT NULL REFERENCES participants (id),
	url                 TEXT   NOT NULL,
	events              TEXT   NOT NULL, -- JSON array of notification kinds; [] all
	status              TEXT   NOT NULL CHECK (status IN ('active', 'disabled', 'deleted')),
	status_reason       TEXT   NOT NULL,
	key_generation      BIGINT NOT NULL, -- the signing key is derived from the server's secret, the id and this
	previous_until      TEXT   NOT NULL, -- until then, deliveries are also signed with the previous generation
	created_at          TEXT   NOT NULL,
	updated_at          TEXT   NOT NULL
);
CREATE INDEX webhooks_by_participant ON webhooks (participant_id, id);

-- One row per notification and endpoint; its id is the webhook-id header, the same
-- on every attempt, for the receiver to deduplicate.
CREATE TABLE webhook_deliveries (
	id              TEXT PRIMARY KEY,
	webhook_id      TEXT   NOT NULL REFERENCES webhooks (id),
	notification_id TEXT   NOT NULL REFERENCES notifications (id),
	kind            TEXT   NOT NULL,
	body            TEXT   NOT NULL, -- RFC 8785 canonical JSON, sent and signed as it is
	status          TEXT   NOT NULL CHECK (status IN ('pending', 'delivered', 'failed', 'cancelled')),
	attempts        BIGINT NOT NULL,
	next_attempt_at TEXT   NOT NULL,
	lease_until     TEXT   NOT NULL, -- a server delivering it holds it until then
	last_status     BIGINT NOT NULL, -- the endpoint's last HTTP status; 0 when none
	last_error      TEXT   NOT NULL,
	created_at      TEXT   NOT NULL,
	finished_at     TEXT   NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, id);
