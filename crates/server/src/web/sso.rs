//! The owners' single sign-on page (SPEC §8): the organization's OpenID Connect providers,
//! the redirect URI to register, adding one, testing and deleting. It reads through the store
//! in the scope its guard (owners, as the provider routes) handed out; its forms are the API
//! routes of `routes::pages`.

use super::page::{Ctx, finish};
use crate::api::sso::redirect_uri;
use crate::auth::Admin;
use crate::state::AppState;
use askama::Template;
use axum::extract::State;
use axum::response::Response;
use flowspace_store::SsoProvider;

#[derive(Template)]
#[template(path = "web/sso.html")]
struct SsoPage {
    ctx: Ctx,
    rows: Vec<SsoProvider>,
    redirect_uri: String,
}

/// `GET /organization/sso`.
pub async fn providers(State(state): State<AppState>, Admin(admin): Admin, ctx: Ctx) -> Response {
    let ctx = ctx.at("/organization/sso", "Single Sign-On");
    let rows = match state.store.sso_providers(admin.organization()).await {
        Ok(r) => r,
        Err(e) => return ctx.fail(e),
    };
    let shown = ctx.flash.is_some();
    let page = SsoPage {
        ctx,
        rows,
        redirect_uri: redirect_uri(&state),
    };
    finish(shown, page.render())
}
