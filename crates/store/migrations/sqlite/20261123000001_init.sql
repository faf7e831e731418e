-- Flowspace schema, SQLite flavour. Ids are 16-byte UUID blobs, timestamps are microseconds
-- since the Unix epoch (UTC) so that they sort correctly. Keep in step with ../postgres.

CREATE TABLE organizations (
    id              BLOB PRIMARY KEY NOT NULL,
    name            TEXT NOT NULL,
    owner_user_id   BLOB,
    created_at      INTEGER NOT NULL
);

-- One row whose existence means setup is done; its primary key makes a second setup fail
-- even when two arrive at once.
CREATE TABLE setup_state (
    singleton       INTEGER PRIMARY KEY NOT NULL CHECK (singleton = 1),
    organization_id BLOB NOT NULL REFERENCES organizations(id),
    completed_at    INTEGER NOT NULL
);

CREATE TABLE workspaces (
    id              BLOB PRIMARY KEY NOT NULL,
    organization_id BLOB NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    name_key        TEXT NOT NULL,
    description     TEXT,
    color           TEXT,
    icon            TEXT,
    is_default      BOOLEAN NOT NULL DEFAULT FALSE,
    created_by      BLOB,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (organization_id, name_key)
);

CREATE TABLE users (
    id                BLOB PRIMARY KEY NOT NULL,
    organization_id   BLOB NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    email             TEXT NOT NULL,
    email_key         TEXT NOT NULL UNIQUE,
    name              TEXT NOT NULL,
    password_hash     TEXT,
    status            TEXT NOT NULL CHECK (status IN ('invited', 'active', 'disabled')),
    last_workspace_id BLOB REFERENCES workspaces(id) ON DELETE SET NULL,
    last_login_at     INTEGER,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
);
CREATE INDEX users_org ON users (organization_id, created_at);

CREATE TABLE roles (
    id              BLOB PRIMARY KEY NOT NULL,
    organization_id BLOB NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    name_key        TEXT NOT NULL,
    description     TEXT,
    permissions     TEXT NOT NULL,
    builtin         BOOLEAN NOT NULL DEFAULT FALSE,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (organization_id, name_key)
);

CREATE TABLE memberships (
    workspace_id    BLOB NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    user_id         BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role_id         BLOB NOT NULL REFERENCES roles(id) ON DELETE RESTRICT,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);
CREATE INDEX memberships_role ON memberships (role_id);

CREATE TABLE sessions (
    id                  BLOB PRIMARY KEY NOT NULL,
    user_id             BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    active_workspace_id BLOB REFERENCES workspaces(id) ON DELETE SET NULL,
    created_at          INTEGER NOT NULL,
    revoked_at          INTEGER,
    ip                  TEXT,
    user_agent          TEXT
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE refresh_tokens (
    token_hash      BLOB PRIMARY KEY NOT NULL,
    session_id      BLOB NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    spent_at        INTEGER
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

-- Chatflows, agentflows, assistants, tools, variables, document stores and datasets.
CREATE TABLE items (
    id              BLOB PRIMARY KEY NOT NULL,
    organization_id BLOB NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    workspace_id    BLOB NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    kind            TEXT NOT NULL,
    name            TEXT NOT NULL,
    description     TEXT,
    data            TEXT NOT NULL,
    version         INTEGER NOT NULL,
    created_by      BLOB NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_by      BLOB NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX items_list ON items (workspace_id, kind, created_at DESC, id DESC);

CREATE TABLE credentials (
    id              BLOB PRIMARY KEY NOT NULL,
    organization_id BLOB NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    workspace_id    BLOB NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    description     TEXT,
    credential_name TEXT NOT NULL,
    data_keys       TEXT NOT NULL,
    ciphertext      BLOB NOT NULL,
    nonce           BLOB NOT NULL,
    key_id          TEXT NOT NULL,
    version         INTEGER NOT NULL,
    created_by      BLOB NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_by      BLOB NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX credentials_list ON credentials (workspace_id, created_at DESC, id DESC);

CREATE TABLE credential_shares (
    credential_id   BLOB NOT NULL REFERENCES credentials(id) ON DELETE CASCADE,
    workspace_id    BLOB NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (credential_id, workspace_id)
);
CREATE INDEX credential_shares_target ON credential_shares (workspace_id);

CREATE TABLE api_keys (
    id              BLOB PRIMARY KEY NOT NULL,
    organization_id BLOB NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    workspace_id    BLOB NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    description     TEXT,
    prefix          TEXT NOT NULL,
    key_hash        BLOB NOT NULL UNIQUE,
    permissions     TEXT NOT NULL,
    expires_at      INTEGER,
    last_used_at    INTEGER,
    version         INTEGER NOT NULL,
    created_by      BLOB NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_by      BLOB NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX api_keys_list ON api_keys (workspace_id, created_at DESC, id DESC);
