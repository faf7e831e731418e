//! The plan of a Flowise import: every Flowise row mapped to what it becomes here, with new
//! ids, references rewritten, credentials decrypted with the Flowise key and sealed with
//! Flowspace's, and a report of what maps to what and what is skipped and why. Nothing is
//! written here; a plan that cannot be carried out whole is refused whole.

use super::crypto_js;
use super::source::{FlowiseData, Row, opt, text};
use crate::crypto::{SecretBox, api_key_hash};
use flowspace_core::authz::grantable_to_api_key;
use flowspace_core::flowise::{flow_kind, map_permissions};
use flowspace_core::ids::{ItemId, OrganizationId, RoleId, UserId, WorkspaceId};
use flowspace_core::permissions::{BuiltinRole, PermissionSet};
use flowspace_core::resource::ResourceKind;
use flowspace_core::rules;
use flowspace_core::transfer::rewrite_references;
use flowspace_store::{
    CredentialSecret, ImportTarget, ImportedApiKey, ImportedCredential, ImportedItem,
    ImportedMembership, ImportedRole, ImportedUser, ImportedWorkspace, InstallationImport,
    RememberedSource, RoleChoice, SourceRef,
};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};

pub const SOURCE: &str = "flowise";

/// Where the import goes, resolved against the installation before planning.
pub struct Destination {
    pub target: ImportTarget,
    pub organization: OrganizationId,
    pub default_workspace: WorkspaceId,
    /// The organization's owner when it exists already (it stays the owner).
    pub existing_owner: Option<UserId>,
}

pub struct Options<'a> {
    pub passphrase: &'a [u8],
    pub merge_users: bool,
    /// Accounts that exist here already, by normalized email.
    pub existing_users: HashMap<String, UserId>,
}

/// What the run will do (or did), for people.
#[derive(Default)]
pub struct Report {
    /// Rows per Flowise table.
    pub counts: BTreeMap<&'static str, usize>,
    /// What maps to what.
    pub mapped: Vec<String>,
    /// What is left out, and why.
    pub skipped: Vec<String>,
    /// What needs a person's attention (unknown permissions).
    pub warnings: Vec<String>,
}

/// Column names whose text is a boolean.
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

fn src(table: &'static str, id: &str) -> SourceRef {
    SourceRef {
        table,
        id: id.to_string(),
    }
}

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

fn invalid(what: String) -> impl Fn(flowspace_core::DomainError) -> String {
    move |e| format!("{what}: {e}")
}

/// Plans the import of `data` into `dest`.
pub fn plan(
    data: &FlowiseData,
    dest: &Destination,
    opts: &Options<'_>,
    secret_box: &SecretBox,
) -> Result<(InstallationImport, Report), String> {
    let mut report = Report::default();
    for (table, _) in super::source::TABLES {
        report.counts.insert(table, data.table(table).len());
    }
    let orgs = data.table("organization");
    let org_row = match orgs {
        [one] => one,
        [] => {
            return Err(
                "the Flowise database holds no organization (nobody ever registered)".into(),
            );
        }
        _ => {
            return Err(format!(
                "the Flowise database holds {} organizations; import-flowise takes one",
                orgs.len()
            ));
        }
    };
    let flowise_org = text(org_row, "id").to_string();
    let roles_by_id: HashMap<&str, &Row> = data
        .table("role")
        .iter()
        .map(|r| (text(r, "id"), r))
        .collect();
    let role_name = |id: &str| roles_by_id.get(id).map(|r| text(r, "name")).unwrap_or("");

    // The owner: the organization member whose role is `owner`, else its creator.
    let owner_flowise = data
        .table("organization_user")
        .iter()
        .find(|m| {
            text(m, "organizationId") == flowise_org && role_name(text(m, "roleId")) == "owner"
        })
        .map(|m| text(m, "userId").to_string())
        .unwrap_or_else(|| text(org_row, "createdBy").to_string());

    // Workspaces: the oldest becomes the Default one.
    let mut workspaces = Vec::new();
    let mut ws_map: HashMap<String, WorkspaceId> = HashMap::new();
    for (i, w) in data
        .table("workspace")
        .iter()
        .filter(|w| text(w, "organizationId") == flowise_org)
        .enumerate()
    {
        let id = if i == 0 {
            dest.default_workspace
        } else {
            WorkspaceId::new()
        };
        let name = rules::workspace_name(text(w, "name"))
            .map_err(invalid(format!("workspace `{}`", text(w, "name"))))?;
        ws_map.insert(text(w, "id").to_string(), id);
        report.mapped.push(format!(
            "workspace `{name}` → {}",
            if i == 0 {
                "the Default workspace (renamed)"
            } else {
                "a new workspace"
            }
        ));
        workspaces.push(ImportedWorkspace {
            id,
            source: src("workspace", text(w, "id")),
            name,
            description: opt(w, "description"),
            is_default: i == 0,
        });
    }
    // Rows of Flowise versions before workspaces carry none: they belong to the Default one.
    let workspace_of = |row: &Row| -> Option<WorkspaceId> {
        match opt(row, "workspaceId") {
            None => Some(dest.default_workspace),
            Some(w) => ws_map.get(&w).copied(),
        }
    };

    // Users.
    let mut users = Vec::new();
    let mut user_map: HashMap<String, UserId> = HashMap::new();
    let mut clashes = Vec::new();
    let org_status: HashMap<&str, &str> = data
        .table("organization_user")
        .iter()
        .filter(|m| text(m, "organizationId") == flowise_org)
        .map(|m| (text(m, "userId"), text(m, "status")))
        .collect();
    for u in data.table("user") {
        let email = text(u, "email").trim().to_string();
        let key = rules::normalize_email(&email);
        let is_owner = text(u, "id") == owner_flowise;
        let existing = opts.existing_users.get(&key).copied();
        if existing.is_some() && !opts.merge_users {
            clashes.push(email.clone());
            continue;
        }
        let flowise_status = text(u, "status");
        let signed_up = flowise_status == "active" || flowise_status == "disabled";
        let member_status = org_status.get(text(u, "id")).copied().unwrap_or("");
        let org_state = if flowise_status == "disabled" || member_status == "disabled" {
            "disabled"
        } else if signed_up {
            "active"
        } else {
            "invited"
        };
        let id = existing.unwrap_or_else(UserId::new);
        user_map.insert(text(u, "id").to_string(), id);
        let hash = opt(u, "credential").filter(|h| h.starts_with("$2"));
        report.mapped.push(format!(
            "user {email} ({flowise_status}) → {}{}{}",
            if existing.is_some() {
                "merged into the existing account, "
            } else {
                ""
            },
            if is_owner {
                if dest.existing_owner.is_some() {
                    "organization admin"
                } else {
                    "owner (Account Admin)"
                }
            } else {
                "member"
            },
            if org_state == "active" {
                String::new()
            } else {
                format!(", {org_state}")
            }
        ));
        users.push(ImportedUser {
            id,
            source: src("user", text(u, "id")),
            existing: existing.is_some(),
            name: rules::display_name("name", text(u, "name")).unwrap_or_else(|_| email.clone()),
            email,
            password_hash: if signed_up { hash } else { None },
            status: if signed_up { "active" } else { "invited" },
            org_role: if is_owner {
                if dest.existing_owner.is_some() {
                    "admin"
                } else {
                    "owner"
                }
            } else {
                "member"
            },
            org_status: org_state,
            last_workspace: None,
        });
    }
    if !clashes.is_empty() {
        return Err(format!(
            "these emails already have an account here (pass --merge-users to merge them into those accounts): {}",
            clashes.join(", ")
        ));
    }
    let actor = user_map
        .get(&owner_flowise)
        .copied()
        .ok_or_else(|| "the Flowise organization has no owner among its users".to_string())?;

    // Roles: the owner role is Admin; a role equal to a built-in one is it; others are made.
    let mut roles = Vec::new();
    let mut role_map: HashMap<String, RoleChoice> = HashMap::new();
    let mut role_for =
        |id: &str, report: &mut Report, roles: &mut Vec<ImportedRole>| -> Option<RoleChoice> {
            if let Some(c) = role_map.get(id) {
                return Some(*c);
            }
            let r = roles_by_id.get(id)?;
            let name = text(r, "name");
            let choice = if name == "owner" && opt(r, "organizationId").is_none() {
                report.mapped.push("role `owner` → Admin".into());
                RoleChoice::Builtin(BuiltinRole::Admin)
            } else {
                let list: Vec<String> =
                    serde_json::from_str(text(r, "permissions")).unwrap_or_default();
                let m = map_permissions(list.iter().map(String::as_str));
                for (p, why) in &m.dropped {
                    report
                        .skipped
                        .push(format!("role `{name}`: permission `{p}` ({why})"));
                }
                for p in &m.unknown {
                    report.warnings.push(format!(
                        "role `{name}`: `{p}` is not a Flowise permission Flowspace knows; left out"
                    ));
                }
                match BuiltinRole::ALL
                    .into_iter()
                    .find(|b| b.permissions() == m.set)
                {
                    Some(b) => {
                        report.mapped.push(format!("role `{name}` → {}", b.name()));
                        RoleChoice::Builtin(b)
                    }
                    None => {
                        let rid = RoleId::new();
                        let clash = BuiltinRole::ALL
                            .iter()
                            .any(|b| b.name().eq_ignore_ascii_case(name));
                        let new_name = if clash {
                            format!("{name} (Flowise)")
                        } else {
                            name.to_string()
                        };
                        report.mapped.push(format!(
                            "role `{name}` → custom role `{new_name}` ({} permissions)",
                            m.set.len()
                        ));
                        roles.push(ImportedRole {
                            id: rid,
                            source: src("role", id),
                            name: new_name,
                            description: opt(r, "description"),
                            permissions: m.set,
                        });
                        RoleChoice::Custom(rid)
                    }
                }
            };
            role_map.insert(id.to_string(), choice);
            Some(choice)
        };
    // The organization's own roles come over even when nobody holds them.
    for r in data.table("role") {
        if opt(r, "organizationId").as_deref() == Some(flowise_org.as_str()) {
            role_for(text(r, "id"), &mut report, &mut roles);
        }
    }

    // Memberships; the owners are in every workspace as Admin.
    let mut memberships = Vec::new();
    let mut last_ws: HashMap<UserId, WorkspaceId> = HashMap::new();
    for m in data.table("workspace_user") {
        let (Some(ws), Some(user)) = (
            ws_map.get(text(m, "workspaceId")).copied(),
            user_map.get(text(m, "userId")).copied(),
        ) else {
            report.skipped.push(format!(
                "membership of user {} in workspace {}: not of this organization",
                text(m, "userId"),
                text(m, "workspaceId")
            ));
            continue;
        };
        let role = if user == actor {
            RoleChoice::Builtin(BuiltinRole::Admin)
        } else {
            match role_for(text(m, "roleId"), &mut report, &mut roles) {
                Some(r) => r,
                None => {
                    report.skipped.push(format!(
                        "membership of user {}: its role {} does not exist",
                        text(m, "userId"),
                        text(m, "roleId")
                    ));
                    continue;
                }
            }
        };
        last_ws.entry(user).or_insert(ws);
        memberships.push(ImportedMembership {
            workspace: ws,
            user,
            role,
        });
    }
    for w in &workspaces {
        for owner in [Some(actor), dest.existing_owner].into_iter().flatten() {
            if !memberships
                .iter()
                .any(|m| m.workspace == w.id && m.user == owner)
            {
                memberships.push(ImportedMembership {
                    workspace: w.id,
                    user: owner,
                    role: RoleChoice::Builtin(BuiltinRole::Admin),
                });
            }
        }
    }
    last_ws.insert(actor, dest.default_workspace);
    for u in &mut users {
        u.last_workspace = last_ws.get(&u.id).copied();
    }

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
        let clear = crypto_js::decrypt(text(c, "encryptedData"), opts.passphrase).map_err(|e| {
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
            &mut report,
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
            &mut report,
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
            &mut report,
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
            &mut report,
            "variable",
            v,
            ResourceKind::Variable,
            *id,
            text(v, "name"),
            None,
            data,
        )?;
    }
    let chunk_rows = data.table("document_store_file_chunk");
    let dataset_rows = data.table("dataset_row");
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
        let mut chunks: Vec<&Row> = chunk_rows
            .iter()
            .filter(|c| text(c, "storeId") == text(s, "id"))
            .collect();
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
            &mut report,
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
        let mut rows: Vec<&Row> = dataset_rows
            .iter()
            .filter(|r| text(r, "datasetId") == text(d, "id"))
            .collect();
        rows.sort_by_key(|r| text(r, "sequence_no").parse::<i64>().unwrap_or(-1));
        let rows: Vec<Value> = rows
            .into_iter()
            .map(|r| {
                json!({"input": text(r, "input"), "output": text(r, "output"),
                            "sequenceNo": text(r, "sequence_no").parse::<i64>().unwrap_or(-1)})
            })
            .collect();
        push_item(
            &mut report,
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

    let summary = json!({
        "source": SOURCE,
        "flowiseOrganization": flowise_org,
        "users": users.len(), "workspaces": workspaces.len(), "roles": roles.len(),
        "items": items.len(), "credentials": credentials.len(), "apiKeys": api_keys.len(),
        "shares": shares.len(),
    });
    let plan = InstallationImport {
        source: SOURCE,
        target: dest.target.clone(),
        organization: dest.organization,
        default_workspace: dest.default_workspace,
        organization_source: src("organization", &flowise_org),
        actor,
        users,
        roles,
        workspaces,
        memberships,
        items,
        credentials,
        api_keys,
        shares,
        summary,
    };
    Ok((plan, report))
}

/// Per Flowise table: how many of its rows an earlier import brought, of how many.
pub type AlreadyHere = BTreeMap<&'static str, (usize, usize)>;

/// The rows an earlier import remembered, per table, among `data`'s.
pub fn already_imported(
    data: &FlowiseData,
    remembered: &HashMap<(String, String), RememberedSource>,
) -> Option<(OrganizationId, AlreadyHere)> {
    let org = data.table("organization").first()?;
    let at = remembered.get(&("organization".to_string(), text(org, "id").to_string()))?;
    let mut out = BTreeMap::new();
    for table in [
        "user",
        "workspace",
        "role",
        "chat_flow",
        "assistant",
        "tool",
        "variable",
        "credential",
        "apikey",
        "document_store",
        "dataset",
    ] {
        let rows = data.table(table);
        let known = rows
            .iter()
            .filter(|r| remembered.contains_key(&(table.to_string(), text(r, "id").to_string())))
            .count();
        out.insert(table, (known, rows.len()));
    }
    Some((at.organization, out))
}
