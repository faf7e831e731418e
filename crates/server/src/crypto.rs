//! Cryptography, each piece from a well-kept crate: Argon2id password hashes (`argon2`, with
//! `bcrypt` for legacy hashes), HMAC-SHA256 for stored tokens (`hmac`), AES-256-GCM for
//! credential secrets (`aes-gcm`), SHA-256 for API keys (`sha2`).

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use argon2::password_hash::rand_core::OsRng as HashRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use flowspace_core::ids::ItemId;
use flowspace_core::model::SealedSecret;
use flowspace_core::{DomainError, DomainResult};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::{OnceCell, Semaphore};

/// 32 random bytes, URL-safe base64: refresh, invitation and reset tokens.
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

/// HMAC-SHA256 under a server secret, with a purpose label so that a token of one kind can
/// never stand for another.
pub fn hmac(secret: &[u8], purpose: &str, value: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length; the error branch cannot happen.
    let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => return Vec::new(),
    };
    mac.update(purpose.as_bytes());
    mac.update(&[0]);
    mac.update(value);
    mac.finalize().into_bytes().to_vec()
}

/// The public prefix of every API key, which is how a bearer token is told to be one.
pub const API_KEY_PREFIX: &str = "fsk_";

/// A new API key: the key (shown once), its public prefix, and the SHA-256 stored in its place.
pub fn new_api_key() -> (String, String, Vec<u8>) {
    let key = format!("{API_KEY_PREFIX}{}", random_token());
    let prefix = key.chars().take(API_KEY_PREFIX.len() + 8).collect();
    let hash = api_key_hash(&key);
    (key, prefix, hash)
}

/// A key has full entropy, so one SHA-256 is enough (no slow hash on every request).
pub fn api_key_hash(key: &str) -> Vec<u8> {
    Sha256::digest(key.as_bytes()).to_vec()
}

/// Encrypts credential secrets with AES-256-GCM: a fresh random nonce per write, the
/// credential id as associated data (a ciphertext moved to another row does not decrypt), and
/// the key's id stored beside each ciphertext. It seals with the current key and opens with
/// whichever key, current or previous, sealed the secret, so reads keep working across a key
/// rotation.
pub struct SecretBox {
    current: (String, Aes256Gcm),
    previous: Vec<(String, Aes256Gcm)>,
}

/// The id of a key: the first 4 bytes of its SHA-256, in hex.
pub fn key_id(key: &[u8; 32]) -> String {
    hex(&Sha256::digest(key)[..4])
}

impl SecretBox {
    pub fn new(key: &[u8; 32]) -> Self {
        Self::with_previous(key, &[])
    }

    pub fn with_previous(key: &[u8; 32], previous: &[[u8; 32]]) -> Self {
        Self {
            current: (key_id(key), Aes256Gcm::new(key.into())),
            previous: previous
                .iter()
                .map(|k| (key_id(k), Aes256Gcm::new(k.into())))
                .collect(),
        }
    }

    pub fn key_id(&self) -> &str {
        &self.current.0
    }

    pub fn seal(&self, id: ItemId, plaintext: &[u8]) -> DomainResult<SealedSecret> {
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ciphertext = self
            .current
            .1
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: id.0.as_bytes(),
                },
            )
            .map_err(|_| DomainError::Internal("encryption failed".into()))?;
        Ok(SealedSecret {
            ciphertext,
            nonce: nonce.to_vec(),
            key_id: self.current.0.clone(),
        })
    }

    pub fn open(&self, id: ItemId, sealed: &SealedSecret) -> DomainResult<Vec<u8>> {
        let cipher = std::iter::once(&self.current)
            .chain(self.previous.iter())
            .find(|(kid, _)| *kid == sealed.key_id)
            .map(|(_, c)| c)
            .ok_or_else(|| {
                DomainError::Internal(format!(
                    "credential sealed with key {} which this server does not hold",
                    sealed.key_id
                ))
            })?;
        if sealed.nonce.len() != 12 {
            return Err(DomainError::Internal(
                "credential nonce is malformed".into(),
            ));
        }
        cipher
            .decrypt(
                Nonce::from_slice(&sealed.nonce),
                Payload {
                    msg: &sealed.ciphertext,
                    aad: id.0.as_bytes(),
                },
            )
            .map_err(|_| DomainError::Internal("credential does not decrypt".into()))
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The outcome of checking a password.
pub struct Verified {
    pub ok: bool,
    /// The stored hash is legacy (bcrypt) or weaker than the current parameters.
    pub needs_rehash: bool,
}

/// Password hashing off the async workers: at most one hash per core at a time, and a
/// bounded queue in front; beyond it callers get `Busy` (503 with Retry-After) rather than
/// piling up.
pub struct Passwords {
    params: Params,
    workers: Arc<Semaphore>,
    waiting: AtomicUsize,
    max_waiting: usize,
    dummy: OnceCell<String>,
}

impl Passwords {
    pub fn new(memory_kib: u32, iterations: u32, max_waiting: usize) -> Result<Self, String> {
        let params = Params::new(memory_kib, iterations, 1, None)
            .map_err(|e| format!("argon2 parameters: {e}"))?;
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        Ok(Self {
            params,
            workers: Arc::new(Semaphore::new(cores)),
            waiting: AtomicUsize::new(0),
            max_waiting,
            dummy: OnceCell::new(),
        })
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> DomainResult<T> {
        // The place in the queue is given back by `Drop`, so a request cancelled while it
        // waits (a client that hangs up) cannot leak it.
        struct Waiting<'a>(&'a AtomicUsize);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        let queued = self.waiting.fetch_add(1, Ordering::SeqCst);
        let place = Waiting(&self.waiting);
        if queued >= self.max_waiting {
            return Err(DomainError::Busy(
                "too many sign-ins at once; retry shortly",
            ));
        }
        let permit = self.workers.clone().acquire_owned().await;
        drop(place);
        let permit = permit.map_err(DomainError::internal)?;
        let out = tokio::task::spawn_blocking(move || {
            let out = f();
            drop(permit);
            out
        })
        .await
        .map_err(DomainError::internal)?;
        Ok(out)
    }

    pub async fn hash(&self, password: &str) -> DomainResult<String> {
        let argon = self.argon2();
        let pw = password.to_string();
        self.run(move || {
            let salt = SaltString::generate(&mut HashRng);
            argon
                .hash_password(pw.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(DomainError::internal)
        })
        .await?
    }

    pub async fn verify(&self, password: &str, stored: &str) -> DomainResult<Verified> {
        let argon = self.argon2();
        let params = self.params.clone();
        let pw = password.to_string();
        let stored = stored.to_string();
        self.run(move || {
            if stored.starts_with("$2") {
                let ok = bcrypt::verify(&pw, &stored).unwrap_or(false);
                return Verified {
                    ok,
                    needs_rehash: ok,
                };
            }
            let Ok(parsed) = PasswordHash::new(&stored) else {
                return Verified {
                    ok: false,
                    needs_rehash: false,
                };
            };
            let ok = argon.verify_password(pw.as_bytes(), &parsed).is_ok();
            let weaker = Params::try_from(&parsed)
                .map(|p| p.m_cost() < params.m_cost() || p.t_cost() < params.t_cost())
                .unwrap_or(true);
            Verified {
                ok,
                needs_rehash: ok && (weaker || parsed.algorithm.as_str() != "argon2id"),
            }
        })
        .await
    }

    /// Spends the time of a real verification, so that an unknown email answers in the same
    /// time class as a wrong password (rule 15).
    pub async fn verify_dummy(&self, password: &str) -> DomainResult<()> {
        let dummy = self
            .dummy
            .get_or_try_init(|| async { self.hash("flowspace-dummy-password").await })
            .await?
            .clone();
        self.verify(password, &dummy).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_are_bound_to_their_id_and_key() {
        let b = SecretBox::new(&[3u8; 32]);
        let id = ItemId::new();
        let sealed = b.seal(id, b"s3cret").unwrap();
        assert_ne!(sealed.ciphertext, b"s3cret");
        assert_eq!(b.open(id, &sealed).unwrap(), b"s3cret");
        assert!(
            b.open(ItemId::new(), &sealed).is_err(),
            "moved to another row"
        );
        let other = SecretBox::new(&[4u8; 32]);
        assert!(other.open(id, &sealed).is_err(), "another key");
        let rotated = SecretBox::with_previous(&[4u8; 32], &[[3u8; 32]]);
        assert_eq!(
            rotated.open(id, &sealed).unwrap(),
            b"s3cret",
            "previous keys still open"
        );
        assert_eq!(rotated.seal(id, b"x").unwrap().key_id, key_id(&[4u8; 32]));
        let again = b.seal(id, b"s3cret").unwrap();
        assert_ne!(again.nonce, sealed.nonce, "fresh nonce per write");
    }

    #[tokio::test]
    async fn passwords_hash_verify_and_upgrade_bcrypt() {
        let p = Passwords::new(1024, 1, 8).unwrap();
        let h = p.hash("correct horse").await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(p.verify("correct horse", &h).await.unwrap().ok);
        assert!(!p.verify("wrong horse", &h).await.unwrap().ok);
        let legacy = bcrypt::hash("old password", 4).unwrap();
        let v = p.verify("old password", &legacy).await.unwrap();
        assert!(v.ok && v.needs_rehash);
        assert!(!p.verify("nope", &legacy).await.unwrap().ok);
    }

    #[tokio::test]
    async fn a_cancelled_wait_gives_its_place_back() {
        let p = std::sync::Arc::new(Passwords::new(1024, 1, 1).unwrap());
        // Hold every worker, so that the next hash waits in the queue.
        let n = p.workers.available_permits() as u32;
        let held = p.workers.clone().acquire_many_owned(n).await.unwrap();
        let waiting = tokio::spawn({
            let p = p.clone();
            async move { p.hash("correct horse").await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert_eq!(p.waiting.load(Ordering::SeqCst), 1);
        assert!(
            matches!(p.hash("another one").await, Err(DomainError::Busy(_))),
            "the queue of one is full"
        );
        waiting.abort();
        let _ = waiting.await;
        assert_eq!(
            p.waiting.load(Ordering::SeqCst),
            0,
            "the cancelled request left the queue"
        );
        drop(held);
        assert!(p.hash("correct horse").await.is_ok());
    }

    #[test]
    fn token_hmacs_depend_on_purpose_and_secret() {
        assert_ne!(hmac(b"k", "refresh", b"t"), hmac(b"k", "invite", b"t"));
        assert_ne!(hmac(b"k", "refresh", b"t"), hmac(b"j", "refresh", b"t"));
        let (key, prefix, hash) = new_api_key();
        assert!(key.starts_with(&prefix) && prefix.starts_with(API_KEY_PREFIX));
        assert_eq!(api_key_hash(&key), hash);
    }
}
