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

/// The id of the role named `name`.
async fn role_id(admin: &flowspace_testkit::Client, name: &str) -> String {
    let r = admin.get("/roles").await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == name)
        .unwrap_or_else(|| panic!("no role {name}: {}", r.body))["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// An owner sets single sign-on up through the dashboard alone: adds the provider, turns
/// just-in-time provisioning on for an allowed domain, maps a group to a workspace role,
/// marks themself break-glass and requires single sign-on; each change is read back through
/// the API and does what it says; the pages pass axe with a provider showing and their
/// controls are reached with Tab; then someone of that group, never invited, signs in through
/// the provider's pages and lands in the mapped workspace with the mapped role. On SQLite, and
/// on PostgreSQL when `TEST_DATABASE_URL` is set (the forms write through the store).
#[tokio::test]
async fn an_owner_sets_provisioning_group_mappings_and_break_glass_on_the_sso_pages() {
    for backend in flowspace_testkit::backends() {
        owner_sets_sso_up_through_the_pages(&backend).await;
    }
}

async fn owner_sets_sso_up_through_the_pages(backend: &Backend) {
    let server = TestServer::start_at_own_url(backend, |_| {}).await;
    let admin = server.setup().await;
    let idp = OidcProvider::start().await;
    let client = idp
        .register_client(&format!("{}/api/v1/auth/oidc/callback", server.base_url))
        .await;
    let eng = admin
        .post("/workspace", json!({"name": "Engineering"}))
        .await
        .id();
    let pat = admin
        .post(
            "/users",
            json!({"email": "pat@example.com", "name": "Pat", "password": flowspace_e2e::PASSWORD}),
        )
        .await;
    assert_eq!(pat.status, 201, "{}", pat.body);
    let me = admin.get("/auth/me").await;
    let owner = me.body["user"]["id"].as_str().unwrap().to_string();
    let (viewer, developer) = (
        role_id(&admin, "Viewer").await,
        role_id(&admin, "Developer").await,
    );
    idp.set_account("dana", "dana@example.com", true, &["eng"])
        .await;
    let name = format!("owner_sets_sso_up_through_the_pages_{}", backend.name());

    run(&name, async |b| {
        b.set_base_url(&server.base_url);
        b.sign_in_as_admin().await?;

        // Add the provider: its page opens.
        b.goto("/organization/sso").await?;
        b.click("#add-new").await?;
        b.fill("#new-provider input[name=displayName]", "Acme IdP")
            .await?;
        b.fill("#new-provider input[name=issuer]", &idp.issuer)
            .await?;
        b.fill("#new-provider input[name=clientId]", &client.client_id)
            .await?;
        b.fill(
            "#new-provider input[name=clientSecret]",
            &client.client_secret,
        )
        .await?;
        b.click("#new-provider button[type=submit]").await?;
        b.wait_for("#provider-settings").await?;
        let path = b.current_path().await?;
        let id = path
            .strip_prefix("/organization/sso/providers/")
            .ok_or_else(|| format!("the provider's page opens: {path}"))?
            .to_string();
        b.assert_accessible("a provider's page").await?;

        // Its settings: the groups scope, an allowed domain, provisioning into Engineering
        // as Viewer; every control reached with Tab.
        for control in [
            "#scopes",
            "#allowed-domains",
            "#jit-enabled",
            "#jit-workspace",
            "#jit-role",
        ] {
            b.tab_to(control).await?;
        }
        b.fill("#scopes", "openid, email, profile, groups").await?;
        b.fill("#allowed-domains", "example.com").await?;
        b.click("#jit-enabled").await?;
        b.select("#jit-workspace", "Engineering").await?;
        b.select("#jit-role", "Viewer").await?;
        b.click("#provider-settings button[type=submit]").await?;
        b.wait_for("#toast").await?;
        assert!(b.text("#toast").await?.contains("Provider saved"));

        // A group mapping: eng → Engineering, Developer.
        for control in ["#mapping-group", "#mapping-workspace", "#mapping-role"] {
            b.tab_to(control).await?;
        }
        b.fill("#mapping-group", "eng").await?;
        b.select("#mapping-workspace", "Engineering").await?;
        b.select("#mapping-role", "Developer").await?;
        b.click("#add-mapping button[type=submit]").await?;
        b.wait_for("#group-mappings tr[data-group=eng]").await?;
        b.assert_accessible("a provider's page with a group mapping")
            .await?;

        let p = admin
            .get(&format!("/organization/sso/providers/{id}"))
            .await;
        assert_eq!(p.status, 200, "{}", p.body);
        assert_eq!(
            p.body["allowedDomains"],
            json!(["example.com"]),
            "{}",
            p.body
        );
        assert_eq!(
            p.body["jit"],
            json!({"enabled": true, "workspaceId": eng, "roleId": viewer}),
            "{}",
            p.body
        );
        assert_eq!(
            p.body["groupMappings"],
            json!([{"group": "eng", "workspaceId": eng, "roleId": developer}]),
            "{}",
            p.body
        );
        assert!(
            p.body["scopes"]
                .as_array()
                .unwrap()
                .contains(&json!("groups")),
            "{}",
            p.body
        );

        // The SSO page with the provider's row: axe, then break-glass and the policy.
        b.goto("/organization/sso").await?;
        b.wait_for("#sso-providers tr[data-name='Acme IdP']")
            .await?;
        b.assert_accessible("the single sign-on page with a provider")
            .await?;
        let mark = format!("#break-glass-{owner}");
        b.tab_to(&mark).await?;
        b.click(&mark).await?;
        b.wait_for("#toast").await?;
        let members = admin.get("/organization/members").await;
        let row = |email: &str| {
            members.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|m| m["email"] == email)
                .cloned()
                .unwrap_or_default()
        };
        assert_eq!(
            row(flowspace_e2e::ADMIN_EMAIL)["breakGlass"],
            true,
            "{}",
            members.body
        );
        assert_eq!(row("pat@example.com")["breakGlass"], false);
        b.tab_to("#sso-required").await?;
        b.click("#sso-required").await?;
        b.click("#sso-required-form button[type=submit]").await?;
        // The break-glass step's toast may still be on the page: wait for the policy itself.
        let mut org = admin.get("/organization").await;
        for _ in 0..100 {
            if org.body["ssoRequired"] == true {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            org = admin.get("/organization").await;
        }
        assert_eq!(org.body["ssoRequired"], true, "{}", org.body);
        // Required: a password sign-in is refused, except the break-glass owner's.
        let pw = |email: &'static str| {
            let http = reqwest::Client::new();
            let url = format!("{}/api/v1/auth/login", server.base_url);
            async move {
                http.post(url)
                    .json(&json!({"email": email, "password": flowspace_e2e::PASSWORD}))
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            }
        };
        assert_eq!(pw("pat@example.com").await, 403);
        assert_eq!(pw(flowspace_e2e::ADMIN_EMAIL).await, 200);

        // Someone of the group, never invited, signs in through the provider's pages.
        b.driver().delete_all_cookies().await?;
        b.goto("/login").await?;
        b.fill("#login-form input[name=email]", "dana@example.com")
            .await?;
        eventually(b, "the SSO button", async |b| {
            b.exists("#sso-buttons .sso-button").await
        })
        .await?;
        b.click("#sso-buttons .sso-button").await?;
        b.fill("input[name=login]", "dana").await?;
        b.fill("input[name=password]", "anything").await?;
        b.click("button[type=submit]").await?;
        b.wait_for("input[name=prompt][value=consent]").await?;
        b.click("button[type=submit]").await?;
        eventually(b, "back in the dashboard", async |b| {
            b.exists("#workspace-select").await
        })
        .await?;
        b.goto("/chatflows").await?;
        let ws = b.text("#workspace-select option:checked").await?;
        assert!(ws.contains("Engineering"), "the mapped workspace: {ws}");
        assert!(
            b.exists("#add-new").await?,
            "Developer (mapped), not Viewer (provisioning), may add chatflows"
        );
        let users = admin.get(&format!("/workspace/{eng}/users")).await;
        let dana = users.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["email"] == "dana@example.com")
            .cloned()
            .unwrap_or_default();
        assert_eq!(dana["roleName"], "Developer", "{}", users.body);
        Ok(())
    })
    .await;
}
