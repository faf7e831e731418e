-- Multi-factor sign-in (SPEC §9). Keep in step with ../postgres.
--
-- `mfa_totp`: a user's TOTP secret, sealed like credential secrets (AES-256-GCM, the user's
-- id as associated data); inactive until a first code proves the authenticator has it.
-- `last_step` is the last time step accepted: a code of that step or an older one is refused
-- (no replay).
CREATE TABLE mfa_totp (
    user_id      BLOB PRIMARY KEY NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    ciphertext   BLOB NOT NULL,
    nonce        BLOB NOT NULL,
    key_id       TEXT NOT NULL,
    active       BOOLEAN NOT NULL DEFAULT FALSE,
    last_step    INTEGER,
    created_at   INTEGER NOT NULL,
    activated_at INTEGER
);

-- Single-use recovery codes, stored only as HMACs (TOKEN_HASH_SECRET).
CREATE TABLE mfa_recovery_codes (
    user_id    BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash  BLOB NOT NULL,
    used_at    INTEGER,
    PRIMARY KEY (user_id, code_hash)
);

-- The second step of a sign-in: `mfaToken` (stored as its HMAC), bound to one user, single
-- use, short-lived; the workspace the sign-in lands in.
CREATE TABLE mfa_challenges (
    token_hash   BLOB PRIMARY KEY NOT NULL,
    user_id      BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    workspace_id BLOB REFERENCES workspaces(id) ON DELETE SET NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    used_at      INTEGER
);
CREATE INDEX mfa_challenges_user ON mfa_challenges (user_id);

-- Second-step codes checked per user: counted (one statement) before a code is checked, so
-- parallel guesses cannot check more than the limit.
CREATE TABLE mfa_attempts (
    user_id  BLOB PRIMARY KEY NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    attempts INTEGER NOT NULL,
    last_at  INTEGER NOT NULL
);

-- Authorization facts say whether a member still has to enrol (`mfaRequired`): turning a
-- user's MFA on or off, and the organization's policy, make cached facts stale.
CREATE TRIGGER auth_mfa_totp_update AFTER UPDATE OF active ON mfa_totp BEGIN
    UPDATE auth_versions SET version = version + 1
    WHERE organization_id IN (SELECT organization_id FROM org_members WHERE user_id IN (OLD.user_id, NEW.user_id));
END;
CREATE TRIGGER auth_mfa_totp_delete AFTER DELETE ON mfa_totp BEGIN
    UPDATE auth_versions SET version = version + 1
    WHERE organization_id IN (SELECT organization_id FROM org_members WHERE user_id = OLD.user_id);
END;
CREATE TRIGGER auth_organizations_mfa AFTER UPDATE OF mfa_required ON organizations BEGIN
    UPDATE auth_versions SET version = version + 1 WHERE organization_id = NEW.id;
END;
