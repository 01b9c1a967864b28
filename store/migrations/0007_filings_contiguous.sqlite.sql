-- Filings are written a group at a time (group commit): the sequence moves by the
-- group's size, not by one. The database still holds the line: every filing's
-- number follows the greatest before it, and the sequence always equals the
-- greatest filed number.
DROP TRIGGER filing_sequence_forward;
CREATE TRIGGER filing_sequence_matches BEFORE UPDATE ON filing_sequence
WHEN NEW.last_seq <> (SELECT COALESCE(MAX(seq), 0) FROM filings)
BEGIN SELECT RAISE(ABORT, 'the filing sequence must equal the greatest filed number'); END;
CREATE TRIGGER filings_contiguous BEFORE INSERT ON filings
WHEN NEW.seq <> (SELECT COALESCE(MAX(seq), 0) FROM filings) + 1
BEGIN SELECT RAISE(ABORT, 'filing numbers are gap-free'); END;
