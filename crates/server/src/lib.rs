//! The `flowspace` server: configuration, the HTTP API and its authorization.

pub mod api;
pub mod auth;
pub mod config;
pub mod crypto;
pub mod error;
pub mod extract;
pub mod fields;
mod json_body;
pub mod login_queue;
pub mod mail;
pub mod openapi;
pub mod passwords;
pub mod routes;
pub mod secrets;
pub mod state;
pub mod tokens;
pub mod web;

use crate::error::ApiError;
use crate::state::AppState;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use tokio::net::TcpListener;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

/// Largest request body (SPEC rule 14: 413 beyond).
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole application: the API under `/api/v1`, guarded route by route.
pub fn app(state: AppState) -> Router {
    let mut by_path: BTreeMap<String, axum::routing::MethodRouter<AppState>> = BTreeMap::new();
    for def in routes::table() {
        let mut guarded = def.handler.route_layer(middleware::from_fn_with_state(
            (state.clone(), def.guard),
            auth::guard,
        ));
        if let Some(limit) = def.body_limit {
            guarded = guarded.layer(DefaultBodyLimit::max(limit));
        }
        let merged = match by_path.remove(&def.path) {
            Some(existing) => existing.merge(guarded),
            None => guarded,
        };
        by_path.insert(def.path, merged);
    }
    let mut api = Router::new();
    for (path, mr) in by_path {
        api = api.route(&path, mr);
    }
    api = api.route("/openapi.json", axum::routing::get(openapi_json));
    let api: Router = Router::new().nest("/api/v1", api).with_state(state.clone());
    let dashboard = web::router(state, api.clone().fallback(not_found));
    Router::new()
        .merge(api)
        .merge(dashboard)
        .fallback(not_found)
        .layer(middleware::from_fn(json_method_not_allowed))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(web::CSP),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID.clone()))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request| {
                let id = req
                    .headers()
                    .get(&REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!("request", method = %req.method(), path = %loggable_path(req.uri().path()), request_id = %id)
            }),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID.clone(), MakeRequestUuid))
}

/// A path fit for the logs: a segment as long as a token (invitation links carry one) is
/// replaced, so no token is ever written to a log; ids (36 characters) stay.
fn loggable_path(path: &str) -> String {
    path.split('/')
        .map(|seg| if seg.len() > 40 { "[token]" } else { seg })
        .collect::<Vec<_>>()
        .join("/")
}

/// The OpenAPI document of the route table.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    openapi::document(&routes::table())
}

async fn openapi_json() -> Response {
    match openapi_document().to_pretty_json() {
        Ok(s) => ([(header::CONTENT_TYPE, "application/json")], s).into_response(),
        Err(e) => ApiError::from(flowspace_core::DomainError::internal(e)).into_response(),
    }
}

/// A JSON 404 under `/api/`, the dashboard's page elsewhere.
async fn not_found(req: Request) -> Response {
    if req.uri().path().starts_with("/api/") {
        ApiError::not_found("route").into_response()
    } else {
        web::not_found_page().await
    }
}

/// axum answers a known path with a wrong method 405 and an `Allow` header; give it the API's
/// error body too.
async fn json_method_not_allowed(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    if res.status() != StatusCode::METHOD_NOT_ALLOWED
        || res.headers().contains_key(header::CONTENT_TYPE)
    {
        return res;
    }
    let allow = res.headers().get(header::ALLOW).cloned();
    let mut out = ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this path does not take that method",
    )
    .into_response();
    if let Some(a) = allow {
        out.headers_mut().insert(header::ALLOW, a);
    }
    out
}

/// Serves `app` on `listener` until `shutdown` completes, then drains in-flight requests.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = app(state);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// `flowspace rotate-encryption-key`: re-encrypts every credential to a new key in one
/// transaction and records the key. The new key is first kept as a previous key, so that a
/// crash at any point leaves every credential readable.
pub async fn rotate_encryption_key(
    config: config::Config,
    new_key: Option<[u8; 32]>,
) -> Result<(u64, secrets::RotatedKey), String> {
    let secrets = secrets::load(&config)?;
    if config.flowspace_encryption_key.is_some() && new_key.is_none() {
        return Err("FLOWSPACE_ENCRYPTION_KEY is configured: pass the new key with --new-key, then configure it".into());
    }
    let new = new_key.unwrap_or_else(secrets::new_encryption_key);
    if new == secrets.encryption_key {
        return Err("the new key is the current key".into());
    }
    if config.flowspace_encryption_key.is_none() {
        secrets::remember_key(&config, &new)?;
    }
    let store = flowspace_store::Store::connect(
        &config.database_url(),
        &flowspace_store::ConnectOptions::default(),
    )
    .await
    .map_err(|e| e.to_string())?;
    let old_box = crypto::SecretBox::with_previous(
        &secrets.encryption_key,
        &secrets.previous_encryption_keys,
    );
    let new_box = crypto::SecretBox::new(&new);
    let count = store
        .reseal_all_credentials(|id, sealed| {
            let plain = old_box.open(id, sealed)?;
            new_box.seal(id, &plain)
        })
        .await
        .map_err(|e| e.to_string())?;
    store.close().await;
    let saved = secrets::save_rotated_key(&config, &secrets.encryption_key, &new)?;
    Ok((count, saved))
}

/// Opens the store and secrets named by `config` and builds the state.
pub async fn build_state(config: config::Config) -> Result<AppState, String> {
    let secrets = secrets::load(&config)?;
    let url = config.database_url();
    let store = flowspace_store::Store::connect(
        &url,
        &flowspace_store::ConnectOptions {
            max_connections: config.database_max_connections,
            authz_cache_entries: config.authz_cache_entries,
            list_cache_bytes: config.list_cache_bytes,
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    AppState::new(config, store, secrets)
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_never_reach_the_logs() {
        let token = "a".repeat(43);
        let id = "01a20885-39cb-77d3-8f36-a30b9a26fafe";
        assert_eq!(
            super::loggable_path(&format!("/api/v1/invitations/{token}")),
            "/api/v1/invitations/[token]"
        );
        assert_eq!(
            super::loggable_path(&format!("/api/v1/chatflows/{id}")),
            format!("/api/v1/chatflows/{id}")
        );
    }
}
