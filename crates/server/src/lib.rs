//! The `flowspace` server: configuration, the HTTP API and its authorization.

pub mod api;
pub mod auth;
pub mod config;
pub mod crypto;
pub mod error;
pub mod extract;
pub mod fields;
pub mod flowise;
mod json_body;
pub mod login_queue;
pub mod mail;
pub mod metrics;
pub mod openapi;
pub mod passwords;
pub mod routes;
pub mod secrets;
pub mod sso;
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
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

/// Largest request body (SPEC rule 14: 413 beyond).
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Where the API is served.
pub(crate) const API_PREFIX: &str = "/api/v1";

/// The whole application: the API under `/api/v1`, guarded route by route.
pub fn app(state: AppState) -> Router {
    let table = routes::table();
    let mut by_path: BTreeMap<String, axum::routing::MethodRouter<AppState>> = BTreeMap::new();
    for def in &table {
        let mut guarded = def
            .handler
            .clone()
            .route_layer(middleware::from_fn_with_state(
                (state.clone(), def.guard),
                auth::guard,
            ));
        if let Some(limit) = def.body_limit {
            guarded = guarded.layer(DefaultBodyLimit::max(limit));
        }
        merge_route(&mut by_path, def.path.clone(), guarded);
    }
    // Each route at its full path, not `nest`ed under `/api/v1`: a nested route rewrites every
    // request's URI to strip the prefix (about 2% of a cached list's CPU).
    let mut api = Router::new();
    for (path, mr) in by_path {
        api = api.route(&format!("{API_PREFIX}{path}"), mr);
    }
    api = api.route(
        &format!("{API_PREFIX}/openapi.json"),
        axum::routing::get(openapi_json),
    );
    let api: Router = api.with_state(state.clone());
    let pages = dashboard(&state, &table);
    let mut root = Router::new().merge(api).merge(pages).merge(web::assets());
    if metrics::Placement::of(&state.config) == metrics::Placement::Main {
        root = root.merge(operator_routes(&state));
    }
    // Counted inside the routing, where axum's `MatchedPath` names the route template; the
    // fallback (no route matched) is counted as `metrics::UNMATCHED`. Not layered at all when
    // metrics are off.
    let root = if state.metrics.is_on() {
        let count = || middleware::from_fn_with_state(state.clone(), metrics::count);
        root.route_layer(count())
            .fallback(axum::handler::Handler::layer(not_found, count()))
    } else {
        root.fallback(not_found)
    };
    // One `layer` call with the whole stack (outermost first): each call wraps every route
    // once more, and each wrapping is a boxed service cloned on every request.
    root.layer(
        ServiceBuilder::new()
            .layer(SetRequestIdLayer::new(REQUEST_ID.clone(), MakeRequestUuid))
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(|req: &Request| {
                        let id = req
                            .headers()
                            .get(&REQUEST_ID)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("-");
                        tracing::info_span!("request", method = %req.method(), path = %loggable_path(req.uri().path()), request_id = %id)
                    })
                    .on_failure(log_failure),
            )
            .layer(PropagateRequestIdLayer::new(REQUEST_ID.clone()))
            .layer(SetResponseHeaderLayer::if_not_present(
                header::CACHE_CONTROL,
                HeaderValue::from_static("no-store"),
            ))
            .layer(SetResponseHeaderLayer::if_not_present(
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ))
            .layer(SetResponseHeaderLayer::if_not_present(
                header::X_FRAME_OPTIONS,
                HeaderValue::from_static("DENY"),
            ))
            .layer(SetResponseHeaderLayer::if_not_present(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(web::CSP),
            ))
            .layer(SetResponseHeaderLayer::if_not_present(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ))
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .layer(middleware::from_fn(json_method_not_allowed)),
    )
}

/// A server error, logged: a 503 is the server shedding load by design (a full sign-in queue,
/// with Retry-After), counted by the metrics and not worth an error line each (under a
/// burst, thousands a second); anything else is an error.
fn log_failure(
    class: tower_http::classify::ServerErrorsFailureClass,
    latency: std::time::Duration,
    _span: &tracing::Span,
) {
    use tower_http::classify::ServerErrorsFailureClass::StatusCode as Status;
    let ms = latency.as_millis();
    match class {
        Status(code) if code == axum::http::StatusCode::SERVICE_UNAVAILABLE => {
            tracing::debug!(status = %code, latency_ms = ms, "shed load");
        }
        class => tracing::error!(classification = %class, latency_ms = ms, "response failed"),
    }
}

/// The operator routes (`routes::operator_routes`), each behind its guard.
fn operator_routes(state: &AppState) -> Router {
    let mut r = Router::new();
    for def in routes::operator_routes() {
        let guarded = def.handler.route_layer(middleware::from_fn_with_state(
            (state.clone(), def.guard),
            auth::guard,
        ));
        r = r.route(def.path, guarded);
    }
    r.with_state(state.clone())
}

/// What the listener on METRICS_ADDR serves: the operator routes, and 404 for anything else.
pub fn metrics_app(state: AppState) -> Router {
    operator_routes(&state)
        .fallback(|| async { StatusCode::NOT_FOUND })
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
}

/// Adds a method router to the routes of `path`.
fn merge_route(
    by_path: &mut BTreeMap<String, axum::routing::MethodRouter<AppState>>,
    path: String,
    route: axum::routing::MethodRouter<AppState>,
) {
    let merged = match by_path.remove(&path) {
        Some(existing) => existing.merge(route),
        None => route,
    };
    by_path.insert(path, merged);
}

/// The dashboard's pages and forms (`routes::pages`), each behind its guard and the layers that
/// make a guarded route a page (`web::surface::page`) or a form (`web::surface::form`). A form
/// is the API route it stands for: `table`'s guard, handler and body limit.
fn dashboard(state: &AppState, table: &[routes::RouteDef]) -> Router {
    let page_layer = || middleware::from_fn_with_state(state.clone(), web::surface::page);
    let mut by_path: BTreeMap<String, axum::routing::MethodRouter<AppState>> = BTreeMap::new();
    for def in routes::pages::pages() {
        let page = def
            .handler
            .route_layer(middleware::from_fn_with_state(
                (state.clone(), def.guard),
                auth::guard,
            ))
            .route_layer(page_layer());
        merge_route(&mut by_path, def.path, page);
    }
    for form in routes::pages::forms() {
        let Some(api) = form.stands_for(table) else {
            // `routes::pages` tests that every form stands for a route: never reached.
            tracing::error!(form = %form.path, "a form stands for no API route");
            continue;
        };
        let limit = api.body_limit.unwrap_or(MAX_BODY_BYTES);
        let meta = web::surface::FormMeta {
            method: api.method.clone(),
            route: format!("{API_PREFIX}{}", api.path),
            public: api.guard.is_public(),
            limit,
            answer: form.answer,
            secure_cookies: state.config.secure_cookies(),
        };
        let route = api
            .as_form
            .clone()
            .route_layer(middleware::from_fn_with_state(
                (state.clone(), api.guard),
                auth::guard,
            ))
            .route_layer(middleware::from_fn_with_state(
                (state.clone(), meta),
                web::surface::form,
            ))
            .route_layer(page_layer())
            .layer(DefaultBodyLimit::max(limit));
        merge_route(&mut by_path, form.path, route);
    }
    let mut r = Router::new();
    for (path, mr) in by_path {
        r = r.route(&path, mr);
    }
    // `same-origin`, not the API's `no-referrer`: under `no-referrer` a browser sends
    // `Origin: null` with a form, which `web::surface::cross_site` must refuse where no
    // `Sec-Fetch-Site` tells (plain HTTP away from localhost).
    r.with_state(state.clone())
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
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
/// With METRICS_ADDR set, `/metrics` is not served: use `serve_with_metrics`.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with_metrics(listener, None, state, shutdown).await
}

/// Serves `app` on `listener`, and `metrics_app` on `metrics` (the listener bound to
/// METRICS_ADDR) when given, until `shutdown` completes; then drains both. Meanwhile keeps the
/// metrics' memory flat (`Metrics::upkeep`).
pub async fn serve_with_metrics(
    listener: TcpListener,
    metrics: Option<TcpListener>,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if matches!(
        metrics::Placement::of(&state.config),
        metrics::Placement::Own(_)
    ) && metrics.is_none()
    {
        tracing::warn!(
            "METRICS_ADDR is set but no listener was bound to it: /metrics is not served"
        );
    }
    // Dropped when `shutdown` completes (or the main server ends): the metrics listener then
    // drains too.
    let (stop, mut stopped) = tokio::sync::watch::channel(());
    let main = axum::serve(
        listener,
        app(state.clone()).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown.await;
        drop(stop);
    });
    let side = async {
        match metrics {
            Some(l) => {
                axum::serve(l, metrics_app(state.clone()))
                    .with_graceful_shutdown(async move {
                        let _ = stopped.changed().await;
                    })
                    .await
            }
            None => Ok(()),
        }
    };
    let servers = async {
        let (a, b) = tokio::join!(main, side);
        a.and(b)
    };
    tokio::select! {
        r = servers => r,
        () = state.metrics.upkeep() => Ok(()),
    }
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
    let metrics = metrics::Metrics::new(&config)?;
    let url = config.database_url();
    let store = flowspace_store::Store::connect(
        &url,
        &flowspace_store::ConnectOptions {
            max_connections: config.database_max_connections,
            authz_cache_entries: config.authz_cache_entries,
            list_cache_bytes: config.list_cache_bytes,
            cache_counters: metrics.cache_counters(),
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    let state = AppState::new(config, store, secrets, metrics)?;
    api::sso::ensure_env_provider(&state).await?;
    Ok(state)
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
