//! Sharing and using credentials across workspaces (rule 11), export and import of a
//! workspace's items, and the Account Admin's bulk move and copy of flows (rule 12).

use super::session::ClientInfo;
use crate::auth::{Admin, Caller, Scope};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, Id};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use flowspace_core::authz::WorkspaceScope;
use flowspace_core::ids::{ItemId, WorkspaceId};
use flowspace_core::model::WorkspaceRef;
use flowspace_core::permissions::Action;
use flowspace_core::resource::ResourceKind;
use flowspace_core::time::Timestamp;
use flowspace_core::{DomainError, rules};
use flowspace_store::{
    AuditContext, AuditEvent, CredentialFields, CredentialSecret, ImportEntry, Imported,
    ItemFields, Transferred,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};
use utoipa::ToSchema;

fn audit_context(caller: &Caller, client: &ClientInfo) -> AuditContext {
    AuditContext {
        organization: caller.facts.organization,
        actor: caller.facts.actor,
        ip: client.ip.clone(),
    }
}

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

pub async fn get_shares(
    State(state): State<AppState>,
    Scope(scope): Scope,
    Id(id): Id<ItemId>,
) -> ApiResult<Json<Shares>> {
    Ok(Json(Shares {
        workspaces: state.store.credential_shares(&scope, id).await?,
    }))
}

pub async fn put_shares(
    State(state): State<AppState>,
    Scope(scope): Scope,
    caller: Caller,
    client: ClientInfo,
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
    let ctx = audit_context(&caller, &client);
    Ok(Json(Shares {
        workspaces: state
            .store
            .set_credential_shares(&scope, id, &targets, &ctx)
            .await?,
    }))
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
pub async fn resolve(
    State(state): State<AppState>,
    Scope(scope): Scope,
    caller: Caller,
    client: ClientInfo,
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
        .record_audit(&audit_context(&caller, &client), &ev)
        .await?;
    Ok(Json(ResolvedCredential {
        id,
        name: credential.name,
        credential_name: credential.credential_name,
        data,
    }))
}

// ---- export / import ------------------------------------------------------------------------

/// The bundle format's name and version.
pub const BUNDLE_FORMAT: &str = "flowspace-bundle";
pub const BUNDLE_VERSION: u32 = 1;
/// Most entries one import takes.
pub const MAX_IMPORT_ENTRIES: usize = 10_000;
/// Largest import body.
pub const MAX_IMPORT_BYTES: usize = 32 * 1024 * 1024;

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Bundle {
    /// Always `flowspace-bundle`.
    #[schema(schema_with = crate::fields::bundle_format)]
    pub format: String,
    /// The bundle format version (1).
    #[serde(deserialize_with = "crate::extract::integer")]
    #[schema(schema_with = crate::fields::bundle_version)]
    pub version: u32,
    pub exported_at: Option<Timestamp>,
    pub source_workspace: Option<BundleWorkspace>,
    #[serde(default)]
    #[schema(schema_with = crate::fields::bundle_items)]
    pub items: Vec<BundleItem>,
    #[serde(default)]
    #[schema(schema_with = crate::fields::bundle_credentials)]
    pub credentials: Vec<BundleCredential>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct BundleWorkspace {
    pub id: String,
    pub name: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct BundleItem {
    /// The kind's path name: `chatflows`, `tools`, `variables`, ...
    pub kind: String,
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    #[schema(value_type = Object)]
    pub data: Value,
}

/// A credential travels with its name, type and field names, never its secret values.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BundleCredential {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub credential_name: String,
    pub data_keys: Vec<String>,
}

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

/// The kinds a bundle carries.
pub fn exportable() -> Vec<ResourceKind> {
    ResourceKind::ALL
        .into_iter()
        .filter(|k| *k != ResourceKind::ApiKey)
        .collect()
}

fn kind_from_path(field: &str, s: &str) -> Result<ResourceKind, DomainError> {
    exportable()
        .into_iter()
        .find(|k| k.path() == s)
        .ok_or_else(|| DomainError::invalid(field, format!("`{s}` is not an exportable kind")))
}

/// Exporting a kind needs its `:export` where the catalogue has one, else its `:view`.
fn require_export(scope: &WorkspaceScope, kind: ResourceKind) -> Result<(), DomainError> {
    let p = kind
        .permission(Action::Export)
        .or_else(|| kind.permission(Action::View))
        .ok_or_else(|| DomainError::internal("kind without view permission"))?;
    scope.require(p)
}

pub async fn export(
    State(state): State<AppState>,
    Scope(scope): Scope,
    ApiJson(req): ApiJson<ExportRequest>,
) -> ApiResult<Json<Bundle>> {
    let kinds = match &req.kinds {
        None => exportable(),
        Some(list) => list
            .iter()
            .enumerate()
            .map(|(i, k)| kind_from_path(&format!("kinds[{i}]"), k))
            .collect::<Result<Vec<_>, _>>()?,
    };
    for k in &kinds {
        require_export(&scope, *k)?;
    }
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
        let mut data: Value = serde_json::from_str(&it.data).map_err(DomainError::internal)?;
        if it.kind == ResourceKind::Variable
            && !req.include_variable_values
            && let Value::Object(map) = &mut data
        {
            map.remove("value");
        }
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

/// Replaces every string equal to an old id by the new id, anywhere in `v`.
fn rewrite_references(v: &mut Value, ids: &HashMap<String, String>) {
    match v {
        Value::String(s) => {
            if let Some(new) = ids.get(s.as_str()) {
                *s = new.clone();
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| rewrite_references(x, ids)),
        Value::Object(m) => m.values_mut().for_each(|x| rewrite_references(x, ids)),
        _ => {}
    }
}

#[derive(Serialize, ToSchema)]
pub struct ImportReport {
    /// What was created, with the new ids.
    pub created: Vec<Imported>,
}

/// Validates the whole bundle first, then writes it in one transaction.
pub async fn import(
    State(state): State<AppState>,
    Scope(scope): Scope,
    caller: Caller,
    client: ClientInfo,
    ApiJson(bundle): ApiJson<Bundle>,
) -> ApiResult<(StatusCode, Json<ImportReport>)> {
    if bundle.format != BUNDLE_FORMAT {
        return Err(DomainError::invalid("format", format!("must be \"{BUNDLE_FORMAT}\"")).into());
    }
    if bundle.version != BUNDLE_VERSION {
        return Err(DomainError::invalid(
            "version",
            format!(
                "version {} is not supported (expected {BUNDLE_VERSION})",
                bundle.version
            ),
        )
        .into());
    }
    if bundle.items.len() + bundle.credentials.len() > MAX_IMPORT_ENTRIES {
        return Err(DomainError::invalid(
            "items",
            format!("a bundle holds at most {MAX_IMPORT_ENTRIES} entries"),
        )
        .into());
    }
    // New ids for every entry, so references between them can be rewritten.
    let mut ids: HashMap<String, String> = HashMap::new();
    let mut new_id = |field: String, old: &str| -> Result<ItemId, DomainError> {
        let old = old.trim();
        if old.parse::<uuid::Uuid>().is_err() {
            return Err(DomainError::invalid(field, "is not an id"));
        }
        let id = ItemId::new();
        if ids.insert(old.to_string(), id.to_string()).is_some() {
            return Err(DomainError::invalid(field, "appears twice in the bundle"));
        }
        Ok(id)
    };
    let mut planned = Vec::new();
    for (i, it) in bundle.items.iter().enumerate() {
        let kind = kind_from_path(&format!("items[{i}].kind"), &it.kind)?;
        if kind == ResourceKind::Credential {
            return Err(DomainError::invalid(
                format!("items[{i}].kind"),
                "credentials go in `credentials`",
            )
            .into());
        }
        planned.push((kind, new_id(format!("items[{i}].id"), &it.id)?));
    }
    let mut planned_creds = Vec::new();
    for (i, c) in bundle.credentials.iter().enumerate() {
        planned_creds.push(new_id(format!("credentials[{i}].id"), &c.id)?);
    }
    let mut kinds: Vec<ResourceKind> = planned.iter().map(|(k, _)| *k).collect();
    if !bundle.credentials.is_empty() {
        kinds.push(ResourceKind::Credential);
    }
    // Importing a kind needs its `:create`, and its `:import` where the catalogue has one.
    for k in kinds {
        for action in [Action::Create, Action::Import] {
            if let Some(p) = k.permission(action) {
                scope.require(p)?;
            }
        }
    }
    let mut entries = Vec::with_capacity(planned.len() + planned_creds.len());
    for (i, (it, (kind, id))) in bundle.items.iter().zip(planned).enumerate() {
        let mut data = it.data.clone();
        rewrite_references(&mut data, &ids);
        if kind == ResourceKind::Variable
            && let Value::Object(map) = &mut data
        {
            map.entry("value")
                .or_insert_with(|| Value::String(String::new()));
        }
        let at = |e: DomainError| match e {
            DomainError::Invalid { field, reason } => {
                DomainError::invalid(format!("items[{i}].{field}"), reason)
            }
            other => other,
        };
        if kind == ResourceKind::Variable {
            rules::variable_data(Some(&data)).map_err(at)?;
        }
        entries.push(ImportEntry::Item {
            kind,
            id,
            fields: ItemFields {
                name: rules::item_name(&it.name).map_err(at)?,
                description: rules::description(it.description.as_deref()).map_err(at)?,
                data: rules::item_data(Some(&data)).map_err(at)?,
            },
        });
    }
    for (i, (c, id)) in bundle.credentials.iter().zip(planned_creds).enumerate() {
        let at = |e: DomainError| match e {
            DomainError::Invalid { field, reason } => {
                DomainError::invalid(format!("credentials[{i}].{field}"), reason)
            }
            other => other,
        };
        // The secret never travels: the imported credential has its fields, empty, to fill in.
        let placeholder: Map<String, Value> = c
            .data_keys
            .iter()
            .map(|k| (k.clone(), Value::String(String::new())))
            .collect();
        let placeholder = Value::Object(placeholder);
        let data_keys = rules::credential_data(&placeholder).map_err(at)?;
        let plain = serde_json::to_vec(&placeholder).map_err(DomainError::internal)?;
        entries.push(ImportEntry::Credential {
            id,
            fields: CredentialFields {
                name: rules::item_name(&c.name).map_err(at)?,
                description: rules::description(c.description.as_deref()).map_err(at)?,
                credential_name: rules::display_name("credentialName", &c.credential_name)
                    .map_err(at)?,
            },
            secret: CredentialSecret {
                data_keys,
                sealed: state.secret_box.seal(id, &plain)?,
            },
        });
    }
    let created = state
        .store
        .import(&scope, entries, &audit_context(&caller, &client))
        .await?;
    Ok((StatusCode::CREATED, Json(ImportReport { created })))
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

#[derive(Serialize, ToSchema)]
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

pub async fn move_flows(
    State(state): State<AppState>,
    Admin(admin): Admin,
    caller: Caller,
    client: ClientInfo,
    ApiJson(req): ApiJson<BulkRequest>,
) -> ApiResult<Json<BulkReport>> {
    let (ids, target) = bulk_input(&req)?;
    let results = state
        .store
        .move_flows(&admin, &ids, target, &audit_context(&caller, &client))
        .await?;
    Ok(Json(BulkReport { results }))
}

pub async fn copy_flows(
    State(state): State<AppState>,
    Admin(admin): Admin,
    caller: Caller,
    client: ClientInfo,
    ApiJson(req): ApiJson<BulkRequest>,
) -> ApiResult<Json<BulkReport>> {
    let (ids, target) = bulk_input(&req)?;
    let results = state
        .store
        .copy_flows(&admin, &ids, target, &audit_context(&caller, &client))
        .await?;
    Ok(Json(BulkReport { results }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_rewritten_everywhere_but_only_whole_strings() {
        let ids: HashMap<String, String> =
            [("a".to_string(), "b".to_string())].into_iter().collect();
        let mut v = serde_json::json!({"x": "a", "y": ["a", {"z": "a"}], "w": "ab", "a": 1});
        rewrite_references(&mut v, &ids);
        assert_eq!(
            v,
            serde_json::json!({"x": "b", "y": ["b", {"z": "b"}], "w": "ab", "a": 1})
        );
    }
}
