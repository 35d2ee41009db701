-- Webhooks (Standard Webhooks). The audit log is the outbox: each endpoint
-- reads audit_events after its cursor and turns them into deliveries, so an
-- event recorded with its change is delivered even across restarts. Kept in
-- step with migrations/postgres/20261123000008_webhooks.sql.

CREATE TABLE webhook_endpoints (
    id             TEXT PRIMARY KEY NOT NULL,
    url            TEXT NOT NULL,
    -- The signing key, sealed with the context "webhook-secret:{id}".
    secret_sealed  TEXT NOT NULL,
    -- JSON array of the event types delivered; empty means all.
    event_types    TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    disabled_at    TEXT,
    -- The id of the last audit event turned into deliveries.
    cursor         TEXT NOT NULL,
    -- The cursor at creation: no event up to it is ever delivered here.
    start_cursor   TEXT NOT NULL
);

CREATE TABLE webhook_deliveries (
    id               TEXT PRIMARY KEY NOT NULL,
    endpoint_id      TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id         TEXT NOT NULL,
    event_type       TEXT NOT NULL,
    payload          TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    -- NULL once delivered or given up.
    next_attempt_at  TEXT,
    lease_until      TEXT,
    last_attempt_at  TEXT,
    delivered_at     TEXT,
    failed_at        TEXT,
    last_status      INTEGER,
    last_error       TEXT,
    created_at       TEXT NOT NULL,
    -- One delivery per endpoint and event, however many instances enqueue.
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE next_attempt_at IS NOT NULL;
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id);
