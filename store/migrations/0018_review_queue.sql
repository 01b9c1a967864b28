-- The operator's review queue reads products awaiting review, whether new products
-- (status) or pending changes of listed ones (change_status).
CREATE INDEX products_by_change ON products (change_status, id);
