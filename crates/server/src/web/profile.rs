//! The signed-in user's own page (`/profile`): who they are, and their open sessions with a
//! button to end each and one to sign out everywhere else (issue 16, item 4).
//!
//! Guarded as `GET /auth/sessions` is (`SignedIn`) and read through the same store call in the
//! caller's own scope; its buttons are the forms standing for `DELETE /auth/sessions/{id}` and
//! `POST /auth/sessions/revoke-others` (`routes::pages`).

use super::page::{Ctx, When, finish};
use crate::auth::Myself;
use crate::state::AppState;
use askama::Template;
use axum::extract::State;
use axum::response::Response;
use flowspace_core::model::Session;

#[derive(Template)]
#[template(path = "web/profile.html")]
struct ProfilePage {
    ctx: Ctx,
    sessions: Vec<Session>,
}

/// `GET /profile`: the caller's account and open sessions.
pub async fn show(State(state): State<AppState>, Myself(me): Myself, ctx: Ctx) -> Response {
    let ctx = ctx.at("/profile", "Your profile");
    let sessions = match state.store.open_sessions(&me).await {
        Ok(s) => s,
        Err(e) => return ctx.fail(e),
    };
    let shown = ctx.flash.is_some();
    finish(shown, ProfilePage { ctx, sessions }.render())
}
