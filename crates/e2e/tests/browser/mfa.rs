//! Two-factor sign-in in a real browser (SPEC §9): the Account Admin sets up an authenticator
//! app from the profile page (the test reads the key from the page and computes the codes as
//! an app would), signs out, signs back in with a code on the code page, then with a recovery
//! code.

use flowspace_e2e::{ADMIN_EMAIL, Browser, PASSWORD, Result, run, sqlite_server};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use totp_rs::{Algorithm, Secret, TOTP};

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

/// An authenticator app: codes of successive 30-second steps, each step used once (the server
/// refuses a step it accepted already), waiting for the next step when needed.
struct App {
    totp: TOTP,
    last: u64,
}

impl App {
    async fn code(&mut self) -> String {
        loop {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs()
                / 30;
            let step = (self.last + 1).max(now);
            if step <= now + 1 {
                self.last = step;
                return self.totp.generate(step * 30);
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
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
async fn totp_set_up_then_sign_in_with_a_code_and_with_a_recovery_code() {
    let server = sqlite_server().await;
    server.setup().await;
    run(
        "totp_set_up_then_sign_in_with_a_code_and_with_a_recovery_code",
        async |b| {
            b.set_base_url(&server.base_url);
            sign_in_with_password(b).await?;
            signed_in(b).await?;

            // Set up from the profile page: the password again, then the key and QR code.
            b.click("details.usermenu summary").await?;
            b.click("#profile-link").await?;
            b.wait_for("#mfa-enroll-form").await?;
            assert!(b.text("#mfa-status").await?.contains("off"));
            b.fill("#mfa-enroll-form input[name=password]", PASSWORD)
                .await?;
            b.click("#mfa-enroll").await?;
            let key = b
                .wait_for("#totp-secret")
                .await?
                .value()
                .await?
                .unwrap_or_default();
            assert!(b.exists("#totp-qr svg").await?, "the QR code is drawn");
            let secret = Secret::Encoded(key.clone())
                .to_bytes()
                .map_err(|e| format!("{e:?}"))?;
            let totp = TOTP::new(Algorithm::SHA1, 6, 1, 30, secret, None, String::new())
                .map_err(|e| format!("{e:?}"))?;
            let mut app = App { totp, last: 0 };
            b.fill("#mfa-activate-code", &app.code().await).await?;
            b.click("#mfa-activate").await?;
            let codes = b.text("#recovery-codes").await?;
            let codes: Vec<&str> = codes.split_whitespace().collect();
            assert_eq!(codes.len(), 10, "{codes:?}");
            b.click("#done").await?;
            eventually(b, "MFA on", async |b| {
                Ok(b.text("#mfa-status").await?.contains("on"))
            })
            .await?;

            // Signed out and back in: the password, then a code.
            sign_out(b).await?;
            sign_in_with_password(b).await?;
            b.wait_for("#mfa-code-form").await?;
            assert!(
                !b.exists("#workspace-select").await?,
                "no session before the code"
            );
            b.fill("#mfa-code", &app.code().await).await?;
            b.click("#mfa-verify").await?;
            signed_in(b).await?;

            // And with a recovery code (a wrong code first: an error, still on the code page).
            sign_out(b).await?;
            sign_in_with_password(b).await?;
            b.wait_for("#mfa-code-form").await?;
            b.fill("#mfa-code", "000000").await?;
            b.click("#mfa-verify").await?;
            b.wait_for("#toast").await?;
            assert!(b.exists("#mfa-code-form").await?);
            b.click("#use-recovery summary").await?;
            b.fill("#mfa-recovery-code", codes[0]).await?;
            b.click("#mfa-recovery-verify").await?;
            signed_in(b).await?;
            b.goto("/profile").await?;
            assert_eq!(b.text("#recovery-left").await?, "9");
            Ok(())
        },
    )
    .await;
}
