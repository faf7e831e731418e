//! The store's conformance suite: every test runs on SQLite, and on PostgreSQL too when
//! `TEST_DATABASE_URL` is set, against a fresh database each time. Scopes are obtained the way
//! the server obtains them: `session_facts` after `create_session`, then `authorize`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

mod authz_cache;
mod isolation;
mod items;
mod migrations;
mod organizations;
mod plans;
mod search;
mod sessions;
mod setup;
mod users;
mod workspaces;
