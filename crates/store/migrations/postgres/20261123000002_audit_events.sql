-- Audit events: who did what, where, to which target. Written in the same transaction as the
-- change they record. Keep in step with ../sqlite.
CREATE TABLE audit_events (
    id              UUID PRIMARY KEY NOT NULL,
    organization_id UUID NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    workspace_id    UUID,
    actor_user_id   UUID,
    actor_api_key_id UUID,
    action          TEXT NOT NULL,
    target_kind     TEXT NOT NULL,
    target_id       UUID,
    summary         TEXT NOT NULL,
    ip              TEXT,
    created_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX audit_events_org ON audit_events (organization_id, created_at DESC, id DESC);
CREATE INDEX audit_events_workspace ON audit_events (workspace_id, created_at DESC, id DESC);
