-- Nothing may update, delete or truncate a filing: the database itself refuses.
CREATE FUNCTION dataport_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'filings are append-only' USING ERRCODE = 'integrity_constraint_violation';
END;
$$;
CREATE TRIGGER filings_no_change BEFORE UPDATE OR DELETE ON filings
	FOR EACH ROW EXECUTE FUNCTION dataport_append_only();
CREATE TRIGGER filings_no_truncate BEFORE TRUNCATE ON filings
	FOR EACH STATEMENT EXECUTE FUNCTION dataport_append_only();
CREATE TRIGGER filing_subjects_no_change BEFORE UPDATE OR DELETE ON filing_subjects
	FOR EACH ROW EXECUTE FUNCTION dataport_append_only();
CREATE TRIGGER filing_subjects_no_truncate BEFORE TRUNCATE ON filing_subjects
	FOR EACH STATEMENT EXECUTE FUNCTION dataport_append_only();
CREATE TRIGGER filing_sequence_no_delete BEFORE DELETE ON filing_sequence
	FOR EACH ROW EXECUTE FUNCTION dataport_append_only();
CREATE TRIGGER filing_sequence_no_truncate BEFORE TRUNCATE ON filing_sequence
	FOR EACH STATEMENT EXECUTE FUNCTION dataport_append_only();

-- The sequence only moves forward, one at a time.
CREATE FUNCTION dataport_sequence_forward() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.last_seq <> OLD.last_seq + 1 THEN
		RAISE EXCEPTION 'filing sequence moves forward by one' USING ERRCODE = 'integrity_constraint_violation';
	END IF;
	RETURN NEW;
END;
$$;
CREATE TRIGGER filing_sequence_forward BEFORE UPDATE ON filing_sequence
	FOR EACH ROW EXECUTE FUNCTION dataport_sequence_forward();
