-- Single sign-on with OpenID Connect (SPEC §8). An organization's providers, with the client
-- secret sealed by the server (like credentials: AES-256-GCM, the provider id as associated
-- data); the sign-in flows in progress (state, nonce and PKCE verifier kept server-side, single
-- use, expiring); external identities keyed by (issuer, subject); the workspace memberships
-- that came from a provider's group mapping (removed when the group is gone); the break-glass
-- owners who may still sign in with a password under `ssoRequired`; and the method and
-- provider of each login event. Keep in step with ../postgres.

CREATE TABLE sso_providers (
    id                BLOB PRIMARY KEY NOT NULL,
    organization_id   BLOB NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    display_name      TEXT NOT NULL,
    issuer            TEXT NOT NULL,
    client_id         TEXT NOT NULL,
    secret_ciphertext BLOB NOT NULL,
    secret_nonce      BLOB NOT NULL,
    secret_key_id     TEXT NOT NULL,
    -- JSON arrays of strings; group mappings a JSON array of {group, workspaceId, roleId}.
    scopes            TEXT NOT NULL,
    allowed_domains   TEXT NOT NULL,
    jit_enabled       BOOLEAN NOT NULL DEFAULT FALSE,
    jit_workspace_id  BLOB REFERENCES workspaces(id) ON DELETE SET NULL,
    jit_role_id       BLOB REFERENCES roles(id) ON DELETE SET NULL,
    groups_claim      TEXT NOT NULL DEFAULT 'groups',
    group_mappings    TEXT NOT NULL,
    enabled           BOOLEAN NOT NULL DEFAULT TRUE,
    -- Set for the provider that comes from the OIDC_* environment variables.
    from_env          BOOLEAN NOT NULL DEFAULT FALSE,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
);
CREATE INDEX sso_providers_org ON sso_providers (organization_id);

CREATE TABLE sso_flows (
    state_hash    BLOB PRIMARY KEY NOT NULL,
    provider_id   BLOB NOT NULL REFERENCES sso_providers(id) ON DELETE CASCADE,
    nonce         TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    next_path     TEXT,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL
);

CREATE TABLE sso_identities (
    issuer        TEXT NOT NULL,
    subject       TEXT NOT NULL,
    user_id       BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    provider_id   BLOB REFERENCES sso_providers(id) ON DELETE SET NULL,
    email         TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    last_login_at INTEGER NOT NULL,
    PRIMARY KEY (issuer, subject)
);
CREATE INDEX sso_identities_user ON sso_identities (user_id);

CREATE TABLE sso_mapped_memberships (
    provider_id  BLOB NOT NULL REFERENCES sso_providers(id) ON DELETE CASCADE,
    user_id      BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    workspace_id BLOB NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, workspace_id)
);

ALTER TABLE org_members ADD COLUMN break_glass BOOLEAN NOT NULL DEFAULT FALSE;

ALTER TABLE login_events ADD COLUMN method TEXT;
ALTER TABLE login_events ADD COLUMN provider TEXT;
UPDATE login_events SET method = 'password' WHERE outcome IN ('success', 'failure');
