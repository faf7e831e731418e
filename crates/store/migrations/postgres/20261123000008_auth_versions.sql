-- The authorization version of each organization (docs/architecture.md, "Caching authorization
-- without weakening rule 3"). Every write to a row that authorization reads bumps it, in the
-- same transaction, by the triggers below; a replica may answer from its cache of a caller's
-- facts only while the version it cached them at is still the current one. Triggers, not
-- calls in the store's code, so that no write path can forget. Keep in step with ../sqlite.

CREATE TABLE auth_versions (
    organization_id UUID PRIMARY KEY,
    version         BIGINT NOT NULL DEFAULT 0
);

CREATE FUNCTION auth_version_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO auth_versions (organization_id) VALUES (NEW.id) ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
CREATE TRIGGER auth_organizations_insert AFTER INSERT ON organizations
    FOR EACH ROW EXECUTE FUNCTION auth_version_row();
-- After the trigger exists, so that no organization is left without a row.
INSERT INTO auth_versions (organization_id) SELECT id FROM organizations ON CONFLICT DO NOTHING;

-- The organization a row of the table `kind` leads to: the organization itself (id), or the
-- one of the row's organization_id, workspace_id, user_id or group_id.
CREATE FUNCTION auth_org_of(kind text, r jsonb) RETURNS uuid LANGUAGE sql STABLE AS $$
    SELECT CASE kind
        WHEN 'id' THEN (r->>'id')::uuid
        WHEN 'organization_id' THEN (r->>'organization_id')::uuid
        WHEN 'workspace_id' THEN (SELECT organization_id FROM workspaces WHERE id = (r->>'workspace_id')::uuid)
        WHEN 'user_id' THEN (SELECT organization_id FROM users WHERE id = (r->>'user_id')::uuid)
        WHEN 'group_id' THEN (SELECT organization_id FROM groups WHERE id = (r->>'group_id')::uuid)
    END
$$;

-- Bumps the version of the organization the changed row belongs to (for an update, of both
-- the old row's and the new row's). TG_ARGV[0] names the column that leads there. The
-- organization's row is locked first, as every audited write locks it (audit.rs), so that
-- all writers take the organization's row before its version row and never the other way.
CREATE FUNCTION auth_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    orgs uuid[];
BEGIN
    IF TG_OP = 'DELETE' THEN
        orgs := ARRAY[auth_org_of(TG_ARGV[0], to_jsonb(OLD))];
    ELSIF TG_OP = 'INSERT' THEN
        orgs := ARRAY[auth_org_of(TG_ARGV[0], to_jsonb(NEW))];
    ELSE
        orgs := ARRAY[auth_org_of(TG_ARGV[0], to_jsonb(OLD)), auth_org_of(TG_ARGV[0], to_jsonb(NEW))];
    END IF;
    PERFORM 1 FROM organizations WHERE id = ANY(orgs) ORDER BY id FOR NO KEY UPDATE;
    UPDATE auth_versions SET version = version + 1 WHERE organization_id = ANY(orgs);
    RETURN NULL;
END $$;

CREATE TRIGGER auth_organizations_owner AFTER UPDATE OF owner_user_id ON organizations
    FOR EACH ROW EXECUTE FUNCTION auth_changed('id');
-- users: status, active workspace fallback (last_workspace_id); not last_login_at, name or
-- the password hash (a password change revokes sessions, which bumps).
CREATE TRIGGER auth_users_update AFTER UPDATE OF status, organization_id, last_workspace_id ON users
    FOR EACH ROW EXECUTE FUNCTION auth_changed('organization_id');
CREATE TRIGGER auth_users_delete AFTER DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION auth_changed('organization_id');
-- sessions: revocation and the active workspace; a new session is not in any cache yet.
CREATE TRIGGER auth_sessions_update AFTER UPDATE OF revoked_at, active_workspace_id, user_id ON sessions
    FOR EACH ROW EXECUTE FUNCTION auth_changed('user_id');
CREATE TRIGGER auth_sessions_delete AFTER DELETE ON sessions
    FOR EACH ROW EXECUTE FUNCTION auth_changed('user_id');
CREATE TRIGGER auth_roles_update AFTER UPDATE OF permissions, name ON roles
    FOR EACH ROW EXECUTE FUNCTION auth_changed('organization_id');
CREATE TRIGGER auth_roles_delete AFTER DELETE ON roles
    FOR EACH ROW EXECUTE FUNCTION auth_changed('organization_id');
CREATE TRIGGER auth_workspaces_delete AFTER DELETE ON workspaces
    FOR EACH ROW EXECUTE FUNCTION auth_changed('organization_id');
CREATE TRIGGER auth_memberships_change AFTER INSERT OR UPDATE OR DELETE ON memberships
    FOR EACH ROW EXECUTE FUNCTION auth_changed('workspace_id');
CREATE TRIGGER auth_groups_delete AFTER DELETE ON groups
    FOR EACH ROW EXECUTE FUNCTION auth_changed('organization_id');
CREATE TRIGGER auth_group_members_change AFTER INSERT OR UPDATE OR DELETE ON group_members
    FOR EACH ROW EXECUTE FUNCTION auth_changed('group_id');
CREATE TRIGGER auth_workspace_groups_change AFTER INSERT OR UPDATE OR DELETE ON workspace_groups
    FOR EACH ROW EXECUTE FUNCTION auth_changed('workspace_id');
-- api_keys: what a key may do and until when; not last_used_at, name or description.
CREATE TRIGGER auth_api_keys_update AFTER UPDATE OF permissions, expires_at, workspace_id, created_by, key_hash, organization_id ON api_keys
    FOR EACH ROW EXECUTE FUNCTION auth_changed('organization_id');
CREATE TRIGGER auth_api_keys_delete AFTER DELETE ON api_keys
    FOR EACH ROW EXECUTE FUNCTION auth_changed('organization_id');
