-- The log's hashes and signed checkpoints are never changed or removed.
CREATE TRIGGER log_hashes_no_change BEFORE UPDATE OR DELETE ON log_hashes
	FOR EACH ROW EXECUTE FUNCTION dataport_append_only();
CREATE TRIGGER log_hashes_no_truncate BEFORE TRUNCATE ON log_hashes
	FOR EACH STATEMENT EXECUTE FUNCTION dataport_append_only();
CREATE TRIGGER log_checkpoints_no_change BEFORE UPDATE OR DELETE ON log_checkpoints
	FOR EACH ROW EXECUTE FUNCTION dataport_append_only();
CREATE TRIGGER log_checkpoints_no_truncate BEFORE TRUNCATE ON log_checkpoints
	FOR EACH STATEMENT EXECUTE FUNCTION dataport_append_only();

CREATE FUNCTION dataport_tree_forward() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.size < OLD.size THEN
		RAISE EXCEPTION 'the log tree only grows' USING ERRCODE = 'integrity_constraint_violation';
	END IF;
	RETURN NEW;
END;
$$;
CREATE TRIGGER log_tree_forward BEFORE UPDATE ON log_tree
	FOR EACH ROW EXECUTE FUNCTION dataport_tree_forward();
