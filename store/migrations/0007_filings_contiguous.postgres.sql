-- Filings are written a group at a time (group commit): the sequence moves by the
-- group's size, not by one. The database still holds the line: every filing's
-- number follows the greatest before it (a row trigger sees the rows its statement
-- inserted before), and the sequence always equals the greatest filed number.
CREATE OR REPLACE FUNCTION dataport_sequence_forward() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.last_seq <> (SELECT COALESCE(MAX(seq), 0) FROM filings) THEN
		RAISE EXCEPTION 'the filing sequence must equal the greatest filed number' USING ERRCODE = 'integrity_constraint_violation';
	END IF;
	RETURN NEW;
END;
$$;
CREATE FUNCTION dataport_filings_contiguous() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.seq <> (SELECT COALESCE(MAX(seq), 0) FROM filings) + 1 THEN
		RAISE EXCEPTION 'filing numbers are gap-free' USING ERRCODE = 'integrity_constraint_violation';
	END IF;
	RETURN NEW;
END;
$$;
CREATE TRIGGER filings_contiguous BEFORE INSERT ON filings
	FOR EACH ROW EXECUTE FUNCTION dataport_filings_contiguous();
