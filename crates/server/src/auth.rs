//! Authentication and authorization of every route, in one place.
//!
//! Each route of the table in the `routes` module carries a `Guard`. The `guard` middleware runs
//! before the handler, whatever the handler extracts: it refuses everything but setup and
//! health until setup is done (rule 1), authenticates the caller (bearer JWT, API key, or the
//! dashboard's cookies with their CSRF token), loads the caller's standing from the database
//! (rule 3), and asks `flowspace_core::authz` for the scope the guard needs. Handlers receive
//! that scope through the `Myself`, `Admin`, `Scope`, `Audit` and `Each` extractors (and the
//! caller's facts through `Caller`; what they may view beyond the active workspace through
//! `Views`); without it they cannot reach scoped storage. No handler
//! decides who may call it: a refusal is always the guard's, and recorded by it. The operator
//! routes (`/metrics`) pass the same middleware under `Guard::MetricsToken`, which takes the
//! metrics token alone, and that before setup too.

use crate::error::{ApiError, DeniedPermission};
use crate::state::AppState;
use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use flowspace_core::authz::{
    self, Actor, AdminScope, AuditScope, CallerFacts, InstanceScope, OrgScope, SelfScope,
    ViewsScope, WorkspaceFacts, WorkspaceScope, WorkspacesScope,
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
    /// A signed-in user (a session, not an API key), acting on their own account (`Myself`).
    SignedIn,
    /// `SignedIn`, and also open to a member who must still set up two-factor sign-in
    /// (SPEC §9, `mfaRequired`): enrolling, reading and ending the session. Every other guard
    /// refuses such a member (`mfa_enrollment_required`).
    Enrolling,
    /// An active member of the active organization, signed in (`Org`).
    OrgMember,
    /// An owner or admin of the active organization (the Account Admin), signed in (`Admin`).
    AccountAdmin,
    /// An owner of the active organization, signed in (`Admin`).
    Owner,
    /// The instance admin, signed in (`Instance`).
    InstanceAdmin,
    /// Whoever may create an organization: the instance admin, or any signed-in user when
    /// `ALLOW_ORGANIZATION_CREATION=any` (`Creator`).
    OrgCreator,
    /// The permission in the active workspace (`X-Workspace-Id` or the session's) (`Scope`).
    Workspace(Permission),
    /// The permission in the active workspace (`Scope`), and what the caller may view in every
    /// workspace of the organization (`Views`), for a read that looks beyond the active one
    /// (where a credential is used).
    WorkspaceAndViews(Permission),
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
    /// An operator's scraper, not a user: the bearer token METRICS_TOKEN, and no user
    /// credential. Where no token is set, its routes are served only on METRICS_ADDR's own
    /// listener (`metrics::Placement`), whose reach is the operator's to limit.
    MetricsToken,
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
pub struct Myself(pub SelfScope);

/// The active organization's scope, for `Guard::OrgMember` routes.
#[derive(Clone, Debug)]
pub struct Org(pub OrgScope);

/// The instance admin's scope, for `Guard::InstanceAdmin` routes.
#[derive(Clone, Debug)]
pub struct Instance(pub InstanceScope);

/// Who creates an organization, for `Guard::OrgCreator` routes.
#[derive(Clone, Debug)]
pub struct Creator(pub authz::CreatorScope);

/// The Account Admin's scope, for `Guard::AccountAdmin` and `Guard::Owner` routes.
#[derive(Clone, Debug)]
pub struct Admin(pub AdminScope);

/// The workspace scope, for the `Guard::*Workspace` routes of one workspace.
#[derive(Clone, Debug)]
pub struct Scope(pub WorkspaceScope);

/// The workspaces where the caller holds a permission, for `Guard::EachWorkspace` routes.
#[derive(Clone, Debug)]
pub struct Each(pub WorkspacesScope);

/// What the caller may view in each workspace, for `Guard::WorkspaceAndViews` routes.
#[derive(Clone, Debug)]
pub struct Views(pub ViewsScope);

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
from_guard!(
    Caller, Myself, Org, Admin, Instance, Creator, Scope, Views, Each, Audit
);

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
        Credential::Bearer(token) if crate::crypto::is_api_key(&token) => {
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

/// Whether the request's access cookie belongs to a live session (the sign-in page sends such
/// a browser straight on). Decides nothing: every route still has its guard.
pub async fn live_session(state: &AppState, headers: &HeaderMap) -> bool {
    match cookie(headers, ACCESS_COOKIE) {
        Some(token) => session_caller(state, &token, None).await.is_ok(),
        None => false,
    }
}

/// The middleware that enforces a route's guard.
pub async fn guard(
    State((state, guard)): State<(AppState, Guard)>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if guard == Guard::MetricsToken {
        // Before the setup check: an operator scrapes a server that nobody has set up yet.
        metrics_token(&state, req.headers())?;
        return Ok(next.run(req).await);
    }
    if guard != Guard::Open && !state.setup_done().await? {
        return Err(DomainError::SetupRequired.into());
    }
    if guard.is_public() {
        return Ok(next.run(req).await);
    }
    // The workspace the path or the header names, and what is wrong with how it names it:
    // said only once the caller is known, so that an anonymous request still gets 401.
    let named = path_or_header_workspace(guard, &mut req).await;
    let requested = named.as_ref().ok().copied().flatten();
    let mut caller = authenticate(&state, req.method(), req.headers(), requested).await?;
    caller.facts.ip = client_ip(&state, req.headers(), req.extensions());
    named?;
    let audit_filter = audit_workspace(guard, req.uri().query())?;
    // A workspace named by the body or by an invitation is read only now that the caller is
    // known (no body is buffered, no invitation looked up, for anyone else), and only for a
    // signed-in user: these routes manage people, which API keys never do.
    let (mut req, caller) = match guard {
        Guard::BodyWorkspace(_) | Guard::InvitationWorkspace(_) => {
            authz::authorize_self(&caller.facts, caller.session)?;
            let (req, ws) = body_or_invitation_workspace(&state, guard, req).await?;
            let caller = stand_in(&state, guard, caller, ws).await?;
            (req, caller)
        }
        _ => (req, caller),
    };
    let granted = match decide(&state, guard, &caller, audit_filter).await {
        Ok(granted) => granted,
        Err(e) => {
            let required = match (&e, guard) {
                (DomainError::MissingPermission { missing, .. }, _) => {
                    Some(Required::Permission(*missing))
                }
                (DomainError::Forbidden { .. }, Guard::AccountAdmin) => {
                    Some(Required::AccountAdmin)
                }
                (DomainError::Forbidden { .. }, Guard::Owner) => Some(Required::Role("owner")),
                (DomainError::Forbidden { .. }, Guard::InstanceAdmin) => {
                    Some(Required::Role("instance-admin"))
                }
                (DomainError::Forbidden { .. }, Guard::OrgCreator) => {
                    Some(Required::Role("organization-creator"))
                }
                _ => None,
            };
            if let Some(required) = required {
                record_denial(&state, denied_route(&req), &caller.facts, required).await;
            }
            return Err(e.into());
        }
    };
    // What recording a refusal made inside the request needs, taken before the caller moves
    // into the request.
    let method = req.method().clone();
    let form_of = req.extensions().get::<FormOf>().cloned();
    let matched = req.extensions().get::<MatchedPath>().cloned();
    let ctx = AuditContext::from_facts(&caller.facts);
    let workspace = caller.facts.workspace.as_ref().map(|w| w.workspace);
    let ext = req.extensions_mut();
    match granted {
        Granted::Nothing => {}
        Granted::Myself(s) => {
            ext.insert(Myself(s));
        }
        Granted::Org(s) => {
            ext.insert(Org(s));
        }
        Granted::Admin(s) => {
            ext.insert(Admin(s));
        }
        Granted::Instance(s) => {
            ext.insert(Instance(s));
        }
        Granted::Creator(s) => {
            ext.insert(Creator(s));
        }
        Granted::Scope(s) => {
            ext.insert(Scope(s));
        }
        Granted::ScopeAndViews(s, v) => {
            ext.insert(Scope(s));
            ext.insert(Views(v));
        }
        Granted::Each(s) => {
            ext.insert(Each(s));
        }
        Granted::Audit(s) => {
            ext.insert(Audit(s));
        }
    }
    ext.insert(caller);
    let res = next.run(req).await;
    // A further check inside the request refused for a missing permission (an import's
    // kinds, a role above the inviter's own): recorded like the guard's own refusals.
    if let Some(DeniedPermission(missing)) = res.extensions().get::<DeniedPermission>() {
        let route = match (form_of, matched) {
            (Some(FormOf(route)), _) => route,
            (None, Some(m)) => m.as_str().to_string(),
            (None, None) => String::new(),
        };
        record(
            &state,
            (method.to_string(), route),
            ctx,
            workspace,
            Required::Permission(*missing),
        )
        .await;
    }
    Ok(res)
}

/// `Guard::MetricsToken`: the bearer token's SHA-256 equals METRICS_TOKEN's, compared in
/// constant time (digests of one length, so not even the token's length shows).
fn metrics_token(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    use sha2::Digest;
    let Some(expected) = state.metrics.token_digest() else {
        return Ok(());
    };
    let sent = match credential(headers) {
        Some(Credential::Bearer(token)) => token,
        _ => String::new(),
    };
    let sent = sha2::Sha256::digest(sent.as_bytes());
    if constant_time_eq(&sent, expected) {
        Ok(())
    } else {
        Err(ApiError::unauthorized(
            "send the metrics token (METRICS_TOKEN) as a bearer token",
        ))
    }
}

/// A scope handed out by `flowspace_core::authz`.
enum Granted {
    Nothing,
    Myself(SelfScope),
    Org(OrgScope),
    Admin(AdminScope),
    Instance(InstanceScope),
    Creator(authz::CreatorScope),
    Scope(WorkspaceScope),
    ScopeAndViews(WorkspaceScope, ViewsScope),
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
    if guard != Guard::Enrolling {
        authz::require_mfa_settled(facts)?;
    }
    Ok(match guard {
        Guard::Open | Guard::Public => Granted::Nothing,
        Guard::SignedIn | Guard::Enrolling => {
            Granted::Myself(authz::authorize_self(facts, caller.session)?)
        }
        Guard::OrgMember => Granted::Org(authz::authorize_org_member(facts)?),
        Guard::AccountAdmin => Granted::Admin(authz::authorize_account_admin(facts)?),
        Guard::Owner => Granted::Admin(authz::authorize_owner(facts)?),
        Guard::InstanceAdmin => {
            Granted::Instance(authz::authorize_instance_admin(facts, caller.session)?)
        }
        Guard::OrgCreator => Granted::Creator(authz::authorize_org_creation(
            facts,
            caller.session,
            state.config.allow_organization_creation == crate::config::OrgCreation::Any,
        )?),
        Guard::Workspace(p)
        | Guard::PathWorkspace(p)
        | Guard::BodyWorkspace(p)
        | Guard::InvitationWorkspace(p) => Granted::Scope(authz::authorize(facts, p)?),
        Guard::WorkspaceAndViews(p) => {
            let scope = authz::authorize(facts, p)?;
            let standings = standings(state, caller).await?;
            Granted::ScopeAndViews(scope, authz::authorize_views(facts, &standings)?)
        }
        Guard::EachWorkspace(p) => {
            let standings = standings(state, caller).await?;
            Granted::Each(authz::authorize_each(facts, &standings, p)?)
        }
        Guard::AuditLog => Granted::Audit(authz::authorize_audit(facts, audit_filter)?),
        // Decided by `metrics_token` before any user is looked for; never by a user's standing.
        Guard::MetricsToken => {
            return Err(DomainError::Internal(
                "a metrics route reached the user guards".into(),
            ));
        }
    })
}

/// The caller's current standing in each workspace they belong to (none for the Account
/// Admin, who stands everywhere, nor for an API key, which has one workspace).
async fn standings(state: &AppState, caller: &Caller) -> DomainResult<Vec<WorkspaceFacts>> {
    let (Actor::User(user), Some(session)) = (caller.facts.actor, caller.session) else {
        return Ok(Vec::new());
    };
    let Some(org) = caller.facts.organization_id() else {
        return Ok(Vec::new());
    };
    if caller.facts.is_account_admin() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for wr in state.store.workspace_roles(org, user).await? {
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

/// The workspace the path's `{id}` names (`PathWorkspace`) or the `X-Workspace-Id` header
/// (every other guard; the body and invitation guards name theirs later).
async fn path_or_header_workspace(
    guard: Guard,
    req: &mut Request,
) -> Result<Option<WorkspaceId>, ApiError> {
    match guard {
        Guard::PathWorkspace(_) => path_id(req)
            .await
            .map(|id| Some(WorkspaceId(id)))
            .ok_or_else(|| ApiError::not_found("workspace")),
        Guard::BodyWorkspace(_) | Guard::InvitationWorkspace(_) => Ok(None),
        _ => requested_workspace(req.headers()).map_err(ApiError::from),
    }
}

/// The path's `{id}`, if it is an id.
async fn path_id(req: &mut Request) -> Option<uuid::Uuid> {
    use axum::RequestExt;
    let params = req
        .extract_parts::<axum::extract::RawPathParams>()
        .await
        .ok()?;
    params
        .iter()
        .find(|(k, _)| *k == "id")
        .and_then(|(_, v)| v.trim().parse().ok())
}

/// The workspace named by the JSON body's `workspaceId` (read within the route's body limit
/// and put back for the handler) or by the invitation in the path.
async fn body_or_invitation_workspace(
    state: &AppState,
    guard: Guard,
    mut req: Request,
) -> Result<(Request, WorkspaceId), ApiError> {
    if let Guard::InvitationWorkspace(_) = guard {
        let id = path_id(&mut req)
            .await
            .ok_or_else(|| ApiError::not_found("invitation"))?;
        let ws = state
            .store
            .invitation_workspace(id)
            .await?
            .ok_or_else(|| ApiError::not_found("invitation"))?;
        return Ok((req, ws));
    }
    use axum::extract::FromRequest;
    let (parts, body) = req.into_parts();
    let bytes = bytes::Bytes::from_request(Request::from_parts(parts.clone(), body), &())
        .await
        .map_err(crate::extract::body_rejection)?;
    let ws = body_workspace(&bytes)?;
    Ok((
        Request::from_parts(parts, axum::body::Body::from(bytes)),
        ws,
    ))
}

/// The caller's facts for the workspace the body or the invitation named (fresh, like any
/// request's): 404 when they may not act there, exactly as for one that does not exist.
async fn stand_in(
    state: &AppState,
    guard: Guard,
    caller: Caller,
    ws: WorkspaceId,
) -> Result<Caller, ApiError> {
    let not_found = || match guard {
        Guard::InvitationWorkspace(_) => ApiError::not_found("invitation"),
        _ => ApiError::not_found("workspace"),
    };
    let (Actor::User(user), Some(session)) = (caller.facts.actor, caller.session) else {
        return Err(not_found());
    };
    let facts = match state.store.session_facts(session, user, Some(ws)).await {
        Ok(Some(f)) => f,
        Ok(None) => {
            return Err(ApiError::unauthorized(
                "the session has ended: sign in again",
            ));
        }
        Err(DomainError::NotFound(_)) => return Err(not_found()),
        Err(e) => return Err(e.into()),
    };
    Ok(Caller {
        facts: CallerFacts {
            ip: caller.facts.ip,
            ..facts.caller
        },
        session: caller.session,
    })
}

/// The `workspaceId` of a JSON body: 400/422 as for any body, 404 for an id that is not one.
fn body_workspace(bytes: &[u8]) -> Result<WorkspaceId, ApiError> {
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

/// The API route (template, under `/api/v1`) a dashboard form stands for, put in the request
/// by `web::surface::form`: a refusal is recorded under it, as if the API had been called.
#[derive(Clone, Debug)]
pub struct FormOf(pub String);

/// The route template of a request: the API route a form stands for, the matched route, or
/// the path when no route matched.
fn route_of(req: &Request) -> String {
    let ext = req.extensions();
    if let Some(FormOf(route)) = ext.get::<FormOf>() {
        return route.clone();
    }
    ext.get::<MatchedPath>()
        .map_or_else(|| req.uri().path().to_string(), |m| m.as_str().to_string())
}

/// The method and route template of a request.
pub(crate) fn denied_route(req: &Request) -> (String, String) {
    (req.method().to_string(), route_of(req))
}

/// What a refused caller lacked.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Required {
    /// A permission in the workspace.
    Permission(Permission),
    /// The route is the Account Admin's (an owner or admin of the organization).
    AccountAdmin,
    /// The route needs a standing beyond that: `owner`, `instance-admin` or
    /// `organization-creator` (the guards `Owner`, `InstanceAdmin`, `OrgCreator`).
    Role(&'static str),
}

/// Records a refused authorization (`access.denied`) in the audit trail: the route and what
/// the caller lacked. Recording is best effort: a failure is logged, and the caller still gets
/// the 403.
pub(crate) async fn record_denial(
    state: &AppState,
    at: (String, String),
    facts: &CallerFacts,
    missing: Required,
) {
    let workspace = facts.workspace.as_ref().map(|w| w.workspace);
    record(
        state,
        at,
        AuditContext::from_facts(facts),
        workspace,
        missing,
    )
    .await;
}

/// Records a refused request in the trail of the caller's active organization (a caller in
/// none has no trail: nothing is recorded).
async fn record(
    state: &AppState,
    (method, route): (String, String),
    ctx: Option<AuditContext>,
    workspace: Option<WorkspaceId>,
    missing: Required,
) {
    let mut summary = serde_json::json!({
        "method": method,
        "route": route,
        "missingPermission": match missing {
            Required::Permission(p) => Some(p.to_string()),
            _ => None,
        },
        "accountAdminRequired": matches!(missing, Required::AccountAdmin),
    });
    if let Required::Role(role) = missing {
        summary["requiredRole"] = serde_json::json!(role);
    }
    let ev = AuditEvent {
        workspace,
        action: "access.denied",
        target_kind: "route",
        target_id: None,
        summary,
    };
    let Some(ctx) = ctx else {
        return;
    };
    // Boxed: the store's write future is about 9 KB, and without the box it would be a part of
    // `guard`'s own future, allocated and copied on every request although a refusal is rare.
    if let Err(e) = Box::pin(state.store.record_audit(&ctx, &ev)).await {
        tracing::error!(error = %e, route = %route, "could not record a denied request");
    }
}
