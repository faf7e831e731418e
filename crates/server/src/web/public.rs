//! The pages before sign-in: first-run setup, sign-in, sign-up from an invitation, and the
//! forgotten-password pair. Their forms go through `/act` to the API's public routes.

use super::api::Api;
use super::view::{Flash, V};
use super::{Web, act, encode_query, finish};
use askama::Template;
use axum::Router;
use axum::extract::{Query, Request, State};
use axum::http::request::Parts;
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;

pub fn routes() -> Router<Web> {
    Router::new()
        .route("/setup", get(setup))
        .route("/login", get(login))
        .route("/register", get(register))
        .route("/forgot-password", get(forgot))
        .route("/reset-password", get(reset))
}

#[derive(Deserialize, Default)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
    #[serde(default)]
    next: String,
}

/// The browser's API session and its toast; `Err` when setup is (or is not) still to do.
async fn start(
    web: &Web,
    parts: &Parts,
    setup_page: bool,
) -> Result<(Api, Option<Flash>), Response> {
    let mut api = Api::new(web.api.clone(), parts);
    let status = api.get("/api/v1/setup").await;
    let required = status.json["setupRequired"].as_bool().unwrap_or(false);
    if required && !setup_page {
        return Err(act::redirect("/setup", None, api.set_cookies));
    }
    if !required && setup_page {
        return Err(act::redirect("/login", None, api.set_cookies));
    }
    let flash = api.cookie(Flash::COOKIE).and_then(Flash::decode);
    Ok((api, flash))
}

#[derive(Template)]
#[template(path = "web/setup.html")]
struct SetupPage {
    flash: Option<Flash>,
}

async fn setup(State(web): State<Web>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    match start(&web, &parts, true).await {
        Ok((api, flash)) => finish(api, SetupPage { flash }.render()),
        Err(r) => r,
    }
}

#[derive(Template)]
#[template(path = "web/login.html")]
struct LoginPage {
    flash: Option<Flash>,
    next: String,
}

async fn login(State(web): State<Web>, Query(q): Query<TokenQuery>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let (mut api, flash) = match start(&web, &parts, false).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let next = if act::is_local(&q.next) && !q.next.starts_with("/login") {
        q.next
    } else {
        "/".into()
    };
    // Already signed in: straight on.
    if api.signed_in() && api.get("/api/v1/auth/me").await.ok() {
        return act::redirect(&next, None, api.set_cookies);
    }
    finish(api, LoginPage { flash, next }.render())
}

#[derive(Template)]
#[template(path = "web/register.html")]
struct RegisterPage {
    flash: Option<Flash>,
    token: String,
    invitation: Option<V>,
    problem: String,
}

async fn register(State(web): State<Web>, Query(q): Query<TokenQuery>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let (mut api, flash) = match start(&web, &parts, false).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (invitation, problem) = if q.token.is_empty() {
        (
            None,
            "This page needs the link from your invitation email.".to_string(),
        )
    } else {
        let a = api
            .get(&format!("/api/v1/invitations/{}", encode_query(&q.token)))
            .await;
        if a.ok() {
            (Some(V(a.json)), String::new())
        } else {
            (
                None,
                "This invitation link is invalid, expired or already used. Ask for a new one."
                    .into(),
            )
        }
    };
    let page = RegisterPage {
        flash,
        token: q.token,
        invitation,
        problem,
    };
    finish(api, page.render())
}

#[derive(Template)]
#[template(path = "web/forgot.html")]
struct ForgotPage {
    flash: Option<Flash>,
}

async fn forgot(State(web): State<Web>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    match start(&web, &parts, false).await {
        Ok((api, flash)) => finish(api, ForgotPage { flash }.render()),
        Err(r) => r,
    }
}

#[derive(Template)]
#[template(path = "web/reset.html")]
struct ResetPage {
    flash: Option<Flash>,
    token: String,
}

async fn reset(State(web): State<Web>, Query(q): Query<TokenQuery>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    match start(&web, &parts, false).await {
        Ok((api, flash)) => finish(
            api,
            ResetPage {
                flash,
                token: q.token,
            }
            .render(),
        ),
        Err(r) => r,
    }
}
