-- The W3C trace context (traceparent) of the request that committed the event, which the relay
-- publishes with it, so that a trace follows the change through NATS ('' when none was traced).
ALTER TABLE outbox_events ADD COLUMN traceparent TEXT NOT NULL DEFAULT '';
