-- Webhook signing-secret rotation: the secret before the last rotation,
-- sealed as the current one is (context "webhook-secret:{id}"), signs
-- deliveries beside the new one until previous_secret_expires_at; then it
-- is forgotten (both columns NULL).
-- Kept in step with migrations/postgres/20261123000010_webhook_secret_rotation.sql.

ALTER TABLE webhook_endpoints ADD COLUMN previous_secret_sealed TEXT;
ALTER TABLE webhook_endpoints ADD COLUMN previous_secret_expires_at TEXT;
