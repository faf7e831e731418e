//! Sign-up from an invitation (`POST /auth/register`): activates the account, adds the
//! membership and signs in.

use super::invitations::{expired_invitation, invalid_invitation, valid_invitation};
use super::ip_limits::*;
use super::session::{ClientInfo, SignedIn, start_session};
use crate::error::ApiResult;
use crate::extract::ApiJson;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use flowspace_core::{password, rules};
use flowspace_store::TokenCheck;
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
