-- Attachments of product revisions (compliance assessment reports, product
-- descriptions, quality reports): the bytes live in the blob store under their
-- SHA-256; a row here says who uploaded them, so that a revision can only cite
-- documents its supplier or agent uploaded.
CREATE TABLE attachments (
	sha256         TEXT   NOT NULL,
	participant_id TEXT   NOT NULL REFERENCES participants (id),
	size           BIGINT NOT NULL,
	media_type     TEXT   NOT NULL,
	name           TEXT   NOT NULL,
	uploaded_at    TEXT   NOT NULL,
	PRIMARY KEY (sha256, participant_id)
);
CREATE INDEX attachments_by_participant ON attachments (participant_id, uploaded_at);
