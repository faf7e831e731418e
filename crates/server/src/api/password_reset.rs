//! Password reset (rule 16): `forgot-password` always answers 202; the emailed token is
//! single-use and stored only as an HMAC; a reset ends every session of the account.

use super::ip_limits::*;
use super::session::ClientInfo;
use crate::crypto::random_token;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::mail::{self};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use flowspace_core::time::Timestamp;
use flowspace_core::{password, rules};
use flowspace_store::TokenCheck;
use serde::Deserialize;
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
pub struct ForgotPasswordRequest {
    #[schema(schema_with = crate::fields::any_email)]
    pub email: String,
}

/// Rule 16: 202 whatever the email; only an account `rules::may_request_reset` allows gets a
/// link. The email goes out in
/// the background so the answer takes the same time either way.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn forgot_password(
    State(state): State<AppState>,
    client: ClientInfo,
    ApiJson(req): ApiJson<ForgotPasswordRequest>,
) -> ApiResult<StatusCode> {
    limit_per_ip(&state, "forgot-password", RESET_REQUESTS_PER_HOUR, &client).await?;
    let record = state.store.find_login(&req.email).await?;
    let Some(user) = record
        .filter(|r| rules::may_request_reset(r.user.status, r.password_hash.is_some()))
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
    #[schema(schema_with = crate::fields::any_text)]
    pub token: String,
    #[schema(schema_with = crate::fields::password)]
    pub password: String,
}

#[tracing::instrument(level = "debug", skip_all)]
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
    let min = state.store.min_password_length_of(user.id).await?;
    password::check_for(&req.password, Some(&user.email), min)?;
    let hash = state.passwords.hash(&req.password).await?;
    if !state
        .store
        .reset_password(&hash_of_token, user.id, &hash, client.ip.as_deref())
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
