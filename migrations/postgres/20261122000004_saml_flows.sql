-- SAML sign-in flows (the AuthnRequests we sent, found again by RelayState)
-- and the assertion IDs already accepted (replay protection across
-- instances). Kept in step with migrations/sqlite/20261122000004_saml_flows.sql.

CREATE TABLE saml_requests (
    id                TEXT PRIMARY KEY NOT NULL,
    connection_id     TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    relay_state_hash  TEXT NOT NULL UNIQUE,
    purpose           TEXT NOT NULL,
    context           TEXT NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL,
    expires_at        TIMESTAMPTZ NOT NULL,
    used_at           TIMESTAMPTZ
);
CREATE INDEX saml_requests_expiry ON saml_requests (expires_at);

CREATE TABLE saml_assertion_ids (
    connection_id  TEXT NOT NULL,
    assertion_id   TEXT NOT NULL,
    expires_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (connection_id, assertion_id)
);
CREATE INDEX saml_assertion_ids_expiry ON saml_assertion_ids (expires_at);
