//! Browser tests: a real headless Chromium, through chromedriver, against a real server on
//! SQLite. One binary (each test file would link on its own); add a module per area.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod accessibility;
mod coverage;
mod harness;
mod mfa;
mod organizations;
mod pages;
mod passkeys;
mod search;
mod sessions;
mod sso;
mod transfer;
mod walkthrough;
mod workspace_pickers;
