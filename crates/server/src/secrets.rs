//! Server secrets: taken from the configuration when set, otherwise generated once into
//! `DATA_DIR/secrets.json` (mode 0600) and reused, so that a restart logs nobody out.
//! Known-weak values are refused.

use crate::config::Config;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The secrets in use, decoded.
pub struct Secrets {
    pub jwt_auth: Vec<u8>,
    pub jwt_refresh: Vec<u8>,
    pub token_hash: Vec<u8>,
    pub encryption_key: [u8; 32],
    /// Older encryption keys, for reading credentials sealed before a rotation.
    pub previous_encryption_keys: Vec<[u8; 32]>,
}

#[derive(Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SecretsFile {
    jwt_auth_token_secret: Option<String>,
    jwt_refresh_token_secret: Option<String>,
    token_hash_secret: Option<String>,
    encryption_key: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    previous_encryption_keys: Vec<String>,
}

const WEAK: &[&str] = &[
    "secret",
    "changeme",
    "change-me",
    "password",
    "auth_token",
    "refresh_token",
    "flowise",
    "flowspace",
    "jwt_secret",
    "your-secret-key",
    "AABBCCDDAABBCCDDAABBCCDDAABBCCDDAABBCCDDAABBCCDD",
];

fn random_secret() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

pub(crate) fn check_strong(name: &str, v: &str) -> Result<(), String> {
    if v.len() < 32 {
        return Err(format!(
            "{name} is too short: use at least 32 random characters"
        ));
    }
    if WEAK.iter().any(|w| v.eq_ignore_ascii_case(w))
        || v.chars().all(|c| c == v.chars().next().unwrap_or('x'))
    {
        return Err(format!("{name} is a known weak value"));
    }
    Ok(())
}

/// Decodes an AES-256 key given as base64 (standard or URL-safe) or 64 hex digits.
pub fn decode_key(v: &str) -> Result<[u8; 32], String> {
    let v = v.trim();
    let bytes = if v.len() == 64 && v.chars().all(|c| c.is_ascii_hexdigit()) {
        (0..32)
            .map(|i| u8::from_str_radix(&v[2 * i..2 * i + 2], 16))
            .collect::<Result<Vec<u8>, _>>()
            .map_err(|e| e.to_string())?
    } else {
        STANDARD
            .decode(v)
            .or_else(|_| URL_SAFE_NO_PAD.decode(v.trim_end_matches('=')))
            .map_err(|_| {
                "FLOWSPACE_ENCRYPTION_KEY must be 32 bytes as base64 or 64 hex digits".to_string()
            })?
    };
    let key: [u8; 32] = bytes
        .try_into()
        .map_err(|_| "FLOWSPACE_ENCRYPTION_KEY must be exactly 32 bytes".to_string())?;
    if key.iter().all(|b| *b == key[0]) {
        return Err("FLOWSPACE_ENCRYPTION_KEY is a known weak value".to_string());
    }
    Ok(key)
}

fn read_file(path: &Path) -> Result<SecretsFile, String> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(SecretsFile::default()),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

fn write_file(path: &Path, file: &SecretsFile) -> Result<(), String> {
    let text = serde_json::to_vec_pretty(file).map_err(|e| e.to_string())?;
    let tmp = path.with_extension("json.tmp");
    {
        use std::io::Write;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts
            .open(&tmp)
            .map_err(|e| format!("{}: {e}", tmp.display()))?;
        f.write_all(&text).map_err(|e| e.to_string())?;
        f.sync_all().map_err(|e| e.to_string())?;
    }
    std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))
}

/// Resolves every secret; generates and persists the missing ones.
pub fn load(config: &Config) -> Result<Secrets, String> {
    resolve(config, true)
}

/// Resolves every secret as `load` does, but writes nothing anywhere: a missing one is
/// generated for this process only (a dry run, whose sealing is thrown away).
pub fn load_without_writing(config: &Config) -> Result<Secrets, String> {
    resolve(config, false)
}

fn resolve(config: &Config, persist: bool) -> Result<Secrets, String> {
    if persist {
        std::fs::create_dir_all(&config.data_dir)
            .map_err(|e| format!("cannot create DATA_DIR {}: {e}", config.data_dir.display()))?;
    }
    let path = config.data_dir.join("secrets.json");
    let mut file = read_file(&path)?;
    let mut generated = Vec::new();

    let mut pick = |name: &str,
                    configured: &Option<SecretString>,
                    stored: &mut Option<String>|
     -> Result<String, String> {
        if let Some(v) = configured {
            let v = v.expose_secret().to_string();
            check_strong(name, &v)?;
            return Ok(v);
        }
        if let Some(v) = stored {
            return Ok(v.clone());
        }
        let v = random_secret();
        *stored = Some(v.clone());
        generated.push(name.to_string());
        Ok(v)
    };
    let jwt_auth = pick(
        "JWT_AUTH_TOKEN_SECRET",
        &config.jwt_auth_token_secret,
        &mut file.jwt_auth_token_secret,
    )?;
    let jwt_refresh = pick(
        "JWT_REFRESH_TOKEN_SECRET",
        &config.jwt_refresh_token_secret,
        &mut file.jwt_refresh_token_secret,
    )?;
    let token_hash = pick(
        "TOKEN_HASH_SECRET",
        &config.token_hash_secret,
        &mut file.token_hash_secret,
    )?;
    let encryption_key = match &config.flowspace_encryption_key {
        Some(v) => decode_key(v.expose_secret())?,
        None => match &file.encryption_key {
            Some(v) => decode_key(v)?,
            None => {
                let mut k = [0u8; 32];
                rand::rngs::OsRng.fill_bytes(&mut k);
                file.encryption_key = Some(STANDARD.encode(k));
                generated.push("FLOWSPACE_ENCRYPTION_KEY".to_string());
                k
            }
        },
    };
    let mut previous_encryption_keys = file
        .previous_encryption_keys
        .iter()
        .map(|k| decode_key(k))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(list) = &config.flowspace_previous_encryption_keys {
        for k in list
            .expose_secret()
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
        {
            previous_encryption_keys.push(decode_key(k)?);
        }
    }
    if persist && !generated.is_empty() {
        write_file(&path, &file)?;
        tracing::info!(secrets = ?generated, file = %path.display(), "generated secrets that were not configured");
    }
    Ok(Secrets {
        jwt_auth: jwt_auth.into_bytes(),
        jwt_refresh: jwt_refresh.into_bytes(),
        token_hash: token_hash.into_bytes(),
        encryption_key,
        previous_encryption_keys,
    })
}

/// Where a rotated key must be kept.
pub enum RotatedKey {
    /// The key lives in `DATA_DIR/secrets.json`, which now holds the new one.
    Saved,
    /// The key is configured: the operator sets the new one (printed) on every replica.
    Configured { new_key: String, old_key: String },
}

/// A new random AES-256 key.
pub fn new_encryption_key() -> [u8; 32] {
    let mut k = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut k);
    k
}

/// Keeps `key` among the previous keys before any credential is sealed with it.
pub fn remember_key(config: &Config, key: &[u8; 32]) -> Result<(), String> {
    let path = config.data_dir.join("secrets.json");
    let mut file = read_file(&path)?;
    let text = STANDARD.encode(key);
    if !file.previous_encryption_keys.contains(&text) {
        file.previous_encryption_keys.push(text);
    }
    write_file(&path, &file)
}

/// Records `new` as the current encryption key and the old one as previous.
pub fn save_rotated_key(
    config: &Config,
    old: &[u8; 32],
    new: &[u8; 32],
) -> Result<RotatedKey, String> {
    if config.flowspace_encryption_key.is_some() {
        return Ok(RotatedKey::Configured {
            new_key: STANDARD.encode(new),
            old_key: STANDARD.encode(old),
        });
    }
    let path = config.data_dir.join("secrets.json");
    let mut file = read_file(&path)?;
    let old_text = STANDARD.encode(old);
    let new_text = STANDARD.encode(new);
    file.previous_encryption_keys.retain(|k| *k != new_text);
    if !file.previous_encryption_keys.contains(&old_text) {
        file.previous_encryption_keys.push(old_text);
    }
    file.encryption_key = Some(new_text);
    write_file(&path, &file)?;
    Ok(RotatedKey::Saved)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_weak_values() {
        assert!(decode_key(&"0123456789abcdef".repeat(4)).is_ok());
        assert!(
            decode_key(&"ab".repeat(32)).is_err(),
            "one byte repeated is weak"
        );
        assert!(decode_key(&STANDARD.encode([7u8; 31])).is_err());
        assert!(decode_key(&STANDARD.encode([0u8; 32])).is_err());
        assert!(check_strong("X", "secret").is_err());
        assert!(check_strong("X", &"a".repeat(40)).is_err());
        assert!(check_strong("X", &random_secret()).is_ok());
    }
}
