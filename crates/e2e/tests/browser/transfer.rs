//! Moving items in a real browser: a bundle uploaded on the Import page, previewed with its
//! clashing name, imported; flows chosen on the Move / copy page, previewed, moved, and every
//! id named on the report.

use flowspace_e2e::{ADMIN_EMAIL, Browser, PASSWORD, Result, run, sqlite_server};
use serde_json::json;
use std::time::{Duration, Instant};

async fn sign_in(b: &Browser) -> Result {
    b.goto("/login").await?;
    b.fill("#login-form input[name=email]", ADMIN_EMAIL).await?;
    b.fill("#login-form input[name=password]", PASSWORD).await?;
    b.click("#login-form button[type=submit]").await?;
    b.wait_for("#workspace-select").await?;
    Ok(())
}

/// Waits until the element matching `css` holds `text`.
async fn shows(b: &Browser, css: &str, text: &str) -> Result {
    let start = Instant::now();
    loop {
        if b.exists(css).await? && b.text(css).await?.contains(text) {
            return Ok(());
        }
        if start.elapsed() > Duration::from_secs(15) {
            return Err(format!("{css} never showed {text:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_bundle_is_uploaded_previewed_and_imported_and_flows_are_moved() {
    let server = sqlite_server().await;
    let admin = server.setup().await;
    let flow = admin
        .post("/chatflows", json!({"name": "Support bot"}))
        .await
        .id();
    let bundle = admin.post("/export", json!({"kinds": ["chatflows"]})).await;
    assert_eq!(bundle.status, 200, "{}", bundle.body);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("flowspace-export.json");
    std::fs::write(&file, bundle.text.as_bytes()).unwrap();
    let target = admin.post("/workspace", json!({"name": "Target"})).await;
    assert_eq!(target.status, 201, "{}", target.body);
    let target = target.id();

    run("a_bundle_is_uploaded_previewed_and_imported", async |b| {
        b.set_base_url(&server.base_url);
        sign_in(b).await?;
        b.click("a[href='/import']").await?;
        b.wait_for("#bundle-file")
            .await?
            .send_keys(file.to_string_lossy().as_ref())
            .await?;
        b.click("#preview").await?;
        shows(b, "#preview-entries", "Support bot (2)").await?;
        assert!(b.text("#summary").await?.contains("1 name already taken"));
        b.screenshot("20-import-preview").await?;
        b.click("#import").await?;
        shows(b, "#created", "Support bot (2)").await?;

        b.click("#done").await?;
        b.click("a[href='/move-flows']").await?;
        b.click(&format!("#flow-{flow}")).await?;
        b.select("#target", "Target").await?;
        b.click("#preview").await?;
        shows(b, "#summary", "Move 1 flow to Target").await?;
        b.screenshot("21-move-preview").await?;
        b.click("#confirm").await?;
        shows(b, "#results", &flow).await?;
        Ok(())
    })
    .await;

    let names: Vec<String> = admin.get("/chatflows").await.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        names,
        vec!["Support bot (2)"],
        "imported, and the original moved"
    );
    let moved = admin
        .in_workspace(&target)
        .get(&format!("/chatflows/{flow}"))
        .await;
    assert_eq!(moved.status, 200, "moved with its id: {}", moved.body);
}
