//! The dashboard's two-factor sign-in (SPEC §9): the code page of a sign-in's second step, and
//! the answers of the profile page's forms (`web::profile`), where an authenticator app is set
//! up (enrolment shows its secret and QR code; activation shows the recovery codes once) or
//! removed. Each form is its API route
//! (`routes::pages`): `/login/mfa` is `POST /auth/mfa/verify`, the profile's forms are
//! `POST /auth/mfa/totp/enroll`, `/activate`, `DELETE /auth/mfa/totp` and
//! `DELETE /auth/mfa/passkeys/{id}`. The code page offers what the account has: the code
//! (and recovery code) forms for an authenticator app, "Use a passkey" for passkeys (the
//! page's script asks `POST /auth/mfa/passkey/options`, calls the browser's WebAuthn, and posts
//! the answer in the same form as a code).

use super::page::finish;
use super::surface::{Answered, is_local, redirect};
use super::view::Flash;
use crate::auth::cookie;
use crate::state::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use serde::Deserialize;

/// The cookie that carries a sign-in's `mfaToken` from the password form to the code page
/// (HttpOnly, only sent to `/login/mfa`, as long as the token lives).
pub const MFA_COOKIE: &str = "fs_mfa";

/// The `Set-Cookie` of a second step's token.
pub fn token_cookie(token: &str, secure: bool) -> Option<HeaderValue> {
    let c = cookie::Cookie::build((MFA_COOKIE, token.to_string()))
        .path("/login/mfa")
        .http_only(true)
        .secure(secure)
        .same_site(cookie::SameSite::Strict)
        .max_age(cookie::time::Duration::seconds(
            flowspace_core::rules::mfa::MFA_TOKEN_SECS,
        ))
        .build();
    HeaderValue::from_str(&c.to_string()).ok()
}

#[derive(Deserialize, Default)]
pub struct NextQuery {
    #[serde(default)]
    next: String,
}

#[derive(Template)]
#[template(path = "web/login_mfa.html")]
struct CodePage {
    flash: Option<Flash>,
    token: String,
    next: String,
    /// This page again, for a refusal to come back to.
    back: String,
    /// Offer the code forms (the account has an authenticator app).
    totp: bool,
    /// Offer "Use a passkey".
    passkey: bool,
}

/// `GET /login/mfa`: the second step of a sign-in (the token from the password form's
/// cookie); without one, back to the sign-in page.
pub async fn code_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> Response {
    let Some(token) = cookie(&headers, MFA_COOKIE).filter(|t| !t.is_empty()) else {
        let flash = Flash {
            ok: false,
            text: "Your sign-in has expired: sign in again.".into(),
        };
        return redirect("/login", Some(flash), Vec::new());
    };
    let next = if is_local(&q.next) && !q.next.starts_with("/login") {
        q.next
    } else {
        "/".into()
    };
    let back = format!(
        "/login/mfa?{}",
        serde_urlencoded::to_string([("next", next.as_str())]).unwrap_or_default()
    );
    // What the sign-in's account has; for a token that is no longer valid, everything (the
    // answer will say it has expired).
    let status = match state
        .store
        .mfa_challenge(&state.token_hash("mfa", token.trim()))
        .await
    {
        Ok(Some((c, true))) => state.store.mfa_status(c.user).await.ok(),
        _ => None,
    };
    let page = CodePage {
        flash: cookie(&headers, Flash::COOKIE).and_then(|f| Flash::decode(&f)),
        token,
        next,
        back,
        totp: status.is_none_or(|s| s.totp),
        passkey: status.is_none_or(|s| s.passkeys > 0),
    };
    finish(page.flash.is_some(), page.render())
}

#[derive(Template)]
#[template(path = "web/mfa_enroll.html")]
struct EnrollPage<'a> {
    csrf: &'a str,
    secret: &'a str,
    uri: &'a str,
    qr_svg: &'a str,
}

/// The answer of the enrolment form: the secret, its QR code, and the form that activates it.
pub fn enrolled(a: &Answered<'_>) -> Response {
    let page = EnrollPage {
        csrf: a.csrf,
        secret: a.answer["secret"].as_str().unwrap_or_default(),
        uri: a.answer["otpauthUri"].as_str().unwrap_or_default(),
        qr_svg: a.answer["qrSvg"].as_str().unwrap_or_default(),
    };
    finish(false, page.render())
}

#[derive(Template)]
#[template(path = "web/mfa_recovery.html")]
struct RecoveryPage {
    codes: Vec<String>,
}

/// The answer of the activation form: the recovery codes, shown once.
pub fn activated(a: &Answered<'_>) -> Response {
    let codes = a.answer["recoveryCodes"]
        .as_array()
        .map(|v| {
            v.iter()
                .filter_map(|c| c.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    finish(false, RecoveryPage { codes }.render())
}
