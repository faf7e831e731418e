//! Workspaces and memberships (rules 5, 6, 7).

use super::{List, SearchParams, UserIdInput};
use crate::auth::{Admin, Caller, Myself, Scope};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery, Id};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use flowspace_core::authz;
use flowspace_core::cursor::{Cursor, Search};
use flowspace_core::ids::{UserId, WorkspaceId};
use flowspace_core::model::{Member, Workspace};
use flowspace_core::rules;
use flowspace_store::{NewWorkspace, WorkspacePatch};
use serde::Deserialize;
use utoipa::ToSchema;

#[tracing::instrument(level = "debug", skip_all)]
pub async fn list(
    State(state): State<AppState>,
    Myself(me): Myself,
    caller: Caller,
    ApiQuery(q): ApiQuery<SearchParams>,
) -> ApiResult<Json<List<Workspace>>> {
    // A suspended organization's workspaces are not listed (rule 18).
    let active = authz::authorize_org_member(&caller.facts).ok();
    let items = match active.map(|o| o.organization()) {
        Some(org) => {
            state
                .store
                .list_workspaces(org, me.user_id(), caller.facts.is_account_admin())
                .await?
        }
        None => Vec::new(),
    };
    let found = |s: &Search, w: &Workspace| s.matches(&[&w.name]);
    let key = |w: &Workspace| Cursor {
        created_at: w.created_at,
        id: w.id.0,
    };
    Ok(Json(q.cut(items, false, found, key)?))
}

#[derive(Deserialize, ToSchema)]
pub struct CreateWorkspace {
    #[schema(schema_with = crate::fields::name)]
    pub name: String,
    #[schema(schema_with = crate::fields::description)]
    pub description: Option<String>,
    #[schema(schema_with = crate::fields::color)]
    pub color: Option<String>,
    #[schema(schema_with = crate::fields::icon)]
    pub icon: Option<String>,
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn create(
    State(state): State<AppState>,
    Admin(admin): Admin,
    ApiJson(req): ApiJson<CreateWorkspace>,
) -> ApiResult<(StatusCode, Json<Workspace>)> {
    let new = NewWorkspace {
        name: rules::workspace_name(&req.name)?,
        description: rules::description(req.description.as_deref())?,
        color: rules::color(req.color.as_deref())?,
        icon: rules::icon(req.icon.as_deref())?,
    };
    Ok((
        StatusCode::CREATED,
        Json(state.store.create_workspace(&admin, new).await?),
    ))
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn get(State(state): State<AppState>, Scope(scope): Scope) -> ApiResult<Json<Workspace>> {
    Ok(Json(state.store.workspace(&scope).await?))
}

#[derive(Deserialize, ToSchema)]
pub struct UpdateWorkspace {
    #[schema(schema_with = crate::fields::name_or_keep)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "super::nullable")]
    #[schema(schema_with = crate::fields::description)]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "super::nullable")]
    #[schema(schema_with = crate::fields::color)]
    pub color: Option<Option<String>>,
    #[serde(default, deserialize_with = "super::nullable")]
    #[schema(schema_with = crate::fields::icon)]
    pub icon: Option<Option<String>>,
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn update(
    State(state): State<AppState>,
    Scope(scope): Scope,
    ApiJson(req): ApiJson<UpdateWorkspace>,
) -> ApiResult<Json<Workspace>> {
    let patch = WorkspacePatch {
        name: req.name.as_deref().map(rules::workspace_name).transpose()?,
        description: req
            .description
            .map(|d| rules::description(d.as_deref()))
            .transpose()?,
        color: req.color.map(|c| rules::color(c.as_deref())).transpose()?,
        icon: req.icon.map(|i| rules::icon(i.as_deref())).transpose()?,
    };
    Ok(Json(state.store.update_workspace(&scope, patch).await?))
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn delete(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Id(id): Id<WorkspaceId>,
) -> ApiResult<StatusCode> {
    state.store.delete_workspace(&admin, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn members(
    State(state): State<AppState>,
    Scope(scope): Scope,
    ApiQuery(q): ApiQuery<SearchParams>,
) -> ApiResult<Json<List<Member>>> {
    let (search, page) = (q.search()?, q.page()?);
    Ok(Json(
        state
            .store
            .page_members(&scope, &search, page)
            .await?
            .into(),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AddUser {
    #[schema(schema_with = crate::fields::id)]
    pub user_id: String,
    /// A role id, or a role's name such as `Viewer`.
    #[schema(schema_with = crate::fields::role)]
    pub role: String,
}

fn user_id(raw: &str) -> ApiResult<UserId> {
    raw.trim().parse().map_err(|_| ApiError::not_found("user"))
}

/// Adds a member, or changes the role of an existing one. Nobody grants a role holding a
/// permission they lack themselves, nor changes the role of a member who holds one.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn add_user(
    State(state): State<AppState>,
    Scope(scope): Scope,
    ApiJson(req): ApiJson<AddUser>,
) -> ApiResult<Json<Member>> {
    let user = user_id(&req.user_id)?;
    let role = state.store.resolve_role(&scope, &req.role).await?;
    scope.require_all(role.permissions)?;
    // Nor does anyone change the role of a member who holds more than they do.
    let members = state.store.members(&scope).await?;
    if let Some(current) = members.into_iter().find(|m| m.user_id == user) {
        let held = state.store.role(&scope, current.role_id).await?;
        scope.require_all(held.permissions)?;
    }
    Ok(Json(state.store.add_member(&scope, user, role.id).await?))
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn remove_user(
    State(state): State<AppState>,
    Scope(scope): Scope,
    ApiJson(req): ApiJson<UserIdInput>,
) -> ApiResult<StatusCode> {
    let user = user_id(&req.user_id)?;
    // Nobody unlinks a member who holds more than they do.
    let members = state.store.members(&scope).await?;
    if let Some(current) = members
        .into_iter()
        .find(|m| m.user_id == user && !m.is_account_admin)
    {
        let held = state.store.role(&scope, current.role_id).await?;
        scope.require_all(held.permissions)?;
    }
    state.store.remove_member(&scope, user).await?;
    Ok(StatusCode::NO_CONTENT)
}
