//! The nine kinds of workspace resource (rules 2, 11, 13): list, create, read, update, delete,
//! and duplicate for flows. Every call acts in the scope its route's guard produced.

use super::{List, SearchParams};
use crate::crypto::new_api_key;
use crate::error::ApiResult;
use crate::state::AppState;
use axum::Json;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use flowspace_core::authz::WorkspaceScope;
use flowspace_core::cursor::Page;
use flowspace_core::ids::ItemId;
use flowspace_core::model::{ApiKey, Credential, Item};

use flowspace_core::resource::ResourceKind;
use flowspace_core::time::Timestamp;
use flowspace_core::{DomainError, rules};
use flowspace_store::{ApiKeyFields, CredentialFields, CredentialSecret, ItemFields};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// The version a write is conditional on: `If-Match` or the body's `version`.
fn expected_version(headers: &HeaderMap, body: Option<i64>) -> Result<Option<i64>, DomainError> {
    let header = match headers.get(header::IF_MATCH) {
        None => None,
        Some(v) => {
            let s = v.to_str().unwrap_or("").trim();
            let s = s.strip_prefix("W/").unwrap_or(s).trim_matches('"');
            Some(s.parse::<i64>().map_err(|_| {
                DomainError::invalid("If-Match", "must be the item's version number")
            })?)
        }
    };
    match (header, body) {
        (Some(h), Some(b)) if h != b => {
            Err(DomainError::invalid("version", "differs from If-Match"))
        }
        (h, b) => Ok(h.or(b)),
    }
}

fn required_version(headers: &HeaderMap, body: Option<i64>) -> Result<i64, DomainError> {
    expected_version(headers, body)?.ok_or_else(|| {
        DomainError::invalid(
            "version",
            "send the version you read (or If-Match) to update",
        )
    })
}

// ---- plain items ----------------------------------------------------------------------

#[derive(Deserialize, ToSchema)]
pub struct ItemInput {
    #[schema(schema_with = crate::fields::item_name)]
    pub name: String,
    #[schema(schema_with = crate::fields::description)]
    pub description: Option<String>,
    /// A JSON object of at most 1 MiB.
    #[schema(schema_with = crate::fields::data)]
    pub data: Option<Value>,
    /// The version read (updates only; or send If-Match).
    #[serde(default, deserialize_with = "crate::extract::integral")]
    #[schema(schema_with = crate::fields::version)]
    pub version: Option<i64>,
}

/// `ItemInput` as a variable needs it: what the document says the variable routes take. The
/// server reads an `ItemInput` and checks its `data` with `rules::variable_data`, from whose
/// bounds `fields::variable_data` is built.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct VariableInput {
    #[schema(schema_with = crate::fields::item_name)]
    name: String,
    #[schema(schema_with = crate::fields::description)]
    description: Option<String>,
    #[schema(schema_with = crate::fields::variable_data)]
    data: Value,
    #[schema(schema_with = crate::fields::version)]
    version: Option<i64>,
}

/// The request body the document gives the create (or update) route of `kind`.
pub fn item_body(kind: ResourceKind, update: bool) -> crate::openapi::Body {
    use crate::openapi::{body, update as upd};
    match (kind == ResourceKind::Variable, update) {
        (true, false) => body::<VariableInput>(),
        (true, true) => upd::<VariableInput>(),
        (false, false) => body::<ItemInput>(),
        (false, true) => upd::<ItemInput>(),
    }
}

fn item_fields(kind: ResourceKind, req: &ItemInput) -> Result<ItemFields, DomainError> {
    if kind == ResourceKind::Variable {
        rules::variable_data(req.data.as_ref())?;
    }
    Ok(ItemFields {
        name: rules::item_name(&req.name)?,
        description: rules::description(req.description.as_deref())?,
        data: rules::item_data(req.data.as_ref())?,
    })
}

/// A page of items, through the store's list cache (`flowspace_store::Store::list_items_rendered`).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn list_items(
    state: AppState,
    kind: ResourceKind,
    scope: WorkspaceScope,
    q: SearchParams,
) -> ApiResult<Response> {
    let (search, page) = (q.search()?, q.page()?);
    let body = state
        .store
        .list_items_rendered(&scope, kind, &search, page, render_items)
        .await?;
    Ok(json_bytes(body))
}

/// The body of an item list, as the list cache keeps it.
fn render_items(page: Page<Item>) -> Result<Bytes, DomainError> {
    let list: List<Item> = page.into();
    Ok(Bytes::from(
        serde_json::to_vec(&list).map_err(DomainError::internal)?,
    ))
}

fn json_bytes(body: Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// One item, through the store's item cache (`flowspace_store::Store::get_item_rendered`).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn get_item(
    state: AppState,
    kind: ResourceKind,
    scope: WorkspaceScope,
    id: ItemId,
) -> ApiResult<Response> {
    let body = state
        .store
        .get_item_rendered(&scope, kind, id, render_item)
        .await?;
    Ok(json_bytes(body))
}

/// The body of one item, as the item cache keeps it.
fn render_item(item: Item) -> Result<Bytes, DomainError> {
    Ok(Bytes::from(
        serde_json::to_vec(&item).map_err(DomainError::internal)?,
    ))
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn create_item(
    state: AppState,
    kind: ResourceKind,
    scope: WorkspaceScope,
    req: ItemInput,
) -> ApiResult<(StatusCode, Json<Item>)> {
    let fields = item_fields(kind, &req)?;
    Ok((
        StatusCode::CREATED,
        Json(state.store.create_item(&scope, kind, fields).await?),
    ))
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn update_item(
    state: AppState,
    kind: ResourceKind,
    scope: WorkspaceScope,
    id: ItemId,
    headers: HeaderMap,
    req: ItemInput,
) -> ApiResult<Json<Item>> {
    let fields = item_fields(kind, &req)?;
    let version = required_version(&headers, req.version)?;
    Ok(Json(
        state
            .store
            .update_item(&scope, kind, id, version, fields)
            .await?,
    ))
}

/// Deletes a resource of any kind (items, credentials, API keys); with `If-Match`, only that
/// version.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn delete_item(
    state: AppState,
    kind: ResourceKind,
    scope: WorkspaceScope,
    id: ItemId,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    let version = expected_version(&headers, None)?;
    state
        .store
        .delete_resource(&scope, kind, id, version)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn duplicate_item(
    state: AppState,
    kind: ResourceKind,
    scope: WorkspaceScope,
    id: ItemId,
) -> ApiResult<(StatusCode, Json<Item>)> {
    Ok((
        StatusCode::CREATED,
        Json(state.store.duplicate_item(&scope, kind, id).await?),
    ))
}

// ---- credentials ----------------------------------------------------------------------

/// A credential's update.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CredentialInput {
    #[schema(schema_with = crate::fields::item_name)]
    pub name: String,
    #[schema(schema_with = crate::fields::description)]
    pub description: Option<String>,
    /// The credential's type, e.g. `openAIApi`.
    #[schema(schema_with = crate::fields::name_or_keep)]
    pub credential_name: Option<String>,
    /// Secret fields; every value is encrypted and never returned. Absent keeps the stored
    /// secret.
    #[schema(schema_with = crate::fields::secret_data_or_keep)]
    pub data: Option<Value>,
    #[serde(default, deserialize_with = "crate::extract::integral")]
    #[schema(schema_with = crate::fields::version)]
    pub version: Option<i64>,
}

/// A new credential: unlike an update, it needs its type and its secret fields.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewCredentialInput {
    #[schema(schema_with = crate::fields::item_name)]
    pub name: String,
    #[schema(schema_with = crate::fields::description)]
    pub description: Option<String>,
    /// The credential's type, e.g. `openAIApi`.
    #[schema(schema_with = crate::fields::name)]
    pub credential_name: String,
    #[schema(schema_with = crate::fields::secret_data)]
    pub data: Value,
}

fn seal(state: &AppState, id: ItemId, data: &Value) -> Result<CredentialSecret, DomainError> {
    let data_keys = rules::credential_data(data)?;
    let plain = serde_json::to_vec(data).map_err(DomainError::internal)?;
    if plain.len() > rules::MAX_DATA_BYTES {
        return Err(DomainError::invalid("data", "must be at most 1 MiB"));
    }
    Ok(CredentialSecret {
        data_keys,
        sealed: state.secret_box.seal(id, &plain)?,
    })
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn list_credentials(
    state: AppState,
    scope: WorkspaceScope,
    q: SearchParams,
) -> ApiResult<Json<List<Credential>>> {
    let (search, page) = (q.search()?, q.page()?);
    Ok(Json(
        state
            .store
            .list_credentials(&scope, &search, page)
            .await?
            .into(),
    ))
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn get_credential(
    state: AppState,
    scope: WorkspaceScope,
    id: ItemId,
) -> ApiResult<Json<Credential>> {
    Ok(Json(state.store.get_credential(&scope, id).await?))
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn create_credential(
    state: AppState,
    scope: WorkspaceScope,
    req: NewCredentialInput,
) -> ApiResult<(StatusCode, Json<Credential>)> {
    let fields = CredentialFields {
        name: rules::item_name(&req.name)?,
        description: rules::description(req.description.as_deref())?,
        credential_name: rules::display_name("credentialName", &req.credential_name)?,
    };
    let data = &req.data;
    let id = ItemId::new();
    let secret = seal(&state, id, data)?;
    Ok((
        StatusCode::CREATED,
        Json(
            state
                .store
                .create_credential(&scope, id, fields, secret)
                .await?,
        ),
    ))
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn update_credential(
    state: AppState,
    scope: WorkspaceScope,
    id: ItemId,
    headers: HeaderMap,
    req: CredentialInput,
) -> ApiResult<Json<Credential>> {
    let current = state.store.get_credential(&scope, id).await?;
    let fields = CredentialFields {
        name: rules::item_name(&req.name)?,
        description: rules::description(req.description.as_deref())?,
        credential_name: match req.credential_name.as_deref() {
            Some(n) => rules::display_name("credentialName", n)?,
            None => current.credential_name,
        },
    };
    let version = required_version(&headers, req.version)?;
    let secret = req.data.as_ref().map(|d| seal(&state, id, d)).transpose()?;
    Ok(Json(
        state
            .store
            .update_credential(&scope, id, version, fields, secret)
            .await?,
    ))
}

// ---- API keys ---------------------------------------------------------------------------

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyInput {
    #[schema(schema_with = crate::fields::item_name)]
    pub name: String,
    #[schema(schema_with = crate::fields::description)]
    pub description: Option<String>,
    /// A subset of your own permissions in the workspace; never `workspace:*`.
    #[schema(schema_with = crate::fields::key_permissions)]
    pub permissions: Vec<String>,
    #[schema(schema_with = crate::fields::expiry)]
    pub expires_at: Option<Timestamp>,
    #[serde(default, deserialize_with = "crate::extract::integral")]
    #[schema(schema_with = crate::fields::version)]
    pub version: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct ApiKeyCreated {
    #[serde(flatten)]
    pub api_key: ApiKey,
    /// The key itself: shown this once, never again.
    pub key: String,
}

fn api_key_fields(scope: &WorkspaceScope, req: &ApiKeyInput) -> Result<ApiKeyFields, DomainError> {
    let perms = flowspace_core::authz::api_key_permissions(scope, &req.permissions)?;
    if req.expires_at.is_some_and(|t| t <= Timestamp::now()) {
        return Err(DomainError::invalid("expiresAt", "must be in the future"));
    }
    Ok(ApiKeyFields {
        name: rules::item_name(&req.name)?,
        description: rules::description(req.description.as_deref())?,
        permissions: perms,
        expires_at: req.expires_at,
    })
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn list_api_keys(
    state: AppState,
    scope: WorkspaceScope,
    q: SearchParams,
) -> ApiResult<Json<List<ApiKey>>> {
    let (search, page) = (q.search()?, q.page()?);
    Ok(Json(
        state
            .store
            .list_api_keys(&scope, &search, page)
            .await?
            .into(),
    ))
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn get_api_key(
    state: AppState,
    scope: WorkspaceScope,
    id: ItemId,
) -> ApiResult<Json<ApiKey>> {
    Ok(Json(state.store.get_api_key(&scope, id).await?))
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn create_api_key(
    state: AppState,
    scope: WorkspaceScope,
    req: ApiKeyInput,
) -> ApiResult<(StatusCode, Json<ApiKeyCreated>)> {
    let fields = api_key_fields(&scope, &req)?;
    let (key, prefix, hash) = new_api_key();
    let api_key = state
        .store
        .create_api_key(&scope, fields, &prefix, &hash)
        .await?;
    Ok((StatusCode::CREATED, Json(ApiKeyCreated { api_key, key })))
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn update_api_key(
    state: AppState,
    scope: WorkspaceScope,
    id: ItemId,
    headers: HeaderMap,
    req: ApiKeyInput,
) -> ApiResult<Json<ApiKey>> {
    let fields = api_key_fields(&scope, &req)?;
    let version = required_version(&headers, req.version)?;
    Ok(Json(
        state
            .store
            .update_api_key(&scope, id, version, fields)
            .await?,
    ))
}
