-- The items version of each workspace: bumped, in the same transaction, by every insert, update
-- or delete of one of its items (chatflows, agentflows, ...). A replica may answer a list of
-- items from its cache only while the version it cached the answer at is the current one
-- (docs/architecture.md, "Caching lists"). Keep in step with ../postgres.

CREATE TABLE item_versions (
    workspace_id BLOB PRIMARY KEY NOT NULL,
    version      INTEGER NOT NULL DEFAULT 0
);
CREATE TRIGGER item_versions_workspace_insert AFTER INSERT ON workspaces BEGIN
    INSERT INTO item_versions (workspace_id) VALUES (NEW.id) ON CONFLICT DO NOTHING;
END;
INSERT INTO item_versions (workspace_id) SELECT id FROM workspaces WHERE true ON CONFLICT DO NOTHING;
CREATE TRIGGER item_versions_workspace_delete AFTER DELETE ON workspaces BEGIN
    DELETE FROM item_versions WHERE workspace_id = OLD.id;
END;

CREATE TRIGGER item_versions_items_insert AFTER INSERT ON items BEGIN
    UPDATE item_versions SET version = version + 1 WHERE workspace_id = NEW.workspace_id;
END;
CREATE TRIGGER item_versions_items_update AFTER UPDATE ON items BEGIN
    UPDATE item_versions SET version = version + 1
    WHERE workspace_id IN (OLD.workspace_id, NEW.workspace_id);
END;
CREATE TRIGGER item_versions_items_delete AFTER DELETE ON items BEGIN
    UPDATE item_versions SET version = version + 1 WHERE workspace_id = OLD.workspace_id;
END;
