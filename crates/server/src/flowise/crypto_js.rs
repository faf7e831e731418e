//! Flowise's credential encryption, undone: crypto-js passphrase AES, which is OpenSSL's
//! "Salted__" format (base64 of `Salted__`, an 8-byte salt, the ciphertext), key and IV from
//! EVP_BytesToKey with MD5 and one iteration, AES-256-CBC with PKCS#7 padding. The passphrase
//! is the key file's bytes exactly as they are (Flowise reads it untrimmed).

use aes::cipher::{BlockDecryptMut, KeyIvInit, block_padding::Pkcs7};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use md5::{Digest, Md5};

type Aes256CbcDec = cbc::Decryptor<aes::Aes256>;

/// Why a value did not decrypt.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecryptError {
    #[error("it is not crypto-js ciphertext (no \"Salted__\" header)")]
    NotSalted,
    #[error("it does not decrypt with this key (bad padding: a wrong or truncated key)")]
    WrongKey,
    #[error("it decrypts to something that is not text (a wrong key)")]
    NotText,
}

/// EVP_BytesToKey(MD5, 1 iteration): 32 bytes of key and 16 of IV.
fn key_and_iv(passphrase: &[u8], salt: &[u8]) -> ([u8; 32], [u8; 16]) {
    let mut out = Vec::with_capacity(48);
    let mut prev: Vec<u8> = Vec::new();
    while out.len() < 48 {
        let mut h = Md5::new();
        h.update(&prev);
        h.update(passphrase);
        h.update(salt);
        prev = h.finalize().to_vec();
        out.extend_from_slice(&prev);
    }
    let mut key = [0u8; 32];
    let mut iv = [0u8; 16];
    key.copy_from_slice(&out[..32]);
    iv.copy_from_slice(&out[32..48]);
    (key, iv)
}

/// Decrypts one `AES.encrypt(text, passphrase).toString()` value to its text.
pub fn decrypt(value: &str, passphrase: &[u8]) -> Result<String, DecryptError> {
    let raw = STANDARD
        .decode(value.trim())
        .map_err(|_| DecryptError::NotSalted)?;
    if raw.len() < 32 || &raw[..8] != b"Salted__" || (raw.len() - 16) % 16 != 0 {
        return Err(DecryptError::NotSalted);
    }
    let (key, iv) = key_and_iv(passphrase, &raw[8..16]);
    let plain = Aes256CbcDec::new(&key.into(), &iv.into())
        .decrypt_padded_vec_mut::<Pkcs7>(&raw[16..])
        .map_err(|_| DecryptError::WrongKey)?;
    String::from_utf8(plain).map_err(|_| DecryptError::NotText)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `openssl enc -aes-256-cbc -md md5 -S 0102030405060708 -pass pass:k3y` of
    /// `{"a":"b"}`, behind `Salted__` and the salt: the format crypto-js writes.
    const SAMPLE: &str = "U2FsdGVkX18BAgMEBQYHCCnA6au2SSv+toQ938zUeOY=";

    #[test]
    fn decrypts_openssl_salted_values_and_refuses_wrong_keys() {
        assert_eq!(decrypt(SAMPLE, b"k3y").as_deref(), Ok(r#"{"a":"b"}"#));
        assert!(
            decrypt(SAMPLE, b"k3y\n").is_err(),
            "the key is used untrimmed"
        );
        assert!(decrypt(SAMPLE, b"other").is_err());
        assert_eq!(
            decrypt("bm90IHNhbHRlZA==", b"k3y"),
            Err(DecryptError::NotSalted)
        );
        assert_eq!(decrypt("%%%", b"k3y"), Err(DecryptError::NotSalted));
    }
}
