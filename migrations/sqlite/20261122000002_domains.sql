-- Email domains claimed by organizations and their DNS verification.
-- Kept in step with migrations/postgres/20261122000002_domains.sql.

CREATE TABLE domains (
    id                 TEXT PRIMARY KEY NOT NULL,
    organization_id    TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    domain             TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('pending', 'verified', 'failed')),
    purpose            TEXT NOT NULL CHECK (purpose IN ('sso', 'verified_only')),
    token              TEXT NOT NULL,
    created_at         TEXT NOT NULL,
    verified_at        TEXT,
    last_checked_at    TEXT,
    last_error_code    TEXT,
    last_error         TEXT,
    checks_started_at  TEXT NOT NULL,
    next_check_at      TEXT,
    lease_until        TEXT,
    UNIQUE (organization_id, domain)
);

-- A verified domain belongs to one organization; pending claims may overlap.
CREATE UNIQUE INDEX domains_verified_once ON domains (domain) WHERE status = 'verified';
CREATE INDEX domains_due ON domains (next_check_at) WHERE status = 'pending';
