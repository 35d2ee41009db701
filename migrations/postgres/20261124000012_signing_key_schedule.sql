-- A rotated signing key is published before it signs, so hosts that cache
-- the JWKS learn it first. `signs_from`: when it starts signing (NULL: at
-- once); `retired_at` is when a key stops signing.
-- Kept in step with migrations/sqlite/20261124000012_signing_key_schedule.sql.

ALTER TABLE signing_keys ADD COLUMN signs_from TIMESTAMPTZ;
