//! The application state shared by every request.

use crate::config::Config;
use crate::crypto::SecretBox;
use crate::login_queue::LoginQueue;
use crate::passwords::Passwords;
use crate::secrets::Secrets;
use crate::tokens::AccessTokens;
use flowspace_store::Store;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Clone)]
pub struct AppState(pub Arc<Inner>);

pub struct Inner {
    pub config: Arc<Config>,
    pub store: Store,
    pub tokens: AccessTokens,
    pub passwords: Passwords,
    /// The turns of sign-ins per email and per IP in this process (rule 15).
    pub login_queue: LoginQueue,
    pub secrets: Secrets,
    pub secret_box: SecretBox,
    /// Outgoing email (invitations, password resets).
    pub mailer: crate::mail::Mailer,
    /// This server's Prometheus metrics (`crate::metrics`).
    pub metrics: crate::metrics::Metrics,
    /// Single sign-on: the providers' discovery documents and the HTTP client (SPEC §8).
    pub oidc: crate::sso::Oidc,
    /// The WebAuthn relying party of APP_URL, for passkeys (SPEC §9); `None` when APP_URL's
    /// host cannot be one (`relying_party`).
    pub webauthn: Option<webauthn_rs::Webauthn>,
    /// Set once setup is seen done; setup is never undone, so only `false` is re-checked.
    setup_done: AtomicBool,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// The state of a server on `store`; `metrics` should be the ones whose cache counters the
    /// store was opened with (`crate::build_state`).
    pub fn new(
        config: Config,
        store: Store,
        secrets: Secrets,
        metrics: crate::metrics::Metrics,
    ) -> Result<Self, String> {
        let tokens = AccessTokens::new(
            &secrets.jwt_auth,
            &config.jwt_issuer,
            &config.jwt_audience,
            config.jwt_token_expiry_in_minutes,
        );
        let passwords = Passwords::new(
            config.argon2_memory_kib,
            config.argon2_iterations,
            config.password_hash_queue,
            std::time::Duration::from_millis(config.password_hash_max_wait_ms),
        )?;
        let mailer = crate::mail::Mailer::from_config(&config)?;
        let secret_box =
            SecretBox::with_previous(&secrets.encryption_key, &secrets.previous_encryption_keys);
        let oidc = crate::sso::Oidc::new(crate::sso::NetPolicy {
            allow_loopback: config.oidc_allow_loopback,
            allow_private: config.oidc_allow_private_networks,
        });
        let webauthn = relying_party(&config.app_url);
        Ok(Self(Arc::new(Inner {
            webauthn,
            config: Arc::new(config),
            store,
            tokens,
            passwords,
            login_queue: LoginQueue::default(),
            secrets,
            secret_box,
            mailer,
            metrics,
            oidc,
            setup_done: AtomicBool::new(false),
        })))
    }

    pub async fn setup_done(&self) -> Result<bool, flowspace_core::DomainError> {
        if self.setup_done.load(Ordering::Acquire) {
            return Ok(true);
        }
        let done = self.store.is_setup_done().await?;
        if done {
            self.setup_done.store(true, Ordering::Release);
        }
        Ok(done)
    }

    /// HMAC of a token under TOKEN_HASH_SECRET: what is stored in its place.
    pub fn token_hash(&self, purpose: &str, token: &str) -> Vec<u8> {
        crate::crypto::hmac(&self.secrets.token_hash, purpose, token.as_bytes())
    }

    /// The CSRF token of a session, keyed by JWT_REFRESH_TOKEN_SECRET.
    pub fn csrf_token(&self, session: flowspace_core::ids::SessionId) -> String {
        use base64::Engine;
        let mac = crate::crypto::hmac(&self.secrets.jwt_refresh, "csrf", session.0.as_bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac)
    }
}

/// The WebAuthn relying party of the public URL: its host is the relying party id, and its
/// origin (scheme, host and port) the only one a passkey's answer may come from. An IP
/// address cannot be a relying party id (browsers refuse it), so with an APP_URL like
/// `http://127.0.0.1:3000` passkeys are unavailable (logged once at start).
fn relying_party(app_url: &str) -> Option<webauthn_rs::Webauthn> {
    let url = webauthn_rs::prelude::Url::parse(app_url).ok();
    let built = url.as_ref().and_then(|url| {
        let rp_id = url.domain()?;
        webauthn_rs::WebauthnBuilder::new(rp_id, url)
            .and_then(|b| b.rp_name("Flowspace").build())
            .ok()
    });
    if built.is_none() {
        tracing::warn!(
            app_url,
            "passkeys are unavailable: APP_URL's host must be a domain name (not an IP address)"
        );
    }
    built
}
