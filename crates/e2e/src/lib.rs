//! End-to-end browser tests: a headless Chromium driven through a local `chromedriver`
//! (WebDriver over plain HTTP, with `thirtyfour`) against a real `flowspace` server started by
//! `flowspace-testkit`.
//!
//! A test is an async closure handed to [`run`]: it gets a [`Browser`], and when it panics or
//! returns an error, [`run`] keeps a screenshot and the page's HTML under
//! `target/e2e-failures/` before failing the test with the original message.
//!
//! ```no_run
//! use flowspace_e2e::{run, sqlite_server};
//!
//! # async fn example() {
//! let server = sqlite_server().await;
//! run("ping", async |b| {
//!     b.set_base_url(&server.base_url);
//!     b.goto("/api/v1/ping").await?;
//!     assert!(b.page_source().await?.contains("ok"));
//!     Ok(())
//! })
//! .await;
//! # }
//! ```
//!
//! Settings, all optional: `CHROMEDRIVER` (default `chromedriver` on the `PATH`), `CHROME_BIN`
//! (default `/usr/bin/chromium`), `E2E_BROWSERS` (how many [`run`]s of one test binary have a
//! browser open at once, default 2: the machines this runs on have 2 cores),
//! `UPDATE_SCREENSHOTS=1` (also copy [`Browser::screenshot`]s to `docs/screenshots/`).
//!
//! [`Browser::assert_accessible`] runs axe-core (Deque's accessibility engine, the npm package
//! pinned in `tests/axe-core`, installed there by `scripts/test`) on the current page.

use futures_util::FutureExt;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};
use tempfile::TempDir;
use thirtyfour::prelude::*;
use thirtyfour::{ChromeCapabilities, ChromiumLikeCapabilities};
use tokio::sync::Semaphore;

pub use flowspace_testkit::{
    self as testkit, ADMIN_EMAIL, Backend, Client, PASSWORD, Resp, TestServer, World, smtp,
};
pub use thirtyfour;
pub use thirtyfour::WebElement;
pub use thirtyfour::prelude::Key;

/// Any failure of a browser step; helpers add what they were doing and where.
pub type Error = Box<dyn std::error::Error + Send + Sync>;
/// The result of a browser step.
pub type Result<T = (), E = Error> = std::result::Result<T, E>;

/// How long helpers wait for an element to appear (or become clickable).
pub const WAIT: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(100);
/// How long chromedriver gets to answer `/status` after it is spawned.
const DRIVER_START: Duration = Duration::from_secs(15);
/// How long chromedriver gets to exit after `/shutdown` before it is killed.
const DRIVER_EXIT: Duration = Duration::from_secs(3);
const WINDOW: (u32, u32) = (1280, 860);

/// A server for browser tests: always SQLite (the API tests prove both backends; the
/// dashboard only renders what the API layer answers).
pub async fn sqlite_server() -> TestServer {
    TestServer::start(&Backend::Sqlite).await
}

/// Starts a browser, runs `body` with it and closes it. If `body` panics or returns an error,
/// first saves `target/e2e-failures/<test_name>.png` and `.html`, then fails with the original
/// panic (resumed as it was) or error.
#[allow(
    clippy::panic,
    reason = "failing the test is the point of this function"
)]
pub async fn run<F>(test_name: &str, body: F)
where
    F: AsyncFnOnce(&Browser) -> Result,
{
    // Held by `run` rather than by each browser, so that a test opening a second browser of
    // its own cannot deadlock with another test waiting for a slot.
    let _slot = match browser_slots().acquire().await {
        Ok(slot) => slot,
        Err(e) => panic!("{test_name}: {e}"),
    };
    let browser = match Browser::start().await {
        Ok(b) => b,
        Err(e) => panic!("{test_name}: cannot start the browser: {e}"),
    };
    let outcome = AssertUnwindSafe(body(&browser)).catch_unwind().await;
    let failed = !matches!(outcome, Ok(Ok(())));
    let saved = if failed {
        Some(browser.save_failure(test_name).await)
    } else {
        None
    };
    let closed = browser.close().await;
    match outcome {
        Ok(Ok(())) => {
            if let Err(e) = closed {
                panic!("{test_name}: closing the browser: {e}");
            }
        }
        Ok(Err(e)) => panic!("{test_name}: {e}\n{}", saved.unwrap_or_default()),
        Err(payload) => {
            eprintln!("{test_name}: {}", saved.unwrap_or_default());
            std::panic::resume_unwind(payload)
        }
    }
}

/// Limits how many [`run`]s of one test binary have a browser open at once.
fn browser_slots() -> &'static Semaphore {
    static SLOTS: OnceLock<Semaphore> = OnceLock::new();
    SLOTS.get_or_init(|| {
        let n = std::env::var("E2E_BROWSERS")
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|n| *n > 0)
            .unwrap_or(2);
        Semaphore::new(n)
    })
}

/// A headless Chromium session on its own chromedriver and its own throwaway profile.
///
/// Close it with [`Browser::close`]. Dropping it instead also ends the session, chromedriver
/// and any Chromium process left on its profile, but blocks the thread while it does.
pub struct Browser {
    driver: WebDriver,
    /// `None` once stopped (by `close`).
    chromedriver: Option<Chromedriver>,
    base_url: Mutex<Option<String>>,
    /// The Chromium profile (`profile/`) and chromedriver's log.
    work: TempDir,
}

impl Browser {
    /// Spawns chromedriver on a free port, waits until it answers, and opens a headless
    /// Chromium session with a 1280x860 window and a fresh profile. Prefer [`run`], which
    /// also keeps what a failing test saw.
    pub async fn start() -> Result<Self> {
        let work = tempfile::Builder::new()
            .prefix("flowspace-e2e-")
            .tempdir()?;
        let profile = work.path().join("profile");
        std::fs::create_dir_all(&profile)?;
        let log = work.path().join("chromedriver.log");
        let chromedriver = Chromedriver::spawn(log.clone(), profile.clone()).await?;

        let mut caps = ChromeCapabilities::new();
        caps.set_binary(&chrome_bin())?;
        for arg in [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-search-engine-choice-screen",
            &format!("--window-size={},{}", WINDOW.0, WINDOW.1),
            &format!("--user-data-dir={}", profile.display()),
        ] {
            caps.add_arg(arg)?;
        }
        let driver = match WebDriver::new(chromedriver.url(), caps).await {
            Ok(d) => d,
            Err(e) => {
                chromedriver.shutdown().await;
                return Err(format!(
                    "chromedriver could not open a Chromium session ({}): {e}\n{}",
                    chrome_bin(),
                    tail(&log)
                )
                .into());
            }
        };
        Ok(Self {
            driver,
            chromedriver: Some(chromedriver),
            base_url: Mutex::new(None),
            work,
        })
    }

    /// Ends the session, then chromedriver, then any Chromium process left on the profile,
    /// and removes the profile.
    pub async fn close(mut self) -> Result {
        let quit = self.driver.clone().quit().await;
        if let Some(chromedriver) = self.chromedriver.take() {
            chromedriver.shutdown().await;
        }
        quit.map_err(|e| format!("quitting the WebDriver session: {e}").into())
    }

    /// The underlying WebDriver session, for anything the helpers do not cover.
    pub fn driver(&self) -> &WebDriver {
        &self.driver
    }

    /// The process id of this browser's chromedriver (`None` once it is stopped).
    pub fn chromedriver_pid(&self) -> Option<u32> {
        self.chromedriver.as_ref().map(|c| c.child.id())
    }

    /// The Chromium profile directory (`--user-data-dir`) of this browser.
    pub fn profile_dir(&self) -> PathBuf {
        self.work.path().join("profile")
    }

    /// Makes [`Browser::goto`] resolve paths that start with `/` against `base_url`
    /// (for example a `TestServer`'s `base_url`).
    pub fn set_base_url(&self, base_url: &str) {
        *self.base_url.lock().unwrap_or_else(PoisonError::into_inner) =
            Some(base_url.trim_end_matches('/').to_string());
    }

    /// Opens `url` and waits for the page to load; a path starting with `/` is taken under the
    /// base URL set with [`Browser::set_base_url`].
    pub async fn goto(&self, url: &str) -> Result {
        let full = if url.starts_with('/') {
            let base = self
                .base_url
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            match base {
                Some(base) => format!("{base}{url}"),
                None => return Err(format!("goto {url}: no base URL set (set_base_url)").into()),
            }
        } else {
            url.to_string()
        };
        self.driver
            .goto(full.as_str())
            .await
            .map_err(|e| step_error(format!("goto {full}"), e))
    }

    /// The first element matching `css`, waiting up to [`WAIT`] for one to appear.
    pub async fn wait_for(&self, css: &str) -> Result<WebElement> {
        let deadline = Instant::now() + WAIT;
        loop {
            let found = self.driver.find_all(By::Css(css)).await;
            match found {
                Ok(mut v) if !v.is_empty() => return Ok(v.swap_remove(0)),
                Ok(_) if Instant::now() < deadline => tokio::time::sleep(POLL).await,
                Ok(_) => {
                    let at = self.where_now().await;
                    return Err(
                        format!("no element matches `{css}` after {WAIT:?} (at {at})").into(),
                    );
                }
                Err(e) => return Err(step_error(format!("find `{css}`"), e)),
            }
        }
    }

    /// Whether an element matches `css` now (no waiting: use it to assert absence).
    pub async fn exists(&self, css: &str) -> Result<bool> {
        let found = self.driver.find_all(By::Css(css)).await;
        found
            .map(|v| !v.is_empty())
            .map_err(|e| step_error(format!("find `{css}`"), e))
    }

    /// Clears the field matching `css`, then types `text` into it.
    pub async fn fill(&self, css: &str, text: &str) -> Result {
        let el = self.wait_for(css).await?;
        el.clear()
            .await
            .map_err(|e| step_error(format!("clear `{css}`"), e))?;
        el.send_keys(text)
            .await
            .map_err(|e| step_error(format!("type into `{css}`"), e))
    }

    /// Chooses, in the `<select>` matching `css`, the option whose trimmed visible text or
    /// whose value is `choice`.
    pub async fn select(&self, css: &str, choice: &str) -> Result {
        let select = self.wait_for(css).await?;
        let options = select
            .find_all(By::Css("option"))
            .await
            .map_err(|e| step_error(format!("options of `{css}`"), e))?;
        let mut seen = Vec::new();
        for option in options {
            let text = option.text().await.unwrap_or_default();
            let value = option.value().await.ok().flatten().unwrap_or_default();
            if text.trim() == choice || value == choice {
                return option
                    .click()
                    .await
                    .map_err(|e| step_error(format!("choose {choice:?} in `{css}`"), e));
            }
            seen.push(format!("{:?}={value:?}", text.trim()));
        }
        Err(format!(
            "`{css}` has no option {choice:?}; it has {}",
            seen.join(", ")
        )
        .into())
    }

    /// Clicks the first element matching `css`, retrying up to [`WAIT`] while it is missing,
    /// covered or not yet interactable.
    pub async fn click(&self, css: &str) -> Result {
        let deadline = Instant::now() + WAIT;
        loop {
            let attempt = match self.wait_for(css).await {
                Ok(el) => el.click().await.map_err(Error::from),
                Err(e) => return Err(e),
            };
            match attempt {
                Ok(()) => return Ok(()),
                Err(_) if Instant::now() < deadline => tokio::time::sleep(POLL).await,
                Err(e) => return Err(step_error(format!("click `{css}`"), e)),
            }
        }
    }

    /// Clicks the first element matching `css` whose trimmed visible text is `text`, waiting
    /// up to [`WAIT`] for one.
    pub async fn click_text(&self, css: &str, text: &str) -> Result {
        let deadline = Instant::now() + WAIT;
        loop {
            let mut last = String::new();
            let found = self
                .driver
                .find_all(By::Css(css))
                .await
                .map_err(|e| step_error(format!("find `{css}`"), e))?;
            let mut texts = Vec::new();
            for el in found {
                let t = el.text().await.unwrap_or_default();
                if t.trim() == text {
                    match el.click().await {
                        Ok(()) => return Ok(()),
                        Err(e) => last = e.to_string(),
                    }
                }
                texts.push(format!("{:?}", t.trim()));
            }
            if Instant::now() >= deadline {
                let at = self.where_now().await;
                return Err(format!(
                    "no `{css}` with text {text:?} could be clicked after {WAIT:?} (at {at}); \
                     texts seen: [{}] {last}",
                    texts.join(", ")
                )
                .into());
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The visible text of the first element matching `css` (waiting for it).
    pub async fn text(&self, css: &str) -> Result<String> {
        let el = self.wait_for(css).await?;
        el.text()
            .await
            .map_err(|e| step_error(format!("text of `{css}`"), e))
    }

    /// The path of the current URL (`/workspaces`, without query or fragment).
    pub async fn current_path(&self) -> Result<String> {
        let url = self
            .driver
            .current_url()
            .await
            .map_err(|e| step_error("current URL".into(), e))?;
        Ok(url.path().to_string())
    }

    /// Waits (up to 15 s) until the current path is `path`.
    pub async fn wait_path(&self, path: &str) -> Result {
        let start = std::time::Instant::now();
        while self.current_path().await? != path {
            if start.elapsed() > Duration::from_secs(15) {
                return Err(
                    format!("never reached {path}: at {}", self.current_path().await?).into(),
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(())
    }

    /// Signs in through the sign-in page as the Account Admin, landing on `/chatflows`.
    pub async fn sign_in_as_admin(&self) -> Result {
        self.goto("/login").await?;
        self.fill("#login-form input[name=email]", ADMIN_EMAIL)
            .await?;
        self.fill("#login-form input[name=password]", PASSWORD)
            .await?;
        self.click("#login-form button[type=submit]").await?;
        self.wait_path("/chatflows").await
    }

    /// Presses `key` (for example [`Key::Tab`]) on whatever has the keyboard focus, as a
    /// user's keyboard would: a WebDriver key action, not a script.
    pub async fn press(&self, key: Key) -> Result {
        let shown = format!("{key:?}");
        self.driver
            .action_chain()
            .send_keys(key)
            .perform()
            .await
            .map_err(|e| step_error(format!("press {shown}"), e))
    }

    /// Presses Tab until the element matching `css` has the focus (at most 60 times), as a
    /// keyboard user reaches a control; fails if it never does.
    pub async fn tab_to(&self, css: &str) -> Result {
        for _ in 0..60 {
            if self.focused_matches(css).await? {
                return Ok(());
            }
            self.press(Key::Tab).await?;
        }
        let at = self.where_now().await;
        Err(format!(
            "Tab never reached `{css}` (at {at}); focus is on {}",
            self.focused().await?
        )
        .into())
    }

    /// Whether the element that has the focus matches `css`.
    pub async fn focused_matches(&self, css: &str) -> Result<bool> {
        self.driver
            .execute(
                "const a = document.activeElement; return !!a && a.matches(arguments[0]);",
                vec![css.into()],
            )
            .await
            .map_err(|e| step_error(format!("is the focus on `{css}`"), e))?
            .convert()
            .map_err(|e| step_error(format!("is the focus on `{css}`"), e))
    }

    /// The element that has the focus, described for messages (`tag#id.class "text"`).
    pub async fn focused(&self) -> Result<String> {
        self.driver
            .execute(
                "const a = document.activeElement; if (!a) return 'nothing'; \
                 return a.tagName.toLowerCase() + (a.id ? '#' + a.id : '') + \
                 (a.className ? '.' + String(a.className).trim().split(/\\s+/).join('.') : '') + \
                 ' \"' + (a.textContent || a.value || '').trim().slice(0, 40) + '\"';",
                Vec::new(),
            )
            .await
            .map_err(|e| step_error("the focused element".into(), e))?
            .convert()
            .map_err(|e| step_error("the focused element".into(), e))
    }

    /// Runs axe-core with its default rules on the current page and answers a readable line
    /// per element with a serious or critical violation (rule id, impact, the element's
    /// selector, what is wrong and the rule's help); empty when there is none. Only what is
    /// rendered is checked: a closed dialog is checked once it is opened.
    ///
    /// axe-core is read from `tests/axe-core/node_modules/axe-core/axe.min.js` and injected
    /// with WebDriver's script execution, which the page's Content-Security-Policy does not
    /// govern: the server's policy stays as it is in production.
    pub async fn accessibility_violations(&self) -> Result<Vec<String>> {
        let injected: bool = self
            .driver
            .execute(
                format!("{}\n;return typeof window.axe === 'object';", axe_source()?),
                Vec::new(),
            )
            .await
            .map_err(|e| step_error("inject axe-core".into(), e))?
            .convert()
            .map_err(|e| step_error("inject axe-core".into(), e))?;
        if !injected {
            return Err("axe-core was injected but `window.axe` is not there".into());
        }
        let answer: Vec<String> = self
            .driver
            .execute_async(AXE_RUN, Vec::new())
            .await
            .map_err(|e| step_error("run axe-core".into(), e))?
            .convert()
            .map_err(|e| step_error("run axe-core".into(), e))?;
        match answer.split_first() {
            Some((status, lines)) if status == "ok" => Ok(lines.to_vec()),
            _ => Err(format!("axe-core failed: {}", answer.join("; ")).into()),
        }
    }

    /// Fails, listing them, when axe-core finds any serious or critical violation on the
    /// current page (see [`Browser::accessibility_violations`]); `context` names what is
    /// checked (a page, an open dialog) in the message.
    pub async fn assert_accessible(&self, context: &str) -> Result {
        let found = self.accessibility_violations().await?;
        if found.is_empty() {
            return Ok(());
        }
        let at = self.where_now().await;
        Err(format!(
            "{context} ({at}): {} serious or critical accessibility violation(s):\n  {}",
            found.len(),
            found.join("\n  ")
        )
        .into())
    }

    /// The current page's HTML as the browser holds it now.
    pub async fn page_source(&self) -> Result<String> {
        self.driver
            .source()
            .await
            .map_err(|e| step_error("page source".into(), e))
    }

    /// Resizes the window, for example to 390x844 to check a phone layout. The page gets the
    /// full width; headless Chromium keeps about 143 px of the height for its (invisible)
    /// toolbar, so a 1280x860 window shows a 1280x717 viewport, and screenshots are that size.
    pub async fn set_window_size(&self, width: u32, height: u32) -> Result {
        self.driver
            .set_window_rect(0, 0, width, height)
            .await
            .map_err(|e| step_error(format!("resize to {width}x{height}"), e))
    }

    /// Saves a screenshot to `target/e2e-screenshots/<name>.png`, and also to
    /// `docs/screenshots/<name>.png` when `UPDATE_SCREENSHOTS=1`. Answers the first path.
    pub async fn screenshot(&self, name: &str) -> Result<PathBuf> {
        let png = self
            .driver
            .screenshot_as_png()
            .await
            .map_err(|e| step_error(format!("screenshot {name}"), e))?;
        let path = target_dir()
            .join("e2e-screenshots")
            .join(format!("{name}.png"));
        write_file(&path, &png)?;
        if std::env::var("UPDATE_SCREENSHOTS").is_ok_and(|v| v.trim() == "1") {
            let docs = workspace_root()
                .join("docs/screenshots")
                .join(format!("{name}.png"));
            write_file(&docs, &png)?;
        }
        Ok(path)
    }

    /// Keeps what a failed test saw: `target/e2e-failures/<name>.png` and `.html`. Answers a
    /// line saying where they are (or why they are not), never fails.
    async fn save_failure(&self, name: &str) -> String {
        let dir = target_dir().join("e2e-failures");
        let png = dir.join(format!("{name}.png"));
        let html = dir.join(format!("{name}.html"));
        let mut notes = Vec::new();
        match self.driver.screenshot_as_png().await {
            Ok(bytes) => match write_file(&png, &bytes) {
                Ok(()) => notes.push(format!("screenshot: {}", png.display())),
                Err(e) => notes.push(format!("screenshot not saved: {e}")),
            },
            Err(e) => notes.push(format!("screenshot not taken: {e}")),
        }
        match self.driver.source().await {
            Ok(source) => match write_file(&html, source.as_bytes()) {
                Ok(()) => notes.push(format!("html: {}", html.display())),
                Err(e) => notes.push(format!("html not saved: {e}")),
            },
            Err(e) => notes.push(format!("html not read: {e}")),
        }
        let at = self.where_now().await;
        format!("browser at {at}; {}", notes.join("; "))
    }

    /// The current URL, for error messages.
    async fn where_now(&self) -> String {
        match self.driver.current_url().await {
            Ok(u) => u.to_string(),
            Err(_) => "an unknown page".into(),
        }
    }
}

/// Runs axe-core on the whole document with its default rules and calls back with `"ok"`
/// followed by a line per element with a serious or critical violation, or with `"error"` and
/// the reason.
const AXE_RUN: &str = r#"
const done = arguments[arguments.length - 1];
const bad = (impact) => impact === "serious" || impact === "critical";
window.axe.run(document, { resultTypes: ["violations"] }).then((r) => {
  const lines = ["ok"];
  for (const v of r.violations) {
    for (const n of v.nodes) {
      if (!bad(n.impact || v.impact)) continue;
      const why = (n.failureSummary || "").replace(/\s+/g, " ").trim();
      lines.push(`${v.id} (${n.impact || v.impact}) at ${n.target.join(" ")}: ${v.help}. ${why} [${v.helpUrl}]`);
    }
  }
  done(lines);
}, (e) => done(["error", String(e)]));
"#;

/// axe-core's browser bundle, read once from `tests/axe-core` (where `scripts/test` installs
/// the pinned package with `npm ci`).
fn axe_source() -> Result<&'static str> {
    static SOURCE: OnceLock<Result<String, String>> = OnceLock::new();
    SOURCE
        .get_or_init(|| {
            let path = workspace_root().join("tests/axe-core/node_modules/axe-core/axe.min.js");
            std::fs::read_to_string(&path).map_err(|e| {
                format!(
                    "cannot read {}: {e} (install it: cd tests/axe-core && npm ci, \
                     or run scripts/test)",
                    path.display()
                )
            })
        })
        .as_deref()
        .map_err(|e| e.clone().into())
}

/// An error of one browser step, saying what the step was.
fn step_error(doing: String, e: impl std::fmt::Display) -> Error {
    format!("{doing}: {e}").into()
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Not closed. thirtyfour's own fallback for a session not quit would send the DELETE
        // over a pooled connection that belongs to this thread's runtime, blocked right here,
        // and hang until its 120 s request timeout. chromedriver's `/shutdown` ends the
        // session (and its Chromium) instead; then the handle is marked as ended.
        if let Some(mut chromedriver) = self.chromedriver.take() {
            chromedriver.stop();
        }
        let _ = self.driver.clone().leak();
    }
}

/// A chromedriver child process listening on 127.0.0.1:`port`.
struct Chromedriver {
    child: Child,
    port: u16,
    /// The profile of the Chromium it drives: whatever still runs on it is killed at the end.
    profile: PathBuf,
    stopped: bool,
}

impl Chromedriver {
    /// Spawns chromedriver on a free port and waits until `/status` answers; a port taken
    /// between choosing and binding it costs a retry on another one.
    async fn spawn(log: PathBuf, profile: PathBuf) -> Result<Self> {
        let bin = chromedriver_bin();
        let mut last = String::new();
        for _ in 0..3 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")?
                .local_addr()?
                .port();
            let child = Command::new(&bin)
                .arg(format!("--port={port}"))
                .arg(format!("--log-path={}", log.display()))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| {
                    format!(
                        "cannot run {bin}: {e} (install chromium and chromium-driver, \
                         or set CHROMEDRIVER)"
                    )
                })?;
            let mut driver = Chromedriver {
                child,
                port,
                profile: profile.clone(),
                stopped: false,
            };
            // The wait blocks (a plain socket and sleeps): keep it off the runtime's thread,
            // which also runs the server under test.
            let (driver, ready) = tokio::task::spawn_blocking(move || {
                let ready = driver.wait_ready();
                (driver, ready)
            })
            .await?;
            match ready {
                Ok(()) => return Ok(driver),
                Err(e) => {
                    last = e;
                    driver.shutdown().await;
                }
            }
        }
        Err(format!("chromedriver ({bin}) did not start: {last}\n{}", tail(&log)).into())
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + DRIVER_START;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("it exited with {status}"));
            }
            if let Ok(answer) = http_get(self.port, "/status")
                && answer.starts_with("HTTP/1.1 200")
            {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "no answer on port {} after {DRIVER_START:?}",
                    self.port
                ));
            }
            std::thread::sleep(POLL);
        }
    }

    /// [`Chromedriver::stop`] off the runtime's thread.
    async fn shutdown(self) {
        let _ = tokio::task::spawn_blocking(move || drop(self)).await;
    }

    /// Asks chromedriver to shut down (it closes its browsers), kills it if it has not exited
    /// in time, reaps it, and kills any Chromium process still running on the profile.
    fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = http_get(self.port, "/shutdown");
            let deadline = Instant::now() + DRIVER_EXIT;
            while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(POLL);
            }
            if matches!(self.child.try_wait(), Ok(None)) {
                let _ = self.child.kill();
            }
        }
        let _ = self.child.wait();
        kill_processes_using(&self.profile);
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A blocking `GET` to chromedriver: the head and the body of its answer, as text.
/// chromedriver keeps the connection open whatever the request says, so the answer ends
/// where its `Content-Length` says.
fn http_get(port: u16, path: &str) -> std::io::Result<String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    stream.set_write_timeout(Some(Duration::from_secs(2)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&chunk[..n]);
        if answer_complete(&answer) {
            break;
        }
    }
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

/// Whether `answer` holds a whole HTTP answer: its head and `Content-Length` bytes of body.
fn answer_complete(answer: &[u8]) -> bool {
    let text = String::from_utf8_lossy(answer);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    let length = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse::<usize>().ok())
            .flatten()
    });
    length.is_none_or(|n| body.len() >= n)
}

/// Processes whose command line mentions `dir` (for a profile directory: the Chromium
/// processes running on it). Empty where there is no `/proc`.
pub fn processes_using(dir: &Path) -> Vec<u32> {
    let needle = dir.to_string_lossy().into_owned();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            (pid != std::process::id() && String::from_utf8_lossy(&cmdline).contains(&needle))
                .then_some(pid)
        })
        .collect()
}

/// Kills what still runs on `dir` (normally nothing: chromedriver closes its browsers), and
/// waits a little for it to go.
fn kill_processes_using(dir: &Path) {
    let pids = processes_using(dir);
    if pids.is_empty() {
        return;
    }
    let _ = Command::new("kill")
        .arg("-KILL")
        .args(pids.iter().map(u32::to_string))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let deadline = Instant::now() + Duration::from_secs(2);
    while !processes_using(dir).is_empty() && Instant::now() < deadline {
        std::thread::sleep(POLL);
    }
}

fn chromedriver_bin() -> String {
    env_or("CHROMEDRIVER", "chromedriver")
}

fn chrome_bin() -> String {
    env_or("CHROME_BIN", "/usr/bin/chromium")
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default.to_string())
}

/// The last lines of a log file, for error messages.
fn tail(log: &Path) -> String {
    match std::fs::read_to_string(log) {
        Ok(text) => {
            let lines: Vec<&str> = text.lines().collect();
            let from = lines.len().saturating_sub(20);
            format!(
                "last lines of {}:\n{}",
                log.display(),
                lines[from..].join("\n")
            )
        }
        Err(_) => format!("(no chromedriver log at {})", log.display()),
    }
}

fn write_file(path: &Path, bytes: &[u8]) -> Result {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, bytes).map_err(|e| format!("writing {}: {e}", path.display()).into())
}

/// The workspace root: the nearest directory above this crate (or above the running test's
/// package) whose `Cargo.toml` declares `[workspace]`.
pub fn workspace_root() -> PathBuf {
    let start = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    start
        .ancestors()
        .find(|dir| {
            std::fs::read_to_string(dir.join("Cargo.toml"))
                .is_ok_and(|toml| toml.lines().any(|l| l.trim() == "[workspace]"))
        })
        .map(Path::to_path_buf)
        .unwrap_or(start)
}

/// Cargo's target directory: `CARGO_TARGET_DIR` (a relative one is taken from the workspace
/// root), else the workspace root's `target/`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                workspace_root().join(dir)
            }
        }
        _ => workspace_root().join("target"),
    }
}
