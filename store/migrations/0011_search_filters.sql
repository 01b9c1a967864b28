-- Search filters and facets by delivery mode and price.
ALTER TABLE search_docs ADD COLUMN modes TEXT NOT NULL DEFAULT '';        -- ",api,file,"
ALTER TABLE search_docs ADD COLUMN price_min BIGINT NOT NULL DEFAULT -1;  -- the lowest plan price, minor units; -1: none
ALTER TABLE search_docs ADD COLUMN currency TEXT NOT NULL DEFAULT '';     -- of price_min
