//! The pages before sign-in: first-run setup, sign-in, sign-up from an invitation, and the
//! forgotten-password pair. `routes::pages` declares them with their guards (setup is open
//! until it is done; the others answer only after setup) and their forms, each the public API
//! route it stands for (`POST /setup`, `/auth/login`, `/auth/register`,
//! `/auth/forgot-password`, `/auth/reset-password`), posted to the page's own path.

use super::page::finish;
use super::surface::{is_local, redirect};
use super::view::Flash;
use crate::api::invitations::{InvitationPreview, preview};
use crate::api::session::ClientInfo;
use crate::auth::cookie;
use crate::state::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;

#[derive(Deserialize, Default)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
    #[serde(default)]
    next: String,
}

/// The toast the previous page left.
fn flash(headers: &HeaderMap) -> Option<Flash> {
    cookie(headers, Flash::COOKIE).and_then(|f| Flash::decode(&f))
}

/// A page of its own, its toast cleared once shown.
fn show(flash: &Option<Flash>, rendered: Result<String, askama::Error>) -> Response {
    finish(flash.is_some(), rendered)
}

#[derive(Template)]
#[template(path = "web/setup.html")]
struct SetupPage {
    flash: Option<Flash>,
}

/// `GET /setup`: the first-run form, until setup is done; then the sign-in page.
pub async fn setup(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match state.setup_done().await {
        Ok(true) => redirect("/login", None, Vec::new()),
        Ok(false) => {
            let page = SetupPage {
                flash: flash(&headers),
            };
            show(&page.flash, page.render())
        }
        Err(e) => {
            let e = crate::error::ApiError::from(e);
            super::error_page_plain(e.status, &e.message)
        }
    }
}

#[derive(Template)]
#[template(path = "web/login.html")]
struct LoginPage {
    flash: Option<Flash>,
    next: String,
}

/// Where the sign-in form goes on success: `next` if it is a page of this site other than
/// the sign-in page itself, else the home page.
fn after_sign_in(next: String) -> String {
    if is_local(&next) && !next.starts_with("/login") {
        next
    } else {
        "/".into()
    }
}

/// `GET /login`: the sign-in form; a browser already signed in goes straight on.
pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
) -> Response {
    let next = after_sign_in(q.next);
    if crate::auth::live_session(&state, &headers).await {
        return redirect(&next, None, Vec::new());
    }
    let page = LoginPage {
        flash: flash(&headers),
        next,
    };
    show(&page.flash, page.render())
}

#[derive(Template)]
#[template(path = "web/register.html")]
struct RegisterPage {
    flash: Option<Flash>,
    token: String,
    invitation: Option<InvitationPreview>,
    problem: String,
}

/// `GET /register?token=`: the sign-up form of a valid invitation (read as
/// `GET /invitations/lookup?token=` reads it), or why there is none.
pub async fn register(
    State(state): State<AppState>,
    client: ClientInfo,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
) -> Response {
    let (invitation, problem) = if q.token.is_empty() {
        (
            None,
            "This page needs the link from your invitation email.".to_string(),
        )
    } else {
        match preview(&state, &client, &q.token).await {
            Ok(inv) => (Some(inv), String::new()),
            Err(_) => (
                None,
                "This invitation link is invalid, expired or already used. Ask for a new one."
                    .into(),
            ),
        }
    };
    let page = RegisterPage {
        flash: flash(&headers),
        token: q.token,
        invitation,
        problem,
    };
    show(&page.flash, page.render())
}

#[derive(Template)]
#[template(path = "web/forgot.html")]
struct ForgotPage {
    flash: Option<Flash>,
}

/// `GET /forgot-password`: asks for the email to send a reset link to.
pub async fn forgot(headers: HeaderMap) -> Response {
    let page = ForgotPage {
        flash: flash(&headers),
    };
    show(&page.flash, page.render())
}

#[derive(Template)]
#[template(path = "web/reset.html")]
struct ResetPage {
    flash: Option<Flash>,
    token: String,
}

/// `GET /reset-password?token=`: the new-password form of a reset link.
pub async fn reset(headers: HeaderMap, Query(q): Query<TokenQuery>) -> Response {
    let page = ResetPage {
        flash: flash(&headers),
        token: q.token,
    };
    show(&page.flash, page.render())
}

#[cfg(test)]
mod tests {
    use super::after_sign_in;

    #[test]
    fn sign_in_goes_on_to_a_local_page_never_back_to_itself() {
        assert_eq!(
            after_sign_in("/credentials?cursor=x".into()),
            "/credentials?cursor=x"
        );
        for bad in [
            "",
            "/login",
            "/login?next=/x",
            "//evil.example",
            "https://evil.example",
        ] {
            assert_eq!(after_sign_in(bad.into()), "/", "{bad}");
        }
    }
}
