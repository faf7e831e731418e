//! Server-side search on every list table and picker of the dashboard (issue 16, item 3), and
//! the page of an account without a usable organization: each opened in a real browser,
//! what it shows and does, and axe-core on it.

use flowspace_e2e::thirtyfour::By;
use flowspace_e2e::{Browser, Client, PASSWORD, Result, run, sqlite_server};
use serde_json::json;
use std::time::{Duration, Instant};

/// Waits (up to 15 s) until `css` matches `expected` elements (the submitted page has
/// replaced the old one), then answers how many match (the caller asserts it).
async fn count_once_loaded(b: &Browser, css: &str, expected: usize) -> Result<usize> {
    let start = Instant::now();
    loop {
        let n = b.driver().find_all(By::Css(css)).await?.len();
        if n == expected || start.elapsed() > Duration::from_secs(15) {
            return Ok(n);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Types `text` into the search box `input` and submits its form `form`.
async fn search(b: &Browser, form: &str, input: &str, text: &str) -> Result {
    b.fill(input, text).await?;
    b.click(&format!("{form} button[type=submit]")).await
}

/// Creates through the API and answers the new id.
async fn create(admin: &Client, path: &str, body: serde_json::Value) -> String {
    let r = admin.post(path, body).await;
    assert_eq!(r.status, 201, "POST {path}: {}", r.body);
    r.id()
}

#[tokio::test]
async fn roles_workspaces_members_and_invitations_search_on_the_server() {
    let server = sqlite_server().await;
    let admin = server.setup().await;
    create(
        &admin,
        "/roles",
        json!({"name": "Auditor", "permissions": ["auditLogs:view"]}),
    )
    .await;
    let research = create(&admin, "/workspace", json!({"name": "Research"})).await;
    create(&admin, "/workspace", json!({"name": "Marketing"})).await;
    for (email, name) in [("ann@example.com", "Ann"), ("bob@example.com", "Bob")] {
        let user = create(
            &admin,
            "/users",
            json!({"email": email, "name": name, "password": PASSWORD}),
        )
        .await;
        let r = admin
            .post(
                &format!("/workspace/{research}/add-user"),
                json!({"userId": user, "role": "Viewer"}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    for email in ["carol@example.com", "dave@example.com"] {
        let r = admin
            .post(
                "/invitations",
                json!({"email": email, "workspaceId": research, "role": "Viewer"}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }

    run("list_tables_search", async |b| {
        b.set_base_url(&server.base_url);
        b.sign_in_as_admin().await?;

        // Roles: the three built-in ones and Auditor; "audit" keeps Auditor alone.
        b.goto("/roles").await?;
        assert_eq!(count_once_loaded(b, "#roles tbody tr", 4).await?, 4);
        search(b, "#role-search", "#role-q", "AUDIT").await?;
        assert_eq!(count_once_loaded(b, "#roles tbody tr", 1).await?, 1);
        assert!(b.exists("#roles tr[data-name=Auditor]").await?);
        b.assert_accessible("/roles searched").await?;
        search(b, "#role-search", "#role-q", "nothing-like-it").await?;
        assert!(b.text("#no-match").await?.contains("nothing-like-it"));

        // Workspaces: "mark" keeps Marketing alone.
        b.goto("/workspaces").await?;
        assert_eq!(count_once_loaded(b, "#workspaces tbody tr", 3).await?, 3);
        search(b, "#workspace-search", "#workspace-q", "mark").await?;
        assert_eq!(count_once_loaded(b, "#workspaces tbody tr", 1).await?, 1);
        assert!(b.exists("#workspaces tr[data-name=Marketing]").await?);
        b.assert_accessible("/workspaces searched").await?;

        // A workspace's members: the Account Admin, Ann and Bob; "BOB@" keeps Bob.
        b.goto(&format!("/workspaces/{research}")).await?;
        assert_eq!(count_once_loaded(b, "#members tbody tr", 3).await?, 3);
        search(b, "#member-search", "#member-q", "BOB@").await?;
        assert_eq!(count_once_loaded(b, "#members tbody tr", 1).await?, 1);
        assert!(
            b.exists("#members tr[data-email='bob@example.com']")
                .await?
        );
        b.assert_accessible("a workspace's members searched")
            .await?;
        search(b, "#member-search", "#member-q", "zzz").await?;
        assert!(b.text("#no-match").await?.contains("zzz"));

        // Pending invitations: "carol" keeps Carol's; the users table is left whole.
        b.goto("/users").await?;
        assert_eq!(count_once_loaded(b, "#invitations tbody tr", 2).await?, 2);
        search(b, "#invitation-search", "#invitation-q", "carol").await?;
        assert_eq!(count_once_loaded(b, "#invitations tbody tr", 1).await?, 1);
        assert!(
            b.exists("#invitations tr[data-email='carol@example.com']")
                .await?
        );
        assert!(b.text("#users").await?.contains("bob@example.com"));
        b.assert_accessible("/users with the invitations searched")
            .await?;
        search(b, "#invitation-search", "#invitation-q", "erin").await?;
        assert!(
            b.text("#no-invitation-match").await?.contains("erin"),
            "no match says so"
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn members_chatflows_api_keys_and_the_audit_log_search_on_the_server() {
    let server = sqlite_server().await;
    let admin = server.setup().await;
    for (email, name) in [
        ("ann@example.com", "Ann"),
        ("emile@example.com", "Émile Zola"),
    ] {
        create(
            &admin,
            "/users",
            json!({"email": email, "name": name, "password": PASSWORD}),
        )
        .await;
    }
    for name in ["Support Bot", "Sales Bot", "Émile's Flow"] {
        create(&admin, "/chatflows", json!({"name": name, "data": {}})).await;
    }
    for name in ["CI deploy", "Nightly export"] {
        create(
            &admin,
            "/apikeys",
            json!({"name": name, "permissions": ["chatflows:view"]}),
        )
        .await;
    }

    run("more_list_tables_search", async |b| {
        b.set_base_url(&server.base_url);
        b.sign_in_as_admin().await?;

        // The organization's members: the admin, Ann and Émile; "ÉMILE" keeps Émile (by
        // name, beyond ASCII).
        b.goto("/organization/members").await?;
        assert_eq!(count_once_loaded(b, "#members tbody tr", 3).await?, 3);
        search(b, "#member-search", "#member-search-q", "ÉMILE").await?;
        assert_eq!(count_once_loaded(b, "#members tbody tr", 1).await?, 1);
        assert!(
            b.exists("#members tr[data-email='emile@example.com']")
                .await?
        );
        b.assert_accessible("/organization/members searched")
            .await?;
        search(b, "#member-search", "#member-search-q", "nobody").await?;
        assert!(b.text("#no-match").await?.contains("nobody"));

        // Chatflows: "bot" keeps the two bots, the next page link keeps the search.
        b.goto("/chatflows").await?;
        assert_eq!(count_once_loaded(b, "#items tbody tr", 3).await?, 3);
        search(b, "#item-search", "#item-search-q", "BOT").await?;
        assert_eq!(count_once_loaded(b, "#items tbody tr", 2).await?, 2);
        assert!(b.exists("#items tr[data-name='Sales Bot']").await?);
        assert!(!b.exists("#items tr[data-name=\"Émile's Flow\"]").await?);
        b.assert_accessible("/chatflows searched").await?;

        // API keys: "night" keeps the nightly key.
        b.goto("/apikeys").await?;
        assert_eq!(count_once_loaded(b, "#items tbody tr", 2).await?, 2);
        search(b, "#apikey-search", "#apikey-search-q", "night").await?;
        assert_eq!(count_once_loaded(b, "#items tbody tr", 1).await?, 1);
        assert!(b.exists("#items tr[data-name='Nightly export']").await?);
        b.assert_accessible("/apikeys searched").await?;

        // The audit log: "apikey.create" keeps the two key creations.
        b.goto("/audit-log").await?;
        b.wait_for("#audit-events").await?;
        search(b, "#filters", "#audit-q", "apikey.create").await?;
        assert_eq!(count_once_loaded(b, "#audit-events tbody tr", 2).await?, 2);
        assert_eq!(
            b.driver()
                .find_all(By::Css("#audit-events tr[data-action='apikey.create']"))
                .await?
                .len(),
            2
        );
        b.assert_accessible("/audit-log searched").await?;
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn the_share_dialog_and_the_invite_form_find_a_workspace_by_name() {
    let server = sqlite_server().await;
    let admin = server.setup().await;
    // More workspaces than a picker shows (50), and one to find among them.
    for i in 0..55 {
        create(
            &admin,
            "/workspace",
            json!({"name": format!("Team {i:02}")}),
        )
        .await;
    }
    let zebra = create(&admin, "/workspace", json!({"name": "Zebra Lab"})).await;
    let cred = create(
        &admin,
        "/credentials",
        json!({"name": "OpenAI", "credentialName": "openAIApi", "data": {"apiKey": "sk-1"}}),
    )
    .await;

    run("workspace_pickers_search", async |b| {
        b.set_base_url(&server.base_url);
        b.sign_in_as_admin().await?;

        // The share dialog offers 50 workspaces and says more match; Zebra Lab is not among
        // them until searched for.
        b.goto(&format!("/credentials/{cred}#share")).await?;
        let boxes = "#share-form input[type=checkbox]";
        assert_eq!(count_once_loaded(b, boxes, 50).await?, 50);
        assert!(b.exists("#share-more").await?);
        assert!(!b.text("#share-form").await?.contains("Zebra Lab"));
        search(b, "#share-pick", "#share-pick-input", "zebra").await?;
        assert_eq!(count_once_loaded(b, boxes, 1).await?, 1);
        assert!(b.text("#share-form").await?.contains("Zebra Lab"));
        assert!(!b.exists("#share-more").await?);
        b.assert_accessible("the share dialog searched").await?;
        b.click(boxes).await?;
        b.click("#share-form button[type=submit]").await?;
        b.wait_for("#toast").await?;
        let shares = admin.get(&format!("/credentials/{cred}/shares")).await;
        assert_eq!(shares.status, 200, "{}", shares.body);
        let ids: Vec<&str> = shares.body["workspaces"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|w| w["id"].as_str())
            .collect();
        assert_eq!(ids, [zebra.as_str()], "{}", shares.body);

        // Shared now: the dialog ticks it whatever the search, so saving keeps it.
        b.goto(&format!("/credentials/{cred}?pick=team+01#share"))
            .await?;
        assert_eq!(count_once_loaded(b, boxes, 2).await?, 2);
        assert!(
            b.exists(&format!("#share-form input[value='{zebra}']:checked"))
                .await?
        );

        // The invite form: 51 workspaces at most (the active one first), then the one searched.
        b.goto("/users#invite").await?;
        let options = "#invite-workspace option";
        assert_eq!(count_once_loaded(b, options, 51).await?, 51);
        assert!(b.exists("#invite-pick-more").await?);
        search(b, "#invite-pick", "#invite-pick-input", "ZEBRA").await?;
        assert_eq!(count_once_loaded(b, options, 1).await?, 1);
        assert_eq!(b.text(options).await?, "Zebra Lab");
        b.assert_accessible("the invite form searched").await?;
        b.fill("#invite-form input[name=email]", "erin@example.com")
            .await?;
        b.click("#invite-form button[type=submit]").await?;
        b.wait_for("#shown-value").await?;
        let invitations = admin.get("/invitations?q=erin").await;
        assert_eq!(invitations.status, 200, "{}", invitations.body);
        assert_eq!(
            invitations.body["items"][0]["workspaceId"], zebra,
            "{}",
            invitations.body
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn an_account_without_an_organization_lands_on_the_no_organization_page() {
    let server = sqlite_server().await;
    let admin = server.setup().await;
    // Ann belongs to Acme (setup's) and owns Beta; she leaves Acme, Beta is suspended, then
    // deleted: her account stays, with no organization at all.
    create(
        &admin,
        "/users",
        json!({"email": "ann@example.com", "name": "Ann", "password": PASSWORD}),
    )
    .await;
    let ann = admin.get("/users?q=ann@").await.body["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let beta = create(
        &admin,
        "/organizations",
        json!({"name": "Beta", "ownerEmail": "ann@example.com"}),
    )
    .await;
    let r = admin.delete(&format!("/organization/members/{ann}")).await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = admin
        .patch(
            &format!("/organizations/{beta}"),
            json!({"status": "suspended"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);

    run("no_organization_page", async |b| {
        b.set_base_url(&server.base_url);
        let sign_in = async |b: &Browser| -> Result {
            b.goto("/login").await?;
            b.fill("#login-form input[name=email]", "ann@example.com")
                .await?;
            b.fill("#login-form input[name=password]", PASSWORD).await?;
            b.click("#login-form button[type=submit]").await?;
            b.wait_path("/no-organization").await
        };

        // Beta suspended: the page names it, and any dashboard page leads back to it.
        sign_in(b).await?;
        assert_eq!(b.text("h1").await?, "Organization suspended");
        assert!(b.text("#unavailable-message").await?.contains("Beta"));
        b.assert_accessible("/no-organization (suspended)").await?;
        b.goto("/chatflows").await?;
        b.wait_path("/no-organization").await?;
        b.click("#sign-out").await?;
        b.wait_for("#login-form").await?;

        // Beta deleted: no organization at all; signing out is all there is to do.
        let r = admin.delete(&format!("/organizations/{beta}")).await;
        assert_eq!(r.status, 204, "{}", r.body);
        sign_in(b).await?;
        assert_eq!(b.text("h1").await?, "No organization");
        assert!(
            b.text("#unavailable-message")
                .await?
                .contains("do not belong to any organization")
        );
        assert!(!b.exists("#org-switcher").await?);
        b.assert_accessible("/no-organization (none)").await?;
        b.click("#sign-out").await?;
        b.wait_for("#login-form").await?;
        Ok(())
    })
    .await;
}
