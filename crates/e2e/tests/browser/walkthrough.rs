//! The seed's walkthrough, in a real browser and nothing else: first-run setup, a workspace,
//! an editor role and a view-only role, an invitation read from a real SMTP server, sign-up
//! through its link, switching workspaces, a shared credential seen read-only, login
//! activity, unlinking and deleting a workspace. The screenshots it takes are the ones in
//! `docs/screenshots/` (refreshed with `UPDATE_SCREENSHOTS=1`).

use flowspace_e2e::smtp::{SmtpSink, token_of};
use flowspace_e2e::thirtyfour::By;
use flowspace_e2e::{ADMIN_EMAIL, Backend, Browser, PASSWORD, Result, TestServer, run};
use std::time::{Duration, Instant};

const BOB: &str = "bob@acme.test";
const BOB_PASSWORD: &str = "bob's long passphrase 42";

/// Polls `check` until it holds (pages reload after every form).
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

async fn at(b: &Browser, path: &str) -> Result {
    eventually(b, &format!("the page {path}"), async |b| {
        Ok(b.current_path().await? == path)
    })
    .await
}

async fn toast(b: &Browser, text: &str) -> Result {
    eventually(b, &format!("a toast saying {text:?}"), async |b| {
        Ok(b.exists("#toast").await? && b.text("#toast").await?.contains(text))
    })
    .await
}

async fn active_workspace(b: &Browser) -> Result<String> {
    b.text("#workspace-select option:checked").await
}

async fn sign_in(b: &Browser, email: &str, password: &str) -> Result {
    b.goto("/login").await?;
    b.fill("#login-form input[name=email]", email).await?;
    b.fill("#login-form input[name=password]", password).await?;
    b.click("#login-form button[type=submit]").await?;
    eventually(b, "signed in", async |b| {
        b.exists("#workspace-select").await
    })
    .await
}

async fn sign_out(b: &Browser) -> Result {
    b.click("details.usermenu summary").await?;
    b.click("#sign-out").await?;
    at(b, "/login").await
}

async fn enabled(b: &Browser, css: &str) -> Result<bool> {
    Ok(b.driver().find(By::Css(css)).await?.is_enabled().await?)
}

#[tokio::test]
async fn the_seed_walkthrough_in_a_browser() {
    let sink = SmtpSink::start().await;
    let server = TestServer::start_with(&Backend::Sqlite, |c| {
        c.smtp_host = Some("127.0.0.1".into());
        c.smtp_port = Some(sink.port);
        c.smtp_secure = Some("none".into());
        c.sender_email = Some("flowspace@example.com".into());
    })
    .await;

    run("the_seed_walkthrough_in_a_browser", async |b| {
        b.set_base_url(&server.base_url);

        // First run: everything leads to setup.
        b.goto("/").await?;
        at(b, "/setup").await?;
        b.screenshot("01-setup").await?;
        b.fill("input[name=organizationName]", "Acme").await?;
        b.fill("input[name=name]", "Ada Admin").await?;
        b.fill("input[name=email]", ADMIN_EMAIL).await?;
        b.fill("input[name=password]", PASSWORD).await?;
        b.click("#setup-form button[type=submit]").await?;
        at(b, "/chatflows").await?;
        assert!(
            b.exists("#admin-nav").await?,
            "the Account Admin sees management"
        );
        assert_eq!(active_workspace(b).await?, "Default");

        // Two workspaces.
        for name in ["Workspace 1", "Workspace 2"] {
            b.goto("/workspaces").await?;
            b.click("#add-new").await?;
            b.fill("#new-workspace input[name=name]", name).await?;
            b.click("#new-workspace button[type=submit]").await?;
            toast(b, "Workspace created").await?;
            assert!(b.text("#members").await?.contains("Ada Admin"));
        }
        b.screenshot("03-workspace").await?;
        let ws2_path = b.current_path().await?;

        // An editor role (everything) and a view-only role, on the grid.
        b.goto("/roles/new").await?;
        b.fill("#role-form input[name=name]", "Editor").await?;
        for cb in b
            .driver()
            .find_all(By::Css("#grid input[type=checkbox]"))
            .await?
        {
            if !cb.is_selected().await? {
                cb.click().await?;
            }
        }
        b.click("#role-form button[type=submit]").await?;
        at(b, "/roles").await?;
        b.goto("/roles/new").await?;
        b.fill("#role-form input[name=name]", "View only").await?;
        // Ticking an action ticks its view (the script); untick it to check both ways.
        b.click("#grid input[value='chatflows:create']").await?;
        assert!(
            b.driver()
                .find(By::Css("#grid input[value='chatflows:view']"))
                .await?
                .is_selected()
                .await?,
            "ticking create ticks view"
        );
        b.click("#grid input[value='chatflows:create']").await?;
        for cb in b
            .driver()
            .find_all(By::Css("#grid input[value$=':view']"))
            .await?
        {
            if !cb.is_selected().await? {
                cb.click().await?;
            }
        }
        b.screenshot("04-role-grid").await?;
        b.click("#role-form button[type=submit]").await?;
        at(b, "/roles").await?;
        let roles = b.text("main").await?;
        assert!(
            roles.contains("Editor") && roles.contains("View only"),
            "{roles}"
        );
        b.screenshot("05-roles").await?;

        // Invite Bob into Workspace 1 as Editor; the mail arrives over SMTP.
        b.goto("/users").await?;
        b.click("#invite-user").await?;
        b.fill("#invite-form input[name=email]", BOB).await?;
        b.select("#invite-form select[name=workspaceId]", "Workspace 1")
            .await?;
        b.select("#invite-form select[name=role]", "Editor").await?;
        b.screenshot("06-invite").await?;
        b.click("#invite-form button[type=submit]").await?;
        toast(b, "Invitation sent").await?;
        let mail = sink.next_message(Duration::from_secs(10)).await;
        let link = mail
            .text_link("http")
            .ok_or("no link in the invitation mail")?;
        let token = token_of(&link).ok_or("no token in the link")?;
        sign_out(b).await?;

        // Bob signs up from the link and lands in Workspace 1, without management.
        b.goto(&format!("/register?token={token}")).await?;
        let email = b
            .driver()
            .find(By::Css("#register-email"))
            .await?
            .value()
            .await?
            .unwrap_or_default();
        assert_eq!(email, BOB, "the invited email is shown");
        b.screenshot("07-register").await?;
        b.fill("#register-form input[name=name]", "Bob Builder")
            .await?;
        b.fill("#register-form input[name=password]", BOB_PASSWORD)
            .await?;
        b.click("#register-form button[type=submit]").await?;
        at(b, "/chatflows").await?;
        assert_eq!(active_workspace(b).await?, "Workspace 1");
        assert!(!b.exists("#admin-nav").await?, "no management for Bob");
        b.click("#add-new").await?;
        b.fill("#new input[name=name]", "Chatflow1").await?;
        b.click("#new button[type=submit]").await?;
        toast(b, "Created").await?;
        assert!(b.text("#items").await?.contains("Chatflow1"));
        b.screenshot("08-chatflows").await?;
        sign_out(b).await?;

        // The Account Admin adds Bob to Workspace 2, view only (he has an account now), and
        // shares a credential of Workspace 1 with Workspace 2.
        sign_in(b, ADMIN_EMAIL, PASSWORD).await?;
        b.goto("/users").await?;
        b.click("#invite-user").await?;
        b.fill("#invite-form input[name=email]", BOB).await?;
        b.select("#invite-form select[name=workspaceId]", "Workspace 2")
            .await?;
        b.select("#invite-form select[name=role]", "View only")
            .await?;
        b.click("#invite-form button[type=submit]").await?;
        at(b, "/users").await?;
        eventually(b, "Bob's two roles on the Users page", async |b| {
            let t = b.text("#users").await?;
            Ok(t.contains("Workspace 1: Editor") && t.contains("Workspace 2: View only"))
        })
        .await?;
        b.screenshot("09-users").await?;

        b.select("#workspace-select", "Workspace 1").await?;
        eventually(b, "Workspace 1 active", async |b| {
            Ok(active_workspace(b).await? == "Workspace 1")
        })
        .await?;
        b.goto("/credentials").await?;
        b.click("#add-new").await?;
        b.fill("#new input[name=name]", "OpenAI key").await?;
        b.fill("#new input[name=credentialName]", "openAIApi")
            .await?;
        b.fill("#new textarea", r#"{"apiKey": "sk-test-123"}"#)
            .await?;
        b.click("#new button[type=submit]").await?;
        toast(b, "Created").await?;
        b.click_text("#items a", "OpenAI key").await?;
        b.click("#open-share").await?;
        b.screenshot("10-share").await?;
        b.click_text("#share-form label", "Workspace 2").await?;
        b.click("#share-form button[type=submit]").await?;
        toast(b, "Sharing saved").await?;
        sign_out(b).await?;

        // Bob switches to Workspace 2: no Add New, no Chatflow1, the credential read-only.
        sign_in(b, BOB, BOB_PASSWORD).await?;
        b.goto("/chatflows").await?;
        b.select("#workspace-select", "Workspace 2").await?;
        eventually(b, "Workspace 2 active", async |b| {
            Ok(active_workspace(b).await? == "Workspace 2")
        })
        .await?;
        at(b, "/chatflows").await?;
        assert!(!b.exists("#add-new").await?, "view only: no Add New");
        assert!(!b.page_source().await?.contains("Chatflow1"), "isolated");
        b.screenshot("11-view-only").await?;
        b.select("#workspace-select", "Workspace 1").await?;
        eventually(b, "Workspace 1 active", async |b| {
            Ok(active_workspace(b).await? == "Workspace 1")
        })
        .await?;
        assert!(
            b.exists("#add-new").await?,
            "an editor again in Workspace 1"
        );
        assert!(b.text("#items").await?.contains("Chatflow1"));
        b.select("#workspace-select", "Workspace 2").await?;
        eventually(b, "Workspace 2 active", async |b| {
            Ok(active_workspace(b).await? == "Workspace 2")
        })
        .await?;
        b.goto("/credentials").await?;
        let row = b.text("#items").await?;
        assert!(row.contains("Shared from Workspace 1"), "{row}");
        assert!(!b.exists("#items a.btn").await?, "no edit, share or delete");
        b.screenshot("12-shared-credential").await?;
        b.click_text("#items a", "OpenAI key").await?;
        assert!(b.exists("#shared-badge").await?);
        assert!(!b.exists("#edit-form").await?, "read-only");
        sign_out(b).await?;

        // Login activity shows Bob's sign-ins and sign-outs.
        sign_in(b, ADMIN_EMAIL, PASSWORD).await?;
        b.goto("/login-activity").await?;
        let log = b.text("main").await?;
        assert!(log.contains(BOB), "{log}");
        b.screenshot("13-login-activity").await?;
        b.goto("/audit-log").await?;
        b.screenshot("14-audit-log").await?;

        // Deleting Workspace 2: refused while Bob is a member, possible once he is unlinked.
        b.goto(&ws2_path).await?;
        b.click("#open-delete").await?;
        assert!(
            !enabled(b, "#confirm-delete").await?,
            "disabled while members remain"
        );
        b.goto(&ws2_path).await?;
        b.click(&format!("tr[data-email='{BOB}'] button.danger"))
            .await?;
        toast(b, "unlinked").await?;
        b.click("#open-delete").await?;
        assert!(
            b.text("#delete-warning")
                .await?
                .to_lowercase()
                .contains("every chatflow")
        );
        b.screenshot("15-delete-workspace").await?;
        assert!(enabled(b, "#confirm-delete").await?);
        b.click("#confirm-delete").await?;
        at(b, "/workspaces").await?;
        let list = b.text("#workspaces").await?;
        assert!(
            list.contains("Workspace 1") && !list.contains("Workspace 2"),
            "{list}"
        );
        b.screenshot("16-workspaces").await?;
        Ok(())
    })
    .await;
}
