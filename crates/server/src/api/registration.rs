//! Sign-up from an invitation (`POST /auth/register`): activates the account (or, for an
//! account that has signed up already, in another organization, checks its password), adds
//! the memberships and signs in.

use super::invitations::{expired_invitation, invalid_invitation, valid_invitation};
use super::ip_limits::*;
use super::session::{ClientInfo, LoginRequest, SignedIn, sign_in, start_session};
use crate::error::ApiResult;
use crate::extract::ApiJson;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use flowspace_core::model::UserStatus;
use flowspace_core::{password, rules};
use flowspace_store::{Acceptance, TokenCheck};
use serde::Deserialize;
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
pub struct RegisterRequest {
    #[schema(schema_with = crate::fields::any_text)]
    pub token: String,
    #[schema(schema_with = crate::fields::name)]
    pub name: String,
    #[schema(schema_with = crate::fields::password)]
    pub password: String,
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn register(
    State(state): State<AppState>,
    client: ClientInfo,
    ApiJson(req): ApiJson<RegisterRequest>,
) -> ApiResult<(StatusCode, SignedIn)> {
    limit_per_ip(&state, "register", SIGNUPS_PER_HOUR, &client).await?;
    let inv = valid_invitation(&state, &req.token).await?;
    let token_hash = state.token_hash("invite", &req.token);
    let account = state.store.user(inv.user_id).await?;
    let outcome = if account.status == UserStatus::Invited {
        let name = rules::display_name("name", &req.name)?;
        let min = state
            .store
            .organization_settings(inv.organization_id)
            .await?
            .min_password_length;
        password::check_for(&req.password, Some(&inv.email), min)?;
        let hash = state.passwords.hash(&req.password).await?;
        let how = Acceptance::SignUp {
            name: &name,
            password_hash: &hash,
        };
        state
            .store
            .accept_invitation(&token_hash, how, client.ip.as_deref())
            .await?
    } else {
        // An account that has signed up already (in another organization) accepts with its
        // own password, checked as a sign-in is (the per-email and per-IP lockout, the login
        // activity), landing in the invited workspace; its name stays.
        let login = LoginRequest {
            email: inv.email.clone(),
            password: req.password.clone(),
        };
        let signed_in = sign_in(&state, &client, &login, Some(inv.workspace_id)).await?;
        return match state
            .store
            .accept_invitation(&token_hash, Acceptance::Existing, client.ip.as_deref())
            .await?
        {
            TokenCheck::Valid(_) => Ok((StatusCode::CREATED, signed_in)),
            TokenCheck::Expired => Err(expired_invitation()),
            TokenCheck::Invalid => Err(invalid_invitation()),
        };
    };
    let (user, ws) = match outcome {
        TokenCheck::Valid(v) => v,
        TokenCheck::Expired => return Err(expired_invitation()),
        TokenCheck::Invalid => return Err(invalid_invitation()),
    };
    let signed_in = start_session(&state, &user, Some(ws), &client).await?;
    Ok((StatusCode::CREATED, signed_in))
}
