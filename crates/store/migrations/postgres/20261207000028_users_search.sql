-- "Name or email contains" (`q` of the Users list and the user pickers) without reading every
-- member of the organization: GIN trigram indexes (pg_trgm) over the lower-cased keys the
-- search compares, which serve `email_key LIKE '%…%' OR name_key LIKE '%…%'` for a search of
-- 3 or more characters; the planner picks them when few users match, and the join-order index
-- (`org_members_joined`) when many do (crates/store/src/users.rs, `Store::page_users`).
--
-- pg_trgm is a trusted extension (PostgreSQL 13+): a role with CREATE on the database may create
-- it. Where it cannot be had (no such privilege, the contrib files missing, a provider that
-- refuses it, an older server), the migration warns and leaves the indexes out: the search
-- gives the same answers, by reading the members in order. It is
-- created once per database, in `public` when this role may create there (so that dropping
-- another schema of the same database, as the tests and `bench/users` do, never drops it),
-- else in the current schema; an existing one is used wherever it lives. The operator class is
-- named with its schema, which need not be on the search_path (the LIKE itself is built in).
DO $$
DECLARE
    trgm name;
BEGIN
  BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        BEGIN
            IF EXISTS (SELECT 1 FROM pg_namespace n
                       WHERE n.nspname = 'public' AND has_schema_privilege(n.oid, 'CREATE')) THEN
                CREATE EXTENSION pg_trgm SCHEMA public;
            ELSE
                CREATE EXTENSION pg_trgm;
            END IF;
        EXCEPTION WHEN unique_violation OR duplicate_object THEN
            NULL; -- created meanwhile by another connection
        END;
    END IF;
    SELECT n.nspname INTO STRICT trgm
    FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
    WHERE e.extname = 'pg_trgm';
    EXECUTE format('CREATE INDEX users_email_key_trgm ON users USING gin (email_key %I.gin_trgm_ops)', trgm);
    EXECUTE format('CREATE INDEX users_name_key_trgm ON users USING gin (name_key %I.gin_trgm_ops)', trgm);
  EXCEPTION WHEN insufficient_privilege OR undefined_file OR feature_not_supported
                 OR undefined_object OR invalid_schema_name THEN
    RAISE WARNING 'pg_trgm is not available (%): the users search reads the members in order', SQLERRM;
  END;
END
$$;
