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

CREATE FUNCTION item_versions_workspace() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO item_versions (workspace_id) VALUES (NEW.id) ON CONFLICT DO NOTHING;
    ELSE
        DELETE FROM item_versions WHERE workspace_id = OLD.id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER item_versions_workspace AFTER INSERT OR DELETE ON workspaces
    FOR EACH ROW EXECUTE FUNCTION item_versions_workspace();
-- After the trigger exists, so that no workspace is left without a row.
INSERT INTO item_versions (workspace_id) SELECT id FROM workspaces ON CONFLICT DO NOTHING;

-- Bumps the items version of every workspace the statement's rows were or are in. The
-- organizations' rows are locked first, as every audited write locks them (audit.rs), so
-- that all writers take an organization's row before a version row and never the other way.
CREATE FUNCTION item_versions_bump(workspaces uuid[], orgs uuid[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM organizations WHERE id = ANY(orgs) ORDER BY id FOR NO KEY UPDATE;
    UPDATE item_versions SET version = version + 1 WHERE workspace_id = ANY(workspaces);
END $$;

CREATE FUNCTION item_versions_items() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM item_versions_bump(
            ARRAY(SELECT DISTINCT workspace_id FROM new_rows),
            ARRAY(SELECT DISTINCT organization_id FROM new_rows));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM item_versions_bump(
            ARRAY(SELECT DISTINCT workspace_id FROM old_rows),
            ARRAY(SELECT DISTINCT organization_id FROM old_rows));
    ELSE
        PERFORM item_versions_bump(
            ARRAY(SELECT workspace_id FROM old_rows UNION SELECT workspace_id FROM new_rows),
            ARRAY(SELECT organization_id FROM old_rows UNION SELECT organization_id FROM new_rows));
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER item_versions_items_insert AFTER INSERT ON items
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION item_versions_items();
CREATE TRIGGER item_versions_items_update AFTER UPDATE ON items
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION item_versions_items();
CREATE TRIGGER item_versions_items_delete AFTER DELETE ON items
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION item_versions_items();
