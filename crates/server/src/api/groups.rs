//! Groups (SPEC: Group; §4 `/groups`, `add-group`, `remove-group`): only the Account Admin
//! manages them. A group assigned to a workspace with a role gives that role to its members
//! there, in union with their direct membership (see `flowspace_store` `standing`).

use super::{List, SearchParams};
use crate::auth::Admin;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery, Id};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use flowspace_core::cursor::{Cursor, Search};
use flowspace_core::ids::{GroupId, UserId, WorkspaceId};
use flowspace_core::rules;
use flowspace_store::{AuditContext, Group, GroupPatch};
use serde::Deserialize;
use utoipa::ToSchema;

fn user_ids(raw: &[String]) -> ApiResult<Vec<UserId>> {
    let mut ids: Vec<UserId> = Vec::with_capacity(raw.len());
    for r in raw {
        let id = r.trim().parse().map_err(|_| ApiError::not_found("user"))?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

fn group_id(raw: &str) -> ApiResult<GroupId> {
    raw.trim().parse().map_err(|_| ApiError::not_found("group"))
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn list_groups(
    State(state): State<AppState>,
    Admin(admin): Admin,
    ApiQuery(q): ApiQuery<SearchParams>,
) -> ApiResult<Json<List<Group>>> {
    let groups = state.store.list_groups(&admin).await?;
    let found = |s: &Search, g: &Group| s.matches(&[&g.name]);
    let key = |g: &Group| Cursor {
        created_at: g.created_at,
        id: g.id.0,
    };
    Ok(Json(q.cut(groups, false, found, key)?))
}

#[derive(Deserialize, ToSchema)]
pub struct GroupInput {
    #[schema(schema_with = crate::fields::name)]
    pub name: String,
    #[schema(schema_with = crate::fields::description)]
    pub description: Option<String>,
    /// User ids of the organization.
    #[serde(default)]
    #[schema(schema_with = crate::fields::members)]
    pub members: Vec<String>,
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn create(
    State(state): State<AppState>,
    Admin(admin): Admin,
    ApiJson(req): ApiJson<GroupInput>,
) -> ApiResult<(StatusCode, Json<Group>)> {
    let name = rules::display_name("name", &req.name)?;
    let description = rules::description(req.description.as_deref())?;
    let members = user_ids(&req.members)?;
    let group = state
        .store
        .create_group(
            &admin,
            &name,
            description.as_deref(),
            &members,
            &AuditContext::from_admin(&admin),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(group)))
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn get(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Id(id): Id<GroupId>,
) -> ApiResult<Json<Group>> {
    Ok(Json(state.store.group(&admin, id).await?))
}

#[derive(Deserialize, ToSchema)]
pub struct GroupPatchInput {
    #[schema(schema_with = crate::fields::name_or_keep)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "super::nullable")]
    #[schema(schema_with = crate::fields::description)]
    pub description: Option<Option<String>>,
    /// When present, replaces the set of members.
    #[schema(schema_with = crate::fields::members_or_keep)]
    pub members: Option<Vec<String>>,
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn patch(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Id(id): Id<GroupId>,
    ApiJson(req): ApiJson<GroupPatchInput>,
) -> ApiResult<Json<Group>> {
    let patch = GroupPatch {
        name: req
            .name
            .as_deref()
            .map(|n| rules::display_name("name", n))
            .transpose()?,
        description: req
            .description
            .map(|d| rules::description(d.as_deref()))
            .transpose()?,
        members: req.members.as_deref().map(user_ids).transpose()?,
    };
    Ok(Json(
        state
            .store
            .update_group(&admin, id, patch, &AuditContext::from_admin(&admin))
            .await?,
    ))
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn delete(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Id(id): Id<GroupId>,
) -> ApiResult<StatusCode> {
    state
        .store
        .delete_group(&admin, id, &AuditContext::from_admin(&admin))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AddGroup {
    #[schema(schema_with = crate::fields::id)]
    pub group_id: String,
    /// A role id, or a role's name such as `Developer`.
    #[schema(schema_with = crate::fields::role)]
    pub role: String,
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn add_group(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Id(ws): Id<WorkspaceId>,
    ApiJson(req): ApiJson<AddGroup>,
) -> ApiResult<Json<Group>> {
    let group = group_id(&req.group_id)?;
    let role = state.store.resolve_role(&admin, &req.role).await?;
    Ok(Json(
        state
            .store
            .add_workspace_group(
                &admin,
                ws,
                group,
                role.id,
                &AuditContext::from_admin(&admin),
            )
            .await?,
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupIdInput {
    #[schema(schema_with = crate::fields::id)]
    pub group_id: String,
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn remove_group(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Id(ws): Id<WorkspaceId>,
    ApiJson(req): ApiJson<GroupIdInput>,
) -> ApiResult<StatusCode> {
    state
        .store
        .remove_workspace_group(
            &admin,
            ws,
            group_id(&req.group_id)?,
            &AuditContext::from_admin(&admin),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
