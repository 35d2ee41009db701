-- SSO connections. The settings are JSON (one shape per protocol); the
-- version columns carry the lifecycle: a test counts for the version it ran
-- on, and an active connection signs in with its live version.
-- Kept in step with migrations/postgres/20261122000003_connections.sql.

CREATE TABLE connections (
    id                   TEXT PRIMARY KEY NOT NULL,
    organization_id      TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    provider             TEXT NOT NULL,
    protocol             TEXT NOT NULL CHECK (protocol IN ('saml', 'oidc')),
    state                TEXT NOT NULL CHECK (state IN ('draft', 'tested', 'active', 'inactive')),
    allow_subdomains     BOOLEAN NOT NULL DEFAULT FALSE,
    allow_idp_initiated  BOOLEAN NOT NULL DEFAULT FALSE,
    config_version       BIGINT NOT NULL,
    config               TEXT NOT NULL,
    tested_version       BIGINT,
    live_version         BIGINT,
    live_config          TEXT,
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL,
    activated_at         TEXT,
    refresh_lease_until  TEXT
);
CREATE INDEX connections_organization ON connections (organization_id);
-- At most one active connection per organization.
CREATE UNIQUE INDEX connections_one_active ON connections (organization_id) WHERE state = 'active';
