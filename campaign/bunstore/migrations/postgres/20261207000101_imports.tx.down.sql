DROP TABLE IF EXISTS campaign_import_items;

--bun:split

DROP TABLE IF EXISTS campaign_imports;
