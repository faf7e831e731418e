//! Server secrets: generated once into `DATA_DIR/secrets.json` (mode 0600) and reused, so a
//! restart logs nobody out; configured values win, and known-weak ones are refused.

use base64::Engine;
use flowspace_server::config::Config;
use flowspace_server::secrets;
use flowspace_testkit::{Backend, TestServer, test_config};
use secrecy::SecretString;
use std::path::Path;

fn config(data_dir: &Path) -> Config {
    let url = format!("sqlite://{}", data_dir.join("flowspace.db").display());
    test_config(data_dir.to_path_buf(), url)
}

#[test]
fn generated_secrets_survive_a_restart_and_are_private() {
    let tmp = tempfile::tempdir().unwrap();
    // DATA_DIR need not exist yet.
    let dir = tmp.path().join("data");
    let file = dir.join("secrets.json");
    let cfg = config(&dir);

    let first = secrets::load(&cfg).unwrap();
    assert!(file.exists(), "the generated secrets are persisted");
    let second = secrets::load(&cfg).unwrap();
    assert_eq!(first.jwt_auth, second.jwt_auth);
    assert_eq!(first.jwt_refresh, second.jwt_refresh);
    assert_eq!(first.token_hash, second.token_hash);
    assert_eq!(first.encryption_key, second.encryption_key);

    // Each secret is its own, long and random.
    assert!(first.jwt_auth.len() >= 32);
    assert_ne!(first.jwt_auth, first.jwt_refresh);
    assert_ne!(first.jwt_auth, first.token_hash);
    assert_ne!(first.jwt_refresh, first.token_hash);
    assert!(
        first
            .encryption_key
            .iter()
            .any(|b| *b != first.encryption_key[0])
    );

    // What the file holds is what is in use.
    let stored: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(
        stored["jwtAuthTokenSecret"].as_str().map(str::as_bytes),
        Some(first.jwt_auth.as_slice())
    );
    let key = base64::engine::general_purpose::STANDARD
        .decode(stored["encryptionKey"].as_str().unwrap())
        .unwrap();
    assert_eq!(key, first.encryption_key);

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "secrets.json is mode {mode:o}");
    }
    assert!(
        !dir.join("secrets.json.tmp").exists(),
        "no temporary file is left behind"
    );

    // Another data directory is another installation: other secrets.
    let other = secrets::load(&config(&tmp.path().join("other"))).unwrap();
    assert_ne!(other.jwt_auth, first.jwt_auth);
    assert_ne!(other.encryption_key, first.encryption_key);
}

#[test]
fn configured_secrets_win_and_weak_ones_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");

    for weak in [
        "secret".to_string(),
        "changeme".to_string(),
        "short-but-random-9f8e".to_string(),
        "a".repeat(40),
    ] {
        let mut cfg = config(&dir);
        cfg.jwt_auth_token_secret = Some(SecretString::from(weak.clone()));
        let err = secrets::load(&cfg)
            .err()
            .unwrap_or_else(|| panic!("JWT_AUTH_TOKEN_SECRET={weak:?} was accepted"));
        assert!(err.contains("JWT_AUTH_TOKEN_SECRET"), "{weak:?}: {err}");
    }
    assert!(
        !dir.join("secrets.json").exists(),
        "a refused configuration persists nothing"
    );

    let mut cfg = config(&dir);
    cfg.flowspace_encryption_key = Some(SecretString::from(
        base64::engine::general_purpose::STANDARD.encode([0u8; 32]),
    ));
    assert!(secrets::load(&cfg).is_err(), "an all-zero key is refused");

    // A strong configured secret is used as given; the others are still generated and kept.
    let before = secrets::load(&config(&dir)).unwrap();
    let strong = "k3J9-qT7v_Zp2Lx8Wm4Rb6Yc1Nd5Hf0Gs".to_string();
    let mut cfg = config(&dir);
    cfg.jwt_auth_token_secret = Some(SecretString::from(strong.clone()));
    let after = secrets::load(&cfg).unwrap();
    assert_eq!(after.jwt_auth, strong.as_bytes());
    assert_eq!(after.jwt_refresh, before.jwt_refresh);
    assert_eq!(after.encryption_key, before.encryption_key);
}

#[tokio::test]
async fn a_restart_logs_nobody_out() {
    let s = TestServer::start(&Backend::Sqlite).await;
    let admin = s.setup().await;
    assert_eq!(admin.get("/auth/me").await.status, 200);
    let s = s.restart().await;
    let token = admin.token.clone().expect("signed in");
    let again = flowspace_testkit::Client::new(&s.base_url).with_token(&token);
    let me = again.get("/auth/me").await;
    assert_eq!(
        me.status, 200,
        "the access token outlives a restart: {}",
        me.body
    );
}
