//! The real `flowspace` binary: `flowspace serve` with nothing configured starts on SQLite in
//! DATA_DIR with generated secrets, answers, and shuts down cleanly on SIGTERM; a restart on
//! the same DATA_DIR keeps the data and the sessions.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts the binary in `dir` with only PORT set (and cheap Argon2 so the test is quick).
fn start(dir: &Path, port: u16) -> Child {
    start_with(dir, port, &[])
}

/// The same, with `env` set too.
fn start_with(dir: &Path, port: u16, env: &[(&str, &str)]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_flowspace"))
        .arg("serve")
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PORT", port.to_string())
        .env("ARGON2_MEMORY_KIB", "1024")
        .env("ARGON2_ITERATIONS", "1")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start flowspace")
}

async fn wait_ready(base: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = reqwest::get(format!("{base}/api/v1/health/ready")).await
            && r.status() == 200
        {
            return;
        }
        assert!(Instant::now() < deadline, "server did not become ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn terminate(mut child: Child) -> std::process::ExitStatus {
    let pid = child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "no graceful exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test]
async fn serve_with_nothing_configured_then_restart_keeps_data_and_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let child = start(dir.path(), port);
    wait_ready(&base).await;

    let data = dir.path().join("data");
    assert!(
        data.join("flowspace.db").exists(),
        "SQLite database in ./data"
    );
    let secrets = data.join("secrets.json");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&secrets).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600, "secrets are private");

    let api = flowspace_testkit::Client::new(&base);
    let setup = api
        .post(
            "/setup",
            serde_json::json!({"organizationName": "Acme", "name": "Ada", "email": "ada@example.com", "password": flowspace_testkit::PASSWORD}),
        )
        .await;
    assert_eq!(setup.status, 201, "{}", setup.body);
    let signed = api.with_token(setup.body["accessToken"].as_str().unwrap());
    let flow = signed
        .post("/chatflows", serde_json::json!({"name": "Kept"}))
        .await;
    assert_eq!(flow.status, 201);
    let secrets_before = std::fs::read(&secrets).unwrap();

    let status = terminate(child);
    assert!(status.success(), "exit status after SIGTERM: {status:?}");

    let child = start(dir.path(), port);
    wait_ready(&base).await;
    assert_eq!(
        std::fs::read(&secrets).unwrap(),
        secrets_before,
        "secrets reused, not regenerated"
    );
    let list = signed.get("/chatflows").await;
    assert_eq!(
        list.status, 200,
        "the old access token still works: {}",
        list.body
    );
    assert_eq!(list.body["items"][0]["name"], "Kept");
    assert!(terminate(child).success());
}

/// METRICS_ADDR and METRICS_TOKEN: the binary binds the metrics address, serves `/metrics`
/// there behind the token and not on its main port, and drains both on SIGTERM.
#[tokio::test]
async fn serve_binds_metrics_addr_and_stops_both_listeners() {
    let dir = tempfile::tempdir().unwrap();
    let (port, metrics_port) = (free_port(), free_port());
    let base = format!("http://127.0.0.1:{port}");
    let token = super::route_walk::METRICS_TOKEN;
    let at = format!("127.0.0.1:{metrics_port}");
    let child = start_with(
        dir.path(),
        port,
        &[("METRICS_ADDR", &at), ("METRICS_TOKEN", token)],
    );
    wait_ready(&base).await;
    let http = reqwest::Client::new();
    let get = |url: String, bearer: Option<&str>| {
        let mut req = http.get(url);
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        async move { req.send().await.unwrap() }
    };
    let metrics = format!("http://{at}/metrics");
    assert_eq!(get(metrics.clone(), None).await.status(), 401);
    let r = get(metrics.clone(), Some(token)).await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(
        text.contains(r#"flowspace_http_requests_total{route="/api/v1/health/ready",method="GET",status="200"}"#),
        "{text}"
    );
    let main = get(format!("{base}/metrics"), Some(token)).await;
    assert_eq!(main.status(), 404, "not on the main port");

    let status = terminate(child);
    assert!(status.success(), "exit status after SIGTERM: {status:?}");
    assert!(
        std::net::TcpStream::connect(&at).is_err(),
        "the metrics listener is closed"
    );
}

#[test]
fn help_lists_every_setting() {
    let out = Command::new(env!("CARGO_BIN_EXE_flowspace"))
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for var in [
        "PORT",
        "HOST",
        "DATA_DIR",
        "DATABASE_URL",
        "APP_URL",
        "JWT_AUTH_TOKEN_SECRET",
        "JWT_REFRESH_TOKEN_SECRET",
        "JWT_ISSUER",
        "JWT_AUDIENCE",
        "JWT_TOKEN_EXPIRY_IN_MINUTES",
        "JWT_REFRESH_TOKEN_EXPIRY_IN_MINUTES",
        "PASSWORD_RESET_TOKEN_EXPIRY_IN_MINS",
        "PASSWORD_SALT_HASH_ROUNDS",
        "TOKEN_HASH_SECRET",
        "INVITE_TOKEN_EXPIRY_IN_HOURS",
        "SMTP_HOST",
        "SMTP_PORT",
        "SMTP_USER",
        "SMTP_PASSWORD",
        "SMTP_SECURE",
        "SENDER_EMAIL",
        "FLOWSPACE_ENCRYPTION_KEY",
        "METRICS_TOKEN",
        "METRICS_ADDR",
    ] {
        assert!(
            text.contains(&format!("env: {var}=")) || text.contains(&format!("env: {var}]")),
            "{var} missing from --help"
        );
    }
    let top = Command::new(env!("CARGO_BIN_EXE_flowspace"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&top.stdout).contains("serve"));
}
