//! Invitations (rule 9), sign-up from an invitation, password reset (rule 16) and the
//! caller's own profile (`PATCH /auth/me`).
//!
//! Who may invite is decided per request against the workspace the body names: the Account
//! Admin, or a member whose role there holds `workspace:add-user`, and only with a role whose
//! every permission they hold themselves. Tokens are 32 random bytes, handed out once (in the
//! email, or in the answer when SMTP is not configured) and stored only as an HMAC. Email goes
//! out after the database commit; its failure is reported, never rolled back.

use super::List;
use super::session::{ClientInfo, SignedIn, start_session};
use crate::auth::Caller;
use crate::crypto::random_token;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::mail::{self, InviteFacts, MailStatus};
use crate::openapi::{body, list};
use crate::routes::{RouteDef, perm};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use flowspace_core::authz::{self, Actor, WorkspaceScope};
use flowspace_core::ids::{UserId, WorkspaceId};
use flowspace_core::model::{User, UserStatus};
use flowspace_core::permissions::{Action, Resource};
use flowspace_core::time::Timestamp;
use flowspace_core::{DomainError, password, rules};
use flowspace_store::{AuditContext, Invitation, InviteOutcome, TokenCheck};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

pub fn routes() -> Vec<RouteDef> {
    use crate::auth::Guard::*;
    use Method as M;
    vec![
        RouteDef::new(M::GET, "/invitations", SignedIn, list_invitations)
            .doc("invitations", "Open invitations: all for the Account Admin, else those of the workspaces where the caller holds workspace:add-user")
            .ok(200, list::<Invitation>()),
        RouteDef::new(M::POST, "/invitations", SignedIn, invite)
            .doc("invitations", "Invite an email into a workspace with a role (Account Admin, or workspace:add-user there and every permission of the role); an existing active user is added at once")
            .req(body::<InviteRequest>())
            .ok(201, body::<InviteResponse>()),
        RouteDef::new(M::GET, "/invitations/{id}", Public, show)
            .doc("invitations", "What a valid invitation token ({id} is the token from the link) invites to: email, organization, workspace and role names")
            .ok(200, body::<InvitationPreview>())
            .may(404, "The invitation token is unknown, used or revoked")
            .may(410, "The invitation has expired")
            .may(429, "Too many look-ups from this address (see Retry-After)"),
        RouteDef::new(M::POST, "/invitations/{id}/resend", SignedIn, resend)
            .doc("invitations", "Issue a new token for an open invitation and email it again; the old token stops working")
            .ok(200, body::<InviteResponse>()),
        RouteDef::new(M::DELETE, "/invitations/{id}", SignedIn, revoke)
            .doc("invitations", "Revoke an open invitation: its link stops working")
            .empty(204),
        RouteDef::new(M::POST, "/auth/register", Public, register)
            .doc("auth", "Sign up from an invitation: activates the account, adds the membership and signs in, landing in the invited workspace")
            .req(body::<RegisterRequest>())
            .ok(201, body::<super::session::LoginResponse>())
            .may(404, "The invitation token is unknown, used or revoked")
            .may(410, "The invitation has expired")
            .may(429, "Too many sign-ups from this address (see Retry-After)")
            .may(503, crate::routes::BUSY),
        RouteDef::new(M::POST, "/auth/forgot-password", Public, forgot_password)
            .doc("auth", "Email a password-reset link to an active account; answers 202 for every email")
            .req(body::<ForgotPasswordRequest>())
            .empty(202)
            .may(429, "Too many reset requests (see Retry-After)"),
        RouteDef::new(M::POST, "/auth/reset-password", Public, reset_password)
            .doc("auth", "Set a new password with a reset token; ends every session of the account")
            .req(body::<ResetPasswordRequest>())
            .empty(204)
            .may(404, "The reset token is unknown or was already used")
            .may(410, "The reset link has expired")
            .may(503, crate::routes::BUSY),
        RouteDef::new(M::PATCH, "/auth/me", SignedIn, patch_me)
            .doc("auth", "Change your own name, or your password (with the current one; ends your other sessions)")
            .req(body::<PatchMeRequest>())
            .ok(200, body::<User>())
            .may(503, crate::routes::BUSY),
    ]
}

fn signed_in_user(caller: &Caller) -> ApiResult<UserId> {
    match caller.facts.actor {
        Actor::User(u) => Ok(u),
        Actor::ApiKey { .. } => {
            Err(DomainError::forbidden("this route needs a signed-in user").into())
        }
    }
}

/// The caller's `workspace:add-user` scope in `ws`, from the current database state: 404 when
/// they are not a member there, 403 naming the permission when their role lacks it.
async fn add_user_scope(
    state: &AppState,
    caller: &Caller,
    ws: WorkspaceId,
) -> ApiResult<WorkspaceScope> {
    let user = signed_in_user(caller)?;
    let session = caller
        .session
        .ok_or_else(|| ApiError::unauthorized("the session has ended: sign in again"))?;
    let facts = state
        .store
        .session_facts(session, user, Some(ws))
        .await?
        .ok_or_else(|| ApiError::unauthorized("the session has ended: sign in again"))?;
    Ok(authz::authorize(
        &facts.caller,
        perm(Resource::Workspace, Action::AddUser),
    )?)
}

fn audit_ctx(caller: &Caller, client: &ClientInfo) -> AuditContext {
    AuditContext {
        organization: caller.facts.organization,
        actor: caller.facts.actor,
        ip: client.ip.clone(),
    }
}

fn invitation_id(raw: &str) -> ApiResult<Uuid> {
    raw.trim()
        .parse()
        .map_err(|_| ApiError::not_found("invitation"))
}

fn invite_expiry(state: &AppState) -> Timestamp {
    Timestamp::now().plus_seconds(i64::from(state.config.invite_token_expiry_in_hours) * 3600)
}

fn invalid_invitation() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "invitation_invalid",
        "this invitation link is invalid, was already used or was revoked",
    )
}

fn expired_invitation() -> ApiError {
    ApiError::new(
        StatusCode::GONE,
        "invitation_expired",
        "this invitation link has expired: ask for a new one",
    )
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InviteRequest {
    #[schema(schema_with = crate::fields::email)]
    pub email: String,
    #[schema(schema_with = crate::fields::id)]
    pub workspace_id: String,
    /// A role id, or a role's name such as `Viewer`.
    #[schema(schema_with = crate::fields::role)]
    pub role: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InviteResponse {
    /// `invited` (an invitation awaits sign-up) or `added` (an existing active user is now a
    /// member).
    pub status: &'static str,
    pub invitation: Option<Invitation>,
    pub user_id: UserId,
    pub mail: MailStatus,
    /// The sign-up link, only when SMTP is not configured (to be shared by hand).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

/// Emails an invitation's link (or, without SMTP, hands it back and logs it).
async fn deliver_invitation(
    state: &AppState,
    inv: Invitation,
    token: &str,
    inviter: &str,
) -> ApiResult<InviteResponse> {
    let link = state.mailer.token_link("register", token);
    let (mail, shown) = if state.mailer.is_configured() {
        let facts = InviteFacts {
            to: &inv.email,
            inviter,
            organization: &inv.organization_name,
            workspace: &inv.workspace_name,
            role: &inv.role_name,
        };
        let email =
            mail::invitation_email(&facts, &link, state.config.invite_token_expiry_in_hours)?;
        (state.mailer.send(email).await, None)
    } else {
        tracing::info!(email = %inv.email, %link, "SMTP is not configured: invitation link");
        (
            MailStatus {
                sent: false,
                error: Some(mail::NOT_CONFIGURED.to_string()),
            },
            Some(link),
        )
    };
    Ok(InviteResponse {
        status: "invited",
        user_id: inv.user_id,
        invitation: Some(inv),
        mail,
        link: shown,
    })
}

pub async fn invite(
    State(state): State<AppState>,
    caller: Caller,
    client: ClientInfo,
    ApiJson(req): ApiJson<InviteRequest>,
) -> ApiResult<(StatusCode, Json<InviteResponse>)> {
    let email = rules::email(&req.email)?;
    let ws: WorkspaceId = req
        .workspace_id
        .trim()
        .parse()
        .map_err(|_| ApiError::not_found("workspace"))?;
    let scope = add_user_scope(&state, &caller, ws).await?;
    let role = state
        .store
        .resolve_role(scope.organization(), &req.role)
        .await?;
    scope.require_all(role.permissions)?;
    let inviter = state.store.user(scope.user_id()).await?;
    let token = random_token();
    let outcome = state
        .store
        .invite(
            &scope,
            &email,
            role.id,
            &state.token_hash("invite", &token),
            invite_expiry(&state),
            &audit_ctx(&caller, &client),
        )
        .await?;
    let answer = match outcome {
        InviteOutcome::Invited(inv) => {
            deliver_invitation(&state, inv, &token, &inviter.name).await?
        }
        InviteOutcome::Added(user) => {
            let organization = state.store.organization(scope.organization()).await?;
            let workspace = state.store.workspace(&scope).await?;
            let facts = InviteFacts {
                to: &user.email,
                inviter: &inviter.name,
                organization: &organization.name,
                workspace: &workspace.name,
                role: &role.name,
            };
            let email = mail::added_email(&facts, &user.name, &state.mailer.login_link())?;
            let mail = if state.mailer.is_configured() {
                state.mailer.send(email).await
            } else {
                MailStatus {
                    sent: false,
                    error: Some(mail::NOT_CONFIGURED.to_string()),
                }
            };
            InviteResponse {
                status: "added",
                invitation: None,
                user_id: user.id,
                mail,
                link: None,
            }
        }
    };
    Ok((StatusCode::CREATED, Json(answer)))
}

pub async fn list_invitations(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<List<Invitation>>> {
    let user = signed_in_user(&caller)?;
    let org = caller.facts.organization;
    if caller.facts.is_account_admin {
        return Ok(Json(List::all(
            state.store.open_invitations(org, None).await?,
        )));
    }
    let mut allowed = Vec::new();
    for wr in state.store.workspace_roles(user).await? {
        if add_user_scope(&state, &caller, wr.workspace_id)
            .await
            .is_ok()
        {
            allowed.push(wr.workspace_id);
        }
    }
    Ok(Json(List::all(
        state.store.open_invitations(org, Some(&allowed)).await?,
    )))
}

/// The invitation `raw` names, and the caller's scope in its workspace; 404 for one the
/// caller may not manage, exactly as for one that does not exist.
async fn managed_invitation(
    state: &AppState,
    caller: &Caller,
    raw: &str,
) -> ApiResult<(Invitation, WorkspaceScope)> {
    let id = invitation_id(raw)?;
    let inv = state
        .store
        .invitation(caller.facts.organization, id)
        .await?;
    let scope = add_user_scope(state, caller, inv.workspace_id)
        .await
        .map_err(|e| {
            if e.status == StatusCode::NOT_FOUND {
                ApiError::not_found("invitation")
            } else {
                e
            }
        })?;
    Ok((inv, scope))
}

pub async fn resend(
    State(state): State<AppState>,
    caller: Caller,
    client: ClientInfo,
    Path(raw): Path<String>,
) -> ApiResult<Json<InviteResponse>> {
    let (inv, scope) = managed_invitation(&state, &caller, &raw).await?;
    let role = state.store.role(scope.organization(), inv.role_id).await?;
    scope.require_all(role.permissions)?;
    let token = random_token();
    let inv = state
        .store
        .reissue_invitation(
            &scope,
            inv.id,
            &state.token_hash("invite", &token),
            invite_expiry(&state),
            &audit_ctx(&caller, &client),
        )
        .await?;
    let inviter = state.store.user(scope.user_id()).await?;
    Ok(Json(
        deliver_invitation(&state, inv, &token, &inviter.name).await?,
    ))
}

pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    client: ClientInfo,
    Path(raw): Path<String>,
) -> ApiResult<StatusCode> {
    let (inv, scope) = managed_invitation(&state, &caller, &raw).await?;
    state
        .store
        .revoke_invitation(&scope, inv.id, &audit_ctx(&caller, &client))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What the sign-up page shows of a valid invitation.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InvitationPreview {
    pub email: String,
    pub organization_name: String,
    pub workspace_name: String,
    pub role_name: String,
    pub expires_at: Timestamp,
}

async fn valid_invitation(state: &AppState, token: &str) -> ApiResult<Invitation> {
    match state
        .store
        .invitation_by_token(&state.token_hash("invite", token))
        .await?
    {
        TokenCheck::Valid(i) => {
            // An invitation carries its inviter's authority: it stands only while the inviter
            // may still add users there and holds every permission of the role.
            let authority = match i.invited_by {
                Some(by) => state.store.user_standing(by, i.workspace_id).await?,
                None => None,
            };
            let role = state.store.role(i.organization_id, i.role_id).await?;
            let add_user = perm(Resource::Workspace, Action::AddUser);
            let stands = authority.is_some_and(|f| {
                f.permissions.contains(add_user) && role.permissions.is_subset_of(f.permissions)
            });
            if stands {
                Ok(i)
            } else {
                Err(invalid_invitation())
            }
        }
        TokenCheck::Expired => Err(expired_invitation()),
        TokenCheck::Invalid => Err(invalid_invitation()),
    }
}

/// Per-IP limits on the public account routes (rule 15), counted in the database so every
/// replica agrees: invitation lookups, sign-ups and password-reset requests.
pub const LOOKUPS_PER_HOUR: i64 = 120;
pub const SIGNUPS_PER_HOUR: i64 = 30;
pub const RESET_REQUESTS_PER_HOUR: i64 = 20;

async fn limit_per_ip(
    state: &AppState,
    bucket: &str,
    max_per_hour: i64,
    client: &ClientInfo,
) -> ApiResult<()> {
    let key = client.ip.as_deref().unwrap_or("unknown");
    match state
        .store
        .hit_rate_limit(bucket, key, 3600, max_per_hour)
        .await?
    {
        None => Ok(()),
        Some(secs) => {
            let mut e = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                "too many requests from your address: retry later",
            );
            e.retry_after = Some(u32::try_from(secs.max(1)).unwrap_or(u32::MAX));
            Err(e)
        }
    }
}

pub async fn show(
    State(state): State<AppState>,
    client: ClientInfo,
    Path(token): Path<String>,
) -> ApiResult<Json<InvitationPreview>> {
    limit_per_ip(&state, "invitation-lookup", LOOKUPS_PER_HOUR, &client).await?;
    let inv = valid_invitation(&state, &token).await?;
    Ok(Json(InvitationPreview {
        email: inv.email,
        organization_name: inv.organization_name,
        workspace_name: inv.workspace_name,
        role_name: inv.role_name,
        expires_at: inv.expires_at,
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct RegisterRequest {
    pub token: String,
    #[schema(schema_with = crate::fields::name)]
    pub name: String,
    #[schema(schema_with = crate::fields::password)]
    pub password: String,
}

pub async fn register(
    State(state): State<AppState>,
    client: ClientInfo,
    ApiJson(req): ApiJson<RegisterRequest>,
) -> ApiResult<(StatusCode, SignedIn)> {
    limit_per_ip(&state, "register", SIGNUPS_PER_HOUR, &client).await?;
    let inv = valid_invitation(&state, &req.token).await?;
    let name = rules::display_name("name", &req.name)?;
    password::check(&req.password, Some(&inv.email))?;
    let hash = state.passwords.hash(&req.password).await?;
    let outcome = state
        .store
        .accept_invitation(
            &state.token_hash("invite", &req.token),
            &name,
            &hash,
            client.ip.as_deref(),
        )
        .await?;
    let (user, ws) = match outcome {
        TokenCheck::Valid(v) => v,
        TokenCheck::Expired => return Err(expired_invitation()),
        TokenCheck::Invalid => return Err(invalid_invitation()),
    };
    let signed_in = start_session(&state, &user, Some(ws), &client).await?;
    Ok((StatusCode::CREATED, signed_in))
}

#[derive(Deserialize, ToSchema)]
pub struct ForgotPasswordRequest {
    #[schema(schema_with = crate::fields::any_email)]
    pub email: String,
}

/// Rule 16: 202 whatever the email; only an active account gets a link. The email goes out in
/// the background so the answer takes the same time either way.
pub async fn forgot_password(
    State(state): State<AppState>,
    client: ClientInfo,
    ApiJson(req): ApiJson<ForgotPasswordRequest>,
) -> ApiResult<StatusCode> {
    limit_per_ip(&state, "forgot-password", RESET_REQUESTS_PER_HOUR, &client).await?;
    let record = state.store.find_login(&req.email).await?;
    let Some(user) = record
        .filter(|r| r.user.status == UserStatus::Active && r.password_hash.is_some())
        .map(|r| r.user)
    else {
        return Ok(StatusCode::ACCEPTED);
    };
    let token = random_token();
    let minutes = state.config.password_reset_token_expiry_in_mins;
    state
        .store
        .create_password_reset(
            user.id,
            &state.token_hash("reset", &token),
            Timestamp::now().plus_seconds(i64::from(minutes) * 60),
        )
        .await?;
    let link = state.mailer.token_link("reset-password", &token);
    if !state.mailer.is_configured() {
        // Nobody else can be given the link: it goes to the server log for the operator.
        tracing::info!(email = %user.email, %link, "SMTP is not configured: password-reset link");
        return Ok(StatusCode::ACCEPTED);
    }
    let email = mail::password_reset_email(&user.email, &user.name, &link, minutes)?;
    let st = state.clone();
    tokio::spawn(async move {
        let status = st.mailer.send(email).await;
        if !status.sent {
            tracing::warn!(error = ?status.error, "password-reset email not sent");
        }
    });
    Ok(StatusCode::ACCEPTED)
}

#[derive(Deserialize, ToSchema)]
pub struct ResetPasswordRequest {
    pub token: String,
    #[schema(schema_with = crate::fields::password)]
    pub password: String,
}

pub async fn reset_password(
    State(state): State<AppState>,
    client: ClientInfo,
    ApiJson(req): ApiJson<ResetPasswordRequest>,
) -> ApiResult<StatusCode> {
    let hash_of_token = state.token_hash("reset", &req.token);
    let invalid = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "reset_token_invalid",
            "this reset link is invalid or was already used",
        )
    };
    let user = match state.store.password_reset_user(&hash_of_token).await? {
        TokenCheck::Valid(u) => u,
        TokenCheck::Expired => {
            return Err(ApiError::new(
                StatusCode::GONE,
                "reset_token_expired",
                "this reset link has expired: ask for a new one",
            ));
        }
        TokenCheck::Invalid => return Err(invalid()),
    };
    password::check(&req.password, Some(&user.email))?;
    let hash = state.passwords.hash(&req.password).await?;
    let ctx = AuditContext {
        organization: user.organization_id,
        actor: Actor::User(user.id),
        ip: client.ip.clone(),
    };
    if !state
        .store
        .reset_password(&hash_of_token, user.id, &hash, &ctx)
        .await?
    {
        return Err(invalid());
    }
    let event = super::session::login_event(
        Some(&user),
        "",
        &client,
        flowspace_store::LoginOutcome::PasswordReset,
        None,
    );
    state.store.record_login_event(&event).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PatchMeRequest {
    #[schema(schema_with = crate::fields::name_or_keep)]
    pub name: Option<String>,
    #[schema(schema_with = crate::fields::password_or_keep)]
    pub password: Option<String>,
    /// Required with `password`.
    pub current_password: Option<String>,
}

pub async fn patch_me(
    State(state): State<AppState>,
    caller: Caller,
    client: ClientInfo,
    ApiJson(req): ApiJson<PatchMeRequest>,
) -> ApiResult<Json<User>> {
    let user_id = signed_in_user(&caller)?;
    let name = req
        .name
        .as_deref()
        .map(|n| rules::display_name("name", n))
        .transpose()?;
    let new_hash = match &req.password {
        None => None,
        Some(pw) => {
            let user = state.store.user(user_id).await?;
            let current = req.current_password.as_deref().unwrap_or("");
            let stored = state.store.password_hash_of(user_id).await?;
            let ok = match stored.as_deref() {
                Some(h) if current.len() <= 4096 => state.passwords.verify(current, h).await?.ok,
                _ => false,
            };
            if !ok {
                return Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "invalid_credentials",
                    "the current password is wrong",
                )
                .detail("field", "currentPassword"));
            }
            password::check(pw, Some(&user.email))?;
            Some(state.passwords.hash(pw).await?)
        }
    };
    let user = state
        .store
        .update_own_profile(
            user_id,
            caller.session,
            name.as_deref(),
            new_hash.as_deref(),
            &audit_ctx(&caller, &client),
        )
        .await?;
    Ok(Json(user))
}
