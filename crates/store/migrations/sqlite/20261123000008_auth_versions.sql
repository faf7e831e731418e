-- The authorization version of each organization (docs/architecture.md, "Caching authorization
-- without weakening rule 3"). Every write to a row that authorization reads bumps it, in the
-- same transaction, by the triggers below; a replica may answer from its cache of a caller's
-- facts only while the version it cached them at is still the current one. Triggers, not
-- calls in the store's code, so that no write path can forget. Keep in step with ../postgres.

CREATE TABLE auth_versions (
    organization_id BLOB PRIMARY KEY NOT NULL,
    version         INTEGER NOT NULL DEFAULT 0
);
CREATE TRIGGER auth_organizations_insert AFTER INSERT ON organizations BEGIN
    INSERT INTO auth_versions (organization_id) VALUES (NEW.id) ON CONFLICT DO NOTHING;
END;
INSERT INTO auth_versions (organization_id) SELECT id FROM organizations WHERE true ON CONFLICT DO NOTHING;
CREATE TRIGGER auth_organizations_owner AFTER UPDATE OF owner_user_id ON organizations BEGIN
    UPDATE auth_versions SET version = version + 1 WHERE organization_id = NEW.id;
END;

-- users: status, active workspace fallback (last_workspace_id); not last_login_at, name or
-- the password hash (a password change revokes sessions, which bumps).
CREATE TRIGGER auth_users_update AFTER UPDATE OF status, organization_id, last_workspace_id ON users BEGIN
    UPDATE auth_versions SET version = version + 1
    WHERE organization_id IN (OLD.organization_id, NEW.organization_id);
END;
CREATE TRIGGER auth_users_delete AFTER DELETE ON users BEGIN
    UPDATE auth_versions SET version = version + 1 WHERE organization_id = OLD.organization_id;
END;

-- sessions: revocation and the active workspace; a new session is not in any cache yet.
CREATE TRIGGER auth_sessions_update AFTER UPDATE OF revoked_at, active_workspace_id, user_id ON sessions BEGIN
    UPDATE auth_versions SET version = version + 1
    WHERE organization_id IN (SELECT organization_id FROM users WHERE id IN (OLD.user_id, NEW.user_id));
END;
CREATE TRIGGER auth_sessions_delete AFTER DELETE ON sessions BEGIN
    UPDATE auth_versions SET version = version + 1
    WHERE organization_id = (SELECT organization_id FROM users WHERE id = OLD.user_id);
END;

CREATE TRIGGER auth_roles_update AFTER UPDATE OF permissions, name ON roles BEGIN
    UPDATE auth_versions SET version = version + 1
    WHERE organization_id IN (OLD.organization_id, NEW.organization_id);
END;
CREATE TRIGGER auth_roles_delete AFTER DELETE ON roles BEGIN
    UPDATE auth_versions SET version = version + 1 WHERE organization_id = OLD.organization_id;
END;

CREATE TRIGGER auth_workspaces_delete AFTER DELETE ON workspaces BEGIN
    UPDATE auth_versions SET version = version + 1 WHERE organization_id = OLD.organization_id;
END;

CREATE TRIGGER auth_memberships_insert AFTER INSERT ON memberships BEGIN
    UPDATE auth_versions SET version = version + 1
    WHERE organization_id = (SELECT organization_id FROM workspaces WHERE id = NEW.workspace_id);
END;
CREATE TRIGGER auth_memberships_update AFTER UPDATE ON memberships BEGIN
    UPDATE auth_versions SET version = version + 1
    WHERE organization_id IN (SELECT organization_id FROM workspaces WHERE id IN (OLD.workspace_id, NEW.workspace_id));
END;
CREATE TRIGGER auth_memberships_delete AFTER DELETE ON memberships BEGIN
    UPDATE auth_versions SET version = version + 1
    WHERE organization_id = (SELECT organization_id FROM workspaces WHERE id = OLD.workspace_id);
END;

CREATE TRIGGER auth_groups_delete AFTER DELETE ON groups BEGIN
    UPDATE auth_versions SET version = version + 1 WHERE organization_id = OLD.organization_id;
END;

CREATE TRIGGER auth_group_members_insert AFTER INSERT ON group_members BEGIN
    UPDATE auth_versions SET version = version + 1
    WHERE organization_id = (SELECT organization_id FROM groups WHERE id = NEW.group_id);
END;
CREATE TRIGGER auth_group_members_update AFTER UPDATE ON group_members BEGIN
    UPDATE auth_versions SET version = version + 1
    WHERE organization_id IN (SELECT organization_id FROM groups WHERE id IN (OLD.group_id, NEW.group_id));
END;
CREATE TRIGGER auth_group_members_delete AFTER DELETE ON group_members BEGIN
    UPDATE auth_versions SET version = version + 1
    WHERE organization_id = (SELECT organization_id FROM groups WHERE id = OLD.group_id);
END;

CREATE TRIGGER auth_workspace_groups_insert AFTER INSERT ON workspace_groups BEGIN
    UPDATE auth_versions SET version = version + 1
    WHERE organization_id = (SELECT organization_id FROM workspaces WHERE id = NEW.workspace_id);
END;
CREATE TRIGGER auth_workspace_groups_update AFTER UPDATE ON workspace_groups BEGIN
    UPDATE auth_versions SET version = version + 1
    WHERE organization_id IN (SELECT organization_id FROM workspaces WHERE id IN (OLD.workspace_id, NEW.workspace_id));
END;
CREATE TRIGGER auth_workspace_groups_delete AFTER DELETE ON workspace_groups BEGIN
    UPDATE auth_versions SET version = version + 1
    WHERE organization_id = (SELECT organization_id FROM workspaces WHERE id = OLD.workspace_id);
END;

-- api_keys: what a key may do and until when; not last_used_at, name or description.
CREATE TRIGGER auth_api_keys_update AFTER UPDATE OF permissions, expires_at, workspace_id, created_by, key_hash, organization_id ON api_keys BEGIN
    UPDATE auth_versions SET version = version + 1
    WHERE organization_id IN (OLD.organization_id, NEW.organization_id);
END;
CREATE TRIGGER auth_api_keys_delete AFTER DELETE ON api_keys BEGIN
    UPDATE auth_versions SET version = version + 1 WHERE organization_id = OLD.organization_id;
END;
