-- OpenID Connect sign-in flows, found again by the hash of their state: the
-- nonce and PKCE verifier they sent, and the issuer the answer must come
-- from (the mix-up defence). Single use; kept in step with
-- migrations/sqlite/20261123000005_oidc_flows.sql.

CREATE TABLE oidc_flows (
    id             TEXT PRIMARY KEY NOT NULL,
    connection_id  TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    state_hash     TEXT NOT NULL UNIQUE,
    purpose        TEXT NOT NULL,
    context        TEXT NOT NULL,
    nonce          TEXT NOT NULL,
    code_verifier  TEXT NOT NULL,
    issuer         TEXT NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    expires_at     TIMESTAMPTZ NOT NULL,
    used_at        TIMESTAMPTZ
);
CREATE INDEX oidc_flows_expiry ON oidc_flows (expires_at);
