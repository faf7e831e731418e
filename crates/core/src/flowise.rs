//! What Flowise's names mean here (SPEC §10): its permission names mapped to the catalogue, and
//! its `chat_flow.type` mapped to a resource kind. Kept in one place so that the README's
//! mapping table, the importer and its tests read the same rules.

use crate::permissions::{Permission, PermissionSet};
use crate::resource::ResourceKind;

/// What one Flowise permission becomes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mapped {
    /// A catalogue permission.
    To(Permission),
    /// A Flowise permission with no counterpart a role can hold here (Flowise features
    /// Flowspace does not have, or powers only the Account Admin holds): dropped, and said why.
    Dropped(&'static str),
    /// Not a Flowise 3.x permission: reported, never guessed.
    Unknown,
}

/// Flowise permissions that name a finer step of a catalogue permission.
const FOLDED: &[(&str, &str)] = &[
    ("chatflows:config", "chatflows:update"),
    ("chatflows:domains", "chatflows:update"),
    ("agentflows:config", "agentflows:update"),
    ("agentflows:domains", "agentflows:update"),
    ("documentStores:add-loader", "documentStores:update"),
    ("documentStores:delete-loader", "documentStores:update"),
    ("documentStores:preview-process", "documentStores:update"),
    ("documentStores:upsert-config", "documentStores:update"),
    ("apikeys:import", "apikeys:create"),
];

/// Flowise permissions without a counterpart a role can hold, and why.
const ACCOUNT_ADMIN_ONLY: &str = "only the Account Admin holds it here";
const NO_FEATURE: &str = "Flowspace has no such feature";
const DROPPED: &[(&str, &str)] = &[
    ("workspace:create", ACCOUNT_ADMIN_ONLY),
    ("workspace:delete", ACCOUNT_ADMIN_ONLY),
    ("users:manage", ACCOUNT_ADMIN_ONLY),
    ("roles:manage", ACCOUNT_ADMIN_ONLY),
    ("sso:manage", ACCOUNT_ADMIN_ONLY),
    ("loginActivity:view", ACCOUNT_ADMIN_ONLY),
    ("logs:view", NO_FEATURE),
    ("executions:view", NO_FEATURE),
    ("executions:delete", NO_FEATURE),
    ("evaluators:view", NO_FEATURE),
    ("evaluators:create", NO_FEATURE),
    ("evaluators:update", NO_FEATURE),
    ("evaluators:delete", NO_FEATURE),
    ("evaluations:view", NO_FEATURE),
    ("evaluations:create", NO_FEATURE),
    ("evaluations:update", NO_FEATURE),
    ("evaluations:delete", NO_FEATURE),
    ("evaluations:run", NO_FEATURE),
    ("templates:marketplace", NO_FEATURE),
    ("templates:custom", NO_FEATURE),
    ("templates:custom-delete", NO_FEATURE),
    ("templates:toolexport", NO_FEATURE),
    ("templates:flowexport", NO_FEATURE),
    ("templates:custom-share", NO_FEATURE),
    // The owner role's coarse grants: its holder becomes the Account Admin.
    ("organization", ACCOUNT_ADMIN_ONLY),
    ("workspace", ACCOUNT_ADMIN_ONLY),
];

/// Maps one Flowise permission name. A name the catalogue has (`chatflows:view`) is itself.
pub fn map_permission(name: &str) -> Mapped {
    if let Ok(p) = name.parse::<Permission>() {
        return Mapped::To(p);
    }
    if let Some((_, to)) = FOLDED.iter().find(|(from, _)| *from == name)
        && let Ok(p) = to.parse::<Permission>()
    {
        return Mapped::To(p);
    }
    match DROPPED.iter().find(|(from, _)| *from == name) {
        Some((_, why)) => Mapped::Dropped(why),
        None => Mapped::Unknown,
    }
}

/// A Flowise permission list mapped: the set (with implied views), what was dropped and why,
/// and the names that are not Flowise permissions.
#[derive(Clone, Debug, Default)]
pub struct MappedPermissions {
    pub set: PermissionSet,
    pub dropped: Vec<(String, &'static str)>,
    pub unknown: Vec<String>,
}

pub fn map_permissions<'a>(names: impl IntoIterator<Item = &'a str>) -> MappedPermissions {
    let mut out = MappedPermissions::default();
    for name in names {
        match map_permission(name) {
            Mapped::To(p) => out.set.insert(p),
            Mapped::Dropped(why) => out.dropped.push((name.to_string(), why)),
            Mapped::Unknown => out.unknown.push(name.to_string()),
        }
    }
    out.set = out.set.with_implied_views();
    out
}

/// The rows of the README's mapping table: each Flowise name that is not a catalogue name
/// already, and what it becomes.
pub fn mapping_table() -> Vec<(&'static str, String)> {
    FOLDED
        .iter()
        .map(|(from, to)| (*from, (*to).to_string()))
        .chain(
            DROPPED
                .iter()
                .map(|(from, why)| (*from, format!("dropped: {why}"))),
        )
        .collect()
}

/// The kind a `chat_flow` row of this `type` becomes, if any.
pub fn flow_kind(flowise_type: &str) -> Option<ResourceKind> {
    match flowise_type {
        "CHATFLOW" => Some(ResourceKind::Chatflow),
        "AGENTFLOW" | "MULTIAGENT" => Some(ResourceKind::Agentflow),
        "ASSISTANT" => Some(ResourceKind::Assistant),
        _ => None,
    }
}

/// The credential ids a Flowise flow names: every string under a key `credential` (a node's
/// `data.credential` and `data.inputs.credential`, an assistant's `credential`), once each, in
/// order of appearance.
pub fn credential_references(v: &serde_json::Value) -> Vec<String> {
    fn walk<'a>(
        v: &'a serde_json::Value,
        seen: &mut std::collections::HashSet<&'a str>,
        out: &mut Vec<String>,
    ) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, x) in m {
                    match x {
                        serde_json::Value::String(s) if k == "credential" && !s.is_empty() => {
                            if seen.insert(s.as_str()) {
                                out.push(s.clone())
                            }
                        }
                        _ => walk(x, seen, out),
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, seen, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(v, &mut std::collections::HashSet::new(), &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_map_fold_drop_or_are_reported() {
        assert_eq!(
            map_permission("chatflows:view"),
            Mapped::To(crate::perm!(Chatflows, View))
        );
        assert_eq!(
            map_permission("documentStores:upsert-config"),
            Mapped::To(crate::perm!(DocumentStores, Update))
        );
        assert!(matches!(
            map_permission("evaluations:run"),
            Mapped::Dropped(_)
        ));
        assert_eq!(map_permission("chatflows:fly"), Mapped::Unknown);
        let m = map_permissions(["agentflows:config", "templates:custom", "nope"]);
        assert!(m.set.contains(crate::perm!(Agentflows, Update)));
        assert!(
            m.set.contains(crate::perm!(Agentflows, View)),
            "implied view"
        );
        assert_eq!(m.dropped.len(), 1);
        assert_eq!(m.unknown, vec!["nope".to_string()]);
        for (from, to) in FOLDED {
            assert!(to.parse::<Permission>().is_ok(), "{from} folds into {to}");
        }
    }

    #[test]
    fn credential_references_are_found_once_each() {
        let v = serde_json::json!({"flowData": {"nodes": [
            {"data": {"credential": "a", "inputs": {"credential": "a", "x": "b"}}},
            {"data": {"credential": "", "inputs": {"credential": "c"}}}]},
            "assistant": {"credential": "d"}});
        // In the order serde_json's maps keep (sorted, or as written with `preserve_order`,
        // which feature unification may turn on): compare as a set.
        let mut found = credential_references(&v);
        found.sort();
        assert_eq!(found, ["a", "c", "d"]);
    }

    #[test]
    fn flow_types_map_to_kinds() {
        assert_eq!(flow_kind("MULTIAGENT"), Some(ResourceKind::Agentflow));
        assert_eq!(flow_kind("ASSISTANT"), Some(ResourceKind::Assistant));
        assert_eq!(flow_kind("OTHER"), None);
    }
}
