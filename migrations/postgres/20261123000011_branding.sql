-- The host's branding of the Security tab: one row (one host per
-- Gatehouse). The logo is kept here with its type and hash; pages read only
-- the small columns. Kept in step with
-- migrations/sqlite/20261124000011_branding.sql.

CREATE TABLE branding (
    id                 TEXT PRIMARY KEY NOT NULL CHECK (id = 'host'),
    product_name       TEXT,
    accent_color       TEXT,
    logo_content_type  TEXT,
    logo_sha256        TEXT,
    logo_size          BIGINT,
    logo_data          BYTEA,
    updated_at         TIMESTAMPTZ NOT NULL
);
