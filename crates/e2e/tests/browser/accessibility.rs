//! Accessibility (issue 16, item 9), in a real browser: axe-core (pinned in `tests/axe-core`),
//! injected into every dashboard page and into every dialog opened on it, finds no serious or
//! critical violation, for the people who see each page (before sign-in, the Account Admin,
//! a view-only member, two-factor sign-in); and the main dialogs open, work and close with the
//! keyboard alone, the focus going into each dialog and back to what opened it.

use flowspace_e2e::{ADMIN_EMAIL, Browser, Key, PASSWORD, Result, run, sqlite_server};
use serde_json::json;
use std::time::{Duration, Instant};
use totp_rs::{Algorithm, Secret, TOTP};

/// Every page and dialog checked, and every violation found: a test reports them all at once.
#[derive(Default)]
struct Audit {
    checked: Vec<String>,
    problems: Vec<String>,
}

impl Audit {
    /// Runs axe-core on what the browser shows now, noting it as `what`.
    async fn check(&mut self, b: &Browser, what: &str) -> Result {
        for v in b.accessibility_violations().await? {
            self.problems.push(format!("{what}: {v}"));
        }
        self.checked.push(what.to_string());
        Ok(())
    }

    /// Opens `path`, checks it, then opens each of its `dialogs` (by the fragment that shows
    /// it) and checks the page with that dialog open.
    async fn page(&mut self, b: &Browser, path: &str, dialogs: &[String]) -> Result {
        b.goto(path).await?;
        b.wait_for("h1").await?;
        self.check(b, path).await?;
        for d in dialogs {
            b.goto(&format!("{path}#{d}")).await?;
            shown(b, &format!("#{d}.modal")).await?;
            self.check(b, &format!("{path}#{d}")).await?;
        }
        Ok(())
    }

    /// Fails with every violation found, unless there is none; also fails if fewer than
    /// `at_least` pages and dialogs were checked (a sweep that lost its pages proves nothing).
    fn finish(self, at_least: usize) -> Result {
        assert!(
            self.checked.len() >= at_least,
            "only {} pages and dialogs were checked: {:?}",
            self.checked.len(),
            self.checked
        );
        if self.problems.is_empty() {
            return Ok(());
        }
        Err(format!(
            "{} serious or critical accessibility violation(s) on {} pages and dialogs checked:\n  {}",
            self.problems.len(),
            self.checked.len(),
            self.problems.join("\n  ")
        )
        .into())
    }
}

/// Waits until the element matching `css` is displayed.
async fn shown(b: &Browser, css: &str) -> Result {
    let start = Instant::now();
    loop {
        if b.wait_for(css).await?.is_displayed().await? {
            return Ok(());
        }
        if start.elapsed() > Duration::from_secs(10) {
            return Err(format!("{css} never showed").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until no element matching `css` is displayed.
async fn hidden(b: &Browser, css: &str) -> Result {
    let start = Instant::now();
    loop {
        if !b.wait_for(css).await?.is_displayed().await? {
            return Ok(());
        }
        if start.elapsed() > Duration::from_secs(10) {
            return Err(format!("{css} never closed").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls `check` until it holds.
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

async fn sign_in(b: &Browser, email: &str, password: &str) -> Result {
    b.goto("/login").await?;
    b.fill("#login-form input[name=email]", email).await?;
    b.fill("#login-form input[name=password]", password).await?;
    b.click("#login-form button[type=submit]").await
}

async fn sign_out(b: &Browser) -> Result {
    b.click("details.usermenu summary").await?;
    b.click("#sign-out").await?;
    eventually(b, "signed out", async |b| b.exists("#login-form").await).await
}

/// Creates through the API and answers the new id.
async fn create(admin: &flowspace_e2e::Client, path: &str, body: serde_json::Value) -> String {
    let r = admin.post(path, body).await;
    assert_eq!(r.status, 201, "POST {path}: {}", r.body);
    r.id()
}

fn dialogs(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

/// The pages before sign-in, the first-run setup, the two-factor pages (set-up, recovery
/// codes, the code page), the profile, and what a view-only member sees (a read-only item,
/// a shared credential, a page refused to them).
#[tokio::test]
async fn public_two_factor_and_member_pages_pass_axe() {
    let server = sqlite_server().await;
    run("public_two_factor_and_member_pages_pass_axe", async |b| {
        b.set_base_url(&server.base_url);
        let mut audit = Audit::default();
        audit.page(b, "/setup", &[]).await?;
        let admin = server.setup().await;
        let ws = admin.get("/auth/me").await.body["activeWorkspace"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(!ws.is_empty(), "an active workspace");
        let inv = admin
            .post(
                "/invitations",
                json!({"email": "newcomer@example.com", "workspaceId": ws, "role": "Viewer"}),
            )
            .await;
        assert_eq!(inv.status, 201, "{}", inv.body);
        let link = inv.body["link"].as_str().unwrap_or_default().to_string();
        let token = link.split("token=").nth(1).unwrap_or_default().to_string();
        assert!(!token.is_empty(), "an invitation link: {}", inv.body);
        for path in [
            "/login".to_string(),
            "/forgot-password".to_string(),
            "/reset-password?token=not-a-real-token".to_string(),
            format!("/register?token={token}"),
            "/no-such-page".to_string(),
        ] {
            audit.page(b, &path, &[]).await?;
        }

        // A view-only member: a read-only item, a credential shared into their workspace,
        // and a page that is refused to them.
        let flow = create(&admin, "/chatflows", json!({"name": "Support bot"})).await;
        let other = create(&admin, "/workspace", json!({"name": "Lab"})).await;
        let cred = create(
            &admin.in_workspace(&other),
            "/credentials",
            json!({"name": "OpenAI", "credentialName": "openAIApi", "data": {"apiKey": "sk-1"}}),
        )
        .await;
        let r = admin
            .in_workspace(&other)
            .put(
                &format!("/credentials/{cred}/shares"),
                json!({"workspaceIds": [ws]}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let member = "viewer@example.com";
        let uid = create(
            &admin,
            "/users",
            json!({"email": member, "name": "Vera Viewer", "password": PASSWORD}),
        )
        .await;
        let r = admin
            .post(
                &format!("/workspace/{ws}/add-user"),
                json!({"userId": uid, "role": "Viewer"}),
            )
            .await;
        assert!(r.status < 300, "{}", r.body);
        sign_in(b, member, PASSWORD).await?;
        b.wait_for("#workspace-select").await?;
        for path in [
            "/users".to_string(),
            "/chatflows".to_string(),
            format!("/chatflows/{flow}"),
            "/credentials".to_string(),
            format!("/credentials/{cred}"),
            "/workspaces".to_string(),
        ] {
            audit.page(b, &path, &[]).await?;
        }
        sign_out(b).await?;

        // Two-factor sign-in: set up from the profile, the recovery codes, the code page.
        sign_in(b, ADMIN_EMAIL, PASSWORD).await?;
        b.wait_for("#workspace-select").await?;
        audit.page(b, "/profile", &[]).await?;
        b.fill("#mfa-enroll-form input[name=password]", PASSWORD)
            .await?;
        b.click("#mfa-enroll").await?;
        let key = b
            .wait_for("#totp-secret")
            .await?
            .value()
            .await?
            .unwrap_or_default();
        audit.check(b, "two-factor set-up").await?;
        let secret = Secret::Encoded(key)
            .to_bytes()
            .map_err(|e| format!("{e:?}"))?;
        let totp = TOTP::new(Algorithm::SHA1, 6, 1, 30, secret, None, String::new())
            .map_err(|e| format!("{e:?}"))?;
        b.fill("#mfa-activate-code", &totp.generate_current()?)
            .await?;
        b.click("#mfa-activate").await?;
        b.wait_for("#recovery-codes").await?;
        audit.check(b, "recovery codes").await?;
        b.click("#done").await?;
        b.wait_for("#mfa-status").await?;
        sign_out(b).await?;
        sign_in(b, ADMIN_EMAIL, PASSWORD).await?;
        b.wait_for("#mfa-code-form").await?;
        audit.check(b, "/login/mfa").await?;
        b.click("#use-recovery summary").await?;
        audit
            .check(b, "/login/mfa with the recovery code open")
            .await?;
        audit.finish(17)
    })
    .await;
}

/// Every page of the Account Admin (who sees them all), with every dialog each one has.
#[tokio::test]
async fn every_dashboard_page_and_dialog_passes_axe() {
    let server = sqlite_server().await;
    let admin = server.setup().await;
    let mut items = Vec::new();
    for page in [
        "chatflows",
        "agentflows",
        "assistants",
        "tools",
        "variables",
        "document-stores",
        "datasets",
    ] {
        let body = if page == "variables" {
            json!({"name": "region", "data": {"type": "static", "value": "eu"}})
        } else {
            json!({"name": format!("First of {page}")})
        };
        items.push((page, create(&admin, &format!("/{page}"), body).await));
    }
    let cred = create(
        &admin,
        "/credentials",
        json!({"name": "OpenAI", "credentialName": "openAIApi", "data": {"apiKey": "sk-1"}}),
    )
    .await;
    let key = create(
        &admin,
        "/apikeys",
        json!({"name": "CI", "permissions": ["chatflows:view"]}),
    )
    .await;
    let ws = create(&admin, "/workspace", json!({"name": "Research"})).await;
    let user = create(
        &admin,
        "/users",
        json!({"email": "ann@example.com", "name": "Ann", "password": PASSWORD}),
    )
    .await;
    let r = admin
        .post(
            &format!("/workspace/{ws}/add-user"),
            json!({"userId": user, "role": "Viewer"}),
        )
        .await;
    assert!(r.status < 300, "{}", r.body);
    let role = create(
        &admin,
        "/roles",
        json!({"name": "Editor", "permissions": ["chatflows:view", "chatflows:update"]}),
    )
    .await;
    let group = create(&admin, "/groups", json!({"name": "Support"})).await;
    let r = admin
        .post(
            "/invitations",
            json!({"email": "carol@example.com", "workspaceId": ws, "role": "Viewer"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let invitation = r.body["invitation"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let org = create(
        &admin,
        "/organizations",
        json!({"name": "Beta", "ownerEmail": ADMIN_EMAIL}),
    )
    .await;
    // A single sign-on provider (its issuer does not answer: the pages do not call it), with
    // a group mapping, so that its row and its page are checked.
    let sso = create(
        &admin,
        "/organization/sso/providers",
        json!({"displayName": "Acme IdP", "issuer": "http://127.0.0.1:9", "clientId": "fs",
               "clientSecret": "fs-secret", "allowedDomains": ["example.com"],
               "jit": {"enabled": true, "workspaceId": ws, "role": "Viewer"},
               "groupMappings": [{"group": "eng", "workspaceId": ws, "role": "Developer"}]}),
    )
    .await;

    run("every_dashboard_page_and_dialog_passes_axe", async |b| {
        b.set_base_url(&server.base_url);
        b.sign_in_as_admin().await?;
        let mut audit = Audit::default();
        for (page, id) in &items {
            let path = format!("/{page}");
            audit
                .page(b, &path, &dialogs(&["new", &format!("del-{id}")]))
                .await?;
            audit.page(b, &format!("{path}/{id}"), &[]).await?;
        }
        let pages: Vec<(String, Vec<String>)> = vec![
            ("/credentials".into(), dialogs(&["new"])),
            (
                format!("/credentials/{cred}"),
                dialogs(&["share", "delete"]),
            ),
            (
                "/apikeys".into(),
                dialogs(&["new", &format!("edit-{key}"), &format!("del-{key}")]),
            ),
            ("/workspaces".into(), dialogs(&["new"])),
            (format!("/workspaces/{ws}"), dialogs(&["delete"])),
            (
                "/users".into(),
                dialogs(&["invite", &format!("revoke-{invitation}")]),
            ),
            (format!("/users/{user}"), dialogs(&["sign-out-user"])),
            ("/roles".into(), dialogs(&[&format!("del-{role}")])),
            ("/roles/new".into(), vec![]),
            (format!("/roles/{role}"), vec![]),
            ("/groups".into(), dialogs(&["new"])),
            (format!("/groups/{group}"), dialogs(&["delete"])),
            ("/login-activity".into(), vec![]),
            ("/audit-log".into(), vec![]),
            ("/audit-log/verify".into(), vec![]),
            ("/organization".into(), vec![]),
            (
                "/organization/members".into(),
                dialogs(&[&format!("remove-{user}")]),
            ),
            (
                "/organization/sso".into(),
                dialogs(&["new", &format!("delete-{sso}")]),
            ),
            (format!("/organization/sso/providers/{sso}"), vec![]),
            (
                "/organizations".into(),
                dialogs(&["new", &format!("delete-{org}")]),
            ),
            ("/profile".into(), vec![]),
            ("/export".into(), vec![]),
            ("/import".into(), vec![]),
            ("/move-flows".into(), vec![]),
        ];
        for (path, ds) in &pages {
            audit.page(b, path, ds).await?;
        }

        // The pages made from a form's answer: an API key shown once, the import's preview
        // and result, the bulk move's preview and report.
        b.goto("/apikeys#new").await?;
        b.fill("#new input[name=name]", "Deploy").await?;
        b.click("#new input[value='chatflows:view']").await?;
        b.click("#new button[type=submit]").await?;
        b.wait_for("#shown-value").await?;
        audit.check(b, "a new API key, shown once").await?;

        let bundle = admin.post("/export", json!({"kinds": ["chatflows"]})).await;
        assert_eq!(bundle.status, 200, "{}", bundle.body);
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("flowspace-export.json");
        std::fs::write(&file, bundle.text.as_bytes())?;
        b.goto("/import").await?;
        b.wait_for("#bundle-file")
            .await?
            .send_keys(file.to_string_lossy().as_ref())
            .await?;
        b.click("#preview").await?;
        b.wait_for("#preview-entries").await?;
        audit.check(b, "the import preview").await?;
        b.click("#import").await?;
        b.wait_for("#created").await?;
        audit.check(b, "the import result").await?;

        let flow = &items[0].1;
        b.goto("/move-flows").await?;
        b.click(&format!("#flow-{flow}")).await?;
        b.select("#target", "Research").await?;
        b.click("#preview").await?;
        b.wait_for("#summary").await?;
        audit.check(b, "the move preview").await?;
        b.click("#confirm").await?;
        b.wait_for("#results").await?;
        audit.check(b, "the move report").await?;

        // On a phone: tables scroll in their frames, and the menu opens from the keyboard.
        b.set_window_size(390, 844).await?;
        for path in [
            "/chatflows",
            "/users",
            "/audit-log",
            &format!("/workspaces/{ws}"),
        ] {
            audit.page(b, path, &[]).await?;
        }
        b.goto("/chatflows").await?;
        b.tab_to("#nav-toggle").await?;
        b.press(Key::Space).await?;
        shown(b, ".sidebar nav a[href='/credentials']").await?;
        audit.check(b, "the phone menu").await?;
        b.tab_to(".sidebar nav a[href='/credentials']").await?;
        b.press(Key::Enter).await?;
        b.wait_path("/credentials").await?;
        audit.finish(81)
    })
    .await;
}

/// The main dialogs with the keyboard alone: Tab to what opens a dialog, Enter opens it and
/// puts the focus in it, typing and Enter submit it; Escape closes one and gives the focus
/// back to what opened it; Tab stays inside an open dialog.
#[tokio::test]
async fn dialogs_open_work_and_close_with_the_keyboard() {
    let server = sqlite_server().await;
    let admin = server.setup().await;
    let other = create(&admin, "/workspace", json!({"name": "Lab"})).await;
    let cred = create(
        &admin,
        "/credentials",
        json!({"name": "OpenAI", "credentialName": "openAIApi", "data": {"apiKey": "sk-1"}}),
    )
    .await;
    let ann = create(
        &admin,
        "/users",
        json!({"email": "ann@example.com", "name": "Ann", "password": PASSWORD}),
    )
    .await;
    run("dialogs_open_work_and_close_with_the_keyboard", async |b| {
        b.set_base_url(&server.base_url);
        b.sign_in_as_admin().await?;

        // Create an item: the dialog opens with its first field focused, and Enter submits.
        b.goto("/chatflows").await?;
        b.tab_to("#add-new").await?;
        b.press(Key::Enter).await?;
        shown(b, "#new.modal").await?;
        assert!(
            b.focused_matches("#new input[name=name]").await?,
            "the name field has the focus: {}",
            b.focused().await?
        );
        b.driver()
            .action_chain()
            .send_keys("Typed flow")
            .perform()
            .await?;
        b.press(Key::Enter).await?;
        b.wait_for("#toast").await?;
        assert!(b.text("#items").await?.contains("Typed flow"));
        assert_eq!(
            admin.get("/chatflows").await.body["items"][0]["name"],
            "Typed flow"
        );

        // Escape closes it, and the focus is back on "Add New"; Tab cycles inside it.
        b.tab_to("#add-new").await?;
        b.press(Key::Enter).await?;
        shown(b, "#new.modal").await?;
        for _ in 0..12 {
            b.press(Key::Tab).await?;
            assert!(
                b.focused_matches("#new .dialog *").await?,
                "Tab stays in the open dialog: {}",
                b.focused().await?
            );
        }
        b.press(Key::Escape).await?;
        hidden(b, "#new.modal").await?;
        assert!(
            b.focused_matches("#add-new").await?,
            "the focus is back on what opened the dialog: {}",
            b.focused().await?
        );

        // Share a credential: tick a workspace with Space, save with Enter.
        b.goto(&format!("/credentials/{cred}")).await?;
        b.tab_to("#open-share").await?;
        b.press(Key::Enter).await?;
        shown(b, "#share.modal").await?;
        b.tab_to(&format!("#share-form input[value='{other}']"))
            .await?;
        b.press(Key::Space).await?;
        b.tab_to("#share-form button[type=submit]").await?;
        b.press(Key::Enter).await?;
        b.wait_for("#toast").await?;
        let shares = admin.get(&format!("/credentials/{cred}/shares")).await;
        assert!(
            shares.body.to_string().contains(&other),
            "shared with Lab: {}",
            shares.body
        );
        // Its Cancel button closes it too, focus back on "Share".
        b.tab_to("#open-share").await?;
        b.press(Key::Enter).await?;
        shown(b, "#share.modal").await?;
        b.tab_to("#share-form a.btn").await?;
        b.press(Key::Enter).await?;
        hidden(b, "#share.modal").await?;
        assert!(
            b.focused_matches("#open-share").await?,
            "the focus is back on Share: {}",
            b.focused().await?
        );

        // Invite a user: type the email, choose with the keyboard, send with Enter.
        b.goto("/users").await?;
        b.tab_to("#invite-user").await?;
        b.press(Key::Enter).await?;
        shown(b, "#invite.modal").await?;
        assert!(
            b.focused_matches("#invite-form input[name=email]").await?,
            "the email field has the focus: {}",
            b.focused().await?
        );
        b.driver()
            .action_chain()
            .send_keys("kim@example.com")
            .perform()
            .await?;
        b.tab_to("#invite-form button[type=submit]").await?;
        b.press(Key::Enter).await?;
        b.wait_for("#shown-value").await?;
        let r = admin.get("/invitations").await;
        assert!(
            r.body.to_string().contains("kim@example.com"),
            "invited: {}",
            r.body
        );

        // Add a member to a workspace from its page: Tab to the form, Enter on Add.
        b.goto(&format!("/workspaces/{other}")).await?;
        b.tab_to("#add-member select[name=userId]").await?;
        b.tab_to("#add-member button[type=submit]").await?;
        b.press(Key::Enter).await?;
        b.wait_for("#toast").await?;
        assert!(
            b.text("#members").await?.contains("ann@example.com"),
            "Ann is listed"
        );
        let r = admin.get(&format!("/workspace/{other}/users")).await;
        assert!(r.body.to_string().contains(&ann), "{}", r.body);
        Ok(())
    })
    .await;
}
