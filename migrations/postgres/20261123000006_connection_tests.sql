-- Test sign-ins an admin ran from the Security tab: each counts for the
-- configuration version it ran on, and the latest few are shown as a
-- history. Kept in step with migrations/sqlite/20261123000006_connection_tests.sql.

CREATE TABLE connection_tests (
    id               TEXT PRIMARY KEY NOT NULL,
    connection_id    TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    organization_id  TEXT NOT NULL,
    config_version   BIGINT NOT NULL,
    outcome          TEXT NOT NULL CHECK (outcome IN ('passed', 'failed')),
    error_code       TEXT,
    result           TEXT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX connection_tests_connection ON connection_tests (connection_id, created_at);
