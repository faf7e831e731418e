-- Passkeys (WebAuthn) as a second factor (SPEC §9). Keep in step with ../sqlite (which
-- explains each table).
CREATE TABLE passkeys (
    id            UUID PRIMARY KEY NOT NULL,
    user_id       UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    credential_id BYTEA NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    credential    TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    last_used_at  TIMESTAMPTZ
);
CREATE INDEX passkeys_user ON passkeys (user_id);

CREATE TABLE passkey_ceremonies (
    purpose    TEXT NOT NULL,
    key        BYTEA NOT NULL,
    user_id    UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    state      TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (purpose, key)
);
CREATE INDEX passkey_ceremonies_user ON passkey_ceremonies (user_id);

CREATE TRIGGER auth_passkeys_change AFTER INSERT OR DELETE ON passkeys
    FOR EACH ROW EXECUTE FUNCTION auth_changed('user_id');
