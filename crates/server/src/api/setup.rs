//! First run (rule 1).

use super::session::{SignedIn, start_session};
use crate::error::ApiResult;
use crate::extract::ApiJson;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use flowspace_core::{password, rules};
use flowspace_store::SetupInput;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SetupStatus {
    pub setup_required: bool,
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn status(State(state): State<AppState>) -> ApiResult<Json<SetupStatus>> {
    Ok(Json(SetupStatus {
        setup_required: !state.setup_done().await?,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SetupRequest {
    #[schema(schema_with = crate::fields::name)]
    pub organization_name: String,
    #[schema(schema_with = crate::fields::name)]
    pub name: String,
    #[schema(schema_with = crate::fields::email)]
    pub email: String,
    #[schema(schema_with = crate::fields::password)]
    pub password: String,
}

/// Creates the organization, the Account Admin and the Default workspace, and signs in.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn setup(
    State(state): State<AppState>,
    client: super::session::ClientInfo,
    ApiJson(req): ApiJson<SetupRequest>,
) -> ApiResult<Response> {
    // Refused early, before a password is hashed; the store asks again in its transaction.
    rules::check_first_setup(state.setup_done().await?)?;
    let organization_name = rules::display_name("organizationName", &req.organization_name)?;
    let name = rules::display_name("name", &req.name)?;
    let email = rules::email(&req.email)?;
    password::check(&req.password, Some(&email))?;
    let password_hash = state.passwords.hash(&req.password).await?;
    let done = state
        .store
        .setup_from(
            SetupInput {
                organization_name,
                name,
                email,
                password_hash,
            },
            client.ip.clone(),
        )
        .await?;
    let user = state.store.user(done.user).await?;
    let signed_in: SignedIn = start_session(&state, &user, Some(done.workspace), &client).await?;
    let _ = state.setup_done().await;
    // The OIDC_* provider joins the organization setup just made.
    if let Err(e) = super::sso::ensure_env_provider(&state).await {
        tracing::error!(error = %e, "the OIDC_* provider could not be set up");
    }
    let mut res = signed_in.into_response();
    *res.status_mut() = StatusCode::CREATED;
    Ok(res)
}
