-- no-transaction
-- Several organizations on one installation (SPEC §7). A user is one account (one email) and
-- belongs to organizations through `org_members`, with an organization role (owner, admin,
-- member) and a status there (invited, active, disabled): disabling someone in one
-- organization leaves their other organizations alone. `users.status` keeps only whether the
-- account has signed up. The person who set the installation up is its instance admin.
-- Organizations gain a status (suspended) and the settings of rule 19. A session remembers its
-- active organization. Keep in step with ../postgres.
--
-- `users` loses its organization, which SQLite can only do by rebuilding the table; dropping
-- the old one must not cascade to the rows that reference it, so foreign keys are off for the
-- rebuild (outside a transaction: the pragma is ignored inside one) and checked at the end.
PRAGMA foreign_keys = OFF;
BEGIN;

CREATE TABLE org_members (
    organization_id BLOB NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    user_id         BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role            TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    status          TEXT NOT NULL CHECK (status IN ('invited', 'active', 'disabled')),
    -- The workspace they used last there (`switch-organization` lands in it).
    last_workspace_id BLOB REFERENCES workspaces(id) ON DELETE SET NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (organization_id, user_id)
);
CREATE INDEX org_members_user ON org_members (user_id);

-- The current Account Admin becomes the owner; every other user a member, with their status.
INSERT INTO org_members (organization_id, user_id, role, status, last_workspace_id, created_at, updated_at)
SELECT u.organization_id, u.id,
       CASE WHEN o.owner_user_id = u.id THEN 'owner' ELSE 'member' END,
       u.status, u.last_workspace_id, u.created_at, u.updated_at
FROM users u JOIN organizations o ON o.id = u.organization_id;

ALTER TABLE sessions ADD COLUMN active_organization_id BLOB REFERENCES organizations(id) ON DELETE SET NULL;
UPDATE sessions SET active_organization_id = (SELECT organization_id FROM users WHERE users.id = sessions.user_id);

CREATE TABLE users_new (
    id                BLOB PRIMARY KEY NOT NULL,
    email             TEXT NOT NULL,
    email_key         TEXT NOT NULL UNIQUE,
    name              TEXT NOT NULL,
    password_hash     TEXT,
    status            TEXT NOT NULL CHECK (status IN ('invited', 'active')),
    is_instance_admin BOOLEAN NOT NULL DEFAULT FALSE,
    last_workspace_id BLOB REFERENCES workspaces(id) ON DELETE SET NULL,
    last_login_at     INTEGER,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
);
INSERT INTO users_new (id, email, email_key, name, password_hash, status, is_instance_admin,
                       last_workspace_id, last_login_at, created_at, updated_at)
SELECT id, email, email_key, name, password_hash,
       CASE WHEN status = 'invited' THEN 'invited' ELSE 'active' END,
       id IN (SELECT o.owner_user_id FROM setup_state s JOIN organizations o ON o.id = s.organization_id),
       last_workspace_id, last_login_at, created_at, updated_at
FROM users;

-- The triggers that read users.organization_id go with it; their replacements are below.
DROP TRIGGER auth_users_update;
DROP TRIGGER auth_users_delete;
DROP TRIGGER auth_sessions_update;
DROP TRIGGER auth_sessions_delete;
DROP TRIGGER auth_organizations_owner;
DROP TABLE users;
ALTER TABLE users_new RENAME TO users;
ALTER TABLE organizations DROP COLUMN owner_user_id;

ALTER TABLE organizations ADD COLUMN status TEXT NOT NULL DEFAULT 'active'
    CHECK (status IN ('active', 'suspended'));
ALTER TABLE organizations ADD COLUMN allowed_domains TEXT NOT NULL DEFAULT '[]';
ALTER TABLE organizations ADD COLUMN min_password_length INTEGER NOT NULL DEFAULT 8;
ALTER TABLE organizations ADD COLUMN session_lifetime_minutes INTEGER;
ALTER TABLE organizations ADD COLUMN sso_required BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE organizations ADD COLUMN mfa_required BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE organizations ADD COLUMN updated_at INTEGER;
UPDATE organizations SET updated_at = created_at;

CREATE TRIGGER auth_organizations_status AFTER UPDATE OF status ON organizations BEGIN
    UPDATE auth_versions SET version = version + 1 WHERE organization_id = NEW.id;
END;
-- A deleted organization's version row goes with it: cached facts of it are never current.
CREATE TRIGGER auth_organizations_delete AFTER DELETE ON organizations BEGIN
    DELETE FROM auth_versions WHERE organization_id = OLD.id;
END;
CREATE TRIGGER auth_org_members_insert AFTER INSERT ON org_members BEGIN
    UPDATE auth_versions SET version = version + 1 WHERE organization_id = NEW.organization_id;
END;
CREATE TRIGGER auth_org_members_update AFTER UPDATE OF role, status, organization_id, user_id ON org_members BEGIN
    UPDATE auth_versions SET version = version + 1
    WHERE organization_id IN (OLD.organization_id, NEW.organization_id);
END;
CREATE TRIGGER auth_org_members_delete AFTER DELETE ON org_members BEGIN
    UPDATE auth_versions SET version = version + 1 WHERE organization_id = OLD.organization_id;
END;

-- users: the account's status, the instance admin, the active workspace fallback; not
-- last_login_at, name or the password hash (a password change revokes sessions, which bumps).
-- Every organization the user belongs to.
CREATE TRIGGER auth_users_update AFTER UPDATE OF status, is_instance_admin, last_workspace_id ON users BEGIN
    UPDATE auth_versions SET version = version + 1
    WHERE organization_id IN (SELECT organization_id FROM org_members WHERE user_id = NEW.id);
END;
-- Before the delete: the memberships it cascades to are still there to name the organizations.
CREATE TRIGGER auth_users_delete BEFORE DELETE ON users BEGIN
    UPDATE auth_versions SET version = version + 1
    WHERE organization_id IN (SELECT organization_id FROM org_members WHERE user_id = OLD.id);
END;

-- sessions: revocation, the active workspace and organization; a new session is not in any
-- cache yet.
CREATE TRIGGER auth_sessions_update AFTER UPDATE OF revoked_at, active_workspace_id, active_organization_id, user_id ON sessions BEGIN
    UPDATE auth_versions SET version = version + 1
    WHERE organization_id IN (SELECT organization_id FROM org_members WHERE user_id IN (OLD.user_id, NEW.user_id));
END;
CREATE TRIGGER auth_sessions_delete AFTER DELETE ON sessions BEGIN
    UPDATE auth_versions SET version = version + 1
    WHERE organization_id IN (SELECT organization_id FROM org_members WHERE user_id = OLD.user_id);
END;

COMMIT;
PRAGMA foreign_keys = ON;
