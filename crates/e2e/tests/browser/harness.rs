//! The harness itself: a page of the real server opens and is photographed, a failing test
//! leaves its screenshot and HTML behind, and closing or dropping a browser leaves no
//! chromedriver or Chromium process running.

use flowspace_e2e::{Browser, processes_using, run, sqlite_server, target_dir};
use futures_util::FutureExt;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::time::{Duration, Instant};

/// The smoke test: the API's ping, opened in the browser.
#[tokio::test]
async fn ping_opens_in_the_browser() {
    let server = sqlite_server().await;
    run("ping_opens_in_the_browser", async |b| {
        b.set_base_url(&server.base_url);
        b.goto("/api/v1/ping").await?;
        assert_eq!(b.current_path().await?, "/api/v1/ping");
        let source = b.page_source().await?;
        assert!(
            source.contains(r#"{"status":"ok"}"#),
            "page source: {source}"
        );
        let shot = b.screenshot("e2e-ping").await?;
        let png = std::fs::read(&shot)?;
        assert!(
            png.starts_with(b"\x89PNG"),
            "{} is not a PNG",
            shot.display()
        );
        Ok(())
    })
    .await;
}

/// The accessibility check names what is wrong: an image without a text alternative, put on
/// a page that passes, fails it with the rule, its impact and the element.
#[tokio::test]
async fn the_accessibility_check_lists_each_violation() {
    let server = sqlite_server().await;
    server.setup().await;
    run("the_accessibility_check_lists_each_violation", async |b| {
        b.set_base_url(&server.base_url);
        b.goto("/login").await?;
        b.assert_accessible("the sign-in page").await?;
        b.driver()
            .execute(
                "const i = document.createElement('img'); i.id = 'no-alt'; \
                 i.src = '/favicon.svg'; document.querySelector('main').append(i);",
                Vec::new(),
            )
            .await?;
        let err = b
            .assert_accessible("the sign-in page with an image")
            .await
            .expect_err("an image without alt fails");
        let message = err.to_string();
        assert!(
            message.contains("image-alt (critical) at #no-alt"),
            "{message}"
        );
        assert!(
            message.contains("the sign-in page with an image"),
            "{message}"
        );
        Ok(())
    })
    .await;
}

/// A body that fails leaves `target/e2e-failures/<name>.png` and `.html`, and the test fails
/// with the body's own message.
#[tokio::test]
async fn a_failing_test_keeps_a_screenshot_and_the_html() {
    let server = sqlite_server().await;
    let name = "harness_failure_probe";
    let dir = target_dir().join("e2e-failures");
    let _ = std::fs::remove_file(dir.join(format!("{name}.png")));
    let _ = std::fs::remove_file(dir.join(format!("{name}.html")));

    let outcome = AssertUnwindSafe(run(name, async |b| {
        b.goto(&format!("{}/api/v1/ping", server.base_url)).await?;
        Err("deliberate failure".into())
    }))
    .catch_unwind()
    .await;

    let payload = outcome.expect_err("run must fail when the body fails");
    let message = payload
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(message.contains("deliberate failure"), "{message}");
    let png = std::fs::read(dir.join(format!("{name}.png"))).unwrap();
    assert!(png.starts_with(b"\x89PNG"));
    let html = std::fs::read_to_string(dir.join(format!("{name}.html"))).unwrap();
    assert!(html.contains("status"), "{html}");
}

/// Neither `close` nor a plain drop leaves chromedriver or Chromium running, and neither
/// takes long (a drop must not wait for an HTTP timeout).
#[tokio::test]
async fn closing_or_dropping_leaves_no_process() {
    for close in [true, false] {
        let b = Browser::start().await.unwrap();
        let pid = b.chromedriver_pid().unwrap();
        let profile = b.profile_dir();
        assert!(
            !processes_using(&profile).is_empty(),
            "Chromium should run on {}",
            profile.display()
        );
        let started = Instant::now();
        if close {
            b.close().await.unwrap();
        } else {
            drop(b);
        }
        let took = started.elapsed();
        assert!(
            took < Duration::from_secs(10),
            "close: {close}, took {took:?}"
        );
        assert!(gone(pid), "chromedriver {pid} still runs (close: {close})");
        assert_eq!(
            processes_using(&profile),
            Vec::<u32>::new(),
            "close: {close}"
        );
        assert!(
            !profile.exists(),
            "profile {} was not removed",
            profile.display()
        );
    }
}

/// Whether `pid` has ended (it is reaped by the harness, so it leaves `/proc`).
fn gone(pid: u32) -> bool {
    let deadline = Instant::now() + Duration::from_secs(2);
    while Path::new(&format!("/proc/{pid}")).exists() {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}
