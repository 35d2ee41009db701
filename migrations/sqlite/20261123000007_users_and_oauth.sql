-- People who signed in, their memberships, the identity-provider subjects
-- they are known by; and the host-facing OpenID provider: OAuth clients,
-- authorization codes and access tokens (stored hashed, single use), and
-- the keys ID tokens are signed with (private halves sealed).
-- Kept in step with migrations/postgres/20261123000007_users_and_oauth.sql.

CREATE TABLE users (
    id          TEXT PRIMARY KEY NOT NULL,
    email       TEXT NOT NULL UNIQUE,
    first_name  TEXT,
    last_name   TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE TABLE memberships (
    organization_id  TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id          TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role             TEXT NOT NULL,
    source           TEXT NOT NULL CHECK (source IN ('sso', 'api')),
    joined_at        TEXT NOT NULL,
    last_login_at    TEXT,
    PRIMARY KEY (organization_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

CREATE TABLE sso_identities (
    connection_id  TEXT NOT NULL,
    subject        TEXT NOT NULL,
    user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at     TEXT NOT NULL,
    last_login_at  TEXT NOT NULL,
    PRIMARY KEY (connection_id, subject)
);

CREATE TABLE oauth_clients (
    id                  TEXT PRIMARY KEY NOT NULL,
    name                TEXT NOT NULL,
    secret_hash         TEXT NOT NULL,
    redirect_uris       TEXT NOT NULL,
    initiate_login_uri  TEXT,
    created_at          TEXT NOT NULL
);

CREATE TABLE oauth_codes (
    code_hash       TEXT PRIMARY KEY NOT NULL,
    client_id       TEXT NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    redirect_uri    TEXT NOT NULL,
    code_challenge  TEXT,
    claims          TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    expires_at      TEXT NOT NULL,
    used_at         TEXT
);
CREATE INDEX oauth_codes_expiry ON oauth_codes (expires_at);

CREATE TABLE oauth_access_tokens (
    token_hash  TEXT PRIMARY KEY NOT NULL,
    client_id   TEXT NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    claims      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);
CREATE INDEX oauth_access_tokens_expiry ON oauth_access_tokens (expires_at);

CREATE TABLE signing_keys (
    kid          TEXT PRIMARY KEY NOT NULL,
    private_key  TEXT NOT NULL,
    public_jwk   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    retired_at   TEXT
);
