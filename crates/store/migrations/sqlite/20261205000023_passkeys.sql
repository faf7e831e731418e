-- Passkeys (WebAuthn) as a second factor (SPEC §9). Keep in step with ../postgres.
--
-- `passkeys`: a user's registered credentials, as webauthn-rs keeps them (`credential`, JSON:
-- the public key, the signature counter, the credential id); `credential_id` (the raw id) is
-- unique across users, so one authenticator's key belongs to one account.
CREATE TABLE passkeys (
    id            BLOB PRIMARY KEY NOT NULL,
    user_id       BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    credential_id BLOB NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    credential    TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER
);
CREATE INDEX passkeys_user ON passkeys (user_id);

-- A ceremony under way, as webauthn-rs's state (JSON, kept only here: the browser gets the
-- challenge, never the state): a registration (`purpose` 'register', one per user, `key` the
-- user's id) or a sign-in's second step (`purpose` 'sign_in', `key` the HMAC of its
-- `mfaToken`). Taken once (deleted as it is read), and useless after `expires_at`.
CREATE TABLE passkey_ceremonies (
    purpose    TEXT NOT NULL,
    key        BLOB NOT NULL,
    user_id    BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    state      TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (purpose, key)
);
CREATE INDEX passkey_ceremonies_user ON passkey_ceremonies (user_id);

-- A passkey counts as a second factor for `mfaRequired`: adding or removing one makes cached
-- authorization facts stale.
CREATE TRIGGER auth_passkeys_insert AFTER INSERT ON passkeys BEGIN
    UPDATE auth_versions SET version = version + 1
    WHERE organization_id IN (SELECT organization_id FROM org_members WHERE user_id = NEW.user_id);
END;
CREATE TRIGGER auth_passkeys_delete AFTER DELETE ON passkeys BEGIN
    UPDATE auth_versions SET version = version + 1
    WHERE organization_id IN (SELECT organization_id FROM org_members WHERE user_id = OLD.user_id);
END;
