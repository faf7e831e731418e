//! Passkeys in a real browser (SPEC §9): the Account Admin registers a passkey on the profile
//! page, signs out, and signs back in with it on the code page, the device being Chromium's
//! WebDriver virtual authenticator (CTAP2, built in, verifying its user).
//!
//! WebAuthn needs a relying party id that is a domain, so the server's APP_URL and the
//! browser both use `http://localhost:PORT` (an IP address is no relying party id).

use flowspace_e2e::thirtyfour::common::command::{Command, ExtensionCommand};
use flowspace_e2e::{ADMIN_EMAIL, Backend, Browser, PASSWORD, Result, TestServer, run};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

async fn eventually<F>(b: &Browser, what: &str, check: F) -> Result
where
    F: AsyncFn(&Browser) -> Result<bool>,
{
    let start = Instant::now();
    loop {
        if check(b).await.unwrap_or(false) {
            return Ok(());
        }
        if start.elapsed() > Duration::from_secs(15) {
            return Err(format!("timed out waiting for: {what}").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// WebDriver's "Add Virtual Authenticator" (Web Authentication, §11.3), which thirtyfour has
/// no method for: `POST /session/{id}/webauthn/authenticator`.
#[derive(Debug)]
struct AddVirtualAuthenticator;

impl ExtensionCommand for AddVirtualAuthenticator {
    fn parameters_json(&self) -> Option<Value> {
        Some(json!({
            "protocol": "ctap2",
            "transport": "internal",
            "hasResidentKey": true,
            "hasUserVerification": true,
            "isUserConsenting": true,
            "isUserVerified": true,
        }))
    }
    fn method(&self) -> reqwest::Method {
        reqwest::Method::POST
    }
    fn endpoint(&self) -> Arc<str> {
        Arc::from("/webauthn/authenticator")
    }
}

/// The credentials the virtual authenticator `id` holds (`GET .../credentials`).
#[derive(Debug)]
struct Credentials(String);

impl ExtensionCommand for Credentials {
    fn parameters_json(&self) -> Option<Value> {
        None
    }
    fn method(&self) -> reqwest::Method {
        reqwest::Method::GET
    }
    fn endpoint(&self) -> Arc<str> {
        Arc::from(format!("/webauthn/authenticator/{}/credentials", self.0))
    }
}

async fn webdriver(
    b: &Browser,
    cmd: impl ExtensionCommand + Send + Sync + 'static,
) -> Result<Value> {
    let answer = b
        .driver()
        .handle()
        .cmd(Command::ExtensionCommand(Box::new(cmd)))
        .await?;
    Ok(answer.value::<Value>()?)
}

async fn sign_in_with_password(b: &Browser) -> Result {
    b.goto("/login").await?;
    b.fill("#login-form input[name=email]", ADMIN_EMAIL).await?;
    b.fill("#login-form input[name=password]", PASSWORD).await?;
    b.click("#login-form button[type=submit]").await
}

async fn signed_in(b: &Browser) -> Result {
    eventually(b, "signed in", async |b| {
        b.exists("#workspace-select").await
    })
    .await
}

async fn sign_out(b: &Browser) -> Result {
    b.click("details.usermenu summary").await?;
    b.click("#sign-out").await?;
    eventually(b, "signed out", async |b| b.exists("#login-form").await).await
}

#[tokio::test]
async fn passkey_registered_on_the_profile_then_sign_in_with_it() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = TestServer::start_on(&Backend::Sqlite, listener, |c| {
        c.app_url = format!("http://localhost:{port}");
    })
    .await;
    server.setup().await;
    run(
        "passkey_registered_on_the_profile_then_sign_in_with_it",
        async |b| {
            b.set_base_url(&format!("http://localhost:{port}"));
            let authenticator = webdriver(b, AddVirtualAuthenticator).await?;
            let authenticator = authenticator
                .as_str()
                .ok_or_else(|| format!("no authenticator id: {authenticator}"))?
                .to_string();
            sign_in_with_password(b).await?;
            signed_in(b).await?;

            // Register from the profile page: a name, the password again, then the device.
            b.goto("/profile").await?;
            b.wait_for("#passkey-register-form").await?;
            assert!(b.exists("#passkeys-none").await?);
            b.fill("#passkey-name", "Virtual key").await?;
            b.fill("#passkey-password", PASSWORD).await?;
            b.click("#passkey-add").await?;
            eventually(b, "the passkey is listed", async |b| {
                Ok(b.exists("#passkey-list").await?
                    && b.text("#passkey-list .passkey-name").await? == "Virtual key")
            })
            .await?;
            let held = webdriver(b, Credentials(authenticator.clone())).await?;
            assert_eq!(held.as_array().map(Vec::len), Some(1), "{held}");

            // Signed out and back in: the password, then the passkey (no code form: the
            // account has no authenticator app).
            sign_out(b).await?;
            sign_in_with_password(b).await?;
            b.wait_for("#mfa-passkey").await?;
            assert!(!b.exists("#mfa-code-form").await?, "no app, no code form");
            assert!(
                !b.exists("#workspace-select").await?,
                "no session before the passkey"
            );
            b.click("#mfa-passkey").await?;
            signed_in(b).await?;

            // The profile shows it was used.
            b.goto("/profile").await?;
            let row = b.text("#passkey-list tbody tr").await?;
            assert!(!row.contains("never"), "{row}");
            Ok(())
        },
    )
    .await;
}
