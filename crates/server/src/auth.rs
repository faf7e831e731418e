//! Authentication and authorization of every route, in one place.
//!
//! Each route of the table in `routes.rs` carries a `Guard`. The `guard` middleware runs
//! before the handler, whatever the handler extracts: it refuses everything but setup and
//! health until setup is done (rule 1), authenticates the caller (bearer JWT, API key, or the
//! dashboard's cookies with their CSRF token), loads the caller's standing from the database
//! (rule 3), and asks `flowspace_core::authz` for the scope the guard needs. Handlers receive
//! that scope through the `Caller`, `Admin` and `Scope` extractors; without it they cannot
//! reach workspace-scoped storage.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use flowspace_core::authz::{self, Actor, AdminScope, CallerFacts, WorkspaceScope};
use flowspace_core::ids::{SessionId, WorkspaceId};
use flowspace_core::permissions::Permission;
use flowspace_core::{DomainError, DomainResult};
use flowspace_store::{AuditContext, AuditEvent};
use std::net::SocketAddr;

/// What a route requires of its caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Guard {
    /// Anyone, even before setup (setup and health).
    Open,
    /// Anyone, once setup is done (login, refresh, ...).
    Public,
    /// A signed-in user (a session, not an API key).
    SignedIn,
    /// The organization's Account Admin, signed in.
    AccountAdmin,
    /// The permission in the active workspace (`X-Workspace-Id` or the session's).
    Workspace(Permission),
    /// The permission in the workspace named by the path's `{id}`.
    PathWorkspace(Permission),
}

impl Guard {
    pub fn is_public(self) -> bool {
        matches!(self, Guard::Open | Guard::Public)
    }
}

pub const ACCESS_COOKIE: &str = "fs_access";
pub const REFRESH_COOKIE: &str = "fs_refresh";
pub const CSRF_COOKIE: &str = "fs_csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";
pub const WORKSPACE_HEADER: &str = "x-workspace-id";

/// The authenticated caller, as loaded for this request.
#[derive(Clone, Debug)]
pub struct Caller {
    pub facts: CallerFacts,
    /// The session, for a signed-in user.
    pub session: Option<SessionId>,
}

/// The Account Admin's scope, for `Guard::AccountAdmin` routes.
#[derive(Clone, Debug)]
pub struct Admin(pub AdminScope);

/// The workspace scope, for `Guard::Workspace` and `Guard::PathWorkspace` routes.
#[derive(Clone, Debug)]
pub struct Scope(pub WorkspaceScope);

fn missing_guard() -> ApiError {
    ApiError::from(DomainError::Internal(
        "route extracts a scope its guard does not give".into(),
    ))
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(missing_guard)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Admin {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<Admin>()
            .cloned()
            .ok_or_else(missing_guard)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Scope {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<Scope>()
            .cloned()
            .ok_or_else(missing_guard)
    }
}

/// A cookie's value from the request.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_string())
}

enum Credential {
    Bearer(String),
    Cookie(String),
}

fn credential(headers: &HeaderMap) -> Option<Credential> {
    if let Some(v) = headers.get(header::AUTHORIZATION) {
        let v = v.to_str().ok()?;
        let (scheme, token) = v.split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| Credential::Bearer(token.trim().to_string()));
    }
    cookie(headers, ACCESS_COOKIE).map(Credential::Cookie)
}

fn requested_workspace(headers: &HeaderMap) -> DomainResult<Option<WorkspaceId>> {
    match headers.get(WORKSPACE_HEADER) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .map(Some)
            .ok_or(DomainError::NotFound("workspace")),
    }
}

fn unauthenticated() -> ApiError {
    ApiError::unauthorized("sign in first: send a valid bearer token or API key")
}

/// Authenticates the request and loads the caller's facts; `requested` is the workspace the
/// request wants to act in, if it names one.
async fn authenticate(
    state: &AppState,
    method: &Method,
    headers: &HeaderMap,
    requested: Option<WorkspaceId>,
) -> Result<Caller, ApiError> {
    match credential(headers).ok_or_else(unauthenticated)? {
        Credential::Bearer(token) if token.starts_with(crate::crypto::API_KEY_PREFIX) => {
            let hash = crate::crypto::api_key_hash(&token);
            let facts = state
                .store
                .api_key_facts(&hash, requested)
                .await?
                .ok_or_else(|| {
                    ApiError::unauthorized("the API key is invalid, expired or revoked")
                })?;
            if facts.touch_due {
                let store = state.store.clone();
                let key = facts.key;
                tokio::spawn(async move {
                    if let Err(e) = store.touch_api_key(key).await {
                        tracing::warn!(error = %e, "could not record API key use");
                    }
                });
            }
            Ok(Caller {
                facts: facts.caller,
                session: None,
            })
        }
        Credential::Bearer(token) => session_caller(state, &token, requested).await,
        Credential::Cookie(token) => {
            let caller = session_caller(state, &token, requested).await?;
            if !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
                let sent = headers
                    .get(CSRF_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                let expected = caller
                    .session
                    .map(|s| state.csrf_token(s))
                    .unwrap_or_default();
                if expected.is_empty() || !constant_time_eq(sent.as_bytes(), expected.as_bytes()) {
                    return Err(ApiError::new(
                        StatusCode::FORBIDDEN,
                        "csrf_failed",
                        "missing or wrong CSRF token (send the fs_csrf cookie's value in X-CSRF-Token)",
                    ));
                }
            }
            Ok(caller)
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn session_caller(
    state: &AppState,
    token: &str,
    requested: Option<WorkspaceId>,
) -> Result<Caller, ApiError> {
    let claims = state.tokens.verify(token).ok_or_else(|| {
        ApiError::unauthorized(
            "the access token is invalid or expired: refresh it or sign in again",
        )
    })?;
    let facts = state
        .store
        .session_facts(claims.sid, claims.sub, requested)
        .await?
        .ok_or_else(|| ApiError::unauthorized("the session has ended: sign in again"))?;
    Ok(Caller {
        session: Some(facts.session),
        facts: facts.caller,
    })
}

/// The middleware that enforces a route's guard.
pub async fn guard(
    State((state, guard)): State<(AppState, Guard)>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if guard != Guard::Open && !state.setup_done().await? {
        return Err(DomainError::SetupRequired.into());
    }
    if guard.is_public() {
        return Ok(next.run(req).await);
    }
    let header_ws = requested_workspace(req.headers());
    let (requested, bad_id) = match guard {
        Guard::PathWorkspace(_) => {
            use axum::RequestExt;
            let id = req
                .extract_parts::<axum::extract::RawPathParams>()
                .await
                .ok()
                .and_then(|p| {
                    p.iter()
                        .find(|(k, _)| *k == "id")
                        .and_then(|(_, v)| v.parse().ok())
                });
            (id, id.is_none())
        }
        _ => match &header_ws {
            Ok(ws) => (*ws, false),
            Err(_) => (None, true),
        },
    };
    let mut caller = authenticate(&state, req.method(), req.headers(), requested).await?;
    caller.facts.ip = client_ip(&state, req.headers(), req.extensions());
    // An unparsable workspace id is one that does not exist — said only once the caller is
    // known, so that an anonymous request still gets 401.
    if bad_id {
        return Err(ApiError::not_found("workspace"));
    }
    let facts = &caller.facts;
    match guard {
        Guard::Open | Guard::Public => {}
        Guard::SignedIn => {
            if !matches!(facts.actor, Actor::User(_)) {
                return Err(DomainError::forbidden(
                    "this route needs a signed-in user, not an API key",
                )
                .into());
            }
        }
        Guard::AccountAdmin => match authz::authorize_account_admin(facts) {
            Ok(admin) => {
                req.extensions_mut().insert(Admin(admin));
            }
            Err(e) => {
                record_denial(&state, denied_route(&req), facts, None).await;
                return Err(e.into());
            }
        },
        Guard::Workspace(p) | Guard::PathWorkspace(p) => match authz::authorize(facts, p) {
            Ok(scope) => {
                req.extensions_mut().insert(Scope(scope));
            }
            Err(e) => {
                if matches!(e, DomainError::MissingPermission { .. }) {
                    record_denial(&state, denied_route(&req), facts, Some(p)).await;
                }
                return Err(e.into());
            }
        },
    }
    req.extensions_mut().insert(caller);
    Ok(next.run(req).await)
}

/// With `TRUST_PROXY`, the client address the proxy saw: the last `X-Forwarded-For` entry (the
/// one our proxy appended; entries before it are the client's to write), if it is an IP.
pub fn forwarded_ip(state: &AppState, headers: &axum::http::HeaderMap) -> Option<String> {
    if !state.config.trust_proxy {
        return None;
    }
    let last = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .last()?;
    last.trim()
        .parse::<std::net::IpAddr>()
        .ok()
        .map(|ip| ip.to_string())
}

/// Where the request comes from: the socket's address, or the proxy's view of the client
/// when the server sits behind a trusted proxy (`TRUST_PROXY`).
pub(crate) fn client_ip(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    extensions: &axum::http::Extensions,
) -> Option<String> {
    forwarded_ip(state, headers).or_else(|| {
        extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string())
    })
}

/// The method and route template of a request (its path when no route matched).
pub(crate) fn denied_route(req: &Request) -> (String, String) {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| req.uri().path().to_string(), |m| m.as_str().to_string());
    (req.method().to_string(), route)
}

/// Records a refused authorization (`access.denied`) in the audit trail: the route and the
/// permission that was missing (`None`: the route is the Account Admin's). Recording is best
/// effort: a failure is logged, and the caller still gets the 403.
pub(crate) async fn record_denial(
    state: &AppState,
    (method, route): (String, String),
    facts: &CallerFacts,
    missing: Option<Permission>,
) {
    let ctx = AuditContext::from_facts(facts);
    let ev = AuditEvent {
        workspace: facts.workspace.as_ref().map(|w| w.workspace),
        action: "access.denied",
        target_kind: "route",
        target_id: None,
        summary: serde_json::json!({
            "method": method,
            "route": route,
            "missingPermission": missing.map(|p| p.to_string()),
            "accountAdminRequired": missing.is_none(),
        }),
    };
    if let Err(e) = state.store.record_audit(&ctx, &ev).await {
        tracing::error!(error = %e, route = %route, "could not record a denied request");
    }
}
