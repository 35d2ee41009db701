-- Email domains claimed by organizations and their DNS verification.
-- Kept in step with migrations/sqlite/20261122000002_domains.sql.

CREATE TABLE domains (
    id                 TEXT PRIMARY KEY NOT NULL,
    organization_id    TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    domain             TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('pending', 'verified', 'failed')),
    purpose            TEXT NOT NULL CHECK (purpose IN ('sso', 'verified_only')),
    token              TEXT NOT NULL,
    created_at         TIMESTAMPTZ NOT NULL,
    verified_at        TIMESTAMPTZ,
    last_checked_at    TIMESTAMPTZ,
    last_error_code    TEXT,
    last_error         TEXT,
    checks_started_at  TIMESTAMPTZ NOT NULL,
    next_check_at      TIMESTAMPTZ,
    lease_until        TIMESTAMPTZ,
    UNIQUE (organization_id, domain)
);

-- A verified domain belongs to one organization; pending claims may overlap.
CREATE UNIQUE INDEX domains_verified_once ON domains (domain) WHERE status = 'verified';
CREATE INDEX domains_due ON domains (next_check_at) WHERE status = 'pending';
