//! The caller's own profile (`PATCH /auth/me`): name, or password with the current one
//! (checked by `session::recheck_current_password`: limited like sign-ins).

use crate::api::session::{ClientInfo, recheck_current_password};
use crate::auth::Myself;
use crate::error::ApiResult;
use crate::extract::ApiJson;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use flowspace_core::model::User;
use flowspace_core::{password, rules};
use serde::Deserialize;
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PatchMeRequest {
    #[schema(schema_with = crate::fields::name_or_keep)]
    pub name: Option<String>,
    #[schema(schema_with = crate::fields::password_or_keep)]
    pub password: Option<String>,
    /// Required with `password` (a wrong one counts like a failed sign-in: 429 with
    /// `Retry-After` after too many).
    #[schema(schema_with = crate::fields::any_text_or_null)]
    pub current_password: Option<String>,
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn patch_me(
    State(state): State<AppState>,
    Myself(me): Myself,
    client: ClientInfo,
    ApiJson(req): ApiJson<PatchMeRequest>,
) -> ApiResult<Json<User>> {
    let user_id = me.user_id();
    let name = req
        .name
        .as_deref()
        .map(|n| rules::display_name("name", n))
        .transpose()?;
    let new_hash = match &req.password {
        None => None,
        Some(pw) => {
            let user = state.store.user(user_id).await?;
            // (Left out, it is a wrong one.)
            let current = req.current_password.as_deref().unwrap_or("");
            recheck_current_password(&state, &client, &user, current).await?;
            let min = state.store.min_password_length_of(user_id).await?;
            password::check_for(pw, Some(&user.email), min)?;
            Some(state.passwords.hash(pw).await?)
        }
    };
    let user = state
        .store
        .update_own_profile(&me, name.as_deref(), new_hash.as_deref())
        .await?;
    Ok(Json(user))
}
