//! Pages no browser test opened before (issue 16, item 8), each opened in a real browser:
//! what it shows, and one thing it does. The item pages (Agentflows, Assistants, Tools,
//! Variables, Document Stores, Datasets) each create an item through their dialog; the Groups
//! list creates a group; the audit log filters by action; the user edit page renames a user;
//! the Users page searches; and without SMTP the invitation dialog shows the sign-up link once.

use flowspace_e2e::thirtyfour::By;
use flowspace_e2e::{PASSWORD, run, sqlite_server};
use serde_json::json;

/// How many rows match `css` once the submitted page has replaced the old one: waits (up to
/// 15 s) for `expected` rows, then answers what is there (the caller asserts it).
async fn rows_once_loaded(
    b: &flowspace_e2e::Browser,
    css: &str,
    expected: usize,
) -> flowspace_e2e::Result<usize> {
    let start = std::time::Instant::now();
    loop {
        let n = b.driver().find_all(By::Css(css)).await?.len();
        if n == expected || start.elapsed() > std::time::Duration::from_secs(15) {
            return Ok(n);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn each_item_page_shows_its_kind_and_creates_one() {
    let server = sqlite_server().await;
    let admin = server.setup().await;
    run("each_item_page_creates_one", async |b| {
        b.set_base_url(&server.base_url);
        b.sign_in_as_admin().await?;
        for (page, api, title) in [
            ("/agentflows", "/agentflows", "Agentflows"),
            ("/assistants", "/assistants", "Assistants"),
            ("/tools", "/tools", "Tools"),
            ("/variables", "/variables", "Variables"),
            ("/document-stores", "/document-stores", "Document Stores"),
            ("/datasets", "/datasets", "Datasets"),
        ] {
            b.goto(page).await?;
            assert_eq!(b.text("h1").await?, title, "{page}");
            let name = format!("Made on {title}");
            b.click("#add-new").await?;
            b.fill("#new input[name=name]", &name).await?;
            b.click("#new button[type=submit]").await?;
            b.wait_for("#toast").await?;
            assert!(
                b.text("#items").await?.contains(&name),
                "{page} lists the new item"
            );
            let r = admin.get(api).await;
            assert_eq!(r.status, 200, "{api}: {}", r.body);
            assert_eq!(r.body["items"][0]["name"], name.as_str(), "{api}");
        }
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn the_groups_list_creates_a_group_and_the_audit_log_filters_by_action() {
    let server = sqlite_server().await;
    let admin = server.setup().await;
    run("groups_list_and_audit_log", async |b| {
        b.set_base_url(&server.base_url);
        b.sign_in_as_admin().await?;
        b.goto("/groups").await?;
        assert_eq!(b.text("h1").await?, "Groups");
        b.click("#add-new").await?;
        b.fill("#new-group input[name=name]", "Support").await?;
        b.click("#new-group button[type=submit]").await?;
        b.wait_for("#toast").await?;
        assert!(
            b.current_path().await?.starts_with("/groups/"),
            "the new group's page"
        );
        b.goto("/groups").await?;
        assert!(b.text("#groups").await?.contains("Support"));
        assert_eq!(
            admin.get("/groups").await.body["items"][0]["name"],
            "Support"
        );
        // The list's search: `%` finds only the name holding it.
        let r = admin.post("/groups", json!({"name": "Sales 100%"})).await;
        assert_eq!(r.status, 201, "{}", r.body);
        b.goto("/groups").await?;
        b.fill("#group-q", "%").await?;
        b.click("#group-search button[type=submit]").await?;
        assert_eq!(rows_once_loaded(b, "#groups tbody tr", 1).await?, 1);
        assert!(b.text("#groups").await?.contains("Sales 100%"));

        // The audit log shows the group's creation among others; filtering keeps only it.
        b.goto("/audit-log").await?;
        assert_eq!(b.text("h1").await?, "Audit Log");
        let all = b
            .driver()
            .find_all(By::Css("#audit-events tbody tr"))
            .await?
            .len();
        b.fill("#filters input[name=action]", "group.create")
            .await?;
        b.click("#filters button[type=submit]").await?;
        assert_eq!(
            rows_once_loaded(b, "#audit-events tbody tr", 2).await?,
            2,
            "only the two groups' creations"
        );
        assert!(all > 1, "more events before the filter: {all}");
        assert!(b.text("#audit-events tbody").await?.contains("Support"));
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn the_user_page_renames_and_the_users_page_searches() {
    let server = sqlite_server().await;
    let admin = server.setup().await;
    for (email, name) in [
        ("ann@example.com", "Ann"),
        ("percent@example.com", "Sale 50% Off"),
    ] {
        let r = admin
            .post(
                "/users",
                json!({"email": email, "name": name, "password": PASSWORD}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let ann = admin.get("/users?q=ann@").await.body["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    run("user_page_and_users_search", async |b| {
        b.set_base_url(&server.base_url);
        b.sign_in_as_admin().await?;
        b.goto(&format!("/users/{ann}")).await?;
        assert_eq!(b.text("h1").await?, "Ann");
        assert_eq!(b.text("#user-status").await?, "active");
        b.fill("#user-form input[name=name]", "Ann Lee").await?;
        b.click("#user-form button[type=submit]").await?;
        b.wait_for("#toast").await?;
        assert_eq!(b.text("h1").await?, "Ann Lee");
        assert_eq!(
            admin.get(&format!("/users/{ann}")).await.body["name"],
            "Ann Lee"
        );

        // Search: `%` finds only the name holding it; no match says so.
        b.goto("/users").await?;
        b.fill("#user-q", "50%").await?;
        b.click("#user-search button[type=submit]").await?;
        assert_eq!(rows_once_loaded(b, "#users tbody tr", 1).await?, 1);
        assert!(b.text("#users").await?.contains("percent@example.com"));
        b.fill("#user-q", "nobody-here").await?;
        b.click("#user-search button[type=submit]").await?;
        assert!(b.text("#no-match").await?.contains("nobody-here"));
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn without_smtp_the_invitation_link_is_shown_once_and_signs_up() {
    let server = sqlite_server().await;
    server.setup().await;
    run("invitation_link_without_smtp", async |b| {
        b.set_base_url(&server.base_url);
        b.sign_in_as_admin().await?;
        b.goto("/users").await?;
        b.click("#invite-user").await?;
        b.fill("#invite-form input[name=email]", "carol@example.com")
            .await?;
        b.click("#invite-form button[type=submit]").await?;
        let shown = b.wait_for("#shown-value").await?;
        let link = shown.value().await?.unwrap_or_default();
        assert!(link.contains("/register?token="), "{link}");
        b.click("#done").await?;
        b.wait_path("/users").await?;
        assert!(b.text("#invitations").await?.contains("carol@example.com"));
        assert!(!b.page_source().await?.contains(&link), "shown once");

        // The link works: it opens the sign-up for that email.
        let token = link.split("token=").nth(1).unwrap_or_default();
        let r = server
            .client()
            .get(&format!("/invitations/lookup?token={token}"))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["email"], "carol@example.com");
        Ok(())
    })
    .await;
}
