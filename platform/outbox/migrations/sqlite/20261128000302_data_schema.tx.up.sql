-- The schema (and version) of each event's payload, published as the CloudEvents dataschema.
-- Events stored before it have none ('') and are published without the attribute.
ALTER TABLE outbox_events ADD COLUMN data_schema TEXT NOT NULL DEFAULT '';
