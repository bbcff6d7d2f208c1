ALTER TABLE outbox_events DROP COLUMN data_schema;
