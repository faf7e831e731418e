//! The web dashboard (SPEC §6): server-rendered pages at `/`, one path per page.
//!
//! The dashboard holds no authority of its own. Every page and form is declared in
//! `routes::pages` behind the same guards as the API: a page reads through the API's services
//! in the scope its guard handed out (`page::Ctx` for the layout), and a form *is* the API
//! route it stands for (`surface`). A button the user may not use is not rendered; a forged
//! request is refused by the route's guard anyway.
//!
//! Pages are askama templates under `templates/web/`; the stylesheet and the small script
//! are compiled into the binary. Every form works without the script.

pub mod groups;
pub mod items;
pub mod logs;
pub mod mfa;
pub mod organizations;
pub mod page;
pub mod profile;
pub mod public;
pub mod roles;
pub mod sso;
pub mod surface;
pub mod transfer;
pub mod users;
pub mod view;
pub mod workspaces;

use crate::auth::Myself;
use askama::Template;
use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use tower_http::set_header::SetResponseHeaderLayer;
use view::Flash;

/// The Content-Security-Policy of every answer: nothing inline, nothing from elsewhere.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
form-action 'self'; frame-ancestors 'none'; base-uri 'none'; connect-src 'self'";

/// The dashboard's assets (its pages and forms are built from `routes::pages`).
pub fn assets() -> Router {
    Router::new()
        .route("/assets/app.css", get(css))
        .route("/assets/app.js", get(js))
        .route("/favicon.svg", get(favicon))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
}

/// `GET /`: the first resource page the caller may view.
pub async fn home(Myself(_): Myself, ctx: page::Ctx) -> Response {
    let to = ctx.resource_nav().first().map_or("/chatflows", |l| l.href);
    surface::redirect(to, None, Vec::new())
}

async fn css() -> Response {
    asset(
        "text/css; charset=utf-8",
        include_str!("../../assets/app.css"),
    )
}

async fn js() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../../assets/app.js"),
    )
}

async fn favicon() -> Response {
    asset("image/svg+xml", include_str!("../../assets/favicon.svg"))
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        body,
    )
        .into_response()
}

/// The cookie that carries a toast to the next page.
pub fn flash_cookie(f: &Flash) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{}={}; Path=/; Max-Age=60; HttpOnly; SameSite=Lax",
        Flash::COOKIE,
        f.encode()
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("fs_flash=; Path=/; Max-Age=0"))
}

/// A rendered page as a response, with the cookies to set.
pub fn page_response(
    rendered: Result<String, askama::Error>,
    cookies: Vec<HeaderValue>,
) -> Response {
    let mut res = match rendered {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "page template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal server error").into_response()
        }
    };
    for c in cookies {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res
}

#[derive(Template)]
#[template(path = "web/error.html")]
struct ErrorAnswer {
    ctx: Option<page::Ctx>,
    status: u16,
    message: String,
}

/// A page that says why a page cannot be shown (inside the layout when the user is known).
pub fn error_response(ctx: Option<page::Ctx>, status: StatusCode, message: &str) -> Response {
    let flash_shown = ctx.as_ref().is_some_and(|c| c.flash.is_some());
    let page = ErrorAnswer {
        ctx,
        status: status.as_u16(),
        message: message.into(),
    };
    let mut res = page::finish(flash_shown, page.render());
    *res.status_mut() = status;
    res
}

/// A page that says why a page cannot be shown, to a caller the server does not know.
pub fn error_page_plain(status: StatusCode, message: &str) -> Response {
    error_response(None, status, message)
}

/// A query-string value, percent-encoded.
pub fn encode_query(s: &str) -> String {
    serde_urlencoded::to_string([("", s)])
        .map(|q| q.trim_start_matches('=').to_string())
        .unwrap_or_default()
}

/// The HTML 404 of the dashboard.
pub async fn not_found_page() -> Response {
    error_page_plain(StatusCode::NOT_FOUND, "There is no page here.")
}
