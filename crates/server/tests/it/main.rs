//! Integration tests of the `flowspace` server: real HTTP against a real server on SQLite,
//! and on PostgreSQL too when `TEST_DATABASE_URL` is set.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod basics;
