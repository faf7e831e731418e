//! Roles and the permission catalogue (rule 8, SPEC §3).

use super::{List, SearchParams};
use crate::auth::{Admin, Org};
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiQuery, Id};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use flowspace_core::cursor::{Cursor, Search};
use flowspace_core::ids::RoleId;
use flowspace_core::model::Role;
use flowspace_core::permissions::{PermissionSet, Resource};
use flowspace_core::{DomainError, rules};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub struct CatalogueEntry {
    pub resource: &'static str,
    pub actions: Vec<&'static str>,
}

#[derive(Serialize, ToSchema)]
pub struct Catalogue {
    /// Each resource with its actions, in catalogue order.
    pub resources: Vec<CatalogueEntry>,
    /// Every permission as `resource:action`.
    pub permissions: Vec<String>,
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn permissions() -> Json<Catalogue> {
    Json(Catalogue {
        resources: Resource::ALL
            .iter()
            .map(|r| CatalogueEntry {
                resource: r.as_str(),
                actions: r.actions().iter().map(|a| a.as_str()).collect(),
            })
            .collect(),
        permissions: PermissionSet::all().to_strings(),
    })
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn list(
    State(state): State<AppState>,
    Org(org): Org,
    ApiQuery(q): ApiQuery<SearchParams>,
) -> ApiResult<Json<List<Role>>> {
    let roles = state.store.list_roles(&org).await?;
    let found = |s: &Search, r: &Role| s.matches(&[&r.name]);
    let key = |r: &Role| Cursor {
        created_at: r.created_at,
        id: r.id.0,
    };
    Ok(Json(q.cut(roles, false, found, key)?))
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn get(
    State(state): State<AppState>,
    Org(org): Org,
    Id(id): Id<RoleId>,
) -> ApiResult<Json<Role>> {
    Ok(Json(state.store.role(&org, id).await?))
}

#[derive(Deserialize, ToSchema)]
pub struct RoleInput {
    #[schema(schema_with = crate::fields::name)]
    pub name: String,
    #[schema(schema_with = crate::fields::description)]
    pub description: Option<String>,
    /// Catalogue entries; every `:create/:update/...` also grants the resource's `:view`.
    #[schema(schema_with = crate::fields::permissions)]
    pub permissions: Vec<String>,
}

fn validate(req: &RoleInput) -> Result<(String, Option<String>, PermissionSet), DomainError> {
    let name = rules::display_name("name", &req.name)?;
    let description = rules::description(req.description.as_deref())?;
    let perms = PermissionSet::parse(req.permissions.iter().map(String::as_str))
        .map_err(|e| DomainError::invalid("permissions", e.to_string()))?;
    Ok((name, description, perms.with_implied_views()))
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn create(
    State(state): State<AppState>,
    Admin(admin): Admin,
    ApiJson(req): ApiJson<RoleInput>,
) -> ApiResult<(StatusCode, Json<Role>)> {
    let (name, description, perms) = validate(&req)?;
    let role = state
        .store
        .create_role(&admin, &name, description.as_deref(), perms)
        .await?;
    Ok((StatusCode::CREATED, Json(role)))
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn update(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Id(id): Id<RoleId>,
    ApiJson(req): ApiJson<RoleInput>,
) -> ApiResult<Json<Role>> {
    let (name, description, perms) = validate(&req)?;
    Ok(Json(
        state
            .store
            .update_role(&admin, id, &name, description.as_deref(), perms)
            .await?,
    ))
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn delete(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Id(id): Id<RoleId>,
) -> ApiResult<StatusCode> {
    state.store.delete_role(&admin, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
