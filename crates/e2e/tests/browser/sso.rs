//! Single sign-on in a real browser (SPEC §8): the sign-in page offers "Sign in with …" for
//! the typed email's organization, the provider's own login and consent pages (panva's
//! oidc-provider) are filled in, and the browser comes back signed in to the dashboard, in the
//! workspace its group maps to, with the mapped role.

use flowspace_e2e::{Browser, Result, run};
use flowspace_testkit::oidc::OidcProvider;
use flowspace_testkit::{Backend, TestServer};
use serde_json::json;
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

#[tokio::test]
async fn the_sso_button_signs_in_through_the_provider_into_the_mapped_workspace() {
    let server = TestServer::start_at_own_url(&Backend::Sqlite, |_| {}).await;
    let admin = server.setup().await;
    let idp = OidcProvider::start().await;
    let client = idp
        .register_client(&format!("{}/api/v1/auth/oidc/callback", server.base_url))
        .await;
    let eng = admin
        .post("/workspace", json!({"name": "Engineering"}))
        .await
        .id();
    let r = admin
        .post(
            "/organization/sso/providers",
            json!({
                "displayName": "Acme IdP", "issuer": idp.issuer, "clientId": client.client_id,
                "clientSecret": client.client_secret, "scopes": ["email", "profile", "groups"],
                "allowedDomains": ["example.com"],
                "jit": {"enabled": true, "workspaceId": eng, "role": "Viewer"},
                "groupMappings": [{"group": "eng", "workspaceId": eng, "role": "Developer"}],
            }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    idp.set_account("dana", "dana@example.com", true, &["eng"])
        .await;

    run(
        "the_sso_button_signs_in_through_the_provider_into_the_mapped_workspace",
        async |b| {
            b.set_base_url(&server.base_url);
            b.goto("/login").await?;
            b.fill("#login-form input[name=email]", "dana@example.com")
                .await?;
            eventually(b, "the SSO button", async |b| {
                b.exists("#sso-buttons .sso-button").await
            })
            .await?;
            assert_eq!(
                b.text("#sso-buttons .sso-button").await?,
                "Sign in with Acme IdP"
            );
            b.click("#sso-buttons .sso-button").await?;
            // The provider's own pages: login, then consent.
            b.fill("input[name=login]", "dana").await?;
            b.fill("input[name=password]", "anything").await?;
            b.click("button[type=submit]").await?;
            b.wait_for("input[name=prompt][value=consent]").await?;
            b.click("button[type=submit]").await?;
            eventually(b, "back in the dashboard", async |b| {
                b.exists("#workspace-select").await
            })
            .await?;
            let path = b.current_path().await?;
            assert!(!path.starts_with("/login"), "signed in: {path}");
            b.goto("/chatflows").await?;
            let ws = b.text("#workspace-select option:checked").await?;
            assert!(
                ws.contains("Engineering"),
                "the mapped workspace is active: {ws}"
            );
            // Developer (the mapped role), not Viewer (the provisioning role): it may add items.
            assert!(
                b.exists("#add-new").await?,
                "the mapped role may create chatflows"
            );
            b.screenshot("e2e-sso").await?;
            Ok(())
        },
    )
    .await;
}
