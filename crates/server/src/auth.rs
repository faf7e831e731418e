//! Authentication and authorization of every route, in one place.
//!
//! Each route of the table in `routes.rs` carries a `Guard`. The `guard` middleware runs
//! before the handler, whatever the handler extracts: it refuses everything but setup and
//! health until setup is done (rule 1), authenticates the caller (bearer JWT, API key, or the
//! dashboard's cookies with their CSRF token), loads the caller's standing from the database
//! (rule 3), and asks `flowspace_core::authz` for the scope the guard needs. Handlers receive
//! that scope through the `Me`, `Admin`, `Scope`, `Audit` and `Each` extractors (and the
//! caller's facts through `Caller`); without it they cannot reach scoped storage. No handler
//! decides who may call it: a refusal is always the guard's, and recorded by it.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use flowspace_core::authz::{
    self, Actor, AdminScope, AuditScope, CallerFacts, SelfScope, WorkspaceFacts, WorkspaceScope,
    WorkspacesScope,
};
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
    /// A signed-in user (a session, not an API key), acting on their own account (`Me`).
    SignedIn,
    /// The organization's Account Admin, signed in (`Admin`).
    AccountAdmin,
    /// The permission in the active workspace (`X-Workspace-Id` or the session's) (`Scope`).
    Workspace(Permission),
    /// The permission in the workspace named by the path's `{id}` (`Scope`).
    PathWorkspace(Permission),
    /// The permission in the workspace named by the JSON body's `workspaceId` (`Scope`).
    BodyWorkspace(Permission),
    /// The permission in the workspace of the invitation named by the path's `{id}` (`Scope`);
    /// an invitation the caller may not reach is not found.
    InvitationWorkspace(Permission),
    /// A signed-in user; the scope lists the workspaces where they hold the permission
    /// (`Each`).
    EachWorkspace(Permission),
    /// The audit events the caller may read (`Audit`): the organization's for the Account
    /// Admin, the active workspace's with `auditLogs:view`.
    AuditLog,
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

/// The signed-in user's own scope, for `Guard::SignedIn` routes.
#[derive(Clone, Debug)]
pub struct Me(pub SelfScope);

/// The Account Admin's scope, for `Guard::AccountAdmin` routes.
#[derive(Clone, Debug)]
pub struct Admin(pub AdminScope);

/// The workspace scope, for the `Guard::*Workspace` routes of one workspace.
#[derive(Clone, Debug)]
pub struct Scope(pub WorkspaceScope);

/// The workspaces where the caller holds a permission, for `Guard::EachWorkspace` routes.
#[derive(Clone, Debug)]
pub struct Each(pub WorkspacesScope);

/// The audit events the caller may read, for `Guard::AuditLog` routes.
#[derive(Clone, Debug)]
pub struct Audit(pub AuditScope);

/// Extractors of what the guard put in the request's extensions: a handler that asks for one
/// its route's guard does not give fails with a 500 (and the route walk catches it).
macro_rules! from_guard {
    ($($t:ty),*) => {$(
        impl<S: Send + Sync> FromRequestParts<S> for $t {
            type Rejection = ApiError;
            async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
                parts.extensions.get::<$t>().cloned().ok_or_else(|| {
                    ApiError::from(DomainError::Internal(
                        "route extracts a scope its guard does not give".into(),
                    ))
                })
            }
        }
    )*};
}
from_guard!(Caller, Me, Admin, Scope, Each, Audit);

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
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if guard != Guard::Open && !state.setup_done().await? {
        return Err(DomainError::SetupRequired.into());
    }
    if guard.is_public() {
        return Ok(next.run(req).await);
    }
    // What the request names (its workspace, the audit log's filter), and what is wrong with
    // how it names it: said only once the caller is known, so that anonymous requests get 401.
    let (mut req, named) = named_workspace(&state, guard, req).await;
    let audit_filter = audit_workspace(guard, req.uri().query());
    let requested = named.as_ref().ok().copied().flatten();
    let mut caller = match authenticate(&state, req.method(), req.headers(), requested).await {
        Err(e)
            if matches!(guard, Guard::InvitationWorkspace(_))
                && e.status == StatusCode::NOT_FOUND =>
        {
            return Err(ApiError::not_found("invitation"));
        }
        other => other?,
    };
    caller.facts.ip = client_ip(&state, req.headers(), req.extensions());
    named?;
    let granted = match decide(&state, guard, &caller, audit_filter?).await {
        Ok(granted) => granted,
        Err(e) => {
            match (&e, guard) {
                (DomainError::MissingPermission { missing, .. }, _) => {
                    record_denial(&state, denied_route(&req), &caller.facts, Some(*missing)).await;
                }
                (DomainError::Forbidden { .. }, Guard::AccountAdmin) => {
                    record_denial(&state, denied_route(&req), &caller.facts, None).await;
                }
                _ => {}
            }
            return Err(e.into());
        }
    };
    let ext = req.extensions_mut();
    match granted {
        Granted::Nothing => {}
        Granted::Me(s) => {
            ext.insert(Me(s));
        }
        Granted::Admin(s) => {
            ext.insert(Admin(s));
        }
        Granted::Scope(s) => {
            ext.insert(Scope(s));
        }
        Granted::Each(s) => {
            ext.insert(Each(s));
        }
        Granted::Audit(s) => {
            ext.insert(Audit(s));
        }
    }
    ext.insert(caller);
    Ok(next.run(req).await)
}

/// A scope handed out by `flowspace_core::authz`.
enum Granted {
    Nothing,
    Me(SelfScope),
    Admin(AdminScope),
    Scope(WorkspaceScope),
    Each(WorkspacesScope),
    Audit(AuditScope),
}

/// Asks `flowspace_core::authz` for the scope `guard` needs; its refusal is the answer.
async fn decide(
    state: &AppState,
    guard: Guard,
    caller: &Caller,
    audit_filter: Option<WorkspaceId>,
) -> DomainResult<Granted> {
    let facts = &caller.facts;
    Ok(match guard {
        Guard::Open | Guard::Public => Granted::Nothing,
        Guard::SignedIn => Granted::Me(authz::authorize_self(facts, caller.session)?),
        Guard::AccountAdmin => Granted::Admin(authz::authorize_account_admin(facts)?),
        Guard::Workspace(p)
        | Guard::PathWorkspace(p)
        | Guard::BodyWorkspace(p)
        | Guard::InvitationWorkspace(p) => Granted::Scope(authz::authorize(facts, p)?),
        Guard::EachWorkspace(p) => {
            let standings = standings(state, caller).await?;
            Granted::Each(authz::authorize_each(facts, &standings, p)?)
        }
        Guard::AuditLog => Granted::Audit(authz::authorize_audit(facts, audit_filter)?),
    })
}

/// The caller's current standing in each workspace they belong to (none for the Account
/// Admin, who stands everywhere, nor for an API key, which has one workspace).
async fn standings(state: &AppState, caller: &Caller) -> DomainResult<Vec<WorkspaceFacts>> {
    let (Actor::User(user), Some(session)) = (caller.facts.actor, caller.session) else {
        return Ok(Vec::new());
    };
    if caller.facts.is_account_admin {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for wr in state.store.workspace_roles(user).await? {
        let facts = state
            .store
            .session_facts(session, user, Some(wr.workspace_id))
            .await;
        if let Ok(Some(f)) = facts {
            out.extend(f.caller.workspace);
        }
    }
    Ok(out)
}

/// The workspace a request names for its guard: the path's `{id}`, the body's `workspaceId`,
/// the workspace of the invitation in the path, or the `X-Workspace-Id` header. The body is
/// read (within the route's body limit) and put back for the handler.
async fn named_workspace(
    state: &AppState,
    guard: Guard,
    req: Request,
) -> (Request, Result<Option<WorkspaceId>, ApiError>) {
    use axum::RequestExt;
    let mut req = req;
    let named = match guard {
        Guard::PathWorkspace(_) | Guard::InvitationWorkspace(_) => {
            let id = req
                .extract_parts::<axum::extract::RawPathParams>()
                .await
                .ok()
                .and_then(|p| {
                    p.iter()
                        .find(|(k, _)| *k == "id")
                        .and_then(|(_, v)| v.trim().parse::<uuid::Uuid>().ok())
                });
            match (guard, id) {
                (Guard::InvitationWorkspace(_), Some(id)) => {
                    match state.store.invitation_workspace(id).await {
                        Ok(Some(ws)) => Ok(Some(ws)),
                        Ok(None) => Err(ApiError::not_found("invitation")),
                        Err(e) => Err(e.into()),
                    }
                }
                (Guard::InvitationWorkspace(_), None) => Err(ApiError::not_found("invitation")),
                (_, id) => id
                    .map(|id| Some(WorkspaceId(id)))
                    .ok_or_else(|| ApiError::not_found("workspace")),
            }
        }
        Guard::BodyWorkspace(_) => {
            let (parts, body) = req.into_parts();
            let bytes = axum::body::to_bytes(body, crate::MAX_BODY_BYTES).await;
            let (named, bytes) = match bytes {
                Ok(b) => (body_workspace(&b), b),
                Err(_) => (
                    Err(ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "payload_too_large",
                        "the body is larger than 2 MiB",
                    )),
                    bytes::Bytes::new(),
                ),
            };
            req = Request::from_parts(parts, axum::body::Body::from(bytes));
            named
        }
        _ => requested_workspace(req.headers()).map_err(ApiError::from),
    };
    (req, named)
}

/// The `workspaceId` of a JSON body: 400/422 as for any body, 404 for an id that is not one.
fn body_workspace(bytes: &[u8]) -> Result<Option<WorkspaceId>, ApiError> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Named {
        workspace_id: String,
    }
    let named: Named = crate::extract::parse_json(bytes)?;
    named
        .workspace_id
        .trim()
        .parse()
        .map(Some)
        .map_err(|_| ApiError::not_found("workspace"))
}

/// The audit log's `workspaceId` filter (only for `Guard::AuditLog`): 422 when it is not an id.
fn audit_workspace(guard: Guard, query: Option<&str>) -> Result<Option<WorkspaceId>, ApiError> {
    if guard != Guard::AuditLog {
        return Ok(None);
    }
    let raw = form_urlencoded_value(query.unwrap_or(""), "workspaceId");
    match raw.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| DomainError::invalid("workspaceId", "must be an id").into()),
    }
}

/// The last value of `key` in a query string.
fn form_urlencoded_value(query: &str, key: &str) -> Option<String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .ok()?
        .into_iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
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
