-- A listed product is edited through a pending change: a new revision that goes
-- through review while buyers keep seeing the listed one. change_status is where
-- that revision is ('' when there is none): draft, submitted, under_review or
-- rejected.
ALTER TABLE products ADD COLUMN change_status TEXT NOT NULL DEFAULT ''
	CHECK (change_status IN ('', 'draft', 'submitted', 'under_review', 'rejected'));
