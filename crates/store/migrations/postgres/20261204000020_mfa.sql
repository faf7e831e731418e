-- Multi-factor sign-in (SPEC §9). Keep in step with ../sqlite (which explains each table).
CREATE TABLE mfa_totp (
    user_id      UUID PRIMARY KEY NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    ciphertext   BYTEA NOT NULL,
    nonce        BYTEA NOT NULL,
    key_id       TEXT NOT NULL,
    active       BOOLEAN NOT NULL DEFAULT FALSE,
    last_step    BIGINT,
    created_at   TIMESTAMPTZ NOT NULL,
    activated_at TIMESTAMPTZ
);

CREATE TABLE mfa_recovery_codes (
    user_id    UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash  BYTEA NOT NULL,
    used_at    TIMESTAMPTZ,
    PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE mfa_challenges (
    token_hash   BYTEA PRIMARY KEY NOT NULL,
    user_id      UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    workspace_id UUID REFERENCES workspaces(id) ON DELETE SET NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    used_at      TIMESTAMPTZ
);
CREATE INDEX mfa_challenges_user ON mfa_challenges (user_id);

CREATE TABLE mfa_attempts (
    user_id  UUID PRIMARY KEY NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    attempts BIGINT NOT NULL,
    last_at  TIMESTAMPTZ NOT NULL
);

CREATE TRIGGER auth_mfa_totp_change AFTER UPDATE OF active OR DELETE ON mfa_totp
    FOR EACH ROW EXECUTE FUNCTION auth_changed('user_id');
CREATE TRIGGER auth_organizations_mfa AFTER UPDATE OF mfa_required ON organizations
    FOR EACH ROW EXECUTE FUNCTION auth_changed('id');
