//! The content of a Flowise import: flows by type, assistants, tools, variables, document
//! stores, datasets, credentials (decrypted with the Flowise key, sealed with Flowspace's), API
//! keys (by the hash of the clear key) and credential shares, each with a new id and every
//! reference to an imported row rewritten.

use super::crypto_js;
use super::plan::{Report, invalid, src};
use super::source::{FlowiseData, Row, opt, text};
use crate::crypto::{SecretBox, api_key_hash};
use flowspace_core::authz::grantable_to_api_key;
use flowspace_core::flowise::{flow_kind, map_permissions};
use flowspace_core::ids::{ItemId, WorkspaceId};
use flowspace_core::permissions::PermissionSet;
use flowspace_core::resource::ResourceKind;
use flowspace_core::rules;
use flowspace_core::transfer::rewrite_references;
use flowspace_store::{CredentialSecret, ImportedApiKey, ImportedCredential, ImportedItem};
use serde_json::{Map, Value, json};
use std::collections::HashMap;

const BOOL_COLUMNS: &[&str] = &["deployed", "isPublic", "webhookSecretConfigured"];
/// Columns of `chat_flow` that are not settings: kept elsewhere or not carried.
const FLOW_SKIPPED: &[&str] = &[
    "id",
    "name",
    "flowData",
    "workspaceId",
    "createdDate",
    "updatedDate",
    "webhookSecret",
];

/// A column's value in an item's data: booleans as booleans, JSON text parsed, the rest text.
fn value_of(column: &str, raw: &str) -> Value {
    if BOOL_COLUMNS.contains(&column) {
        return Value::Bool(matches!(raw, "1" | "true" | "t" | "TRUE"));
    }
    let t = raw.trim_start();
    if (t.starts_with('{') || t.starts_with('['))
        && let Ok(v) = serde_json::from_str(raw)
    {
        return v;
    }
    Value::String(raw.to_string())
}

fn parse_json(raw: &str) -> Option<Value> {
    serde_json::from_str(raw).ok()
}

/// Every non-null column of `row` but `skip`, as data.
fn settings(row: &Row, skip: &[&str]) -> Map<String, Value> {
    let mut keys: Vec<&String> = row.keys().filter(|k| !skip.contains(&k.as_str())).collect();
    keys.sort();
    keys.into_iter()
        .filter_map(|k| {
            row.get(k)
                .and_then(|v| v.as_deref())
                .map(|v| (k.clone(), value_of(k, v)))
        })
        .collect()
}

/// What the content part of an import writes.
pub struct Content {
    pub items: Vec<ImportedItem>,
    pub credentials: Vec<ImportedCredential>,
    pub api_keys: Vec<ImportedApiKey>,
    pub shares: Vec<(ItemId, WorkspaceId)>,
}

/// Plans the content of `data`; `ws_map` maps Flowise workspace ids to the new ones, and rows
/// that name no workspace go to `default_workspace`; credentials decrypt with `passphrase`.
pub fn plan_content(
    data: &FlowiseData,
    default_workspace: WorkspaceId,
    passphrase: &[u8],
    secret_box: &SecretBox,
    ws_map: &HashMap<String, WorkspaceId>,
    report: &mut Report,
) -> Result<Content, String> {
    // Rows of Flowise versions before workspaces carry none: they belong to the Default one.
    let workspace_of = |row: &Row| -> Option<WorkspaceId> {
        match opt(row, "workspaceId") {
            None => Some(default_workspace),
            Some(w) => ws_map.get(&w).copied(),
        }
    };
    // New ids for every item, so references between them can be rewritten.
    let mut ids: HashMap<String, String> = HashMap::new();
    let new_id = |ids: &mut HashMap<String, String>, old: &str| -> ItemId {
        let id = ItemId::new();
        ids.insert(old.to_string(), id.to_string());
        id
    };
    let flows: Vec<(&Row, ItemId)> = data
        .table("chat_flow")
        .iter()
        .map(|r| (r, new_id(&mut ids, text(r, "id"))))
        .collect();
    let creds: Vec<(&Row, ItemId)> = data
        .table("credential")
        .iter()
        .map(|r| (r, new_id(&mut ids, text(r, "id"))))
        .collect();
    let keys: Vec<(&Row, ItemId)> = data
        .table("apikey")
        .iter()
        .map(|r| (r, new_id(&mut ids, text(r, "id"))))
        .collect();
    let tools: Vec<(&Row, ItemId)> = data
        .table("tool")
        .iter()
        .map(|r| (r, new_id(&mut ids, text(r, "id"))))
        .collect();
    let stores: Vec<(&Row, ItemId)> = data
        .table("document_store")
        .iter()
        .map(|r| (r, new_id(&mut ids, text(r, "id"))))
        .collect();
    let datasets: Vec<(&Row, ItemId)> = data
        .table("dataset")
        .iter()
        .map(|r| (r, new_id(&mut ids, text(r, "id"))))
        .collect();
    let variables: Vec<(&Row, ItemId)> = data
        .table("variable")
        .iter()
        .map(|r| (r, new_id(&mut ids, text(r, "id"))))
        .collect();
    // An assistant row joins the flow its details name; one without a flow is an item itself.
    let flow_ids: HashMap<&str, ItemId> =
        flows.iter().map(|(r, id)| (text(r, "id"), *id)).collect();
    let mut assistant_of_flow: HashMap<&str, &Row> = HashMap::new();
    let mut lone_assistants = Vec::new();
    for a in data.table("assistant") {
        let flow = parse_json(text(a, "details"))
            .and_then(|d| d.get("flowId").and_then(Value::as_str).map(str::to_string));
        match flow.as_deref().and_then(|f| flow_ids.get_key_value(f)) {
            Some((f, id)) => {
                ids.insert(text(a, "id").to_string(), id.to_string());
                assistant_of_flow.insert(f, a);
            }
            None => lone_assistants.push((a, new_id(&mut ids, text(a, "id")))),
        }
    }

    // Credentials: every one decrypted before anything is written.
    let mut credentials = Vec::new();
    for (c, id) in &creds {
        let name = text(c, "name");
        let Some(ws) = workspace_of(c) else {
            report.skipped.push(format!(
                "credential `{name}`: its workspace is not of this organization"
            ));
            continue;
        };
        let clear = crypto_js::decrypt(text(c, "encryptedData"), passphrase).map_err(|e| {
            format!(
                "credential `{name}` ({}) does not decrypt with the Flowise key: {e}; nothing was written",
                text(c, "id")
            )
        })?;
        let value: Value = serde_json::from_str(&clear).map_err(|_| {
            format!(
                "credential `{name}` ({}) does not decrypt with the Flowise key (not JSON); nothing was written",
                text(c, "id")
            )
        })?;
        let data_keys =
            rules::credential_data(&value).map_err(invalid(format!("credential `{name}`")))?;
        let plain = serde_json::to_vec(&value).map_err(|e| e.to_string())?;
        credentials.push(ImportedCredential {
            workspace: ws,
            id: *id,
            source: src("credential", text(c, "id")),
            name: rules::item_name(name).map_err(invalid(format!("credential `{name}`")))?,
            credential_name: text(c, "credentialName").to_string(),
            secret: CredentialSecret {
                data_keys,
                sealed: secret_box.seal(*id, &plain).map_err(|e| e.to_string())?,
            },
            created_at: None,
        });
    }
    report.mapped.push(format!(
        "{} credential(s) decrypted with the Flowise key and sealed with Flowspace's",
        credentials.len()
    ));

    let mut items = Vec::new();
    let mut push_item = |report: &mut Report,
                         table: &'static str,
                         row: &Row,
                         kind: ResourceKind,
                         id: ItemId,
                         name: &str,
                         description: Option<String>,
                         mut data: Value|
     -> Result<(), String> {
        let Some(ws) = workspace_of(row) else {
            report.skipped.push(format!(
                "{table} `{name}`: its workspace is not of this organization"
            ));
            return Ok(());
        };
        rewrite_references(&mut data, &ids);
        let what = format!("{table} `{name}`");
        report.mapped.push(format!("{what} → {}", kind.path()));
        items.push(ImportedItem {
            workspace: ws,
            kind,
            id,
            source: src(table, text(row, "id")),
            name: rules::item_name(name).map_err(invalid(what.clone()))?,
            description: rules::description(description.as_deref())
                .map_err(invalid(what.clone()))?,
            data: rules::item_data(Some(&data)).map_err(invalid(what))?,
            created_at: None,
        });
        Ok(())
    };

    for (f, id) in &flows {
        let name = text(f, "name");
        let t = text(f, "type");
        let t = if t.is_empty() { "CHATFLOW" } else { t };
        let Some(kind) = flow_kind(t) else {
            report
                .skipped
                .push(format!("chat_flow `{name}`: type {t} has no counterpart"));
            continue;
        };
        let flow_data = parse_json(text(f, "flowData"))
            .filter(Value::is_object)
            .ok_or_else(|| format!("chat_flow `{name}`: its flowData is not a JSON object"))?;
        let mut data = Map::new();
        data.insert("flowData".into(), flow_data);
        data.extend(settings(f, FLOW_SKIPPED));
        if opt(f, "webhookSecret").is_some() {
            report.skipped.push(format!(
                "chat_flow `{name}`: its webhook secret (set it again)"
            ));
        }
        if let Some(a) = assistant_of_flow.get(text(f, "id")) {
            data.insert(
                "assistant".into(),
                Value::Object(settings(
                    a,
                    &["id", "workspaceId", "createdDate", "updatedDate"],
                )),
            );
        }
        push_item(
            report,
            "chat_flow",
            f,
            kind,
            *id,
            name,
            None,
            Value::Object(data),
        )?;
    }
    for (a, id) in &lone_assistants {
        let details = parse_json(text(a, "details")).unwrap_or(Value::Null);
        let name = details
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("Assistant")
            .to_string();
        let data =
            json!({"assistant": settings(a, &["id", "workspaceId", "createdDate", "updatedDate"])});
        push_item(
            report,
            "assistant",
            a,
            ResourceKind::Assistant,
            *id,
            &name,
            None,
            data,
        )?;
    }
    for (t, id) in &tools {
        let data = Value::Object(settings(
            t,
            &[
                "id",
                "name",
                "description",
                "workspaceId",
                "createdDate",
                "updatedDate",
            ],
        ));
        push_item(
            report,
            "tool",
            t,
            ResourceKind::Tool,
            *id,
            text(t, "name"),
            opt(t, "description"),
            data,
        )?;
    }
    for (v, id) in &variables {
        let kind = match text(v, "type") {
            "runtime" => "runtime",
            _ => "static",
        };
        let data = json!({"value": text(v, "value"), "type": kind});
        rules::variable_data(Some(&data))
            .map_err(invalid(format!("variable `{}`", text(v, "name"))))?;
        push_item(
            report,
            "variable",
            v,
            ResourceKind::Variable,
            *id,
            text(v, "name"),
            None,
            data,
        )?;
    }
    // Chunks and dataset rows grouped by their parent once (not scanned per parent).
    let chunks_of = group_by(data.table("document_store_file_chunk"), "storeId");
    let rows_of = group_by(data.table("dataset_row"), "datasetId");
    for (s, id) in &stores {
        let mut fields = settings(
            s,
            &[
                "id",
                "name",
                "description",
                "workspaceId",
                "createdDate",
                "updatedDate",
            ],
        );
        let mut chunks: Vec<&Row> = chunks_of.get(text(s, "id")).cloned().unwrap_or_default();
        chunks.sort_by_key(|c| {
            (
                text(c, "docId").to_string(),
                text(c, "chunkNo").parse::<i64>().unwrap_or(0),
            )
        });
        let chunks: Vec<Value> = chunks
            .into_iter()
            .map(|c| {
                json!({"docId": text(c, "docId"), "chunkNo": text(c, "chunkNo").parse::<i64>().unwrap_or(0),
                       "pageContent": text(c, "pageContent"),
                       "metadata": parse_json(text(c, "metadata")).unwrap_or(Value::Null)})
            })
            .collect();
        fields.insert("chunks".into(), Value::Array(chunks));
        push_item(
            report,
            "document_store",
            s,
            ResourceKind::DocumentStore,
            *id,
            text(s, "name"),
            opt(s, "description"),
            Value::Object(fields),
        )?;
    }
    for (d, id) in &datasets {
        let mut rows: Vec<&Row> = rows_of.get(text(d, "id")).cloned().unwrap_or_default();
        rows.sort_by_key(|r| text(r, "sequence_no").parse::<i64>().unwrap_or(-1));
        let rows: Vec<Value> = rows
            .into_iter()
            .map(|r| {
                json!({"input": text(r, "input"), "output": text(r, "output"),
                            "sequenceNo": text(r, "sequence_no").parse::<i64>().unwrap_or(-1)})
            })
            .collect();
        push_item(
            report,
            "dataset",
            d,
            ResourceKind::Dataset,
            *id,
            text(d, "name"),
            opt(d, "description"),
            json!({"rows": rows}),
        )?;
    }

    // API keys: the hash of the clear key Flowise kept, so the same key works here.
    let mut api_keys = Vec::new();
    for (k, id) in &keys {
        let name = text(k, "keyName");
        let Some(ws) = workspace_of(k) else {
            report.skipped.push(format!(
                "API key `{name}`: its workspace is not of this organization"
            ));
            continue;
        };
        let clear = text(k, "apiKey");
        if clear.is_empty() {
            report
                .skipped
                .push(format!("API key `{name}`: Flowise kept no key"));
            continue;
        }
        let list: Vec<String> = serde_json::from_str(text(k, "permissions")).unwrap_or_default();
        let m = map_permissions(list.iter().map(String::as_str));
        for (p, why) in &m.dropped {
            report
                .skipped
                .push(format!("API key `{name}`: permission `{p}` ({why})"));
        }
        for p in &m.unknown {
            report.warnings.push(format!(
                "API key `{name}`: `{p}` is not a Flowise permission Flowspace knows; left out"
            ));
        }
        let permissions: PermissionSet =
            m.set.iter().filter(|p| grantable_to_api_key(*p)).collect();
        for p in m.set.iter().filter(|p| !grantable_to_api_key(*p)) {
            report.skipped.push(format!(
                "API key `{name}`: permission `{p}` (API keys cannot manage workspaces)"
            ));
        }
        report.mapped.push(format!(
            "API key `{name}` → the same key, {} permission(s)",
            permissions.len()
        ));
        api_keys.push(ImportedApiKey {
            workspace: ws,
            id: *id,
            source: src("apikey", text(k, "id")),
            name: rules::item_name(name).map_err(invalid(format!("API key `{name}`")))?,
            prefix: clear.chars().take(8).collect(),
            hash: api_key_hash(clear),
            permissions,
            created_at: None,
        });
    }

    // Shares: Flowspace shares credentials.
    let mut shares = Vec::new();
    for s in data.table("workspace_shared") {
        let item = text(s, "sharedItemId");
        let target = ws_map.get(text(s, "workspaceId")).copied();
        let cred = creds
            .iter()
            .find(|(c, _)| text(c, "id") == item)
            .map(|(_, id)| *id);
        match (text(s, "itemType"), cred, target) {
            ("credential", Some(c), Some(w)) => shares.push((c, w)),
            (t, _, _) => report.skipped.push(format!(
                "share of {t} {item}: only credentials are shared here"
            )),
        }
    }
    Ok(Content {
        items,
        credentials,
        api_keys,
        shares,
    })
}

/// Rows grouped by the value of their column `parent`, each group in the rows' order.
fn group_by<'a>(rows: &'a [Row], parent: &str) -> HashMap<&'a str, Vec<&'a Row>> {
    let mut groups: HashMap<&str, Vec<&Row>> = HashMap::new();
    for r in rows {
        groups.entry(text(r, parent)).or_default().push(r);
    }
    groups
}
