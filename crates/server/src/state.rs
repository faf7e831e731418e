//! The application state shared by every request.

use crate::config::Config;
use crate::crypto::{Passwords, SecretBox};
use crate::secrets::Secrets;
use crate::tokens::AccessTokens;
use bytes::Bytes;
use flowspace_core::ids::WorkspaceId;
use flowspace_core::resource::ResourceKind;
use flowspace_store::Store;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Clone)]
pub struct AppState(pub Arc<Inner>);

/// A list's first page: (workspace, kind, page size).
pub type ListKey = (WorkspaceId, ResourceKind, u32);

/// A page as sent, and the workspace's items version it was read at.
#[derive(Clone)]
pub struct CachedPage {
    pub version: i64,
    pub body: Bytes,
}

/// Weighs a cached page by its size in bytes.
#[derive(Clone)]
pub struct PageWeight;

impl quick_cache::Weighter<ListKey, CachedPage> for PageWeight {
    fn weight(&self, _: &ListKey, page: &CachedPage) -> u64 {
        page.body.len() as u64 + 64
    }
}

pub type ListCache = quick_cache::sync::Cache<ListKey, CachedPage, PageWeight>;

pub struct Inner {
    pub config: Arc<Config>,
    pub store: Store,
    pub tokens: AccessTokens,
    pub passwords: Passwords,
    pub secrets: Secrets,
    pub secret_box: SecretBox,
    /// Outgoing email (invitations, password resets).
    pub mailer: crate::mail::Mailer,
    /// First pages of item lists, as sent, with the items version they were read at
    /// (`None`: off). See `api::resources::list_items`.
    pub list_cache: Option<ListCache>,
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
    pub fn new(config: Config, store: Store, secrets: Secrets) -> Result<Self, String> {
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
        )?;
        let mailer = crate::mail::Mailer::from_config(&config)?;
        let secret_box =
            SecretBox::with_previous(&secrets.encryption_key, &secrets.previous_encryption_keys);
        // About 50 KB per page (50 items with their flows).
        let list_cache = (config.list_cache_bytes > 0).then(|| {
            let pages = (config.list_cache_bytes / 50_000).max(1) as usize;
            ListCache::with_weighter(pages, config.list_cache_bytes, PageWeight)
        });
        Ok(Self(Arc::new(Inner {
            config: Arc::new(config),
            store,
            tokens,
            passwords,
            secrets,
            secret_box,
            mailer,
            list_cache,
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
