//! Single pages in a real browser: API keys shown once, a form stripped of its CSRF token,
//! the session kept alive from the refresh cookie, and the phone layout.

use flowspace_e2e::thirtyfour::By;
use flowspace_e2e::{ADMIN_EMAIL, PASSWORD, run, sqlite_server};
use std::time::Duration;

#[tokio::test]
async fn an_api_key_is_shown_once_and_holds_only_what_was_ticked() {
    let server = sqlite_server().await;
    let admin = server.setup().await;
    run("an_api_key_is_shown_once", async |b| {
        b.set_base_url(&server.base_url);
        b.sign_in_as_admin().await?;
        b.goto("/apikeys").await?;
        b.click("#add-new").await?;
        b.fill("#new input[name=name]", "CI pipeline").await?;
        b.click("#new input[value='chatflows:view']").await?;
        b.click("#new button[type=submit]").await?;
        let shown = b.wait_for("#shown-value").await?;
        let key = shown.value().await?.unwrap_or_default();
        assert!(key.starts_with("fsk_"), "{key}");
        assert!(b.exists("button[data-copy]").await?, "a copy button");
        b.screenshot("17-api-key-once").await?;
        b.click("#done").await?;
        b.wait_path("/apikeys").await?;
        assert!(b.text("#items").await?.contains("CI pipeline"));
        assert!(!b.page_source().await?.contains(&key), "never shown again");

        let client = admin.with_token(&key);
        assert_eq!(client.get("/chatflows").await.status, 200);
        let denied = client
            .post("/chatflows", serde_json::json!({"name": "x"}))
            .await;
        assert_eq!(denied.status, 403, "only chatflows:view was ticked");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn a_form_stripped_of_its_csrf_token_is_refused() {
    let server = sqlite_server().await;
    let admin = server.setup().await;
    run("a_form_stripped_of_its_csrf_token_is_refused", async |b| {
        b.set_base_url(&server.base_url);
        b.sign_in_as_admin().await?;
        b.click("#add-new").await?;
        b.fill("#new input[name=name]", "Forged").await?;
        b.driver()
            .execute(
                "document.querySelector('#new input[name=_csrf]').remove()",
                Vec::new(),
            )
            .await?;
        b.click("#new button[type=submit]").await?;
        b.wait_for("#error-message").await?;
        assert!(b.text("h1").await?.contains("Request refused"));
        assert_eq!(
            admin.get("/chatflows").await.body["items"],
            serde_json::json!([])
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn the_session_outlives_its_access_token_and_ends_at_sign_out() {
    let server = sqlite_server().await;
    server.setup().await;
    run("the_session_outlives_its_access_token", async |b| {
        b.set_base_url(&server.base_url);
        b.sign_in_as_admin().await?;
        // The access cookie is gone (as when it expires): the page refreshes it.
        b.driver().delete_cookie("fs_access").await?;
        b.goto("/credentials").await?;
        assert_eq!(b.current_path().await?, "/credentials");
        assert!(b.driver().get_named_cookie("fs_access").await.is_ok());

        b.click("details.usermenu summary").await?;
        b.click("#sign-out").await?;
        b.wait_path("/login").await?;
        assert!(b.text("#toast").await?.contains("signed out"));
        b.goto("/credentials").await?;
        b.wait_path("/login").await?;
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn pages_fit_a_phone() {
    let server = sqlite_server().await;
    server.setup().await;
    run("pages_fit_a_phone", async |b| {
        b.set_base_url(&server.base_url);
        b.set_window_size(390, 844).await?;
        b.sign_in_as_admin().await?;
        let burger = b.driver().find(By::Css(".hamburger")).await?;
        assert!(
            burger.is_displayed().await?,
            "the menu button shows on a phone"
        );
        let width: i64 = b
            .driver()
            .execute("return document.documentElement.scrollWidth", Vec::new())
            .await?
            .convert()?;
        assert!(width <= 390, "no sideways scrolling: {width}px");
        b.screenshot("18-phone").await?;
        burger.click().await?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        b.screenshot("19-phone-menu").await?;
        b.click_text(".sidebar a", "Credentials").await?;
        b.wait_path("/credentials").await?;
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn a_forgotten_password_is_reset_from_the_emailed_link() {
    use flowspace_e2e::smtp::{SmtpSink, token_of};
    use flowspace_e2e::{Backend, TestServer};
    let sink = SmtpSink::start().await;
    let server = TestServer::start_with(&Backend::Sqlite, |c| {
        c.smtp_host = Some("127.0.0.1".into());
        c.smtp_port = Some(sink.port);
        c.smtp_secure = Some("none".into());
        c.sender_email = Some("flowspace@example.com".into());
    })
    .await;
    server.setup().await;
    let new_password = "a brand new passphrase 7";
    run("a_forgotten_password_is_reset", async |b| {
        b.set_base_url(&server.base_url);
        b.goto("/login").await?;
        b.click_text("a", "Forgot your password?").await?;
        b.wait_path("/forgot-password").await?;
        b.fill("#forgot-form input[name=email]", ADMIN_EMAIL)
            .await?;
        b.click("#forgot-form button[type=submit]").await?;
        b.wait_path("/login").await?;
        assert!(b.text("#toast").await?.contains("reset link"));
        let mail = sink.next_message(Duration::from_secs(10)).await;
        let link = mail.text_link("http").ok_or("no link in the mail")?;
        assert!(link.contains("/reset-password?token="), "{link}");
        let token = token_of(&link).ok_or("no token")?;
        b.goto(&format!("/reset-password?token={token}")).await?;
        b.fill("#reset-form input[name=password]", new_password)
            .await?;
        b.click("#reset-form button[type=submit]").await?;
        b.wait_path("/login").await?;
        assert!(b.text("#toast").await?.contains("password is changed"));
        // The old password is refused, with the reason on the page; the new one works.
        b.fill("#login-form input[name=email]", ADMIN_EMAIL).await?;
        b.fill("#login-form input[name=password]", PASSWORD).await?;
        b.click("#login-form button[type=submit]").await?;
        b.wait_for("#toast").await?;
        assert_eq!(b.current_path().await?, "/login");
        assert!(
            b.text("#toast")
                .await?
                .contains("invalid email or password")
        );
        b.fill("#login-form input[name=email]", ADMIN_EMAIL).await?;
        b.fill("#login-form input[name=password]", new_password)
            .await?;
        b.click("#login-form button[type=submit]").await?;
        b.wait_path("/chatflows").await?;
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn the_add_member_picker_searches_on_the_server() {
    let server = sqlite_server().await;
    let admin = server.setup().await;
    let ws = admin
        .post("/workspace", serde_json::json!({"name": "Picking"}))
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let zelda = more_users_than_a_picker_shows(&admin).await;
    run("the_add_member_picker_searches_on_the_server", async |b| {
        b.set_base_url(&server.base_url);
        b.sign_in_as_admin().await?;
        b.goto(&format!("/workspaces/{ws}")).await?;
        let options = b
            .wait_for("#pick-select")
            .await?
            .find_all(By::Css("option"))
            .await?;
        assert_eq!(options.len(), 50, "one page of users, not every user");
        assert!(!b.text("#pick-select").await?.contains("Zelda"));
        assert!(b.exists("#pick-more").await?);
        b.fill("#pick-input", "zeLDA").await?;
        b.click("#pick-user button[type=submit]").await?;
        let mut found = false;
        for _ in 0..100 {
            if b.exists("#pick-select").await? && b.text("#pick-select").await?.contains("Zelda") {
                found = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(found, "the search finds the user past the first page");
        let options = b
            .wait_for("#pick-select")
            .await?
            .find_all(By::Css("option"))
            .await?;
        assert_eq!(options.len(), 1, "only what matches");
        b.select("#pick-select", &zelda).await?;
        b.click("#add-member button[type=submit]").await?;
        b.wait_for("#members").await?;
        let mut added = false;
        for _ in 0..100 {
            if b.text("#members").await?.contains("Zelda Last") {
                added = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(added, "the member list shows the added user");
        // A search nobody matches says so.
        b.fill("#pick-input", "nobody-is-called-this").await?;
        b.click("#pick-user button[type=submit]").await?;
        b.wait_for("#pick-none").await?;
        Ok(())
    })
    .await;
    let members = admin.get(&format!("/workspace/{ws}/users?q=zelda")).await;
    assert_eq!(
        members.body["items"].as_array().unwrap().len(),
        1,
        "{}",
        members.body
    );
}

/// More users than a picker shows at once (55, then "Zelda Last", the newest, whom the first
/// page does not hold): Zelda's id.
async fn more_users_than_a_picker_shows(admin: &flowspace_testkit::Client) -> String {
    let mut zelda = String::new();
    for i in 0..56 {
        let (email, name) = if i == 55 {
            ("zelda@example.com".to_string(), "Zelda Last".to_string())
        } else {
            (format!("user{i:02}@example.com"), format!("User {i:02}"))
        };
        let r = admin
            .post(
                "/users",
                serde_json::json!({"email": email, "name": name, "password": PASSWORD}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        zelda = r.body["id"].as_str().unwrap().to_string();
    }
    zelda
}

#[tokio::test]
async fn the_group_member_picker_searches_on_the_server() {
    let server = sqlite_server().await;
    let admin = server.setup().await;
    let zelda = more_users_than_a_picker_shows(&admin).await;
    let group = admin
        .post("/groups", serde_json::json!({"name": "Pickers"}))
        .await;
    assert_eq!(group.status, 201, "{}", group.body);
    let group = group.body["id"].as_str().unwrap().to_string();
    run(
        "the_group_member_picker_searches_on_the_server",
        async |b| {
            b.set_base_url(&server.base_url);
            b.sign_in_as_admin().await?;
            b.goto(&format!("/groups/{group}")).await?;
            let boxes = b
                .wait_for("#group-members")
                .await?
                .find_all(By::Css("input[type=checkbox]"))
                .await?;
            assert_eq!(boxes.len(), 50, "one page of users, not every user");
            assert!(!b.text("#group-members").await?.contains("Zelda"));
            assert!(b.exists("#pick-more").await?);
            b.fill("#pick-input", "ZELDA").await?;
            b.click("#pick-user button[type=submit]").await?;
            let tick = format!("#group-members input[value='{zelda}']");
            b.click(&tick).await?;
            b.click("#group-form button[type=submit]").await?;
            let mut saved = false;
            for _ in 0..100 {
                if b.exists("#toast").await? && b.text("#toast").await?.contains("Group saved") {
                    saved = true;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            assert!(saved, "the group is saved");
            // Back on the page without a search, the member is listed, ticked.
            let checked = b
                .wait_for(&tick)
                .await?
                .prop("checked")
                .await?
                .unwrap_or_default();
            assert_eq!(checked, "true");
            Ok(())
        },
    )
    .await;
    let g = admin.get(&format!("/groups/{group}")).await;
    let members: Vec<&str> = g.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["userId"].as_str().unwrap())
        .collect();
    assert_eq!(members, vec![zelda.as_str()], "{}", g.body);
}
