//! Invitations (rule 9): invite, list, resend, revoke, and the public look-up of a token.
//!
//! Who may invite is decided per request against the workspace the body names: the Account
//! Admin, or a member whose role there holds `workspace:add-user`, and only with a role whose
//! every permission they hold themselves. Tokens are 32 random bytes, handed out once (in the
//! email, or in the answer when SMTP is not configured) and stored only as an HMAC. Email goes
//! out after the database commit; its failure is reported, never rolled back.

use super::ip_limits::*;
use super::session::ClientInfo;
use super::{List, SearchParams};
use crate::auth::{Each, Scope};
use crate::crypto::random_token;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery};
use crate::mail::{self, InviteFacts, MailStatus};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use flowspace_core::authz::{self, WorkspaceScope};
use flowspace_core::cursor::{Cursor, Search};
use flowspace_core::ids::UserId;
use flowspace_core::rules;
use flowspace_core::time::Timestamp;
use flowspace_store::{AuditContext, Invitation, InviteOutcome, TokenCheck};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

fn invitation_id(raw: &str) -> ApiResult<Uuid> {
    raw.trim()
        .parse()
        .map_err(|_| ApiError::not_found("invitation"))
}

pub(crate) fn invite_expiry(state: &AppState) -> Timestamp {
    Timestamp::now().plus_seconds(i64::from(state.config.invite_token_expiry_in_hours) * 3600)
}

pub(crate) fn invalid_invitation() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "invitation_invalid",
        "this invitation link is invalid, was already used or was revoked",
    )
}

pub(crate) fn expired_invitation() -> ApiError {
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
    /// Read by the route's guard (`BodyWorkspace`), which hands the handler its scope.
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
pub(crate) async fn deliver_invitation(
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

/// Invites an email into the workspace the body names (the guard's scope is for that one).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn invite(
    State(state): State<AppState>,
    Scope(scope): Scope,
    ApiJson(req): ApiJson<InviteRequest>,
) -> ApiResult<(StatusCode, Json<InviteResponse>)> {
    let email = rules::email(&req.email)?;
    let role = state.store.resolve_role(&scope, &req.role).await?;
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
            &AuditContext::from_scope(&scope),
        )
        .await?;
    let answer = match outcome {
        InviteOutcome::Invited(inv) => {
            deliver_invitation(&state, inv, &token, &inviter.name).await?
        }
        InviteOutcome::Added(user) => {
            let organization = state.store.organization_of(&scope).await?;
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

/// The open invitations of the workspaces where the caller may add users.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn list_invitations(
    State(state): State<AppState>,
    Each(scope): Each,
    ApiQuery(q): ApiQuery<SearchParams>,
) -> ApiResult<Json<List<Invitation>>> {
    let invitations = state.store.open_invitations(&scope).await?;
    let found = |s: &Search, i: &Invitation| s.matches(&[&i.email]);
    let key = |i: &Invitation| Cursor {
        created_at: i.created_at,
        id: i.id,
    };
    Ok(Json(q.cut(invitations, true, found, key)?))
}

/// The invitation `raw` names, in the workspace of the guard's scope.
async fn managed_invitation(
    state: &AppState,
    scope: &WorkspaceScope,
    raw: &str,
) -> ApiResult<Invitation> {
    let inv = state.store.invitation(&scope, invitation_id(raw)?).await?;
    if inv.workspace_id != scope.workspace() {
        return Err(ApiError::not_found("invitation"));
    }
    Ok(inv)
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn resend(
    State(state): State<AppState>,
    Scope(scope): Scope,
    Path(raw): Path<String>,
) -> ApiResult<Json<InviteResponse>> {
    let inv = managed_invitation(&state, &scope, &raw).await?;
    let role = state.store.role(&scope, inv.role_id).await?;
    scope.require_all(role.permissions)?;
    let token = random_token();
    let inv = state
        .store
        .reissue_invitation(
            &scope,
            inv.id,
            &state.token_hash("invite", &token),
            invite_expiry(&state),
            &AuditContext::from_scope(&scope),
        )
        .await?;
    let inviter = state.store.user(scope.user_id()).await?;
    Ok(Json(
        deliver_invitation(&state, inv, &token, &inviter.name).await?,
    ))
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn revoke(
    State(state): State<AppState>,
    Scope(scope): Scope,
    Path(raw): Path<String>,
) -> ApiResult<StatusCode> {
    let inv = managed_invitation(&state, &scope, &raw).await?;
    state
        .store
        .revoke_invitation(&scope, inv.id, &AuditContext::from_scope(&scope))
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

pub(crate) async fn valid_invitation(state: &AppState, token: &str) -> ApiResult<Invitation> {
    match state
        .store
        .invitation_by_token(&state.token_hash("invite", token))
        .await?
    {
        TokenCheck::Valid(i) => {
            // An invitation carries its inviter's authority (rule 9).
            let authority = match i.invited_by {
                Some(by) => state.store.user_standing(by, i.workspace_id).await?,
                None => None,
            };
            let (role, first_owner) = state.store.invitation_role(&i).await?;
            if authz::invitation_stands(authority.as_ref(), role.permissions, first_owner) {
                Ok(i)
            } else {
                Err(invalid_invitation())
            }
        }
        TokenCheck::Expired => Err(expired_invitation()),
        TokenCheck::Invalid => Err(invalid_invitation()),
    }
}

/// The query of `GET /invitations/lookup`.
#[derive(Deserialize)]
pub struct LookupQuery {
    #[serde(default)]
    pub token: Option<String>,
}

/// `GET /invitations/lookup?token=`: what a valid invitation token invites to. The token
/// travels in the query, so that every `/invitations/{id}` route takes an invitation's id.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn lookup(
    State(state): State<AppState>,
    client: ClientInfo,
    ApiQuery(q): ApiQuery<LookupQuery>,
) -> ApiResult<Json<InvitationPreview>> {
    let token = flowspace_core::invite::lookup_token(q.token.as_deref())?;
    Ok(Json(preview(&state, &client, token).await?))
}

/// `GET /invitations/{token}`: the look-up as it was first published, with the token in the
/// path. Deprecated for `lookup`; it answers for one more release.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn show(
    State(state): State<AppState>,
    client: ClientInfo,
    Path(token): Path<String>,
) -> ApiResult<Json<InvitationPreview>> {
    Ok(Json(preview(&state, &client, &token).await?))
}

/// What a valid invitation token invites to, looked up at most `LOOKUPS_PER_HOUR` times an
/// hour from one address (`lookup`, `show`, and the dashboard's sign-up page).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn preview(
    state: &AppState,
    client: &ClientInfo,
    token: &str,
) -> ApiResult<InvitationPreview> {
    limit_per_ip(state, "invitation-lookup", LOOKUPS_PER_HOUR, client).await?;
    let inv = valid_invitation(state, token).await?;
    Ok(InvitationPreview {
        email: inv.email,
        organization_name: inv.organization_name,
        workspace_name: inv.workspace_name,
        role_name: inv.role_name,
        expires_at: inv.expires_at,
    })
}
