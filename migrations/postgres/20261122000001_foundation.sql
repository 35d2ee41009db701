-- Foundation: organizations, host API keys, one-time links, admin sessions,
-- the audit log and a small settings table. Kept in step with
-- migrations/sqlite/20261122000001_foundation.sql.

CREATE TABLE organizations (
    id              TEXT PRIMARY KEY NOT NULL,
    name            TEXT NOT NULL,
    slug            TEXT NOT NULL UNIQUE,
    external_id     TEXT UNIQUE,
    self_serve_sso  BOOLEAN NOT NULL DEFAULT FALSE,
    default_role    TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);

CREATE TABLE api_keys (
    id            TEXT PRIMARY KEY NOT NULL,
    name          TEXT NOT NULL,
    key_hash      TEXT NOT NULL UNIQUE,
    key_prefix    TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    last_used_at  TIMESTAMPTZ,
    revoked_at    TIMESTAMPTZ
);

-- Setup links and embed tokens: stored hashed, consumed once.
CREATE TABLE one_time_links (
    id               TEXT PRIMARY KEY NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('portal', 'embed')),
    organization_id  TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    token_hash       TEXT NOT NULL UNIQUE,
    parent_origin    TEXT,
    return_url       TEXT,
    created_at       TIMESTAMPTZ NOT NULL,
    expires_at       TIMESTAMPTZ NOT NULL,
    used_at          TIMESTAMPTZ
);
CREATE INDEX one_time_links_organization ON one_time_links (organization_id);

CREATE TABLE admin_sessions (
    id               TEXT PRIMARY KEY NOT NULL,
    token_hash       TEXT NOT NULL UNIQUE,
    organization_id  TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    mode             TEXT NOT NULL CHECK (mode IN ('standalone', 'embed')),
    parent_origin    TEXT,
    return_url       TEXT,
    link_id          TEXT NOT NULL REFERENCES one_time_links (id) ON DELETE CASCADE,
    created_at       TIMESTAMPTZ NOT NULL,
    last_seen_at     TIMESTAMPTZ NOT NULL,
    idle_expires_at  TIMESTAMPTZ NOT NULL,
    expires_at       TIMESTAMPTZ NOT NULL,
    ended_at         TIMESTAMPTZ
);
CREATE INDEX admin_sessions_organization ON admin_sessions (organization_id);

CREATE TABLE audit_events (
    id               TEXT PRIMARY KEY NOT NULL,
    organization_id  TEXT,
    actor_type       TEXT NOT NULL,
    actor_id         TEXT,
    actor_label      TEXT NOT NULL,
    action           TEXT NOT NULL,
    target_type      TEXT NOT NULL,
    target_id        TEXT NOT NULL,
    data             TEXT NOT NULL,
    request_id       TEXT,
    created_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX audit_events_organization ON audit_events (organization_id, id);

CREATE TABLE settings (
    name   TEXT PRIMARY KEY NOT NULL,
    value  TEXT NOT NULL
);
