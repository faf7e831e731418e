-- Invitations (rule 9) and password-reset tokens (rule 16). Tokens are stored only as their
-- HMAC under TOKEN_HASH_SECRET; each is single use. Keep in step with ../sqlite.

CREATE TABLE invitations (
    id              UUID PRIMARY KEY NOT NULL,
    organization_id UUID NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    workspace_id    UUID NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    -- The invitee: a user row with status 'invited' until sign-up.
    user_id         UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    email           TEXT NOT NULL,
    role_id         UUID NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    token_hash      BYTEA NOT NULL UNIQUE,
    invited_by      UUID REFERENCES users(id) ON DELETE SET NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    expires_at      TIMESTAMPTZ NOT NULL,
    accepted_at     TIMESTAMPTZ,
    revoked_at      TIMESTAMPTZ
);
CREATE INDEX invitations_org ON invitations (organization_id, created_at DESC);
CREATE INDEX invitations_user ON invitations (user_id);

CREATE TABLE password_resets (
    token_hash      BYTEA PRIMARY KEY NOT NULL,
    user_id         UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at      TIMESTAMPTZ NOT NULL,
    expires_at      TIMESTAMPTZ NOT NULL,
    used_at         TIMESTAMPTZ
);
CREATE INDEX password_resets_user ON password_resets (user_id);
