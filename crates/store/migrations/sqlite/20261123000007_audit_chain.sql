-- The audit trail becomes a hash chain per organization: each event stores its sequence number,
-- the hash of the event before it and its own hash; the organization row holds the head, and
-- updating that row first serializes concurrent writers. Keep in step with ../postgres.
ALTER TABLE organizations ADD COLUMN audit_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE organizations ADD COLUMN audit_head TEXT;
ALTER TABLE audit_events ADD COLUMN seq INTEGER;
ALTER TABLE audit_events ADD COLUMN prev_hash TEXT;
ALTER TABLE audit_events ADD COLUMN hash TEXT;
CREATE UNIQUE INDEX audit_events_chain ON audit_events (organization_id, seq);
CREATE INDEX audit_events_actor ON audit_events (actor_user_id, created_at DESC, id DESC);
