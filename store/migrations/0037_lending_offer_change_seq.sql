-- An offer's latest change (its making, supersession, withdrawal, or its taking by a
-- disbursement) is the filing banks poll offers by (after_seq). It was found by a
-- subquery over the offer's filings on every read; it is now kept on the offer,
-- written in the transaction that files the change, and indexed.
ALTER TABLE lending_offers ADD COLUMN change_seq BIGINT NOT NULL DEFAULT 0;
UPDATE lending_offers SET change_seq = (SELECT COALESCE(MAX(fs.seq), 0) FROM filing_subjects fs JOIN filings f ON f.seq = fs.seq
	WHERE fs.subject = lending_offers.id AND f.type IN ('lending.offer_made', 'lending.offer_superseded', 'lending.offer_withdrawn',
	'lending.disbursed'));
CREATE INDEX lending_offers_change ON lending_offers (change_seq);
