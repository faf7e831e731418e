//! The routes of login activity and the audit trail.

use super::RouteDef;
use crate::api::activity::login_activity;
use crate::api::audit::{self, AuditEventView, ChainVerification};
use crate::auth::Guard;
use crate::openapi::{body, list};
use axum::http::Method;
use flowspace_store::LoginEvent;

pub(super) fn activity() -> Vec<RouteDef> {
    vec![
        RouteDef::new(
            Method::GET,
            "/login-activity",
            Guard::AccountAdmin,
            login_activity,
        )
        .doc(
            "login-activity",
            "Sign-in events, newest first; filters `from`, `to` (RFC 3339), `email`, `outcome`, `q` (the email contains); \
                 `Accept: text/csv` answers every filtered row as CSV",
        )
        .ok(200, list::<LoginEvent>())
        .paged()
        .searched_by("Only the events whose email contains this, case-insensitively"),
    ]
}

pub(super) fn audit() -> Vec<RouteDef> {
    vec![
        RouteDef::new(Method::GET, "/audit-events", Guard::AuditLog, audit::list)
            .doc(
                "audit",
                "Audit events, newest first: the whole organization for the Account Admin, the active workspace with auditLogs:view; \
                 filters workspaceId, actor, action, from, to (RFC 3339), q (the action, or the acting user's email or name, contains); CSV with Accept: text/csv",
            )
            .ok(200, crate::openapi::list::<AuditEventView>())
            .paged()
            .searched_by("Only the events whose action (such as chatflow.update) contains this, case-insensitively; for the Account Admin also those whose acting member's email or name contains it"),
        RouteDef::new(Method::GET, "/audit-events/verify", Guard::AccountAdmin, audit::verify)
            .doc(
                "audit",
                "Recompute the organization's audit hash chain and report the first broken event",
            )
            .ok(200, body::<ChainVerification>()),
    ]
}
