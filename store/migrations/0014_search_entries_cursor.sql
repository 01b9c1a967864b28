-- Servers follow search_entries in pages ordered by (seq, product_id), so that
-- a catch-up is always an ordered index range scan, whatever plan the engine
-- picks for a prepared statement, and entries sharing a number (a rebuild) are
-- never split between pages.
DROP INDEX search_entries_by_seq;
CREATE INDEX search_entries_by_seq ON search_entries (seq, product_id);
