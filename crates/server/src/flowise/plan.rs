//! The plan of a Flowise import: its organization, workspaces, users, roles and memberships
//! mapped to what they become here (the content is `content`'s), and a report of what maps
//! to what and what is skipped and why. Nothing is
//! written here; a plan that cannot be carried out whole is refused whole.

use super::content::{Content, plan_content};
use super::source::{FlowiseData, Row, opt, text};
use crate::crypto::SecretBox;
use flowspace_core::flowise::map_permissions;
use flowspace_core::ids::{OrganizationId, RoleId, UserId, WorkspaceId};
use flowspace_core::permissions::BuiltinRole;
use flowspace_core::rules;
use flowspace_store::{
    ImportTarget, ImportedMembership, ImportedRole, ImportedUser, ImportedWorkspace,
    InstallationImport, RememberedSource, RoleChoice, SourceRef,
};
use serde_json::json;
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
pub(super) fn src(table: &'static str, id: &str) -> SourceRef {
    SourceRef {
        table,
        id: id.to_string(),
    }
}

pub(super) fn invalid(what: String) -> impl Fn(flowspace_core::DomainError) -> String {
    move |e| format!("{what}: {e}")
}

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

    let Content {
        items,
        credentials,
        api_keys,
        shares,
    } = plan_content(
        data,
        dest.default_workspace,
        opts.passphrase,
        secret_box,
        &ws_map,
        &mut report,
    )?;

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
