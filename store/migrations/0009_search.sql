-- The catalog's search index: terms from the bilingual analyzer (catalog/search),
-- kept in ordinary tables so that both engines store, match and rank alike.
CREATE TABLE search_docs (
	product_id  TEXT PRIMARY KEY REFERENCES products (id),
	length      BIGINT NOT NULL, -- weighted number of terms, for BM25 length normalisation
	type        TEXT   NOT NULL,
	category    TEXT   NOT NULL,
	origin      TEXT   NOT NULL, -- origin jurisdiction
	grade       TEXT   NOT NULL,
	supplier_id TEXT   NOT NULL,
	agent_id    TEXT   NOT NULL,
	listed_at   TEXT   NOT NULL
);
CREATE INDEX search_docs_by_listed ON search_docs (listed_at, product_id);

CREATE TABLE search_postings (
	term       TEXT   NOT NULL,
	product_id TEXT   NOT NULL REFERENCES search_docs (product_id),
	tf         BIGINT NOT NULL, -- weighted term frequency: title terms count three times
	PRIMARY KEY (term, product_id)
);
CREATE INDEX search_postings_by_product ON search_postings (product_id);
