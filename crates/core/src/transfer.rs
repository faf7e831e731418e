//! Moving items between workspaces as a bundle (rule 12): the bundle format, which kinds may be
//! exported and with which permission, what an export leaves out, and the plan of an import —
//! new ids for every entry, references between them rewritten, every entry checked, before
//! anything is written.

use crate::authz::WorkspaceScope;
use crate::error::{DomainError, DomainResult};
use crate::ids::ItemId;
use crate::permissions::Action;
use crate::resource::ResourceKind;
use crate::rules;
use crate::schema::{NO_NUL, json_object, kinds_enum, string, text, uuid};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::HashMap;
use utoipa::ToSchema;
use utoipa::openapi::schema::{
    AdditionalProperties, ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type,
};

/// The bundle format's name and version.
pub const BUNDLE_FORMAT: &str = "flowspace-bundle";
pub const BUNDLE_VERSION: u32 = 1;
/// Most entries one import takes.
pub const MAX_IMPORT_ENTRIES: usize = 10_000;

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Bundle {
    /// Always `flowspace-bundle`.
    #[schema(schema_with = bundle_format)]
    pub format: String,
    /// The bundle format version (1).
    #[serde(deserialize_with = "crate::integer::integer")]
    #[schema(schema_with = bundle_version)]
    pub version: u32,
    pub exported_at: Option<Timestamp>,
    pub source_workspace: Option<BundleWorkspace>,
    #[serde(default)]
    #[schema(schema_with = bundle_items)]
    pub items: Vec<BundleItem>,
    #[serde(default)]
    #[schema(schema_with = bundle_credentials)]
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

/// A bundle's `format`.
fn bundle_format() -> Schema {
    string(false).enum_values(Some([BUNDLE_FORMAT])).into()
}

/// A bundle's `version`.
fn bundle_version() -> Schema {
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::Integer))
        .enum_values(Some([BUNDLE_VERSION]))
        .into()
}

/// A bundle's items: a variable's data as `rules::variable_data` takes it (its `value` may be
/// left out), any other kind's an object; with the credentials, at most `MAX_IMPORT_ENTRIES`.
fn bundle_items() -> Schema {
    let item = |kinds: Vec<ResourceKind>, data: ObjectBuilder| {
        ObjectBuilder::new()
            .property("kind", kinds_enum(kinds))
            .required("kind")
            .property("id", uuid())
            .required("id")
            .property("name", text(rules::ITEM_NAME, false))
            .required("name")
            .property("description", text(rules::DESCRIPTION, true))
            .property("data", data)
            .required("data")
    };
    let (variables, others): (Vec<_>, Vec<_>) = exportable()
        .into_iter()
        .filter(|k| *k != ResourceKind::Credential)
        .partition(|k| *k == ResourceKind::Variable);
    let variable_data = ObjectBuilder::new()
        .property(
            "type",
            string(false).enum_values(Some(rules::VARIABLE_TYPES.to_vec())),
        )
        .required("type")
        .property("value", string(false).pattern(Some(NO_NUL)))
        .additional_properties(Some(AdditionalProperties::FreeForm(false)));
    ArrayBuilder::new()
        .items(
            OneOfBuilder::new()
                .item(item(variables, variable_data))
                .item(item(others, json_object(false))),
        )
        .max_items(Some(MAX_IMPORT_ENTRIES))
        .into()
}

/// A bundle's credentials: their names and field names.
fn bundle_credentials() -> Schema {
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .property("id", uuid())
                .required("id")
                .property("name", text(rules::ITEM_NAME, false))
                .required("name")
                .property("description", text(rules::DESCRIPTION, true))
                .property("credentialName", text(rules::NAME, false))
                .required("credentialName")
                .property(
                    "dataKeys",
                    ArrayBuilder::new().items(string(false)).min_items(Some(1)),
                )
                .required("dataKeys"),
        )
        .max_items(Some(MAX_IMPORT_ENTRIES))
        .into()
}

/// The kinds a bundle can hold: every kind but API keys.
pub fn exportable() -> Vec<ResourceKind> {
    ResourceKind::ALL
        .into_iter()
        .filter(|k| *k != ResourceKind::ApiKey)
        .collect()
}

fn kind_from_path(field: &str, s: &str) -> DomainResult<ResourceKind> {
    exportable()
        .into_iter()
        .find(|k| k.path() == s)
        .ok_or_else(|| DomainError::invalid(field, format!("`{s}` is not an exportable kind")))
}

/// The kinds an export takes (`requested`, by path name, or every exportable kind), each
/// allowed by its `:export` where the catalogue has one, else its `:view`.
pub fn export_kinds(
    scope: &WorkspaceScope,
    requested: Option<&[String]>,
) -> DomainResult<Vec<ResourceKind>> {
    let kinds = match requested {
        None => exportable(),
        Some(list) => list
            .iter()
            .enumerate()
            .map(|(i, k)| kind_from_path(&format!("kinds[{i}]"), k))
            .collect::<DomainResult<Vec<_>>>()?,
    };
    for k in &kinds {
        scope.require(k.permission(Action::Export).unwrap_or(k.view()))?;
    }
    Ok(kinds)
}

/// The kinds `scope` may export (what `export_kinds` allows one by one), for offering them.
pub fn exportable_by(scope: &WorkspaceScope) -> Vec<ResourceKind> {
    exportable()
        .into_iter()
        .filter(|k| {
            scope
                .require(k.permission(Action::Export).unwrap_or(k.view()))
                .is_ok()
        })
        .collect()
}

/// The exportable kind whose path name is `s` (`chatflows`).
pub fn exportable_kind(s: &str) -> Option<ResourceKind> {
    exportable().into_iter().find(|k| k.path() == s)
}

/// What an exported item's data holds: a variable's value only when asked for.
pub fn exported_data(kind: ResourceKind, mut data: Value, include_variable_values: bool) -> Value {
    if kind == ResourceKind::Variable
        && !include_variable_values
        && let Value::Object(map) = &mut data
    {
        map.remove("value");
    }
    data
}

/// An item an import will create.
pub struct PlannedItem {
    pub kind: ResourceKind,
    pub id: ItemId,
    pub name: String,
    pub description: Option<String>,
    /// The data, references rewritten, as stored.
    pub data: String,
}

/// A credential an import will create: its fields, empty, to be filled in (the secret never
/// travels).
pub struct PlannedCredential {
    pub id: ItemId,
    pub name: String,
    pub description: Option<String>,
    pub credential_name: String,
    pub data_keys: Vec<String>,
    /// The data to seal: every field with an empty value.
    pub plain: Vec<u8>,
}

/// Everything an import writes, checked.
pub struct ImportPlan {
    pub items: Vec<PlannedItem>,
    pub credentials: Vec<PlannedCredential>,
}

/// Plans an import into `scope`'s workspace: the format and version, at most
/// `MAX_IMPORT_ENTRIES` entries, each id an id and none twice, `:create` (and `:import` where
/// the catalogue has one) of every kind it holds, every entry valid as if created by hand; new
/// ids for every entry, and every string equal to an old id rewritten to the new one. A
/// refusal names the entry (`items[3].name`).
pub fn plan_import(scope: &WorkspaceScope, bundle: &Bundle) -> DomainResult<ImportPlan> {
    if bundle.format != BUNDLE_FORMAT {
        return Err(DomainError::invalid(
            "format",
            format!("must be \"{BUNDLE_FORMAT}\" (or \"flowise\" for a Flowise export)"),
        ));
    }
    if bundle.version != BUNDLE_VERSION {
        return Err(DomainError::invalid(
            "version",
            format!(
                "version {} is not supported (expected {BUNDLE_VERSION})",
                bundle.version
            ),
        ));
    }
    if bundle.items.len() + bundle.credentials.len() > MAX_IMPORT_ENTRIES {
        return Err(DomainError::invalid(
            "items",
            format!("a bundle holds at most {MAX_IMPORT_ENTRIES} entries"),
        ));
    }
    // New ids for every entry, so references between them can be rewritten.
    let mut ids: HashMap<String, String> = HashMap::new();
    let mut new_id = |field: String, old: &str| -> DomainResult<ItemId> {
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
    let mut kinds = Vec::with_capacity(bundle.items.len());
    let mut item_ids = Vec::with_capacity(bundle.items.len());
    for (i, it) in bundle.items.iter().enumerate() {
        let kind = kind_from_path(&format!("items[{i}].kind"), &it.kind)?;
        if kind == ResourceKind::Credential {
            return Err(DomainError::invalid(
                format!("items[{i}].kind"),
                "credentials go in `credentials`",
            ));
        }
        kinds.push(kind);
        item_ids.push(new_id(format!("items[{i}].id"), &it.id)?);
    }
    let mut credential_ids = Vec::with_capacity(bundle.credentials.len());
    for (i, c) in bundle.credentials.iter().enumerate() {
        credential_ids.push(new_id(format!("credentials[{i}].id"), &c.id)?);
    }
    let mut needed = kinds.clone();
    if !bundle.credentials.is_empty() {
        needed.push(ResourceKind::Credential);
    }
    require_import(scope, needed)?;
    let mut items = Vec::with_capacity(bundle.items.len());
    for (i, ((it, kind), id)) in bundle.items.iter().zip(kinds).zip(item_ids).enumerate() {
        let at = entry_field(format!("items[{i}]"));
        let mut data = it.data.clone();
        rewrite_references(&mut data, &ids);
        if kind == ResourceKind::Variable {
            // A variable exported without its value comes back with an empty one.
            if let Value::Object(map) = &mut data {
                map.entry("value")
                    .or_insert_with(|| Value::String(String::new()));
            }
            rules::variable_data(Some(&data)).map_err(&at)?;
        }
        items.push(PlannedItem {
            kind,
            id,
            name: rules::item_name(&it.name).map_err(&at)?,
            description: rules::description(it.description.as_deref()).map_err(&at)?,
            data: rules::item_data(Some(&data)).map_err(&at)?,
        });
    }
    let mut credentials = Vec::with_capacity(bundle.credentials.len());
    for (i, (c, id)) in bundle.credentials.iter().zip(credential_ids).enumerate() {
        let at = entry_field(format!("credentials[{i}]"));
        let placeholder: Map<String, Value> = c
            .data_keys
            .iter()
            .map(|k| (k.clone(), Value::String(String::new())))
            .collect();
        let placeholder = Value::Object(placeholder);
        credentials.push(PlannedCredential {
            id,
            name: rules::item_name(&c.name).map_err(&at)?,
            description: rules::description(c.description.as_deref()).map_err(&at)?,
            credential_name: rules::display_name("credentialName", &c.credential_name)
                .map_err(&at)?,
            data_keys: rules::credential_data(&placeholder).map_err(&at)?,
            plain: serde_json::to_vec(&placeholder).map_err(DomainError::internal)?,
        });
    }
    Ok(ImportPlan { items, credentials })
}

/// What an import of these kinds needs beyond `workspace:import` (the route's guard): each
/// kind's `:create`, and its `:import` where the catalogue has one.
pub fn require_import(
    scope: &WorkspaceScope,
    kinds: impl IntoIterator<Item = ResourceKind>,
) -> DomainResult<()> {
    for k in kinds {
        scope.require(k.create())?;
        if let Some(p) = k.permission(Action::Import) {
            scope.require(p)?;
        }
    }
    Ok(())
}

/// Puts an entry's place in front of the field a refusal names.
fn entry_field(entry: String) -> impl Fn(DomainError) -> DomainError {
    move |e| match e {
        DomainError::Invalid { field, reason } => {
            DomainError::invalid(format!("{entry}.{field}"), reason)
        }
        other => other,
    }
}

/// Replaces every string equal to an old id by the new id, anywhere in `v`.
pub fn rewrite_references(v: &mut Value, ids: &HashMap<String, String>) {
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

/// Whether `v` names `id`: some string anywhere in it (not an object's key, not part of a
/// longer string) is exactly the id, as `rewrite_references` would rewrite it.
pub fn references(v: &Value, id: &str) -> bool {
    match v {
        Value::String(s) => s == id,
        Value::Array(a) => a.iter().any(|x| references(x, id)),
        Value::Object(m) => m.values().any(|x| references(x, id)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authz::{Actor, CallerFacts, OrgFacts, WorkspaceFacts, authorize};
    use crate::ids::{OrganizationId, UserId, WorkspaceId};
    use crate::model::OrgRole;
    use crate::permissions::{BuiltinRole, PermissionSet};
    use serde_json::json;

    fn scope(perms: PermissionSet) -> WorkspaceScope {
        let facts = CallerFacts {
            organization: Some(OrgFacts {
                id: OrganizationId::new(),
                role: OrgRole::Member,
                suspended: false,
            }),
            actor: Actor::User(UserId::new()),
            is_instance_admin: false,
            workspace: Some(WorkspaceFacts {
                workspace: WorkspaceId::new(),
                role: Some("Role".into()),
                permissions: perms,
                items_version: None,
            }),
            ip: None,
            mfa_pending: false,
        };
        // Any permission the set holds: here only the kinds' permissions matter.
        let first = perms.iter().next().unwrap();
        authorize(&facts, first).unwrap()
    }

    fn bundle(items: Value, credentials: Value) -> Bundle {
        serde_json::from_value(json!({
            "format": BUNDLE_FORMAT, "version": BUNDLE_VERSION,
            "items": items, "credentials": credentials,
        }))
        .unwrap()
    }

    #[test]
    fn references_are_rewritten_everywhere_but_only_whole_strings() {
        let ids: HashMap<String, String> =
            [("a".to_string(), "b".to_string())].into_iter().collect();
        let mut v = json!({"x": "a", "y": ["a", {"z": "a"}], "w": "ab", "a": 1});
        rewrite_references(&mut v, &ids);
        assert_eq!(
            v,
            json!({"x": "b", "y": ["b", {"z": "b"}], "w": "ab", "a": 1})
        );
    }

    #[test]
    fn an_import_gets_new_ids_and_rewritten_references() {
        let (flow, tool, cred) = (ItemId::new(), ItemId::new(), ItemId::new());
        let b = bundle(
            json!([
                {"kind": "tools", "id": tool.to_string(), "name": "T", "data": {}},
                {"kind": "chatflows", "id": flow.to_string(), "name": "F",
                 "data": {"nodes": [{"tool": tool.to_string(), "credential": cred.to_string()}]}},
                {"kind": "variables", "id": ItemId::new().to_string(), "name": "V", "data": {"type": "static"}},
            ]),
            json!([{"id": cred.to_string(), "name": "C", "credentialName": "openAIApi", "dataKeys": ["apiKey"]}]),
        );
        let plan = plan_import(&scope(PermissionSet::all()), &b).unwrap();
        let (t, f, v) = (&plan.items[0], &plan.items[1], &plan.items[2]);
        let c = &plan.credentials[0];
        assert!(t.id != tool && f.id != flow && c.id != cred);
        let data: Value = serde_json::from_str(&f.data).unwrap();
        assert_eq!(data["nodes"][0]["tool"], t.id.to_string());
        assert_eq!(data["nodes"][0]["credential"], c.id.to_string());
        let v: Value = serde_json::from_str(&v.data).unwrap();
        assert_eq!(
            v["value"], "",
            "a variable without its value gets an empty one"
        );
        assert_eq!(c.data_keys, vec!["apiKey"]);
        assert_eq!(c.plain, br#"{"apiKey":""}"#);
    }

    #[test]
    fn a_bad_bundle_is_refused_naming_the_entry() {
        let all = scope(PermissionSet::all());
        let id = ItemId::new().to_string();
        let cases = [
            (
                json!([{"kind": "apikeys", "id": id, "name": "K", "data": {}}]),
                json!([]),
                "items[0].kind",
            ),
            (
                json!([{"kind": "credentials", "id": id, "name": "K", "data": {}}]),
                json!([]),
                "items[0].kind",
            ),
            (
                json!([{"kind": "tools", "id": "x", "name": "T", "data": {}}]),
                json!([]),
                "items[0].id",
            ),
            (
                json!([{"kind": "tools", "id": id, "name": "", "data": {}}]),
                json!([]),
                "items[0].name",
            ),
            (
                json!([{"kind": "tools", "id": id, "name": "T", "data": {}}]),
                json!([{"id": id, "name": "C", "credentialName": "x", "dataKeys": []}]),
                "credentials[0].id",
            ),
        ];
        for (items, creds, field) in cases {
            match plan_import(&all, &bundle(items, creds)) {
                Err(DomainError::Invalid { field: f, .. }) => assert_eq!(f, field),
                Err(other) => panic!("{field}: got {other:?}"),
                Ok(_) => panic!("{field}: accepted"),
            }
        }
        let mut b = bundle(json!([]), json!([]));
        b.format = "other".into();
        assert!(plan_import(&all, &b).is_err());
    }

    #[test]
    fn an_import_needs_create_and_import_of_every_kind_it_holds() {
        let flows = bundle(
            json!([{"kind": "chatflows", "id": ItemId::new().to_string(), "name": "F", "data": {}}]),
            json!([]),
        );
        // Developer holds chatflows:create and :import (workspace:import is the guard's).
        assert!(plan_import(&scope(BuiltinRole::Developer.permissions()), &flows).is_ok());
        let create_only = PermissionSet::parse(["chatflows:create", "workspace:import"]).unwrap();
        match plan_import(&scope(create_only), &flows) {
            Err(DomainError::MissingPermission { missing, .. }) => {
                assert_eq!(missing.to_string(), "chatflows:import")
            }
            _ => panic!("expected chatflows:import to be missing"),
        }
    }

    #[test]
    fn exports_follow_export_or_view_and_keep_variable_values_only_on_request() {
        let viewer = scope(BuiltinRole::Viewer.permissions());
        let offered = exportable_by(&viewer);
        for k in exportable() {
            assert_eq!(
                offered.contains(&k),
                export_kinds(&viewer, Some(&[k.path().to_string()])).is_ok(),
                "{k:?}"
            );
        }
        assert!(
            !offered.contains(&ResourceKind::Tool) && offered.contains(&ResourceKind::Variable)
        );
        assert!(export_kinds(&viewer, Some(&["tools".to_string()])).is_err());
        assert!(export_kinds(&viewer, Some(&["variables".to_string()])).is_ok());
        assert!(export_kinds(&viewer, Some(&["apikeys".to_string()])).is_err());
        let v = json!({"type": "static", "value": "secret"});
        assert_eq!(
            exported_data(ResourceKind::Variable, v.clone(), false),
            json!({"type": "static"})
        );
        assert_eq!(exported_data(ResourceKind::Variable, v.clone(), true), v);
    }

    #[test]
    fn a_reference_is_a_whole_string_value() {
        let id = ItemId::new().to_string();
        let node = |v: Value| json!({"nodes": [{"data": {"inputs": v}}]});
        assert!(references(&node(json!({"credential": id})), &id));
        assert!(references(&node(json!(["x", id])), &id));
        assert!(!references(
            &node(json!({"credential": format!("{id}x")})),
            &id
        ));
        assert!(!references(
            &node(json!({"credential": format!(" {id}")})),
            &id
        ));
        assert!(!references(
            &node(json!({ (id.clone()): "key, not a value" })),
            &id
        ));
        assert!(!references(
            &node(json!({"credential": id.to_uppercase()})),
            &id
        ));
        assert!(!references(&json!({}), &id));
    }
}
