//! Sign-in and sessions (rule 15, SPEC: Session): login, refresh with rotation and reuse
//! detection, logout, the caller's profile, and switching the active workspace.

use crate::auth::{self, ACCESS_COOKIE, CSRF_COOKIE, Caller, REFRESH_COOKIE};
use crate::crypto::random_token;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, parse_json};
use crate::metrics::SignIn as SignInMetric;
use crate::state::AppState;
use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use cookie::{Cookie, SameSite};
use flowspace_core::authz::{self, SelfScope};
use flowspace_core::ids::{OrganizationId, WorkspaceId};
use flowspace_core::model::{MyOrganization, Organization, User, WorkspaceRole};
use flowspace_core::rules::{self, SignIn, normalize_email};
use flowspace_core::time::Timestamp;
use flowspace_store::{
    LoginAttempt, LoginOutcome, LoginRecord, MAX_EVENT_EMAIL_CHARS, NewLoginEvent, RefreshOutcome,
    Reservation, StoredRefresh, login_reason as reason,
};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio::time::Instant;
use utoipa::ToSchema;

/// Where a request comes from: the socket's address (or `X-Forwarded-For` with TRUST_PROXY)
/// and the user agent.
#[derive(Clone, Debug, Default)]
pub struct ClientInfo {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl ClientInfo {
    /// Where the request with these headers and extensions comes from.
    pub fn of(state: &AppState, headers: &HeaderMap, extensions: &axum::http::Extensions) -> Self {
        let user_agent = headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(512).collect());
        ClientInfo {
            ip: crate::auth::client_ip(state, headers, extensions),
            user_agent,
        }
    }
}

impl FromRequestParts<AppState> for ClientInfo {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(ClientInfo::of(state, &parts.headers, &parts.extensions))
    }
}

/// Tokens of a new or refreshed session.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    pub token_type: &'static str,
    /// For the dashboard: send it in `X-CSRF-Token` with cookie-authenticated writes.
    pub csrf_token: String,
    /// Seconds until the refresh token expires (the refresh cookie's age).
    #[serde(skip)]
    pub refresh_seconds: i64,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoginResponse {
    #[serde(flatten)]
    pub tokens: TokenPair,
    pub user: User,
}

/// What a sign-in answers: a session, or the second step it still needs (SPEC §9).
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum LoginAnswer {
    Session(LoginResponse),
    MfaRequired(crate::api::mfa::MfaRequired),
}

/// A login's answer: the JSON body plus the dashboard's cookies (none before the second step).
pub struct SignedIn {
    body: LoginAnswer,
    cookies: Vec<String>,
}

impl SignedIn {
    /// The answer of a first factor that needs a second: no session, no cookies.
    pub fn second_step(required: crate::api::mfa::MfaRequired) -> Self {
        Self {
            body: LoginAnswer::MfaRequired(required),
            cookies: Vec::new(),
        }
    }
    /// A session was opened (not only a second step asked for).
    pub fn has_session(&self) -> bool {
        matches!(self.body, LoginAnswer::Session(_))
    }
    /// The second step's token, when a second factor is asked for instead of a session.
    pub fn mfa_token(&self) -> Option<&str> {
        match &self.body {
            LoginAnswer::MfaRequired(m) => Some(&m.mfa_token),
            LoginAnswer::Session(_) => None,
        }
    }
    /// The session's cookies, for an answer that is not the JSON body (the SSO callback's
    /// redirect).
    pub fn into_cookies(self) -> Vec<String> {
        self.cookies
    }
}

impl IntoResponse for SignedIn {
    fn into_response(self) -> Response {
        let mut res = Json(self.body).into_response();
        for c in self.cookies {
            if let Ok(v) = HeaderValue::from_str(&c) {
                res.headers_mut().append(header::SET_COOKIE, v);
            }
        }
        res
    }
}

fn cookies(state: &AppState, tokens: &TokenPair) -> Vec<String> {
    let secure = state.config.secure_cookies();
    let access_age = tokens.expires_in;
    let refresh_age = tokens.refresh_seconds;
    let make = |name: &'static str, value: &str, http_only: bool, age: i64| {
        Cookie::build((name, value.to_string()))
            .path("/")
            .http_only(http_only)
            .secure(secure)
            .same_site(SameSite::Lax)
            .max_age(cookie::time::Duration::seconds(age))
            .build()
            .to_string()
    };
    vec![
        make(ACCESS_COOKIE, &tokens.access_token, true, access_age),
        make(REFRESH_COOKIE, &tokens.refresh_token, true, refresh_age),
        make(CSRF_COOKIE, &tokens.csrf_token, false, refresh_age),
    ]
}

fn clear_cookies(state: &AppState) -> Vec<String> {
    [ACCESS_COOKIE, REFRESH_COOKIE, CSRF_COOKIE]
        .into_iter()
        .map(|name| {
            Cookie::build((name, ""))
                .path("/")
                .secure(state.config.secure_cookies())
                .same_site(SameSite::Lax)
                .max_age(cookie::time::Duration::ZERO)
                .build()
                .to_string()
        })
        .collect()
}

/// Seconds a refresh token lasts: the organization's session lifetime (rule 19), else the
/// installation's default.
fn refresh_seconds(state: &AppState, lifetime_minutes: Option<u32>) -> i64 {
    i64::from(lifetime_minutes.unwrap_or(state.config.jwt_refresh_token_expiry_in_minutes)) * 60
}

fn new_refresh(ttl: i64, state: &AppState) -> (String, StoredRefresh) {
    let token = random_token();
    let stored = StoredRefresh {
        hash: state.token_hash("refresh", &token),
        expires_at: Timestamp::now().plus_seconds(ttl),
    };
    (token, stored)
}

fn pair(
    state: &AppState,
    user: &User,
    session: flowspace_core::ids::SessionId,
    refresh: String,
    refresh_seconds: i64,
) -> ApiResult<TokenPair> {
    let access_token = state
        .tokens
        .issue(user.id, session, Timestamp::now().unix_seconds())
        .map_err(|e| ApiError::from(flowspace_core::DomainError::Internal(e)))?;
    Ok(TokenPair {
        access_token,
        refresh_token: refresh,
        expires_in: state.tokens.ttl_seconds,
        token_type: "Bearer",
        csrf_token: state.csrf_token(session),
        refresh_seconds,
    })
}

/// Opens a session for `user`, landing in `workspace` (or their last or first workspace).
pub async fn start_session(
    state: &AppState,
    user: &User,
    workspace: Option<WorkspaceId>,
    client: &ClientInfo,
) -> ApiResult<SignedIn> {
    open_session(state, user, workspace, client, false).await
}

/// Opens the session of an SSO sign-in whose ID token's `amr` names a second factor: the
/// session itself counts as MFA for the organization's `mfaRequired` (SPEC §9), for as long as
/// it lasts (refreshes keep it), whatever second factors the account has here.
pub async fn start_provider_mfa_session(
    state: &AppState,
    user: &User,
    workspace: Option<WorkspaceId>,
    client: &ClientInfo,
) -> ApiResult<SignedIn> {
    open_session(state, user, workspace, client, true).await
}

#[tracing::instrument(level = "debug", skip_all)]
async fn open_session(
    state: &AppState,
    user: &User,
    workspace: Option<WorkspaceId>,
    client: &ClientInfo,
    provider_mfa: bool,
) -> ApiResult<SignedIn> {
    // The session lasts as long as the organization it lands in says (rule 19).
    let lifetime = state
        .store
        .session_lifetime_at_sign_in(user.id, workspace)
        .await?;
    let ttl = refresh_seconds(state, lifetime);
    let (refresh, stored) = new_refresh(ttl, state);
    let session = state
        .store
        .create_session(
            user.id,
            workspace,
            client.ip.as_deref(),
            client.user_agent.as_deref(),
            provider_mfa,
            &stored,
        )
        .await?;
    if let Some(ws) = workspace {
        state.store.set_last_workspace(user.id, ws).await?;
    }
    state.store.record_login(user.id).await?;
    let tokens = pair(state, user, session, refresh, ttl)?;
    let cookies = cookies(state, &tokens);
    Ok(SignedIn {
        body: LoginAnswer::Session(LoginResponse {
            tokens,
            user: user.clone(),
        }),
        cookies,
    })
}

#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    #[schema(schema_with = crate::fields::email)]
    pub email: String,
    #[schema(schema_with = crate::fields::any_text)]
    pub password: String,
}

fn bad_credentials() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
        "invalid email or password",
    )
}

/// A login activity event for `user` (or, when the email matched nobody, for `email` as
/// typed), from `client`.
pub fn login_event(
    user: Option<&User>,
    email: &str,
    client: &ClientInfo,
    outcome: LoginOutcome,
    reason: Option<&'static str>,
) -> NewLoginEvent {
    NewLoginEvent {
        // An account's sign-in events are its own: each organization it belongs to sees them.
        organization: None,
        user: user.map(|u| u.id),
        email: Some(user.map_or_else(
            || email.trim().chars().take(MAX_EVENT_EMAIL_CHARS).collect(),
            |u| u.email.clone(),
        )),
        outcome,
        reason,
        ip: client.ip.clone(),
        user_agent: client.user_agent.clone(),
        // This is how a password sign-in is recorded; an SSO one says `oidc` and its provider.
        method: matches!(outcome, LoginOutcome::Success | LoginOutcome::Failure)
            .then_some("password"),
        provider: None,
    }
}

/// Rule 15: 429 with `Retry-After` while an email or an IP is locked.
fn too_many_attempts(wait_secs: i64) -> ApiError {
    let mut e = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_attempts",
        "too many failed sign-ins: try again later",
    )
    .detail("retryAfter", wait_secs);
    e.retry_after = Some(u32::try_from(wait_secs.max(1)).unwrap_or(u32::MAX));
    e
}

/// How long a sign-in waits, at most, for its turn among the sign-ins of its email or its IP
/// in this process before it is refused as locked out (`waited_too_long`). Its admission
/// (`LoginQueue::expected_wait`) normally refuses it long before.
const WAIT_FOR_CHECKS: Duration = Duration::from_secs(10);

/// Rule 15: an unknown email and a wrong password answer alike, after the same work; every
/// attempt is recorded, and repeated failures for an email or from an IP lock them for a while.
/// The attempt is reserved in the database before the password is checked, so that parallel
/// guesses on any replica cannot check more passwords than the limit.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn login(
    State(state): State<AppState>,
    client: ClientInfo,
    ApiJson(req): ApiJson<LoginRequest>,
) -> ApiResult<SignedIn> {
    sign_in(&state, &client, &req, None).await
}

/// Signs in with an email and password, as `POST /auth/login` does (the queue, the lockout
/// reservation, the login activity), landing in `land_in` when given, else in the account's
/// last workspace. Also what accepting an invitation with an existing account's password
/// goes through, so that guessing a password there is limited like signing in.
pub async fn sign_in(
    state: &AppState,
    client: &ClientInfo,
    req: &LoginRequest,
    land_in: Option<WorkspaceId>,
) -> ApiResult<SignedIn> {
    if req.password.len() > 4096 {
        return Err(bad_credentials());
    }
    // Before anything else, so that a refusal under a burst costs next to nothing: the wait
    // behind the sign-ins of this email and address, and for the workers (read only; the
    // same bounds are applied again, counting this one, when it takes its turn).
    let policy = state.config.lockout_policy();
    state
        .login_queue
        .check(
            &normalize_email(&req.email),
            policy.max_failures,
            client.ip.as_deref(),
            policy.max_failures_per_ip,
            |queued, parallel| {
                state.login_queue.expected_wait(queued, parallel) <= state.passwords.max_wait()
            },
        )
        .and_then(|()| state.passwords.check_admission())
        .inspect_err(|_| state.metrics.sign_in(SignInMetric::Unchecked))?;
    let record = state.store.find_login(&req.email).await?;
    // An invited user has not signed up yet: their email answers as one that matches nobody.
    let record = record.filter(|r| {
        r.password_hash.is_some() && rules::sign_in(r.user.status) != SignIn::NotSignedUp
    });
    let user = record.as_ref().map(|r| &r.user);
    let Reserved {
        attempt,
        _turn,
        _admitted,
    } = match reserve_password_check(state, user, &req.email, client).await {
        Ok(r) => r,
        Err(e) => {
            // Every refusal is a lock (recorded as `locked_out`), but a busy server or a
            // database failure.
            let locked = e.status == StatusCode::TOO_MANY_REQUESTS;
            state.metrics.sign_in(if locked {
                SignInMetric::Failure(reason::LOCKED_OUT)
            } else {
                SignInMetric::Unchecked
            });
            return Err(e);
        }
    };
    match check(state, req, record.as_ref(), client, land_in).await {
        Ok(signed_in) if !signed_in.has_session() => {
            // The password was right; the sign-in waits for its second factor.
            state
                .store
                .finish_login_attempt(attempt, LoginOutcome::MfaRequired, None)
                .await?;
            Ok(signed_in)
        }
        Ok(signed_in) => {
            state
                .store
                .finish_login_attempt(attempt, LoginOutcome::Success, None)
                .await?;
            state.metrics.sign_in(SignInMetric::Success);
            Ok(signed_in)
        }
        Err(Refused::Failed(why, e)) => {
            state
                .store
                .finish_login_attempt(attempt, LoginOutcome::Failure, Some(why))
                .await?;
            state.metrics.sign_in(SignInMetric::Failure(why));
            Err(e)
        }
        Err(Refused::Unchecked(e)) => {
            state.store.release_login_attempt(attempt).await?;
            state.metrics.sign_in(SignInMetric::Unchecked);
            Err(e)
        }
    }
}

/// A password check's place: its admission (the wait it can expect was short enough), its
/// turn in this process and its attempt reserved in the database under rule 15 (finish or
/// release it; the next in line goes when this is dropped).
struct Reserved {
    attempt: LoginAttempt,
    _turn: crate::login_queue::Turn,
    _admitted: crate::passwords::Admitted,
}

/// Reserves a password check of `user` (or, when the email matched nobody, of `email` as
/// typed) from `client`, before any password work, for known and unknown emails alike: a
/// correct password is refused too while locked (429). Checks of one email or IP wait for
/// their turn here, in order (at most `WAIT_FOR_CHECKS`), and then for the database's
/// reservation. A check that could expect too long a wait, behind the others of its email or IP
/// or, once it has its turn, for the hashing workers, is refused at once (503,
/// `LoginQueue::expected_wait` and `Passwords::admit`): a burst of one account, or of one
/// address, fills its own turns, not the workers of everyone. The database's reservation then
/// waits for the attempts of the email or IP already being checked (on any replica: this
/// process cannot count the others') only for what is left of PASSWORD_HASH_MAX_WAIT_MS from
/// the start, then answers 503 too.
async fn reserve_password_check(
    state: &AppState,
    user: Option<&User>,
    email: &str,
    client: &ClientInfo,
) -> ApiResult<Reserved> {
    let reservation = login_event(
        user,
        email,
        client,
        LoginOutcome::Failure,
        Some(reason::UNFINISHED),
    );
    let started = Instant::now();
    let policy = state.config.lockout_policy();
    let email_key = normalize_email(reservation.email.as_deref().unwrap_or_default());
    let turn = state.login_queue.turn(
        &email_key,
        policy.max_failures,
        client.ip.as_deref(),
        policy.max_failures_per_ip,
        |queued, parallel| {
            state.login_queue.expected_wait(queued, parallel) <= state.passwords.max_wait()
        },
    );
    let Ok(turn) = tokio::time::timeout_at(started + WAIT_FOR_CHECKS, turn).await else {
        return Err(waited_too_long(state, &reservation).await?);
    };
    let turn = turn?;
    let admitted = state.passwords.admit()?;
    let attempt = reserve(state, &reservation, started + state.passwords.max_wait()).await?;
    Ok(Reserved {
        attempt,
        _turn: turn,
        _admitted: admitted,
    })
}

/// The password of a signed-in `user` asked for again (setting up or removing a second
/// factor, SPEC §9): counted like a sign-in's (rule 15: the same lockout of the email and the
/// IP, 429 while locked), and a wrong one is a failed sign-in in the login activity. A right
/// one is no sign-in: it is not recorded and does not clear earlier failures. 401 when wrong.
pub async fn recheck_password(
    state: &AppState,
    client: &ClientInfo,
    user: &User,
    password: &str,
) -> ApiResult<()> {
    recheck(state, client, user, password, "password").await
}

/// `recheck_password` for a password change (`PATCH /auth/me`): the current password, whose
/// field is `currentPassword`.
pub async fn recheck_current_password(
    state: &AppState,
    client: &ClientInfo,
    user: &User,
    password: &str,
) -> ApiResult<()> {
    recheck(state, client, user, password, "currentPassword").await
}

/// `recheck_password`, naming `field` when the password is wrong.
async fn recheck(
    state: &AppState,
    client: &ClientInfo,
    user: &User,
    password: &str,
    field: &'static str,
) -> ApiResult<()> {
    let wrong = || {
        let what = if field == "password" {
            "the password is wrong"
        } else {
            "the current password is wrong"
        };
        ApiError::new(StatusCode::UNAUTHORIZED, "invalid_credentials", what).detail("field", field)
    };
    let Reserved {
        attempt,
        _turn,
        _admitted,
    } = reserve_password_check(state, Some(user), "", client).await?;
    let stored = match state.store.password_hash_of(user.id).await {
        Ok(s) => s,
        Err(e) => {
            state.store.release_login_attempt(attempt).await?;
            return Err(e.into());
        }
    };
    let verified = match stored.as_deref() {
        Some(h) if password.len() <= 4096 => state.passwords.verify(password, h).await,
        // No password to check (an SSO-only account) or an absurd one: a wrong one.
        _ => Ok(crate::passwords::Verified {
            ok: false,
            needs_rehash: false,
        }),
    };
    match verified {
        Ok(v) if v.ok => {
            state.store.release_login_attempt(attempt).await?;
            Ok(())
        }
        Ok(_) => {
            state
                .store
                .finish_login_attempt(attempt, LoginOutcome::Failure, Some(reason::WRONG_PASSWORD))
                .await?;
            Err(wrong())
        }
        Err(e) => {
            state.store.release_login_attempt(attempt).await?;
            Err(e.into())
        }
    }
}

/// Reserves the attempt `ev`; while the attempts being checked (on any replica) could use up
/// the limit, waits for them, asking again with back-off, so that a burst of sign-ins is
/// slowed down, until `busy_at`: then 503 with `Retry-After`, and nothing recorded (the server
/// is busy; no password was checked).
async fn reserve(
    state: &AppState,
    ev: &NewLoginEvent,
    busy_at: Instant,
) -> ApiResult<LoginAttempt> {
    let policy = state.config.lockout_policy();
    let mut pause = Duration::from_millis(10);
    loop {
        match state.store.reserve_login_attempt(ev, &policy).await? {
            Reservation::Reserved(attempt) => return Ok(attempt),
            Reservation::Locked(wait) => return Err(too_many_attempts(wait)),
            Reservation::Wait => {
                let now = Instant::now();
                if now >= busy_at {
                    return Err(crate::passwords::TOO_MANY_SIGN_INS.into());
                }
                // The last time just at `busy_at`, so that a check that ends by then counts.
                tokio::time::sleep(pause.min(busy_at - now)).await;
                pause = (pause * 2).min(Duration::from_millis(200));
            }
        }
    }
}

/// A sign-in that waited `WAIT_FOR_CHECKS` for its turn among the others of its email or IP
/// is refused, as locked out (recorded as such).
async fn waited_too_long(state: &AppState, ev: &NewLoginEvent) -> ApiResult<ApiError> {
    let refused = NewLoginEvent {
        reason: Some(reason::LOCKED_OUT),
        ..ev.clone()
    };
    state.store.record_login_event(&refused).await?;
    Ok(too_many_attempts(1))
}

/// Why a reserved attempt did not sign in.
enum Refused {
    /// The password was checked: a failure with this reason.
    Failed(&'static str, ApiError),
    /// It was not (the server was busy or failed): no failure.
    Unchecked(ApiError),
}

/// The password check of a reserved attempt, and the session when it passes.
async fn check(
    state: &AppState,
    req: &LoginRequest,
    record: Option<&LoginRecord>,
    client: &ClientInfo,
    land_in: Option<WorkspaceId>,
) -> Result<SignedIn, Refused> {
    let unchecked = |e| Refused::Unchecked(ApiError::from(e));
    let Some(record) = record else {
        state
            .passwords
            .verify_dummy(&req.password)
            .await
            .map_err(unchecked)?;
        return Err(Refused::Failed(reason::UNKNOWN_EMAIL, bad_credentials()));
    };
    let hash = record.password_hash.as_deref().unwrap_or_default();
    let verified = state
        .passwords
        .verify(&req.password, hash)
        .await
        .map_err(unchecked)?;
    if !verified.ok {
        return Err(Refused::Failed(reason::WRONG_PASSWORD, bad_credentials()));
    }
    // Told only once the password is proven (an invited user was answered as unknown above).
    if rules::sign_in(record.user.status) != SignIn::Allowed {
        return Err(Refused::Failed(
            reason::DISABLED,
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "account_disabled",
                "this account is disabled",
            ),
        ));
    }
    // `ssoRequired` (SPEC §8): told only once the password is proven.
    if let Some(e) = sso_required(state, record.user.id)
        .await
        .map_err(Refused::Unchecked)?
    {
        return Err(Refused::Failed("sso_required", e));
    }
    if verified.needs_rehash {
        let upgraded = state
            .passwords
            .hash(&req.password)
            .await
            .map_err(unchecked)?;
        state
            .store
            .set_password_hash(record.user.id, &upgraded)
            .await
            .map_err(unchecked)?;
    }
    // The first factor is proven: a session, or the second step when the account has one.
    crate::api::mfa::after_first_factor(
        state,
        &record.user,
        land_in.or(record.last_workspace_id),
        client,
    )
    .await
    .map_err(Refused::Unchecked)
}

/// 403 `sso_required` naming where to sign in instead, when an organization the account is an
/// active member of requires SSO and it is not one of its break-glass owners.
async fn sso_required(
    state: &AppState,
    user: flowspace_core::ids::UserId,
) -> ApiResult<Option<ApiError>> {
    let policies = state.store.sso_policies_of(user).await?;
    let flags: Vec<_> = policies
        .iter()
        .map(|&(_, req, role, bg)| (req, role, bg))
        .collect();
    let Some(i) = rules::check_sso_password_sign_in(&flags) else {
        return Ok(None);
    };
    let org = policies[i].0;
    let provider = state
        .store
        .sso_providers(org)
        .await?
        .into_iter()
        .find(|p| p.enabled);
    let mut e = ApiError::new(
        StatusCode::FORBIDDEN,
        "sso_required",
        "your organization requires single sign-on: sign in with its identity provider",
    );
    if let Some(p) = provider {
        e = e
            .detail("startUrl", crate::api::sso::start_path(p.id))
            .detail("provider", p.display_name);
    }
    Ok(Some(e))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RefreshRequest {
    /// Required unless the refresh cookie of the dashboard is sent.
    #[schema(required = true, schema_with = crate::fields::any_text)]
    pub refresh_token: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct RefreshResponse {
    #[serde(flatten)]
    pub tokens: TokenPair,
}

/// Spends the refresh token (body or cookie) for a new pair. A spent token presented again
/// revokes the whole session.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn refresh(
    State(state): State<AppState>,
    client: ClientInfo,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let from_body = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        parse_json::<RefreshRequest>(&body)?.refresh_token
    };
    let token = from_body
        .or_else(|| crate::auth::cookie(&headers, REFRESH_COOKIE))
        .ok_or_else(|| {
            ApiError::from(flowspace_core::DomainError::invalid(
                "refreshToken",
                "is required",
            ))
        })?;
    let tokens = spend_refresh(&state, &client, &token).await?;
    let cookies = session_cookies(&state, &tokens);
    let mut res = Json(RefreshResponse { tokens }).into_response();
    for c in cookies {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    Ok(res)
}

/// The dashboard's cookies for a session's tokens, as `Set-Cookie` values.
pub fn session_cookies(state: &AppState, tokens: &TokenPair) -> Vec<HeaderValue> {
    cookies(state, tokens)
        .into_iter()
        .filter_map(|c| HeaderValue::from_str(&c).ok())
        .collect()
}

/// Spends a refresh token for a new pair of the same session (the API's `refresh`, and the
/// dashboard's pages when the access cookie has expired). A spent token presented again ends
/// the session; every outcome but success is recorded in the login activity.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn spend_refresh(
    state: &AppState,
    client: &ClientInfo,
    token: &str,
) -> ApiResult<TokenPair> {
    let presented = state.token_hash("refresh", token);
    let lifetime = state.store.session_lifetime_of_refresh(&presented).await?;
    let ttl = refresh_seconds(state, lifetime);
    let (next, stored) = new_refresh(ttl, state);
    let outcome = state.store.rotate_refresh(&presented, &stored).await?;
    match outcome {
        RefreshOutcome::Rotated { session, user } => {
            let user = state.store.user(user).await?;
            if rules::sign_in(user.status) != SignIn::Allowed {
                state.store.revoke_session(session).await?;
                record_session_event(
                    state,
                    Some(&user),
                    client,
                    LoginOutcome::RefreshFailure,
                    Some(reason::DISABLED),
                )
                .await?;
                return Err(ApiError::unauthorized(
                    "the session has ended: sign in again",
                ));
            }
            pair(state, &user, session, next, ttl)
        }
        RefreshOutcome::Reused { user, .. } => {
            let user = state.store.user(user).await.ok();
            record_session_event(
                state,
                user.as_ref(),
                client,
                LoginOutcome::RefreshReuse,
                None,
            )
            .await?;
            Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "refresh_token_reused",
                "this refresh token was already used: the session has been ended, sign in again",
            ))
        }
        RefreshOutcome::Invalid => {
            record_session_event(state, None, client, LoginOutcome::RefreshFailure, None).await?;
            Err(ApiError::unauthorized(
                "the refresh token is invalid or expired",
            ))
        }
    }
}

/// Records a login-activity event of a session (refresh, reuse, sign-out): no email was typed.
async fn record_session_event(
    state: &AppState,
    user: Option<&User>,
    client: &ClientInfo,
    outcome: LoginOutcome,
    reason: Option<&'static str>,
) -> ApiResult<()> {
    let event = login_event(user, "", client, outcome, reason);
    Ok(state.store.record_login_event(&event).await?)
}

/// Ends the session: its refresh token stops working and its access tokens are refused.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn logout(
    State(state): State<AppState>,
    auth::Myself(me): auth::Myself,
    client: ClientInfo,
) -> ApiResult<Response> {
    state.store.revoke_session(me.session()).await?;
    let user = state.store.user(me.user_id()).await.ok();
    record_session_event(&state, user.as_ref(), &client, LoginOutcome::Logout, None).await?;
    let mut res = StatusCode::NO_CONTENT.into_response();
    for c in clear_cookies(&state) {
        if let Ok(v) = HeaderValue::from_str(&c) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    Ok(res)
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActiveWorkspace {
    pub id: WorkspaceId,
    pub name: String,
    pub role: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Me {
    /// The account itself (`organizationId` is null: see `activeOrganization`).
    pub user: User,
    /// An owner or admin of the active organization.
    pub is_account_admin: bool,
    /// The person who set the installation up (SPEC §7).
    pub is_instance_admin: bool,
    /// The active organization with its settings; null when the caller belongs to none or it
    /// is suspended.
    pub organization: Option<Organization>,
    /// The active organization's id (also when it is suspended); null when there is none.
    pub active_organization: Option<OrganizationId>,
    /// Every organization the caller is an active member of, with their role there.
    pub organizations: Vec<MyOrganization>,
    pub active_workspace: Option<ActiveWorkspace>,
    /// The caller's workspaces in the active organization.
    pub assigned_workspaces: Vec<WorkspaceRole>,
    /// The caller's permissions in the active workspace.
    pub permissions: Vec<String>,
}

/// What `me` answers for the signed-in user `me`, with their standing in the active workspace
/// from `caller`.
pub async fn me_for(state: &AppState, me: &SelfScope, caller: &Caller) -> ApiResult<Me> {
    me_reading(state, me, caller, true).await
}

/// What `me_for` answers without `assigned_workspaces` (left empty): the dashboard's layout,
/// which never reads every membership of an Account Admin of 10,000 workspaces to render a
/// page.
pub async fn me_for_page(state: &AppState, me: &SelfScope, caller: &Caller) -> ApiResult<Me> {
    me_reading(state, me, caller, false).await
}

#[tracing::instrument(level = "debug", skip_all)]
async fn me_reading(
    state: &AppState,
    me: &SelfScope,
    caller: &Caller,
    with_workspaces: bool,
) -> ApiResult<Me> {
    let user_id = me.user_id();
    let user = state.store.user(user_id).await?;
    let organization = match authz::authorize_org_member(&caller.facts) {
        Ok(scope) => Some(state.store.organization(&scope).await?),
        Err(_) => None,
    };
    let active_organization = caller.facts.organization_id();
    let assigned_workspaces = match active_organization {
        Some(org) if with_workspaces => state.store.workspace_roles(org, user_id).await?,
        _ => Vec::new(),
    };
    let (active_workspace, permissions) = match (&caller.facts.workspace, active_organization) {
        (Some(ws), Some(org)) => {
            let name = match assigned_workspaces
                .iter()
                .find(|w| w.workspace_id == ws.workspace)
            {
                Some(w) => w.workspace_name.clone(),
                // The active workspace is one the caller's facts let them act in.
                None => state
                    .store
                    .workspace_of(org, ws.workspace)
                    .await?
                    .map(|w| w.name)
                    .unwrap_or_default(),
            };
            (
                Some(ActiveWorkspace {
                    id: ws.workspace,
                    name,
                    role: ws.role.clone(),
                }),
                ws.permissions.to_strings(),
            )
        }
        _ => (None, Vec::new()),
    };
    Ok(Me {
        is_account_admin: caller.facts.is_account_admin(),
        is_instance_admin: caller.facts.is_instance_admin,
        user,
        organization,
        active_organization,
        organizations: state
            .store
            .my_organizations(user_id, &Default::default())
            .await?,
        active_workspace,
        assigned_workspaces,
        permissions,
    })
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn me(
    State(state): State<AppState>,
    auth::Myself(me): auth::Myself,
    caller: Caller,
) -> ApiResult<Json<Me>> {
    Ok(Json(me_for(&state, &me, &caller).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SwitchOrganizationRequest {
    #[schema(schema_with = crate::fields::id)]
    pub organization_id: String,
}

/// Makes another organization the session's active one, landing in the workspace the caller
/// used last there (SPEC §7); 404 unless the caller is an active member of it.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn switch_organization(
    State(state): State<AppState>,
    auth::Myself(me): auth::Myself,
    ApiJson(req): ApiJson<SwitchOrganizationRequest>,
) -> ApiResult<Json<Me>> {
    let org: OrganizationId = req
        .organization_id
        .trim()
        .parse()
        .map_err(|_| ApiError::not_found("organization"))?;
    let (session, user) = (me.session(), me.user_id());
    if !state
        .store
        .set_active_organization(session, user, org)
        .await?
    {
        return Err(ApiError::not_found("organization"));
    }
    let facts = state
        .store
        .session_facts(session, user, None)
        .await?
        .ok_or_else(|| ApiError::unauthorized("the session has ended: sign in again"))?;
    let caller = Caller {
        facts: facts.caller,
        session: Some(session),
    };
    Ok(Json(me_for(&state, &me, &caller).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SwitchRequest {
    #[schema(schema_with = crate::fields::id)]
    pub workspace_id: String,
}

/// Makes another workspace the session's active one; 404 unless the caller may act there.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn switch_workspace(
    State(state): State<AppState>,
    auth::Myself(me): auth::Myself,
    ApiJson(req): ApiJson<SwitchRequest>,
) -> ApiResult<Json<Me>> {
    let ws: WorkspaceId = req
        .workspace_id
        .trim()
        .parse()
        .map_err(|_| ApiError::not_found("workspace"))?;
    let (session, user) = (me.session(), me.user_id());
    let facts = state
        .store
        .session_facts(session, user, Some(ws))
        .await?
        .ok_or_else(|| ApiError::unauthorized("the session has ended: sign in again"))?;
    state.store.set_active_workspace(session, user, ws).await?;
    let caller = Caller {
        facts: facts.caller,
        session: Some(session),
    };
    Ok(Json(me_for(&state, &me, &caller).await?))
}
