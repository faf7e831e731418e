-- What `flowspace import-flowise` (SPEC §10) brought in: each source row's id and the id it
-- got here, so that a second run of the same import writes nothing and says what is already
-- there. `target_id` names a row of the table the source table maps to (users, workspaces,
-- roles, items, credentials, api_keys), so it carries no foreign key. Keep in step with
-- ../sqlite.

CREATE TABLE import_sources (
    source          TEXT NOT NULL,
    source_table    TEXT NOT NULL,
    source_id       TEXT NOT NULL,
    organization_id UUID NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    target_id       UUID NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (source, source_table, source_id)
);
CREATE INDEX import_sources_org ON import_sources (organization_id);
