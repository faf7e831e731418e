//! Integration tests of the `flowspace` server: real HTTP against a real server on SQLite,
//! and on PostgreSQL too when `TEST_DATABASE_URL` is set.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod activity;
mod audit;
mod auth;
mod authz_cache;
mod basics;
mod binary;
mod config;
mod contract;
mod crash;
mod credential_usage;
mod dashboard;
mod flowise_export;
mod flowise_import;
mod groups;
mod hostile_input;
mod invitations;
mod isolation;
mod list_cache;
mod load;
mod lockout;
mod metrics;
mod mfa;
mod migrate_fixture;
mod openapi;
mod org_isolation;
mod org_pages;
mod organizations;
mod page_walk;
mod passkeys;
mod resources;
mod roles;
mod route_walk;
mod search;
mod sessions;
mod sso;
mod transfer;
mod transfer_pages;
mod users;
mod workspace_pickers;
mod workspaces;
