-- Several organizations on one installation (SPEC §7). A user is one account (one email) and
-- belongs to organizations through `org_members`, with an organization role (owner, admin,
-- member) and a status there (invited, active, disabled): disabling someone in one
-- organization leaves their other organizations alone. `users.status` keeps only whether the
-- account has signed up. The person who set the installation up is its instance admin.
-- Organizations gain a status (suspended) and the settings of rule 19. A session remembers its
-- active organization. Keep in step with ../sqlite.

CREATE TABLE org_members (
    organization_id UUID NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    user_id         UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role            TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    status          TEXT NOT NULL CHECK (status IN ('invited', 'active', 'disabled')),
    -- The workspace they used last there (`switch-organization` lands in it).
    last_workspace_id UUID REFERENCES workspaces(id) ON DELETE SET NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (organization_id, user_id)
);
CREATE INDEX org_members_user ON org_members (user_id);

-- The current Account Admin becomes the owner; every other user a member, with their status.
INSERT INTO org_members (organization_id, user_id, role, status, last_workspace_id, created_at, updated_at)
SELECT u.organization_id, u.id,
       CASE WHEN o.owner_user_id = u.id THEN 'owner' ELSE 'member' END,
       u.status, u.last_workspace_id, u.created_at, u.updated_at
FROM users u JOIN organizations o ON o.id = u.organization_id;

ALTER TABLE users ADD COLUMN is_instance_admin BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE users SET is_instance_admin = TRUE
WHERE id IN (SELECT o.owner_user_id FROM setup_state s JOIN organizations o ON o.id = s.organization_id);
ALTER TABLE users DROP CONSTRAINT IF EXISTS users_status_check;
UPDATE users SET status = 'active' WHERE status = 'disabled';
ALTER TABLE users ADD CONSTRAINT users_status_check CHECK (status IN ('invited', 'active'));

ALTER TABLE organizations ADD COLUMN status TEXT NOT NULL DEFAULT 'active'
    CHECK (status IN ('active', 'suspended'));
ALTER TABLE organizations ADD COLUMN allowed_domains TEXT NOT NULL DEFAULT '[]';
ALTER TABLE organizations ADD COLUMN min_password_length INTEGER NOT NULL DEFAULT 8;
ALTER TABLE organizations ADD COLUMN session_lifetime_minutes INTEGER;
ALTER TABLE organizations ADD COLUMN sso_required BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE organizations ADD COLUMN mfa_required BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE organizations ADD COLUMN updated_at TIMESTAMPTZ;
UPDATE organizations SET updated_at = created_at;

ALTER TABLE sessions ADD COLUMN active_organization_id UUID REFERENCES organizations(id) ON DELETE SET NULL;
UPDATE sessions s SET active_organization_id = u.organization_id FROM users u WHERE u.id = s.user_id;

-- Who set the installation up is now users.is_instance_admin; the owner is in org_members.
DROP TRIGGER auth_organizations_owner ON organizations;
ALTER TABLE organizations DROP COLUMN owner_user_id;
DROP TRIGGER auth_users_update ON users;
DROP TRIGGER auth_users_delete ON users;
ALTER TABLE users DROP COLUMN organization_id;

-- The organizations a changed row leads to (auth_versions.sql): a user's row, and a row
-- naming a user, now leads to every organization the user belongs to.
CREATE FUNCTION auth_orgs_of(kind text, r jsonb) RETURNS uuid[] LANGUAGE sql STABLE AS $$
    SELECT CASE kind
        WHEN 'id' THEN ARRAY[(r->>'id')::uuid]
        WHEN 'organization_id' THEN ARRAY[(r->>'organization_id')::uuid]
        WHEN 'workspace_id' THEN ARRAY(SELECT organization_id FROM workspaces WHERE id = (r->>'workspace_id')::uuid)
        WHEN 'user_id' THEN ARRAY(SELECT organization_id FROM org_members WHERE user_id = (r->>'user_id')::uuid)
        WHEN 'user' THEN ARRAY(SELECT organization_id FROM org_members WHERE user_id = (r->>'id')::uuid)
        WHEN 'group_id' THEN ARRAY(SELECT organization_id FROM groups WHERE id = (r->>'group_id')::uuid)
    END
$$;

CREATE OR REPLACE FUNCTION auth_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    orgs uuid[];
BEGIN
    IF TG_OP = 'DELETE' THEN
        orgs := auth_orgs_of(TG_ARGV[0], to_jsonb(OLD));
    ELSIF TG_OP = 'INSERT' THEN
        orgs := auth_orgs_of(TG_ARGV[0], to_jsonb(NEW));
    ELSE
        orgs := auth_orgs_of(TG_ARGV[0], to_jsonb(OLD)) || auth_orgs_of(TG_ARGV[0], to_jsonb(NEW));
    END IF;
    PERFORM 1 FROM organizations WHERE id = ANY(orgs) ORDER BY id FOR NO KEY UPDATE;
    UPDATE auth_versions SET version = version + 1 WHERE organization_id = ANY(orgs);
    RETURN NULL;
END $$;
-- Before the delete: the memberships it cascades to are still there to name the organizations.
CREATE OR REPLACE FUNCTION auth_changed_before() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    orgs uuid[];
BEGIN
    orgs := auth_orgs_of(TG_ARGV[0], to_jsonb(OLD));
    PERFORM 1 FROM organizations WHERE id = ANY(orgs) ORDER BY id FOR NO KEY UPDATE;
    UPDATE auth_versions SET version = version + 1 WHERE organization_id = ANY(orgs);
    RETURN OLD;
END $$;
DROP FUNCTION auth_org_of(text, jsonb);

-- A deleted organization's version row goes with it: cached facts of it are never current.
CREATE FUNCTION auth_version_gone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM auth_versions WHERE organization_id = OLD.id;
    RETURN NULL;
END $$;
CREATE TRIGGER auth_organizations_delete AFTER DELETE ON organizations
    FOR EACH ROW EXECUTE FUNCTION auth_version_gone();
CREATE TRIGGER auth_organizations_status AFTER UPDATE OF status ON organizations
    FOR EACH ROW EXECUTE FUNCTION auth_changed('id');
CREATE TRIGGER auth_org_members_change AFTER INSERT OR UPDATE OF role, status, organization_id, user_id OR DELETE ON org_members
    FOR EACH ROW EXECUTE FUNCTION auth_changed('organization_id');
-- users: the account's status, the instance admin, the active workspace fallback; not
-- last_login_at, name or the password hash (a password change revokes sessions, which bumps).
CREATE TRIGGER auth_users_update AFTER UPDATE OF status, is_instance_admin, last_workspace_id ON users
    FOR EACH ROW EXECUTE FUNCTION auth_changed('user');
CREATE TRIGGER auth_users_delete BEFORE DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION auth_changed_before('user');
DROP TRIGGER auth_sessions_update ON sessions;
CREATE TRIGGER auth_sessions_update AFTER UPDATE OF revoked_at, active_workspace_id, active_organization_id, user_id ON sessions
    FOR EACH ROW EXECUTE FUNCTION auth_changed('user_id');
