//! The workspace switcher and the Move / copy page with more workspaces than they list
//! (issue 16): in a real browser, a workspace found by searching in the switcher is switched
//! to, and a target found by searching on the Move / copy page receives a moved flow; axe-core
//! on both pages.

use flowspace_e2e::thirtyfour::By;
use flowspace_e2e::{Browser, Result, run, sqlite_server};
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
async fn a_workspace_and_a_move_target_are_found_by_searching_their_name() {
    let server = sqlite_server().await;
    let admin = server.setup().await;
    let default_ws = admin.get("/auth/me").await.body["activeWorkspace"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut ids = Vec::new();
    for i in 0..120 {
        let r = admin
            .post("/workspace", json!({"name": format!("Team {i:03}")}))
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        ids.push(r.id());
    }
    let flow = admin
        .post("/chatflows", json!({"name": "Support bot"}))
        .await
        .id();

    run("workspace_switcher_and_move_target_search", async |b| {
        b.set_base_url(&server.base_url);
        b.sign_in_as_admin().await?;

        // The switcher lists 20 workspaces (Default, current, first) and offers the search.
        assert_eq!(
            count_once_loaded(b, "#workspace-select option", 20).await?,
            20
        );
        assert_eq!(
            b.text("#workspace-select option:checked").await?.trim(),
            "Default"
        );
        b.fill("#switcher-q", "team 119").await?;
        b.click("#switcher-find").await?;
        b.wait_path("/switch-workspace").await?;
        assert_eq!(count_once_loaded(b, "#switch-found tbody tr", 1).await?, 1);
        assert!(b.exists("#switch-found tr[data-name='Team 119']").await?);
        b.assert_accessible("/switch-workspace searched").await?;
        b.screenshot("32-switch-workspace").await?;

        // Switching leads back to the page the search was made from, in Team 119.
        b.click("#switch-found tr[data-name='Team 119'] button[type=submit]")
            .await?;
        b.wait_path("/chatflows").await?;
        shows(b, "#workspace-select option:checked", "Team 119").await?;
        // (The sidebar's title is shown in capitals.)
        let title = b.text(".sidebar .nav-title").await?;
        assert!(title.eq_ignore_ascii_case("Team 119"), "{title}");
        assert!(count_once_loaded(b, "#workspace-select option", 21).await? <= 21);

        // Move / copy: the target picker offers 50 and says more match; the 78th is found by
        // name (and selected), the flow stays ticked, and the move puts it there.
        b.goto(&format!("/move-flows?from={default_ws}")).await?;
        // (50 workspaces, after the "Choose a workspace…" placeholder.)
        assert_eq!(count_once_loaded(b, "#target option", 51).await?, 51);
        assert!(b.exists("#target-more").await?);
        b.click(&format!("#flow-{flow}")).await?;
        b.fill("#target-q", "TEAM 077").await?;
        b.click("#target-search").await?;
        assert_eq!(count_once_loaded(b, "#target option", 2).await?, 2);
        assert_eq!(b.text("#target option:checked").await?.trim(), "Team 077");
        assert!(b.exists(&format!("#flow-{flow}:checked")).await?);
        b.assert_accessible("/move-flows with the target searched")
            .await?;
        b.screenshot("33-move-target-search").await?;
        b.click("#preview").await?;
        shows(b, "#summary", "Move 1 flow to Team 077").await?;
        b.click("#confirm").await?;
        shows(b, "#results", &flow).await?;
        Ok(())
    })
    .await;

    let moved = admin
        .in_workspace(&ids[77])
        .get(&format!("/chatflows/{flow}"))
        .await;
    assert_eq!(moved.status, 200, "{}", moved.body);
    assert_eq!(
        moved.body["workspaceId"],
        ids[77].as_str(),
        "{}",
        moved.body
    );
    let left = admin
        .in_workspace(&default_ws)
        .get(&format!("/chatflows/{flow}"))
        .await;
    assert_eq!(left.status, 404, "moved away: {}", left.body);
}
