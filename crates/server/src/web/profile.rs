//! The signed-in user's own page (`/profile`): who they are, their two-factor sign-in (SPEC §9)
//! and their open sessions with a button to end each and one to sign out everywhere else
//! (issue 16, item 4).
//!
//! Guarded `Enrolling` (a member who must still set up two-factor sign-in may open it, and sees
//! only that part); the sessions are read through `GET /auth/sessions`'s store call in the
//! caller's own scope; its buttons are the forms standing for `DELETE /auth/sessions/{id}`,
//! `POST /auth/sessions/revoke-others` and the `/auth/mfa` routes (`routes::pages`). The
//! passkey ceremonies are the parts that need the page's script (`assets/app.js`): adding a
//! passkey (the browser's WebAuthn call sits between `POST /auth/mfa/passkeys/registration`
//! and `POST /auth/mfa/passkeys`), and proving one of the user's passkeys before a change of
//! second factors (`POST /auth/mfa/passkeys/confirmation`, its answer sent with the change);
//! with an authenticator app, a code proves it without script.

use super::page::{Ctx, When, finish};
use crate::auth::{Caller, Myself};
use crate::state::AppState;
use askama::Template;
use axum::extract::State;
use axum::response::Response;
use flowspace_core::model::Session;
use flowspace_store::PasskeySummary;

#[derive(Template)]
#[template(path = "web/profile.html")]
struct ProfilePage {
    ctx: Ctx,
    sessions: Vec<Session>,
    totp: bool,
    recovery_codes_left: i64,
    passkeys: Vec<PasskeySummary>,
    /// The organization requires two-factor sign-in and the caller has not set it up: the
    /// page shows only the enrolment (the session routes would refuse them).
    required: bool,
}

/// `GET /profile`: the caller's account, two-factor sign-in and open sessions (open also to a
/// member who must still set up two-factor sign-in, SPEC §9).
pub async fn show(
    State(state): State<AppState>,
    Myself(me): Myself,
    caller: Caller,
    ctx: Ctx,
) -> Response {
    let ctx = ctx.at("/profile", "Your profile");
    let required = caller.facts.mfa_pending;
    let sessions = if required {
        Vec::new()
    } else {
        match state.store.open_sessions(&me).await {
            Ok(s) => s,
            Err(e) => return ctx.fail(e),
        }
    };
    let status = match state.store.mfa_status(me.user_id()).await {
        Ok(s) => s,
        Err(e) => return ctx.fail(e),
    };
    let passkeys = match state.store.passkeys(me.user_id()).await {
        Ok(p) => p.into_iter().map(|p| p.summary).collect(),
        Err(e) => return ctx.fail(e),
    };
    let page = ProfilePage {
        sessions,
        passkeys,
        totp: status.totp,
        recovery_codes_left: status.recovery_codes_left,
        required,
        ctx,
    };
    finish(page.ctx.flash.is_some(), page.render())
}
