-- The items version of each workspace: bumped, in the same transaction, by every insert, update
-- or delete of one of its items (chatflows, agentflows, ...). A replica may answer a list of
-- items from its cache only while the version it cached the answer at is the current one
-- (docs/architecture.md, "Caching lists"). Statement-level triggers with transition tables, so
-- that deleting a workspace of 100,000 items bumps once, not 100,000 times. Keep in step with
-- ../sqlite.

CREATE TABLE item_versions (
    workspace_id UUID PRIMARY KEY,
    version      BIGINT NOT NULL DEFAULT 0
);
INSERT INTO item_versions (workspace_id) SELECT id FROM workspaces;

CREATE FUNCTION item_versions_workspace() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO item_versions (workspace_id) VALUES (NEW.id);
    ELSE
        DELETE FROM item_versions WHERE workspace_id = OLD.id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER item_versions_workspace AFTER INSERT OR DELETE ON workspaces
    FOR EACH ROW EXECUTE FUNCTION item_versions_workspace();

CREATE FUNCTION item_versions_items() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE item_versions SET version = version + 1
        WHERE workspace_id IN (SELECT workspace_id FROM new_rows);
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE item_versions SET version = version + 1
        WHERE workspace_id IN (SELECT workspace_id FROM old_rows);
    ELSE
        UPDATE item_versions SET version = version + 1
        WHERE workspace_id IN (SELECT workspace_id FROM old_rows UNION SELECT workspace_id FROM new_rows);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER item_versions_items_insert AFTER INSERT ON items
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION item_versions_items();
CREATE TRIGGER item_versions_items_update AFTER UPDATE ON items
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION item_versions_items();
CREATE TRIGGER item_versions_items_delete AFTER DELETE ON items
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION item_versions_items();
