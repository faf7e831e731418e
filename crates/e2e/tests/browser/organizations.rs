//! Several organizations in a real browser (SPEC §7): the instance admin creates a second
//! organization from the Organizations page with themselves as its owner, and the switcher
//! beside the workspace switcher changes every page (items, users, workspaces, members):
//! nothing of the other organization shows.

use flowspace_e2e::{ADMIN_EMAIL, Browser, PASSWORD, Result, run, sqlite_server};
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

/// Opens `path` and answers the text of the element matching `css` there.
async fn text_at(b: &Browser, path: &str, css: &str) -> Result<String> {
    b.goto(path).await?;
    b.text(css).await
}

/// Switches organization with the layout's switcher, and waits for its pages.
async fn switch_to(b: &Browser, org: &str) -> Result {
    b.select("#organization-select", org).await?;
    eventually(b, &format!("{org} active"), async |b| {
        Ok(b.text(".sidebar .org").await? == org)
    })
    .await
}

/// What each page shows in `own` and never in `other`: (page, element, own text, other's).
async fn shows_only(b: &Browser, checks: &[(&str, &str, &str, &str)]) -> Result {
    for (path, css, own, other) in checks {
        let t = text_at(b, path, css).await?;
        assert!(t.contains(own), "{path} shows {own}: {t}");
        assert!(!t.contains(other), "{path} never shows {other}: {t}");
    }
    Ok(())
}

#[tokio::test]
async fn the_organization_switcher_changes_every_page() {
    let server = sqlite_server().await;
    let admin = server.setup().await;
    // Acme (the organization of setup): an item, a user, a second workspace.
    let r = admin
        .post(
            "/chatflows",
            json!({"name": "Acme flow", "data": {"nodes": [], "edges": []}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = admin
        .post(
            "/users",
            json!({"email": "ann@acme.test", "name": "Ann Acme", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = admin
        .post("/workspace", json!({"name": "Acme Research"}))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);

    run("the_organization_switcher_changes_every_page", async |b| {
        b.set_base_url(&server.base_url);
        b.goto("/login").await?;
        b.fill("#login-form input[name=email]", ADMIN_EMAIL).await?;
        b.fill("#login-form input[name=password]", PASSWORD).await?;
        b.click("#login-form button[type=submit]").await?;
        eventually(b, "signed in", async |b| {
            b.exists("#workspace-select").await
        })
        .await?;
        assert!(
            !b.exists("#org-switcher").await?,
            "one organization: no switcher"
        );

        // The instance admin creates Beta with themselves as its owner.
        b.goto("/organizations").await?;
        b.click("#add-new").await?;
        b.fill("#new-organization input[name=name]", "Beta").await?;
        b.fill("#new-organization input[name=ownerEmail]", ADMIN_EMAIL)
            .await?;
        b.click("#new-organization button[type=submit]").await?;
        eventually(b, "Beta listed", async |b| {
            b.exists("#organizations tr[data-name=Beta]").await
        })
        .await?;
        b.screenshot("e2e-organizations").await?;

        // Beta, through the switcher: an item and a user of its own, made through its pages'
        // API as its owner.
        switch_to(b, "Beta").await?;
        let beta = server.login(ADMIN_EMAIL, PASSWORD).await;
        let orgs = beta.get("/organizations").await;
        let beta_id = orgs.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["name"] == "Beta")
            .and_then(|o| o["id"].as_str())
            .unwrap()
            .to_string();
        let me = beta
            .post(
                "/auth/switch-organization",
                json!({"organizationId": beta_id}),
            )
            .await;
        assert_eq!(me.status, 200, "{}", me.body);
        let ws = me.body["activeWorkspace"]["id"].as_str().unwrap();
        let beta = beta.in_workspace(ws);
        let r = beta
            .post(
                "/chatflows",
                json!({"name": "Beta flow", "data": {"nodes": [], "edges": []}}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let r = beta
            .post(
                "/users",
                json!({"email": "bea@beta.test", "name": "Bea Beta", "password": PASSWORD}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);

        let beta_pages = [
            ("/chatflows", "main", "Beta flow", "Acme flow"),
            ("/users", "#users", "bea@beta.test", "ann@acme.test"),
            ("/workspaces", "#workspaces", "Default", "Acme Research"),
            (
                "/organization/members",
                "#members",
                "bea@beta.test",
                "ann@acme.test",
            ),
            ("/organization", "main", "Beta", "Acme"),
        ];
        shows_only(b, &beta_pages).await?;
        b.screenshot("e2e-organization-beta").await?;

        // Back to Acme: its own again, nothing of Beta.
        switch_to(b, "Acme").await?;
        shows_only(
            b,
            &[
                ("/chatflows", "main", "Acme flow", "Beta flow"),
                ("/users", "#users", "ann@acme.test", "bea@beta.test"),
                ("/workspaces", "#workspaces", "Acme Research", "Beta"),
                (
                    "/organization/members",
                    "#members",
                    "ann@acme.test",
                    "bea@beta.test",
                ),
            ],
        )
        .await?;
        // An item of Beta, opened by its address from Acme, is not found.
        let beta_item = beta.get("/chatflows").await.body["items"][0]["id"]
            .as_str()
            .unwrap()
            .to_string();
        b.goto(&format!("/chatflows/{beta_item}")).await?;
        let source = b.page_source().await?;
        assert!(!source.contains("Beta flow"), "{source}");
        assert!(source.contains("not found"), "{source}");

        // And back: the switcher lands in Beta's pages again.
        b.goto("/chatflows").await?;
        switch_to(b, "Beta").await?;
        shows_only(b, &beta_pages[..2]).await?;
        Ok(())
    })
    .await;
}
