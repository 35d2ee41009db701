-- An event can concern a second organization: the one a moved connection
-- left. Its activity lists the move too.
-- Kept in step with migrations/sqlite/20261124000013_event_previous_organization.sql.

ALTER TABLE audit_events ADD COLUMN previous_organization_id TEXT;
CREATE INDEX audit_events_previous_organization ON audit_events (previous_organization_id, id);
