//! Single sign-on (SPEC §8): an owner's OpenID Connect providers, the sign-in page's buttons,
//! and the sign-in itself (`start` → the provider → `callback`), which ends like a password
//! sign-in: `session::start_session` and its cookies. Every failure of the callback answers a
//! clear error (a page for a browser, JSON otherwise), records a failed login, and opens no
//! session.

use super::List;
use super::session::{ClientInfo, start_provider_mfa_session};
use crate::auth::Admin;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery, Id};
use crate::sso::{OidcError, OidcProvider};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use flowspace_core::DomainError;
use flowspace_core::authz::AdminScope;
use flowspace_core::ids::{ItemId, SsoProviderId, WorkspaceId};
use flowspace_core::rules::{self, SsoRefusal};
use flowspace_core::time::Timestamp;
use flowspace_store::{
    LoginOutcome, NewLoginEvent, SsoClaims, SsoFlow, SsoGroupMapping, SsoJit, SsoLogin,
    SsoProvider, SsoSettings,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The redirect URI to register at the provider.
pub fn redirect_uri(state: &AppState) -> String {
    format!(
        "{}/api/v1/auth/oidc/callback",
        state.config.app_url.trim_end_matches('/')
    )
}

/// Where the sign-in page sends the browser for a provider.
pub fn start_path(id: SsoProviderId) -> String {
    format!("/api/v1/auth/oidc/{id}/start")
}

/// A provider as its owners read it: never its secret.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProviderView {
    #[serde(flatten)]
    pub provider: SsoProvider,
    /// What to register at the provider as the redirect URI.
    pub redirect_uri: String,
    /// Where the sign-in starts (`GET`).
    pub start_url: String,
}

fn view(state: &AppState, p: SsoProvider) -> ProviderView {
    ProviderView {
        redirect_uri: redirect_uri(state),
        start_url: start_path(p.id),
        provider: p,
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JitInput {
    pub enabled: bool,
    /// The workspace a provisioned account lands in.
    pub workspace_id: WorkspaceId,
    /// Its role there: a role id or a name such as `Viewer`.
    #[schema(schema_with = crate::fields::role)]
    pub role: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupMappingInput {
    /// A value of the groups claim.
    #[schema(schema_with = crate::fields::sso_group)]
    pub group: String,
    pub workspace_id: WorkspaceId,
    /// A role id or a name such as `Developer`.
    #[schema(schema_with = crate::fields::role)]
    pub role: String,
}

/// A new provider.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateProviderInput {
    #[schema(schema_with = crate::fields::name)]
    pub display_name: String,
    /// The issuer URL; `/.well-known/openid-configuration` is read from it.
    #[schema(schema_with = crate::fields::sso_issuer)]
    pub issuer: String,
    #[schema(schema_with = crate::fields::sso_client_text)]
    pub client_id: String,
    /// Kept encrypted; never answered back.
    #[schema(schema_with = crate::fields::sso_client_text)]
    pub client_secret: String,
    /// `openid` is always asked for; absent: `openid email profile`.
    #[schema(schema_with = crate::fields::sso_scopes)]
    pub scopes: Option<Vec<String>>,
    /// The email domains whose sign-in page shows this provider, and that may be provisioned
    /// just in time (empty: no button; provisioning of any domain).
    #[schema(schema_with = crate::fields::email_domains)]
    pub allowed_domains: Option<Vec<String>>,
    /// Just-in-time provisioning (absent: off).
    pub jit: Option<JitInput>,
    #[schema(max_items = 200)]
    pub group_mappings: Option<Vec<GroupMappingInput>>,
    /// The claim listing the user's groups (absent: `groups`).
    #[schema(schema_with = crate::fields::sso_claim_or_keep)]
    pub groups_claim: Option<String>,
    /// Absent: true.
    pub enabled: Option<bool>,
}

/// What changes in a provider: each field absent (or null) keeps it; `jit` and
/// `groupMappings` replace the current ones.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProviderInput {
    #[schema(schema_with = crate::fields::name_or_keep)]
    pub display_name: Option<String>,
    #[schema(schema_with = crate::fields::sso_issuer_or_keep)]
    pub issuer: Option<String>,
    #[schema(schema_with = crate::fields::sso_client_text_or_keep)]
    pub client_id: Option<String>,
    /// A new secret (kept encrypted; never answered back).
    #[schema(schema_with = crate::fields::sso_client_text_or_keep)]
    pub client_secret: Option<String>,
    #[schema(schema_with = crate::fields::sso_scopes)]
    pub scopes: Option<Vec<String>>,
    #[schema(schema_with = crate::fields::email_domains)]
    pub allowed_domains: Option<Vec<String>>,
    pub jit: Option<JitInput>,
    #[schema(max_items = 200)]
    pub group_mappings: Option<Vec<GroupMappingInput>>,
    #[schema(schema_with = crate::fields::sso_claim_or_keep)]
    pub groups_claim: Option<String>,
    pub enabled: Option<bool>,
}

impl From<CreateProviderInput> for ProviderInput {
    fn from(c: CreateProviderInput) -> Self {
        Self {
            display_name: Some(c.display_name),
            issuer: Some(c.issuer),
            client_id: Some(c.client_id),
            client_secret: Some(c.client_secret),
            scopes: c.scopes,
            allowed_domains: c.allowed_domains,
            jit: c.jit,
            group_mappings: c.group_mappings,
            groups_claim: c.groups_claim,
            enabled: c.enabled,
        }
    }
}

async fn resolve(
    state: &AppState,
    admin: &AdminScope,
    base: Option<SsoSettings>,
    req: ProviderInput,
) -> ApiResult<SsoSettings> {
    let need = |field: &'static str| DomainError::invalid(field, "is required");
    let display_name = match (req.display_name.as_deref(), &base) {
        (Some(n), _) => rules::display_name("displayName", n)?,
        (None, Some(b)) => b.display_name.clone(),
        (None, None) => return Err(need("displayName").into()),
    };
    let issuer = match (req.issuer.as_deref(), &base) {
        (Some(i), _) => {
            let issuer = rules::sso_issuer(i)?;
            state
                .oidc
                .check_issuer(&issuer)
                .map_err(|why| DomainError::invalid("issuer", why))?;
            issuer
        }
        (None, Some(b)) => b.issuer.clone(),
        (None, None) => return Err(need("issuer").into()),
    };
    let client_id = match (req.client_id.as_deref(), &base) {
        (Some(c), _) => rules::sso_client_id("clientId", c)?,
        (None, Some(b)) => b.client_id.clone(),
        (None, None) => return Err(need("clientId").into()),
    };
    let scopes = match (req.scopes.as_deref(), &base) {
        (None, Some(b)) => b.scopes.clone(),
        (s, _) => rules::sso_scopes(s)?,
    };
    let allowed_domains = match (req.allowed_domains.as_deref(), &base) {
        (Some(d), _) => rules::email_domains(d).map_err(|_| {
            DomainError::invalid(
                "allowedDomains",
                "each must be a domain name such as example.com",
            )
        })?,
        (None, Some(b)) => b.allowed_domains.clone(),
        (None, None) => Vec::new(),
    };
    let org = admin.organization();
    let jit = match (req.jit, &base) {
        (Some(j), _) => {
            if !state.store.is_workspace_of(org, j.workspace_id).await? {
                return Err(DomainError::NotFound("workspace").into());
            }
            let role = state.store.resolve_role(admin, &j.role).await?;
            SsoJit {
                enabled: j.enabled,
                workspace_id: Some(j.workspace_id),
                role_id: Some(role.id),
            }
        }
        (None, Some(b)) => b.jit.clone(),
        (None, None) => SsoJit {
            enabled: false,
            workspace_id: None,
            role_id: None,
        },
    };
    let group_mappings = match (req.group_mappings, &base) {
        (Some(ms), _) => {
            if ms.len() > 200 {
                return Err(DomainError::invalid("groupMappings", "at most 200").into());
            }
            let mut out = Vec::with_capacity(ms.len());
            for m in ms {
                let group =
                    rules::sso_text("groupMappings.group", &m.group, rules::MAX_GROUP_CHARS)?;
                if !state.store.is_workspace_of(org, m.workspace_id).await? {
                    return Err(DomainError::NotFound("workspace").into());
                }
                let role = state.store.resolve_role(admin, &m.role).await?;
                out.push(SsoGroupMapping {
                    group,
                    workspace_id: m.workspace_id,
                    role_id: role.id,
                });
            }
            out
        }
        (None, Some(b)) => b.group_mappings.clone(),
        (None, None) => Vec::new(),
    };
    let groups_claim = match (req.groups_claim.as_deref(), &base) {
        (Some(c), _) => rules::sso_text("groupsClaim", c, rules::MAX_GROUP_CHARS)?,
        (None, Some(b)) => b.groups_claim.clone(),
        (None, None) => "groups".to_string(),
    };
    Ok(SsoSettings {
        display_name,
        issuer,
        client_id,
        scopes,
        allowed_domains,
        jit,
        group_mappings,
        groups_claim,
        enabled: req.enabled.or(base.map(|b| b.enabled)).unwrap_or(true),
    })
}

/// `GET /organization/sso/providers`.
pub async fn list(
    State(state): State<AppState>,
    Admin(admin): Admin,
) -> ApiResult<Json<List<ProviderView>>> {
    let items = state.store.sso_providers(admin.organization()).await?;
    Ok(Json(List::all(
        items.into_iter().map(|p| view(&state, p)).collect(),
    )))
}

/// `GET /organization/sso/providers/{id}`.
pub async fn get(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Id(id): Id<SsoProviderId>,
) -> ApiResult<Json<ProviderView>> {
    let p = state.store.sso_provider(admin.organization(), id).await?;
    Ok(Json(view(&state, p)))
}

/// `POST /organization/sso/providers`.
pub async fn create(
    State(state): State<AppState>,
    Admin(admin): Admin,
    ApiJson(req): ApiJson<CreateProviderInput>,
) -> ApiResult<(StatusCode, Json<ProviderView>)> {
    let mut req = ProviderInput::from(req);
    let secret = req
        .client_secret
        .take()
        .ok_or_else(|| DomainError::invalid("clientSecret", "is required"))?;
    let secret = rules::sso_client_id("clientSecret", &secret)?;
    let settings = resolve(&state, &admin, None, req).await?;
    let id = SsoProviderId::new();
    let sealed = state.secret_box.seal(ItemId(id.0), secret.as_bytes())?;
    let p = state
        .store
        .create_sso_provider(&admin, id, &settings, &sealed)
        .await?;
    Ok((StatusCode::CREATED, Json(view(&state, p))))
}

/// `PATCH /organization/sso/providers/{id}`.
pub async fn update(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Id(id): Id<SsoProviderId>,
    ApiJson(mut req): ApiJson<ProviderInput>,
) -> ApiResult<Json<ProviderView>> {
    let current = state.store.sso_provider(admin.organization(), id).await?;
    if current.from_env {
        return Err(DomainError::conflict(
            "provider_from_environment",
            "this provider is configured by the OIDC_* environment variables: change them there",
        )
        .into());
    }
    let sealed = match req.client_secret.take() {
        Some(s) => {
            let s = rules::sso_client_id("clientSecret", &s)?;
            Some(state.secret_box.seal(ItemId(id.0), s.as_bytes())?)
        }
        None => None,
    };
    let settings = resolve(&state, &admin, Some(SsoSettings::of(&current)), req).await?;
    let p = state
        .store
        .update_sso_provider(&admin, id, &settings, sealed.as_ref())
        .await?;
    Ok(Json(view(&state, p)))
}

/// `DELETE /organization/sso/providers/{id}`.
pub async fn delete(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Id(id): Id<SsoProviderId>,
) -> ApiResult<StatusCode> {
    state.store.delete_sso_provider(&admin, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What the test button found.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProviderTest {
    /// Discovery worked and the keys were fetched.
    pub ok: bool,
    /// The outcome in one sentence.
    pub summary: String,
    pub discovery: TestStep,
    pub keys: TestStep,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TestStep {
    pub ok: bool,
    /// What failed, or what was found.
    pub message: String,
}

/// `POST /organization/sso/providers/{id}/test`: runs discovery and fetches the keys.
pub async fn test(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Id(id): Id<SsoProviderId>,
) -> ApiResult<Json<ProviderTest>> {
    let p = state.store.sso_provider(admin.organization(), id).await?;
    let report = state.oidc.probe(&p.issuer).await;
    let step = |r: Result<String, String>| match r {
        Ok(m) => TestStep {
            ok: true,
            message: m,
        },
        Err(m) => TestStep {
            ok: false,
            message: m,
        },
    };
    let discovery = step(
        report
            .discovery
            .map(|()| format!("{} answered its discovery document", p.issuer)),
    );
    let keys = step(report.keys.map(|n| format!("{n} signing key(s)")));
    let ok = discovery.ok && keys.ok;
    let summary = format!(
        "{}: discovery {}; keys {}",
        if ok { "Passed" } else { "Failed" },
        discovery.message,
        keys.message
    );
    Ok(Json(ProviderTest {
        ok,
        summary,
        discovery,
        keys,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BreakGlassInput {
    pub break_glass: bool,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BreakGlass {
    pub break_glass: bool,
}

/// `PUT /organization/members/{id}/break-glass`: an owner who may still sign in with a
/// password while the organization requires SSO.
pub async fn set_break_glass(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Id(user): Id<flowspace_core::ids::UserId>,
    ApiJson(req): ApiJson<BreakGlassInput>,
) -> ApiResult<Json<BreakGlass>> {
    let member = state.store.member(admin.org(), user).await?;
    if req.break_glass && member.org_role != Some(flowspace_core::model::OrgRole::Owner) {
        return Err(
            DomainError::conflict("not_owner", "only an owner can be marked break-glass").into(),
        );
    }
    state
        .store
        .set_break_glass(&admin, user, req.break_glass)
        .await?;
    Ok(Json(BreakGlass {
        break_glass: req.break_glass,
    }))
}

#[derive(Deserialize)]
pub struct EmailQuery {
    pub email: String,
}

/// A button of the sign-in page.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SsoButton {
    pub id: SsoProviderId,
    pub display_name: String,
    pub start_url: String,
}

/// `GET /auth/sso-providers?email=`: the providers the sign-in page offers for an email.
pub async fn for_email(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<EmailQuery>,
) -> ApiResult<Json<List<SsoButton>>> {
    let items = if q.email.len() > 320 {
        Vec::new()
    } else {
        state.store.sso_providers_for_email(&q.email).await?
    };
    Ok(Json(List::all(
        items
            .into_iter()
            .map(|(id, display_name)| SsoButton {
                id,
                display_name,
                start_url: start_path(id),
            })
            .collect(),
    )))
}

#[derive(Deserialize)]
pub struct StartQuery {
    pub next: Option<String>,
}

fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"))
}

/// A failure of the sign-in: a page for a browser, the JSON error otherwise.
fn failure(headers: &HeaderMap, e: ApiError) -> Response {
    if !wants_html(headers) {
        return e.into_response();
    }
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Single sign-on failed</title></head>\
         <body><main><h1>Single sign-on failed</h1><p id=\"sso-error\" data-code=\"{}\">{}</p>\
         <p><a href=\"/login\">Back to sign-in</a></p></main></body></html>",
        esc(e.code),
        esc(&e.message)
    );
    let mut res = (e.status, axum::response::Html(body)).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

fn oidc_error(e: OidcError) -> ApiError {
    match e {
        OidcError::Unavailable(step, why) => {
            // Whoever signs in learns the step; the owner's Test button and the log say why.
            tracing::warn!(step, why, "an identity provider could not be reached");
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                "sso_provider_unavailable",
                format!(
                    "the identity provider could not be reached ({step} failed): try again later, \
                     or ask an owner to run the provider's Test"
                ),
            )
        }
        OidcError::Misconfigured(m) => ApiError::new(
            StatusCode::BAD_GATEWAY,
            "sso_provider_misconfigured",
            format!("the identity provider's settings are unusable: {m}"),
        ),
        OidcError::CodeRejected(m) => {
            ApiError::new(StatusCode::BAD_REQUEST, "sso_code_rejected", m)
        }
        OidcError::InvalidToken(code, m) => ApiError::new(StatusCode::UNAUTHORIZED, code, m),
    }
}

fn provider_gone() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "sso_provider_not_found",
        "this sign-in provider does not exist or is turned off",
    )
}

async fn usable(state: &AppState, id: SsoProviderId) -> ApiResult<SsoLogin> {
    match state.store.sso_login(id).await? {
        Some(l) if l.provider.enabled && l.organization_active => Ok(l),
        _ => Err(provider_gone()),
    }
}

fn secret_of(state: &AppState, login: &SsoLogin) -> ApiResult<String> {
    let raw = state
        .secret_box
        .open(ItemId(login.provider.id.0), &login.secret)?;
    String::from_utf8(raw).map_err(|e| DomainError::internal(e).into())
}

/// `GET /auth/oidc/{id}/start?next=`: to the provider, with a new flow kept server-side.
pub async fn start(
    State(state): State<AppState>,
    headers: HeaderMap,
    Id(id): Id<SsoProviderId>,
    ApiQuery(q): ApiQuery<StartQuery>,
) -> Response {
    match start_flow(&state, id, q.next.as_deref()).await {
        Ok((url, raw_state)) => redirect(&url, vec![binder_cookie(&state, &raw_state)]),
        Err(e) => failure(&headers, e),
    }
}

/// The cookie that ties a flow to the browser that started it: the callback is refused
/// unless the browser presenting it holds the flow's state (no login CSRF: a callback link
/// of someone else's sign-in signs nobody in).
const BINDER_COOKIE: &str = "fs_sso_state";

fn binder_cookie(state: &AppState, raw_state: &str) -> String {
    cookie::Cookie::build((BINDER_COOKIE, raw_state.to_string()))
        .path("/api/v1/auth/oidc/callback")
        .http_only(true)
        .secure(state.config.secure_cookies())
        // Lax: sent on the provider's top-level redirect back to us.
        .same_site(cookie::SameSite::Lax)
        .max_age(cookie::time::Duration::seconds(rules::SSO_FLOW_SECONDS))
        .build()
        .to_string()
}

/// Starts a flow: the provider's authorization URL and the flow's state.
async fn start_flow(
    state: &AppState,
    id: SsoProviderId,
    next: Option<&str>,
) -> ApiResult<(String, String)> {
    let login = usable(state, id).await?;
    let secret = secret_of(state, &login)?;
    let redirect_uri = redirect_uri(state);
    let p = &login.provider;
    let auth = state
        .oidc
        .authorize(&OidcProvider {
            issuer: &p.issuer,
            client_id: &p.client_id,
            client_secret: &secret,
            redirect_uri: &redirect_uri,
            scopes: &p.scopes,
            groups_claim: &p.groups_claim,
        })
        .await
        .map_err(oidc_error)?;
    let flow = SsoFlow {
        provider: id,
        nonce: auth.nonce,
        pkce_verifier: auth.pkce_verifier,
        next: Some(rules::local_next(next)),
        expires_at: Timestamp::now().plus_seconds(rules::SSO_FLOW_SECONDS),
    };
    state
        .store
        .create_sso_flow(&state.token_hash("sso-state", &auth.state), &flow)
        .await?;
    Ok((auth.url, auth.state))
}

fn redirect(to: &str, cookies: Vec<String>) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(&c) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    res
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    pub state: Option<String>,
    pub code: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// `GET /auth/oidc/callback`: the provider's answer; signs in and redirects to `next`.
pub async fn callback(
    State(state): State<AppState>,
    client: ClientInfo,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<CallbackQuery>,
) -> Response {
    let mut provider = None;
    let binder = crate::auth::cookie(&headers, BINDER_COOKIE);
    match finish(&state, &client, &q, binder.as_deref(), &mut provider).await {
        Ok(res) => res,
        Err((e, email, user)) => {
            // A failure through a known flow is the provider's organization's to see; an
            // unknown or spent state names nobody and nothing, and is not recorded.
            if let Some((name, org)) = provider {
                let ev = NewLoginEvent {
                    organization: Some(org),
                    user,
                    email,
                    outcome: LoginOutcome::Failure,
                    reason: Some(e.code),
                    ip: client.ip.clone(),
                    user_agent: client.user_agent.clone(),
                    method: Some("oidc"),
                    provider: Some(name),
                };
                if let Err(err) = state.store.record_login_event(&ev).await {
                    return ApiError::from(err).into_response();
                }
            }
            failure(&headers, e)
        }
    }
}

type Failed = (
    ApiError,
    Option<String>,
    Option<flowspace_core::ids::UserId>,
);

async fn finish(
    state: &AppState,
    client: &ClientInfo,
    q: &CallbackQuery,
    binder: Option<&str>,
    provider: &mut Option<(String, flowspace_core::ids::OrganizationId)>,
) -> Result<Response, Failed> {
    let plain = |e: ApiError| (e, None, None);
    let invalid_state = || {
        plain(ApiError::new(
            StatusCode::BAD_REQUEST,
            "sso_invalid_state",
            "this sign-in link is not valid or was used already: start again from the sign-in page",
        ))
    };
    let raw_state = q
        .state
        .as_deref()
        .filter(|s| !s.is_empty() && s.len() <= 512)
        .ok_or_else(invalid_state)?;
    let flow = state
        .store
        .take_sso_flow(&state.token_hash("sso-state", raw_state))
        .await
        .map_err(|e| plain(e.into()))?
        .ok_or_else(invalid_state)?;
    if let Ok(Some(l)) = state.store.sso_login(flow.provider).await {
        *provider = Some((l.provider.display_name.clone(), l.organization));
    }
    if flow.expires_at < Timestamp::now() {
        return Err(plain(ApiError::new(
            StatusCode::BAD_REQUEST,
            "sso_flow_expired",
            "this sign-in took longer than 10 minutes: start again from the sign-in page",
        )));
    }
    if binder != Some(raw_state) {
        return Err(plain(ApiError::new(
            StatusCode::BAD_REQUEST,
            "sso_browser_mismatch",
            "this sign-in was started in another browser: start again from the sign-in page",
        )));
    }
    let login = usable(state, flow.provider).await.map_err(plain)?;
    if let Some(err) = q.error.as_deref() {
        let desc = q.error_description.as_deref().unwrap_or_default();
        return Err(plain(ApiError::new(
            StatusCode::BAD_REQUEST,
            "sso_provider_error",
            format!(
                "the identity provider answered {}{}",
                err.chars().take(100).collect::<String>(),
                if desc.is_empty() {
                    String::new()
                } else {
                    format!(": {}", desc.chars().take(300).collect::<String>())
                }
            ),
        )));
    }
    let code = q
        .code
        .as_deref()
        .filter(|c| !c.is_empty() && c.len() <= 4096)
        .ok_or_else(|| {
            plain(ApiError::new(
                StatusCode::BAD_REQUEST,
                "sso_code_missing",
                "the identity provider sent no authorization code",
            ))
        })?;
    let secret = secret_of(state, &login).map_err(plain)?;
    let redirect_uri = redirect_uri(state);
    let p = &login.provider;
    let identity = state
        .oidc
        .redeem(
            &OidcProvider {
                issuer: &p.issuer,
                client_id: &p.client_id,
                client_secret: &secret,
                redirect_uri: &redirect_uri,
                scopes: &p.scopes,
                groups_claim: &p.groups_claim,
            },
            code,
            &flow.pkce_verifier,
            &flow.nonce,
        )
        .await
        .map_err(|e| plain(oidc_error(e)))?;
    let claims = SsoClaims {
        issuer: identity.issuer.clone(),
        subject: identity.subject.clone(),
        email: identity.email.clone(),
        email_verified: identity.email_verified,
        name: identity.name.clone(),
        groups: identity.groups.clone(),
    };
    let email = identity.email.clone();
    let done = state
        .store
        .complete_sso_sign_in(&login, &claims, client.ip.as_deref())
        .await
        .map_err(|e| (e.into(), email.clone(), None))?;
    let done = done.map_err(|r: SsoRefusal| {
        (
            ApiError::new(StatusCode::FORBIDDEN, r.code(), r.message()),
            email.clone(),
            None,
        )
    })?;
    let user = state
        .store
        .user(done.user)
        .await
        .map_err(|e| (e.into(), email.clone(), Some(done.user)))?;
    let land_in = match done.land_in {
        Some(w) => Some(w),
        None => state
            .store
            .sso_landing(done.user, login.organization)
            .await
            .map_err(|e| (e.into(), email.clone(), Some(done.user)))?,
    };
    // SPEC §9: the provider's sign-in counts as the second factor only when its `amr` says
    // so (then the session counts as MFA for `mfaRequired` too); otherwise an account with
    // two-factor sign-in goes on to the code page.
    let signed_in = if rules::amr_is_mfa(&identity.amr) {
        start_provider_mfa_session(state, &user, land_in, client).await
    } else {
        super::mfa::after_first_factor(state, &user, land_in, client).await
    }
    .map_err(|e| (e, email.clone(), Some(done.user)))?;
    let ev = NewLoginEvent {
        organization: None,
        user: Some(user.id),
        email: Some(user.email.clone()),
        outcome: if signed_in.has_session() {
            LoginOutcome::Success
        } else {
            LoginOutcome::MfaRequired
        },
        reason: None,
        ip: client.ip.clone(),
        user_agent: client.user_agent.clone(),
        method: Some("oidc"),
        provider: Some(p.display_name.clone()),
    };
    state
        .store
        .record_login_event(&ev)
        .await
        .map_err(|e| (e.into(), email.clone(), Some(done.user)))?;
    let next = rules::local_next(flow.next.as_deref());
    if let Some(token) = signed_in.mfa_token() {
        // The second step's token travels as the password form's does: in the code page's
        // own HttpOnly cookie, never in the URL.
        let cookies = crate::web::mfa::token_cookie(token, state.config.secure_cookies())
            .and_then(|c| c.to_str().ok().map(str::to_string))
            .into_iter()
            .collect();
        let page = format!(
            "/login/mfa?{}",
            serde_urlencoded::to_string([("next", next.as_str())]).unwrap_or_default()
        );
        return Ok(redirect(&page, cookies));
    }
    Ok(redirect(&next, signed_in.into_cookies()))
}

/// The provider of the OIDC_* settings (SPEC §8), in the first organization: created once
/// setup is done (at start-up, or by setup itself) and brought in line with the settings at
/// every start. Without OIDC_ISSUER, nothing.
pub async fn ensure_env_provider(state: &AppState) -> Result<(), String> {
    use secrecy::ExposeSecret;
    let c = &state.config;
    let Some(issuer) = c.oidc_issuer.as_deref() else {
        return Ok(());
    };
    let (Some(client_id), Some(secret)) =
        (c.oidc_client_id.as_deref(), c.oidc_client_secret.as_ref())
    else {
        return Err("OIDC_ISSUER needs OIDC_CLIENT_ID and OIDC_CLIENT_SECRET".into());
    };
    let Some(org) = state
        .store
        .first_organization()
        .await
        .map_err(|e| e.to_string())?
    else {
        return Ok(());
    };
    let bad = |e: DomainError| format!("OIDC_*: {e}");
    let issuer = rules::sso_issuer(issuer).map_err(bad)?;
    state
        .oidc
        .check_issuer(&issuer)
        .map_err(|why| format!("OIDC_ISSUER: {why}"))?;
    let client_id = rules::sso_client_id("OIDC_CLIENT_ID", client_id).map_err(bad)?;
    let secret = rules::sso_client_id("OIDC_CLIENT_SECRET", secret.expose_secret()).map_err(bad)?;
    let display_name =
        rules::display_name("OIDC_DISPLAY_NAME", &c.oidc_display_name).map_err(bad)?;
    let groups_claim = rules::sso_text(
        "OIDC_GROUPS_CLAIM",
        &c.oidc_groups_claim,
        rules::MAX_GROUP_CHARS,
    )
    .map_err(bad)?;
    let jit = match c.oidc_jit_workspace.as_deref() {
        None => SsoJit {
            enabled: false,
            workspace_id: None,
            role_id: None,
        },
        Some(ws) => {
            let (w, r) = state
                .store
                .workspace_and_role_named(org, ws, &c.oidc_jit_role)
                .await
                .map_err(|e| e.to_string())?;
            let w = w.ok_or_else(|| {
                format!("OIDC_JIT_WORKSPACE: no workspace {ws:?} in the first organization")
            })?;
            let r = r.ok_or_else(|| format!("OIDC_JIT_ROLE: no role {:?}", c.oidc_jit_role))?;
            SsoJit {
                enabled: true,
                workspace_id: Some(w),
                role_id: Some(r),
            }
        }
    };
    let settings = SsoSettings {
        display_name,
        issuer,
        client_id,
        scopes: rules::sso_scopes(None).map_err(bad)?,
        allowed_domains: Vec::new(),
        jit,
        group_mappings: Vec::new(),
        groups_claim,
        enabled: true,
    };
    let sealer = &state.secret_box;
    state
        .store
        .ensure_env_sso_provider(org, &settings, |id| {
            sealer.seal(ItemId(id.0), secret.as_bytes())
        })
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}
