-- SPEC §9: an SSO sign-in counts as MFA when the ID token's `amr` names a second factor. The
-- session it opens says so (`provider_mfa`, set once at creation and never changed: refreshes
-- keep the session, a password sign-in never sets it), and `mfaRequired` counts it like an
-- authenticator app or a passkey. Keep in step with ../postgres.
ALTER TABLE sessions ADD COLUMN provider_mfa BOOLEAN NOT NULL DEFAULT FALSE;

-- (No change of schema: `passkey_ceremonies.purpose` also takes 'confirm', a signed-in user
-- proving one of their passkeys before their second factors change, keyed by the user's id.)
