//! Liveness and readiness.

use crate::error::ApiResult;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub struct Pong {
    pub status: &'static str,
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn ping() -> Json<Pong> {
    Json(Pong { status: "ok" })
}

/// Ready when the database answers and every migration is applied.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn ready(State(state): State<AppState>) -> ApiResult<Json<Pong>> {
    state.store.ready().await?;
    Ok(Json(Pong { status: "ready" }))
}
