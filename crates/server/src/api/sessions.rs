//! The caller's own sessions (issue 16, item 4): list them, end one, end all but this one; and
//! the Account Admin's "sign this user out everywhere" without disabling them.
//!
//! Every way a session ends here sets its `revoked_at`, as logout does: the database triggers
//! bump the authorization version with it, so every replica refuses the session's access tokens
//! on the very next request, and its refresh token stops working.

use super::List;
use crate::auth::{Admin, Myself};
use crate::error::ApiResult;
use crate::extract::Id;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use flowspace_core::ids::{SessionId, UserId};
use flowspace_core::model::{Session, SignedOut};

/// `GET /auth/sessions`: the caller's open sessions, the one seen last first.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn list(
    State(state): State<AppState>,
    Myself(me): Myself,
) -> ApiResult<Json<List<Session>>> {
    Ok(Json(List::all(state.store.open_sessions(&me).await?)))
}

/// `DELETE /auth/sessions/{id}`: ends one of the caller's sessions (this one too, if named);
/// anyone else's is not found.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn revoke(
    State(state): State<AppState>,
    Myself(me): Myself,
    Id(id): Id<SessionId>,
) -> ApiResult<StatusCode> {
    state.store.revoke_own_session(&me, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /auth/sessions/revoke-others`: ends every session of the caller but this one.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn revoke_others(
    State(state): State<AppState>,
    Myself(me): Myself,
) -> ApiResult<Json<SignedOut>> {
    let revoked = state.store.revoke_other_sessions(&me).await?;
    Ok(Json(SignedOut { revoked }))
}

/// `POST /users/{id}/sign-out`: the Account Admin ends every session of a member (audited);
/// the account stays active and may sign in again.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn sign_out_user(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Id(id): Id<UserId>,
) -> ApiResult<Json<SignedOut>> {
    let revoked = state.store.sign_out_member(&admin, id).await?;
    Ok(Json(SignedOut { revoked }))
}
