//! Sessions in a real browser (issue 16, item 4): the profile page lists the caller's
//! sessions, ends one and signs out everywhere else; the Account Admin signs a user out
//! everywhere from the user's page. Each is checked through the API too: the ended session's
//! token is refused.

use flowspace_e2e::{ADMIN_EMAIL, Browser, PASSWORD, Result, run, sqlite_server};
use flowspace_testkit::{Client, TestServer};
use serde_json::json;

/// The laptop's row on the profile page.
const LAPTOP: &str = "#sessions tr[data-device='Firefox on Linux']";

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

/// A session of `email` opened through the API by "Firefox on Linux".
async fn api_session(s: &TestServer, email: &str) -> Client {
    let r = s
        .client()
        .send(
            reqwest::Method::POST,
            "/auth/login",
            Some(json!({"email": email, "password": PASSWORD})),
            &[("user-agent", FIREFOX)],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    s.client()
        .with_token(r.body["accessToken"].as_str().unwrap())
}

/// The number of rows of the sessions table.
async fn rows(b: &Browser) -> Result<usize> {
    Ok(b.driver()
        .find_all(flowspace_e2e::thirtyfour::By::Css("#sessions tbody tr"))
        .await?
        .len())
}

#[tokio::test]
async fn the_profile_page_ends_a_session_and_signs_out_everywhere_else() {
    let server = sqlite_server().await;
    server.setup().await;
    run("the_profile_page_ends_sessions", async |b| {
        b.set_base_url(&server.base_url);
        b.sign_in_as_admin().await?;
        let laptop = api_session(&server, ADMIN_EMAIL).await;

        b.click("details.usermenu summary").await?;
        b.click("#profile-link").await?;
        b.wait_path("/profile").await?;
        assert_eq!(b.text("#profile-email").await?, ADMIN_EMAIL);
        // Setup's session (the API client's), this browser's and the laptop's.
        assert_eq!(rows(b).await?, 3);
        let current = b.text("#sessions tr[data-current]").await?;
        assert!(current.contains("this session"), "{current}");
        let other = b.text(LAPTOP).await?;
        assert!(other.contains("Firefox on Linux"), "{other}");
        assert!(!other.contains("this session"), "{other}");
        assert!(other.contains("127.0.0.1"), "{other}");
        b.screenshot("22-profile-sessions").await?;

        // End the laptop's session: its token is refused at once.
        b.click(&format!("{LAPTOP} button[type=submit]")).await?;
        b.wait_for("#toast").await?;
        assert!(
            b.text("#toast")
                .await?
                .contains("Session on Firefox on Linux ended"),
            "{}",
            b.text("#toast").await?
        );
        assert_eq!(laptop.get("/auth/me").await.status, 401);
        assert_eq!(rows(b).await?, 2);
        assert!(!b.exists(LAPTOP).await?);

        // Two more elsewhere; sign out everywhere else through the confirmation.
        let phone = api_session(&server, ADMIN_EMAIL).await;
        let tablet = api_session(&server, ADMIN_EMAIL).await;
        b.goto("/profile").await?;
        assert_eq!(rows(b).await?, 4);
        b.click("#sign-out-others").await?;
        b.click_text("#revoke-others button", "Sign out everywhere else")
            .await?;
        b.wait_for("#toast").await?;
        assert!(
            b.text("#toast")
                .await?
                .contains("Signed out everywhere else")
        );
        assert_eq!(phone.get("/auth/me").await.status, 401);
        assert_eq!(tablet.get("/auth/me").await.status, 401);
        assert_eq!(rows(b).await?, 1);
        assert!(!b.exists("#sign-out-others").await?, "nothing else to end");
        assert_eq!(b.current_path().await?, "/profile", "this session stays");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn the_account_admin_signs_a_user_out_everywhere_from_their_page() {
    let server = sqlite_server().await;
    let admin = server.setup().await;
    let r = admin
        .post(
            "/users",
            json!({"email": "ann@example.com", "name": "Ann", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let ann = r.id();
    run("the_account_admin_signs_a_user_out", async |b| {
        b.set_base_url(&server.base_url);
        let ann_laptop = api_session(&server, "ann@example.com").await;
        let ann_phone = api_session(&server, "ann@example.com").await;
        b.sign_in_as_admin().await?;
        b.goto(&format!("/users/{ann}")).await?;
        b.click("#sign-out-user-open").await?;
        b.click_text("#sign-out-user button", "Sign out everywhere")
            .await?;
        b.wait_for("#toast").await?;
        assert!(
            b.text("#toast")
                .await?
                .contains("Ann is signed out everywhere"),
            "{}",
            b.text("#toast").await?
        );
        assert_eq!(ann_laptop.get("/auth/me").await.status, 401);
        assert_eq!(ann_phone.get("/auth/me").await.status, 401);
        // Still active: the page says so, and Ann signs in again.
        assert_eq!(b.text("#user-status").await?, "active");
        let again = api_session(&server, "ann@example.com").await;
        assert_eq!(again.get("/auth/me").await.status, 200);
        Ok(())
    })
    .await;
}
