-- Authorization versions are bumped at commit, all at once, in the order of the
-- organizations' ids; the triggers no longer lock organizations' rows.
--
-- Why: a row of a user (`users`, `sessions`) leads to every organization the user belongs to
-- (organizations.sql). The triggers locked those organizations' rows, then their version rows,
-- in the middle of whatever transaction changed the row. A transaction that already held one
-- organization's row (deleting it, disabling a member there: `lock_member`, the audit chain's
-- head) then locked the user's other organizations after it, while another transaction that
-- held one of those did the same the other way round, or held the session row the deletion's
-- `ON DELETE SET NULL` waits for: deadlocks (store test `organizations.rs`).
--
-- Now a trigger only notes the organizations a change leads to (in the transaction-local
-- setting `flowspace.auth_orgs`); the first note of a transaction queues one deferred
-- constraint trigger, which runs just before the commit and bumps every noted organization's
-- version in one statement, locking the version rows in the order of their ids, and removes
-- the version rows of organizations deleted meanwhile. The bump still commits with the change
-- (no reader sees one without the other). Version rows are locked by nothing else, and last
-- in every transaction, in one sorted batch: they cannot be part of a lock cycle. The lock
-- order is in docs/architecture.md ("Lock order on PostgreSQL"). SQLite has one writer at a
-- time and keeps its triggers (../sqlite: an empty migration of the same version).

CREATE UNLOGGED TABLE auth_flush_queue (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY
);

-- Notes `orgs` for the version bump at commit.
CREATE FUNCTION auth_note(orgs uuid[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    pending text := current_setting('flowspace.auth_orgs', true);
    noted text := array_to_string(orgs, ',');
BEGIN
    IF noted IS NULL OR noted = '' THEN
        RETURN;
    END IF;
    IF pending IS NULL OR pending = '' THEN
        INSERT INTO auth_flush_queue DEFAULT VALUES;
        pending := '';
    END IF;
    PERFORM set_config('flowspace.auth_orgs', pending || noted || ',', true);
END $$;

-- Before the commit: every noted organization's version, in one sorted batch.
CREATE FUNCTION auth_flush() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    orgs uuid[];
BEGIN
    orgs := ARRAY(
        SELECT DISTINCT o::uuid
        FROM unnest(string_to_array(current_setting('flowspace.auth_orgs', true), ',')) AS o
        WHERE o <> '' ORDER BY 1);
    PERFORM set_config('flowspace.auth_orgs', '', true);
    DELETE FROM auth_flush_queue WHERE id = NEW.id;
    IF cardinality(orgs) = 0 THEN
        RETURN NULL;
    END IF;
    PERFORM 1 FROM auth_versions WHERE organization_id = ANY(orgs)
        ORDER BY organization_id FOR NO KEY UPDATE;
    UPDATE auth_versions SET version = version + 1 WHERE organization_id = ANY(orgs);
    -- A deleted organization's version row goes with it: cached facts of it are never current.
    DELETE FROM auth_versions a WHERE a.organization_id = ANY(orgs)
        AND NOT EXISTS (SELECT 1 FROM organizations o WHERE o.id = a.organization_id);
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER auth_flush AFTER INSERT ON auth_flush_queue
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION auth_flush();

CREATE OR REPLACE FUNCTION auth_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM auth_note(auth_orgs_of(TG_ARGV[0], to_jsonb(OLD)));
    ELSIF TG_OP = 'INSERT' THEN
        PERFORM auth_note(auth_orgs_of(TG_ARGV[0], to_jsonb(NEW)));
    ELSE
        PERFORM auth_note(auth_orgs_of(TG_ARGV[0], to_jsonb(OLD)) || auth_orgs_of(TG_ARGV[0], to_jsonb(NEW)));
    END IF;
    RETURN NULL;
END $$;
-- Before the delete: the memberships it cascades to are still there to name the organizations.
CREATE OR REPLACE FUNCTION auth_changed_before() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM auth_note(auth_orgs_of(TG_ARGV[0], to_jsonb(OLD)));
    RETURN OLD;
END $$;

-- The version row of a deleted organization goes at commit (auth_flush), not in the middle
-- of the deletion.
CREATE OR REPLACE FUNCTION auth_version_gone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM auth_note(ARRAY[OLD.id]);
    RETURN NULL;
END $$;
