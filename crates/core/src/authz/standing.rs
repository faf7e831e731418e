//! A caller's standing in a workspace, worked out from the roles the store read: the
//! Account Admin's, a member's (direct role and group roles), an API key's.

use super::WorkspaceFacts;
use crate::ids::WorkspaceId;
use crate::permissions::PermissionSet;

/// A role held in a workspace, directly or through a group: its name and its permissions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldRole {
    pub name: String,
    pub permissions: PermissionSet,
}

/// The label of the Account Admin's standing in a workspace where they hold no role.
pub const ACCOUNT_ADMIN_ROLE: &str = "Admin";
/// The label of an API key's standing.
pub const API_KEY_ROLE: &str = "API key";

/// A user's standing in `workspace` from the roles they hold there (SPEC section 1: Account Admin,
/// Group, Membership):
///
/// - the Account Admin holds every permission in every workspace of the organization, under
///   the name of the direct role if there is one;
/// - anyone else holds the union of the direct role and every role a group of theirs holds
///   there, named by the distinct role names joined with " + " (direct role first);
/// - no role at all is no standing (`None`): the workspace is not theirs.
pub fn user_standing(
    workspace: WorkspaceId,
    is_account_admin: bool,
    direct: Option<HeldRole>,
    group_roles: Vec<HeldRole>,
) -> Option<WorkspaceFacts> {
    if is_account_admin {
        return Some(WorkspaceFacts {
            workspace,
            role: Some(direct.map_or_else(|| ACCOUNT_ADMIN_ROLE.to_string(), |r| r.name)),
            permissions: PermissionSet::all(),
            items_version: None,
        });
    }
    let mut names: Vec<String> = Vec::new();
    let mut permissions = PermissionSet::default();
    for role in direct.into_iter().chain(group_roles) {
        permissions = permissions.union(role.permissions);
        if !names.contains(&role.name) {
            names.push(role.name);
        }
    }
    (!names.is_empty()).then(|| WorkspaceFacts {
        workspace,
        role: Some(names.join(" + ")),
        permissions,
        items_version: None,
    })
}

/// An API key's standing in its workspace: its own permissions cut down to what its creator
/// holds there now (`creator`: their current standing, `None` when they may no longer act
/// there, which leaves the key nothing). A key never holds the Account Admin's standing.
pub fn api_key_standing(
    key_permissions: PermissionSet,
    creator: Option<&WorkspaceFacts>,
) -> Option<WorkspaceFacts> {
    creator.map(|c| WorkspaceFacts {
        workspace: c.workspace,
        role: Some(API_KEY_ROLE.to_string()),
        permissions: key_permissions.intersection(c.permissions),
        items_version: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::permissions::Permission;

    fn held(name: &str, perms: &[&str]) -> HeldRole {
        HeldRole {
            name: name.to_string(),
            permissions: perms
                .iter()
                .map(|p| p.parse::<Permission>().unwrap())
                .collect(),
        }
    }

    #[test]
    fn the_account_admin_holds_every_permission_under_the_direct_roles_name() {
        let ws = WorkspaceId::new();
        let none = user_standing(ws, true, None, vec![]).unwrap();
        assert_eq!(none.permissions, PermissionSet::all());
        assert_eq!(none.role.as_deref(), Some(ACCOUNT_ADMIN_ROLE));
        let direct =
            user_standing(ws, true, Some(held("Viewer", &["tools:view"])), vec![]).unwrap();
        assert_eq!(direct.permissions, PermissionSet::all());
        assert_eq!(direct.role.as_deref(), Some("Viewer"));
    }

    #[test]
    fn a_users_standing_is_the_union_of_the_direct_role_and_every_groups_role() {
        let ws = WorkspaceId::new();
        let s = user_standing(
            ws,
            false,
            Some(held("Viewer", &["tools:view"])),
            vec![
                held("Editors", &["tools:create"]),
                held("Viewer", &["tools:view"]),
                held("Ops", &["variables:view"]),
            ],
        )
        .unwrap();
        assert_eq!(s.workspace, ws);
        assert_eq!(s.role.as_deref(), Some("Viewer + Editors + Ops"));
        let expected: PermissionSet = ["tools:view", "tools:create", "variables:view"]
            .iter()
            .map(|p| p.parse::<Permission>().unwrap())
            .collect();
        assert_eq!(s.permissions, expected);
        // Through groups alone.
        let g = user_standing(ws, false, None, vec![held("Ops", &["variables:view"])]).unwrap();
        assert_eq!(g.role.as_deref(), Some("Ops"));
        // No role at all: no standing.
        assert!(user_standing(ws, false, None, vec![]).is_none());
    }

    #[test]
    fn an_api_key_acts_with_its_permissions_cut_to_its_creators_current_ones() {
        let ws = WorkspaceId::new();
        let key: PermissionSet = ["tools:view", "tools:delete"]
            .iter()
            .map(|p| p.parse::<Permission>().unwrap())
            .collect();
        let creator = user_standing(ws, false, Some(held("Viewer", &["tools:view"])), vec![]);
        let s = api_key_standing(key, creator.as_ref()).unwrap();
        assert_eq!(s.workspace, ws);
        assert_eq!(s.role.as_deref(), Some(API_KEY_ROLE));
        assert!(s.permissions.contains("tools:view".parse().unwrap()));
        assert!(!s.permissions.contains("tools:delete".parse().unwrap()));
        // A creator who is the Account Admin gives the key all of its own, and no more.
        let admin = user_standing(ws, true, None, vec![]);
        assert_eq!(
            api_key_standing(key, admin.as_ref()).unwrap().permissions,
            key
        );
        // A creator who can no longer act there leaves the key nothing.
        assert!(api_key_standing(key, None).is_none());
    }
}
