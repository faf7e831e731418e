-- Invitations (rule 9) and password-reset tokens (rule 16). Tokens are stored only as their
-- HMAC under TOKEN_HASH_SECRET; each is single use. Keep in step with ../postgres.

CREATE TABLE invitations (
    id              BLOB PRIMARY KEY NOT NULL,
    organization_id BLOB NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    workspace_id    BLOB NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    -- The invitee: a user row with status 'invited' until sign-up.
    user_id         BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    email           TEXT NOT NULL,
    role_id         BLOB NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    token_hash      BLOB NOT NULL UNIQUE,
    invited_by      BLOB REFERENCES users(id) ON DELETE SET NULL,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    accepted_at     INTEGER,
    revoked_at      INTEGER
);
CREATE INDEX invitations_org ON invitations (organization_id, created_at DESC);
CREATE INDEX invitations_user ON invitations (user_id);

CREATE TABLE password_resets (
    token_hash      BLOB PRIMARY KEY NOT NULL,
    user_id         BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    used_at         INTEGER
);
CREATE INDEX password_resets_user ON password_resets (user_id);
