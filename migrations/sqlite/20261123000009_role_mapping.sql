-- Which organization role members get from their identity provider's
-- groups: a JSON array of {group, role}, first match wins.
-- Kept in step with migrations/postgres/20261123000009_role_mapping.sql.

ALTER TABLE connections ADD COLUMN role_mapping TEXT NOT NULL DEFAULT '[]';
