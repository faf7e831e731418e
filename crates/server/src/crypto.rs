//! Cryptography, each piece from a well-kept crate: HMAC-SHA256 for stored tokens (`hmac`),
//! AES-256-GCM for credential secrets (`aes-gcm`), SHA-256 for API keys (`sha2`). Password
//! hashes are in `crate::passwords`.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use flowspace_core::ids::ItemId;
use flowspace_core::model::SealedSecret;
use flowspace_core::{DomainError, DomainResult};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

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

/// Whether a bearer token is an API key rather than an access token: one of ours, or one
/// brought over from Flowise (43 URL-safe base64 characters; an access token is a JWT, which
/// always holds dots).
pub fn is_api_key(token: &str) -> bool {
    token.starts_with(API_KEY_PREFIX) || (!token.is_empty() && !token.contains('.'))
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

    #[test]
    fn token_hmacs_depend_on_purpose_and_secret() {
        assert_ne!(hmac(b"k", "refresh", b"t"), hmac(b"k", "invite", b"t"));
        assert_ne!(hmac(b"k", "refresh", b"t"), hmac(b"j", "refresh", b"t"));
        let (key, prefix, hash) = new_api_key();
        assert!(key.starts_with(&prefix) && prefix.starts_with(API_KEY_PREFIX));
        assert_eq!(api_key_hash(&key), hash);
    }
}
