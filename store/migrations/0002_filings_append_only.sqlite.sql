-- Nothing may update or delete a filing: the database itself refuses.
CREATE TRIGGER filings_no_update BEFORE UPDATE ON filings
BEGIN SELECT RAISE(ABORT, 'filings are append-only'); END;
CREATE TRIGGER filings_no_delete BEFORE DELETE ON filings
BEGIN SELECT RAISE(ABORT, 'filings are append-only'); END;
CREATE TRIGGER filing_subjects_no_update BEFORE UPDATE ON filing_subjects
BEGIN SELECT RAISE(ABORT, 'filings are append-only'); END;
CREATE TRIGGER filing_subjects_no_delete BEFORE DELETE ON filing_subjects
BEGIN SELECT RAISE(ABORT, 'filings are append-only'); END;
CREATE TRIGGER filing_sequence_no_delete BEFORE DELETE ON filing_sequence
BEGIN SELECT RAISE(ABORT, 'filings are append-only'); END;
-- The sequence only moves forward, one at a time.
CREATE TRIGGER filing_sequence_forward BEFORE UPDATE ON filing_sequence
WHEN NEW.last_seq <> OLD.last_seq + 1
BEGIN SELECT RAISE(ABORT, 'filing sequence moves forward by one'); END;
