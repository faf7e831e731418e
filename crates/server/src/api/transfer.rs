//! Sharing and using credentials across workspaces (rule 11), export and import of a
//! workspace's items, and the Account Admin's bulk move and copy of flows (rule 12).

use crate::auth::{Admin, Scope, Views};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, Id, from_value};
use crate::flowise::export_file;
use crate::state::AppState;
use axum::Json;
use axum::extract::{FromRequest, Request, State};
use axum::http::StatusCode;

use flowspace_core::DomainError;
use flowspace_core::authz::WorkspaceScope;
use flowspace_core::ids::{ItemId, WorkspaceId};
use flowspace_core::model::{CredentialUsage, WorkspaceRef};
use flowspace_core::resource::ResourceKind;
use flowspace_core::time::Timestamp;
use flowspace_core::transfer::{
    self, BUNDLE_FORMAT, BUNDLE_VERSION, Bundle, BundleCredential, BundleItem, BundleWorkspace,
};
use flowspace_store::{
    AuditContext, AuditEvent, CredentialFields, CredentialSecret, ImportEntry, Imported,
    ItemFields, Transferred,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashSet;
use utoipa::openapi::schema::{Discriminator, OneOfBuilder, Schema};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

// ---- shares -------------------------------------------------------------------------------

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Shares {
    /// The workspaces the credential is shared with.
    pub workspaces: Vec<WorkspaceRef>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SharesInput {
    /// Replaces the whole set; `[]` unshares everywhere.
    #[schema(schema_with = crate::fields::workspace_ids)]
    pub workspace_ids: Vec<String>,
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn get_shares(
    State(state): State<AppState>,
    Scope(scope): Scope,
    Id(id): Id<ItemId>,
) -> ApiResult<Json<Shares>> {
    Ok(Json(Shares {
        workspaces: state.store.credential_shares(&scope, id).await?,
    }))
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn put_shares(
    State(state): State<AppState>,
    Scope(scope): Scope,
    Id(id): Id<ItemId>,
    ApiJson(req): ApiJson<SharesInput>,
) -> ApiResult<Json<Shares>> {
    let mut targets = Vec::with_capacity(req.workspace_ids.len());
    for (i, raw) in req.workspace_ids.iter().enumerate() {
        let ws: WorkspaceId = raw.trim().parse().map_err(|_| {
            DomainError::invalid(format!("workspaceIds[{i}]"), "is not a workspace id")
        })?;
        if !targets.contains(&ws) {
            targets.push(ws);
        }
    }
    let ctx = AuditContext::from_scope(&scope);
    Ok(Json(Shares {
        workspaces: state
            .store
            .set_credential_shares(&scope, id, &targets, &ctx)
            .await?,
    }))
}

/// Where a credential visible in the active workspace is used: the workspaces it reaches and
/// the items there that name it, as far as the caller may see (`Views`), the rest counted.
/// What unsharing or deleting it would break.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn usage(
    State(state): State<AppState>,
    Scope(scope): Scope,
    Views(views): Views,
    Id(id): Id<ItemId>,
) -> ApiResult<Json<CredentialUsage>> {
    Ok(Json(
        state.store.credential_usage(&scope, &views, id).await?,
    ))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResolvedCredential {
    pub id: ItemId,
    pub name: String,
    pub credential_name: String,
    /// The decrypted secret fields.
    #[schema(value_type = Object)]
    pub data: Value,
}

/// Decrypts a credential visible in the scope (owned or shared into it), for a flow runtime.
/// Every resolve is recorded before the secret leaves the server.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn resolve(
    State(state): State<AppState>,
    Scope(scope): Scope,
    Id(id): Id<ItemId>,
) -> ApiResult<Json<ResolvedCredential>> {
    let credential = state.store.get_credential(&scope, id).await?;
    let sealed = state.store.credential_secret(&scope, id).await?;
    let plain = state.secret_box.open(id, &sealed)?;
    let data: Value = serde_json::from_slice(&plain).map_err(DomainError::internal)?;
    let ev = AuditEvent {
        workspace: Some(scope.workspace()),
        action: "credential.resolve",
        target_kind: "credential",
        target_id: Some(id.0),
        summary: serde_json::json!({"shared": credential.shared, "owner": credential.owner_workspace.id.to_string()}),
    };
    state
        .store
        .record_audit(&AuditContext::from_scope(&scope), &ev)
        .await?;
    Ok(Json(ResolvedCredential {
        id,
        name: credential.name,
        credential_name: credential.credential_name,
        data,
    }))
}

// ---- export / import ------------------------------------------------------------------------

/// Largest import body.
pub const MAX_IMPORT_BYTES: usize = 32 * 1024 * 1024;

#[derive(Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct ExportRequest {
    /// Kinds to export (default: every exportable kind: flows, assistants, tools, variables,
    /// document stores, datasets, credentials).
    #[schema(schema_with = crate::fields::export_kinds)]
    pub kinds: Option<Vec<String>>,
    /// Only these items (of the chosen kinds).
    #[schema(schema_with = crate::fields::export_ids)]
    pub ids: Option<Vec<String>>,
    /// Include variables' values (default: only their type).
    #[serde(default)]
    pub include_variable_values: bool,
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn export(
    State(state): State<AppState>,
    Scope(scope): Scope,
    ApiJson(req): ApiJson<ExportRequest>,
) -> ApiResult<Json<Bundle>> {
    let kinds = transfer::export_kinds(&scope, req.kinds.as_deref())?;
    let wanted: Option<HashSet<ItemId>> = match &req.ids {
        None => None,
        Some(ids) => Some(
            ids.iter()
                .enumerate()
                .map(|(i, s)| {
                    s.trim()
                        .parse()
                        .map_err(|_| DomainError::invalid(format!("ids[{i}]"), "is not an id"))
                })
                .collect::<Result<_, _>>()?,
        ),
    };
    let keep = |id: &ItemId| wanted.as_ref().is_none_or(|w| w.contains(id));
    let mut items = Vec::new();
    for it in state.store.export_items(&scope, &kinds).await? {
        if !keep(&it.id) {
            continue;
        }
        let data: Value = serde_json::from_str(&it.data).map_err(DomainError::internal)?;
        let data = transfer::exported_data(it.kind, data, req.include_variable_values);
        items.push(BundleItem {
            kind: it.kind.path().to_string(),
            id: it.id.to_string(),
            name: it.name,
            description: it.description,
            data,
        });
    }
    let mut credentials = Vec::new();
    if kinds.contains(&ResourceKind::Credential) {
        for c in state.store.export_credentials(&scope).await? {
            if keep(&c.id) {
                credentials.push(BundleCredential {
                    id: c.id.to_string(),
                    name: c.name,
                    description: c.description,
                    credential_name: c.credential_name,
                    data_keys: c.data_keys,
                });
            }
        }
    }
    if let Some(w) = &wanted {
        let found: HashSet<String> = items
            .iter()
            .map(|i| i.id.clone())
            .chain(credentials.iter().map(|c| c.id.clone()))
            .collect();
        if w.iter().any(|id| !found.contains(&id.to_string())) {
            return Err(ApiError::not_found("item"));
        }
    }
    let ws = state.store.workspace(&scope).await?;
    Ok(Json(Bundle {
        format: BUNDLE_FORMAT.to_string(),
        version: BUNDLE_VERSION,
        exported_at: Some(Timestamp::now()),
        source_workspace: Some(BundleWorkspace {
            id: ws.id.to_string(),
            name: ws.name,
        }),
        items,
        credentials,
    }))
}

/// The body of `POST /import` and `POST /import/preview`: a Flowspace bundle, or Flowise's
/// own export file (`{"format": "flowise", "data": <ExportData.json>}`).
pub enum ImportInput {
    Bundle(Box<Bundle>),
    Flowise(Value),
}

/// Flowise's export file, as `POST /import` takes it.
#[derive(Deserialize, ToSchema)]
pub struct FlowiseImport {
    /// Always `flowise`.
    #[schema(schema_with = crate::fields::flowise_format)]
    pub format: String,
    /// The content of Flowise's `ExportData.json`, unchanged.
    #[schema(schema_with = crate::fields::flowise_export)]
    pub data: Value,
}

impl<S: Send + Sync> FromRequest<S> for ImportInput {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let ApiJson(value) = ApiJson::<Value>::from_request(req, state).await?;
        if value.get("format").and_then(Value::as_str) == Some(export_file::FORMAT) {
            let f: FlowiseImport = from_value(value)?;
            Ok(Self::Flowise(f.data))
        } else {
            Ok(Self::Bundle(Box::new(from_value(value)?)))
        }
    }
}

impl PartialSchema for ImportInput {
    fn schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .item(Ref::from_schema_name(Bundle::name()))
            .item(Ref::from_schema_name(FlowiseImport::name()))
            .discriminator(Some(Discriminator::new("format")))
            .into()
    }
}

impl ToSchema for ImportInput {
    fn schemas(out: &mut Vec<(String, RefOr<Schema>)>) {
        out.push((Bundle::name().into(), Bundle::schema()));
        Bundle::schemas(out);
        out.push((FlowiseImport::name().into(), FlowiseImport::schema()));
        FlowiseImport::schemas(out);
    }
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImportReport {
    /// What was created, with the new ids.
    pub created: Vec<Imported>,
    /// What was not brought over, and why (a Flowise export's chat messages, the credentials
    /// its flows name, ...); empty for a bundle.
    #[serde(default)]
    pub left_out: Vec<String>,
}

/// One entry of a bundle, as an import of it would create it now.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PreviewEntry {
    /// The kind's path name: `chatflows`, `tools`, `credentials`, ...
    pub kind: String,
    /// The name in the bundle.
    pub bundle_name: String,
    /// The name it would be created under.
    pub name: String,
    /// Whether `bundleName` is taken in the workspace (or by an earlier entry), so the import
    /// adds a ` (2)`-style suffix.
    pub renamed: bool,
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImportPreview {
    /// What an import of the bundle would create, in its order: items, then credentials.
    pub entries: Vec<PreviewEntry>,
    /// What the import would not bring over, and why; empty for a bundle.
    #[serde(default)]
    pub left_out: Vec<String>,
}

/// An import planned whole, nothing written: what it creates, in order, and what it leaves out.
struct Planned {
    entries: Vec<ImportEntry>,
    left_out: Vec<String>,
}

/// Plans a bundle (`core::transfer::plan_import`) or a Flowise export (`flowise::export_file`,
/// the mapping `import-flowise` uses) into the scope's workspace, each entry checked and every
/// kind's `:create` and `:import` required.
fn plan(state: &AppState, scope: &WorkspaceScope, input: ImportInput) -> ApiResult<Planned> {
    match input {
        ImportInput::Bundle(bundle) => {
            let plan = transfer::plan_import(scope, &bundle)?;
            let mut entries = Vec::with_capacity(plan.items.len() + plan.credentials.len());
            for it in plan.items {
                entries.push(ImportEntry::Item {
                    kind: it.kind,
                    id: it.id,
                    fields: ItemFields {
                        name: it.name,
                        description: it.description,
                        data: it.data,
                    },
                });
            }
            for c in plan.credentials {
                entries.push(ImportEntry::Credential {
                    id: c.id,
                    fields: CredentialFields {
                        name: c.name,
                        description: c.description,
                        credential_name: c.credential_name,
                    },
                    secret: CredentialSecret {
                        data_keys: c.data_keys,
                        sealed: state.secret_box.seal(c.id, &c.plain)?,
                    },
                });
            }
            Ok(Planned {
                entries,
                left_out: Vec::new(),
            })
        }
        ImportInput::Flowise(data) => {
            let plan = export_file::plan(&data, scope.workspace(), &state.secret_box)?;
            transfer::require_import(scope, plan.items.iter().map(|it| it.kind))?;
            let entries = plan
                .items
                .into_iter()
                .map(|it| ImportEntry::Item {
                    kind: it.kind,
                    id: it.id,
                    fields: ItemFields {
                        name: it.name,
                        description: it.description,
                        data: it.data,
                    },
                })
                .collect();
            Ok(Planned {
                entries,
                left_out: plan.left_out,
            })
        }
    }
}

/// What `import` would do with the body, checked as `import` checks it, without writing.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn import_preview(
    State(state): State<AppState>,
    Scope(scope): Scope,
    input: ImportInput,
) -> ApiResult<Json<ImportPreview>> {
    let planned = plan(&state, &scope, input)?;
    let wanted: Vec<(ResourceKind, &str)> = planned
        .entries
        .iter()
        .map(|e| match e {
            ImportEntry::Item { kind, fields, .. } => (*kind, fields.name.as_str()),
            ImportEntry::Credential { fields, .. } => {
                (ResourceKind::Credential, fields.name.as_str())
            }
        })
        .collect();
    let names = state.store.import_names(&scope, &wanted).await?;
    let entries = wanted
        .into_iter()
        .zip(names)
        .map(|((kind, bundle_name), (name, renamed))| PreviewEntry {
            kind: kind.path().to_string(),
            bundle_name: bundle_name.to_string(),
            name,
            renamed,
        })
        .collect();
    Ok(Json(ImportPreview {
        entries,
        left_out: planned.left_out,
    }))
}

/// Plans the whole import first, then writes it in one transaction.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn import(
    State(state): State<AppState>,
    Scope(scope): Scope,
    input: ImportInput,
) -> ApiResult<(StatusCode, Json<ImportReport>)> {
    let planned = plan(&state, &scope, input)?;
    let created = state
        .store
        .import(&scope, planned.entries, &AuditContext::from_scope(&scope))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(ImportReport {
            created,
            left_out: planned.left_out,
        }),
    ))
}

// ---- bulk move / copy -----------------------------------------------------------------------

/// Most flows one bulk move or copy takes.
pub const MAX_BULK: usize = 5_000;

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BulkRequest {
    /// Chatflow and agentflow ids, from any workspace of the organization.
    #[schema(schema_with = crate::fields::bulk_ids)]
    pub ids: Vec<String>,
    #[schema(schema_with = crate::fields::id)]
    pub target_workspace_id: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct BulkReport {
    /// What happened to each id, in the order given.
    pub results: Vec<Transferred>,
}

fn bulk_input(req: &BulkRequest) -> Result<(Vec<ItemId>, WorkspaceId), ApiError> {
    if req.ids.is_empty() || req.ids.len() > MAX_BULK {
        return Err(
            DomainError::invalid("ids", format!("give between 1 and {MAX_BULK} ids")).into(),
        );
    }
    let mut seen = HashSet::new();
    let mut ids = Vec::with_capacity(req.ids.len());
    for (i, raw) in req.ids.iter().enumerate() {
        let id: ItemId = raw
            .trim()
            .parse()
            .map_err(|_| DomainError::invalid(format!("ids[{i}]"), "is not an id"))?;
        if !seen.insert(id) {
            return Err(DomainError::invalid(format!("ids[{i}]"), "appears twice").into());
        }
        ids.push(id);
    }
    let target = req
        .target_workspace_id
        .trim()
        .parse()
        .map_err(|_| ApiError::not_found("workspace"))?;
    Ok((ids, target))
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn move_flows(
    State(state): State<AppState>,
    Admin(admin): Admin,
    ApiJson(req): ApiJson<BulkRequest>,
) -> ApiResult<Json<BulkReport>> {
    let (ids, target) = bulk_input(&req)?;
    let results = state
        .store
        .move_flows(&admin, &ids, target, &AuditContext::from_admin(&admin))
        .await?;
    Ok(Json(BulkReport { results }))
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn copy_flows(
    State(state): State<AppState>,
    Admin(admin): Admin,
    ApiJson(req): ApiJson<BulkRequest>,
) -> ApiResult<Json<BulkReport>> {
    let (ids, target) = bulk_input(&req)?;
    let results = state
        .store
        .copy_flows(&admin, &ids, target, &AuditContext::from_admin(&admin))
        .await?;
    Ok(Json(BulkReport { results }))
}
