-- Groups (SPEC: Group), login activity (SPEC: Login activity) and the counters of the generic
-- rate limiter. Keep in step with ../postgres.

CREATE TABLE groups (
    id              BLOB PRIMARY KEY NOT NULL,
    organization_id BLOB NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    name_key        TEXT NOT NULL,
    description     TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (organization_id, name_key)
);

CREATE TABLE group_members (
    group_id        BLOB NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    user_id         BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id);

CREATE TABLE workspace_groups (
    workspace_id    BLOB NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    group_id        BLOB NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    role_id         BLOB NOT NULL REFERENCES roles(id) ON DELETE RESTRICT,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, group_id)
);
CREATE INDEX workspace_groups_group ON workspace_groups (group_id);
CREATE INDEX workspace_groups_role ON workspace_groups (role_id);

-- Every sign-in event. organization_id and user_id are empty when the email matched nobody
-- (or a refresh token matched no session).
CREATE TABLE login_events (
    id              BLOB PRIMARY KEY NOT NULL,
    organization_id BLOB REFERENCES organizations(id) ON DELETE CASCADE,
    user_id         BLOB REFERENCES users(id) ON DELETE SET NULL,
    email           TEXT,
    email_key       TEXT,
    outcome         TEXT NOT NULL,
    reason          TEXT,
    ip              TEXT,
    user_agent      TEXT,
    created_at      INTEGER NOT NULL
);
CREATE INDEX login_events_list ON login_events (created_at DESC, id DESC);
CREATE INDEX login_events_email ON login_events (email_key, outcome, created_at);
CREATE INDEX login_events_ip ON login_events (ip, outcome, created_at);

-- Fixed-window counters of `Store::hit_rate_limit`, shared by every replica.
CREATE TABLE rate_limits (
    bucket          TEXT NOT NULL,
    key             TEXT NOT NULL,
    window_start    INTEGER NOT NULL,
    hits            INTEGER NOT NULL,
    PRIMARY KEY (bucket, key)
);
