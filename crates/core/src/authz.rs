//! Authorization: the only place where a `WorkspaceScope` or an `AdminScope` is made.
//!
//! The store loads the rows authorization needs from the *current* database state on every
//! request (rule 3); this module computes what they amount to (`user_standing`,
//! `api_key_standing`) and decides. Every workspace-scoped store method takes a `WorkspaceScope`, whose
//! fields are private and whose only constructor is `authorize` below, so a query against a
//! workspace table cannot be written without passing the membership and permission check.

use crate::error::{DomainError, DomainResult};
use crate::ids::{ItemId, OrganizationId, UserId, WorkspaceId};
use crate::permissions::{Permission, PermissionSet};

/// Who acts: a signed-in user, or an API key (acting for the user who created it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Actor {
    User(UserId),
    ApiKey { key: ItemId, creator: UserId },
}

impl Actor {
    /// The user the action is attributed to (`createdBy`, `updatedBy`).
    pub fn user_id(&self) -> UserId {
        match self {
            Actor::User(u) => *u,
            Actor::ApiKey { creator, .. } => *creator,
        }
    }
}

/// What the caller may do in one workspace, from the current memberships and roles.
#[derive(Clone, Debug)]
pub struct WorkspaceFacts {
    pub workspace: WorkspaceId,
    /// The role's name for 403 bodies (`None` when the caller holds no role there).
    pub role: Option<String>,
    pub permissions: PermissionSet,
    /// The workspace's items version, when the store read it while loading these facts for
    /// this request: its list cache may then answer without reading it again.
    pub items_version: Option<i64>,
}

/// Everything authorization needs to know about a caller, loaded fresh for each request.
#[derive(Clone, Debug)]
pub struct CallerFacts {
    pub organization: OrganizationId,
    pub actor: Actor,
    pub is_account_admin: bool,
    /// The active workspace and the caller's standing in it, if there is one.
    pub workspace: Option<WorkspaceFacts>,
    /// Where the request comes from, for the audit trail (set by the server, not the store).
    pub ip: Option<String>,
}

/// Proof that the caller passed the membership and permission check for one workspace.
#[derive(Clone, Debug)]
pub struct WorkspaceScope {
    organization: OrganizationId,
    workspace: WorkspaceId,
    actor: Actor,
    is_account_admin: bool,
    role: Option<String>,
    permissions: PermissionSet,
    ip: Option<String>,
    items_version: Option<i64>,
}

impl WorkspaceScope {
    pub fn organization(&self) -> OrganizationId {
        self.organization
    }
    pub fn workspace(&self) -> WorkspaceId {
        self.workspace
    }
    pub fn actor(&self) -> Actor {
        self.actor
    }
    pub fn user_id(&self) -> UserId {
        self.actor.user_id()
    }
    pub fn is_account_admin(&self) -> bool {
        self.is_account_admin
    }
    pub fn role(&self) -> Option<&str> {
        self.role.as_deref()
    }
    pub fn permissions(&self) -> PermissionSet {
        self.permissions
    }
    /// Where the request comes from, for the audit trail.
    pub fn ip(&self) -> Option<&str> {
        self.ip.as_deref()
    }
    /// The workspace's items version as read while authorizing this request, if it was (see
    /// `WorkspaceFacts::items_version`).
    pub fn items_version(&self) -> Option<i64> {
        self.items_version
    }

    /// A further permission check inside an already authorized request (for example the
    /// `:create` of every kind an import contains).
    pub fn require(&self, p: Permission) -> DomainResult<()> {
        if self.permissions.contains(p) {
            Ok(())
        } else {
            Err(DomainError::MissingPermission {
                missing: p,
                role: self.role.clone(),
            })
        }
    }

    /// Requires every permission of `set` (no granting above your own, rule 9).
    pub fn require_all(&self, set: PermissionSet) -> DomainResult<()> {
        match set.missing_from(self.permissions).first() {
            None => Ok(()),
            Some(p) => self.require(*p),
        }
    }
}

/// Proof that the caller is the Account Admin of an organization, acting as a user.
#[derive(Clone, Debug)]
pub struct AdminScope {
    organization: OrganizationId,
    user: UserId,
    ip: Option<String>,
}

impl AdminScope {
    pub fn organization(&self) -> OrganizationId {
        self.organization
    }
    pub fn user_id(&self) -> UserId {
        self.user
    }
    /// The Account Admin acts as a user, never through an API key.
    pub fn actor(&self) -> Actor {
        Actor::User(self.user)
    }
    /// Where the request comes from, for the audit trail.
    pub fn ip(&self) -> Option<&str> {
        self.ip.as_deref()
    }
}

/// Checks `required` in the caller's active workspace and hands out the scope.
///
/// - no active workspace: 403 naming the permission, with no role;
/// - the Account Admin holds every permission in every workspace of the organization, but an
///   API key holds only its own permissions whoever created it.
pub fn authorize(facts: &CallerFacts, required: Permission) -> DomainResult<WorkspaceScope> {
    let Some(ws) = &facts.workspace else {
        return Err(DomainError::MissingPermission {
            missing: required,
            role: None,
        });
    };
    let scope = WorkspaceScope {
        organization: facts.organization,
        workspace: ws.workspace,
        actor: facts.actor,
        is_account_admin: facts.is_account_admin && matches!(facts.actor, Actor::User(_)),
        role: ws.role.clone(),
        permissions: ws.permissions,
        ip: facts.ip.clone(),
        items_version: ws.items_version,
    };
    scope.require(required)?;
    Ok(scope)
}

/// Checks that the caller is the Account Admin, signed in as a user (never through an API key).
pub fn authorize_account_admin(facts: &CallerFacts) -> DomainResult<AdminScope> {
    match facts.actor {
        Actor::User(user) if facts.is_account_admin => Ok(AdminScope {
            organization: facts.organization,
            user,
            ip: facts.ip.clone(),
        }),
        Actor::User(_) => Err(DomainError::forbidden("only the Account Admin may do this")),
        Actor::ApiKey { .. } => Err(DomainError::forbidden(
            "API keys cannot manage the organization",
        )),
    }
}

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
    use crate::permissions::BuiltinRole;

    fn facts(perms: PermissionSet, admin: bool, actor: Actor) -> CallerFacts {
        CallerFacts {
            organization: OrganizationId::new(),
            actor,
            is_account_admin: admin,
            workspace: Some(WorkspaceFacts {
                workspace: WorkspaceId::new(),
                role: Some("Viewer".into()),
                permissions: perms,
                items_version: None,
            }),
            ip: None,
        }
    }

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

    #[test]
    fn viewer_can_view_but_not_create() {
        let f = facts(
            BuiltinRole::Viewer.permissions(),
            false,
            Actor::User(UserId::new()),
        );
        let view: Permission = "chatflows:view".parse().unwrap();
        let create: Permission = "chatflows:create".parse().unwrap();
        let scope = authorize(&f, view).unwrap();
        assert_eq!(scope.workspace(), f.workspace.as_ref().unwrap().workspace);
        match authorize(&f, create) {
            Err(DomainError::MissingPermission { missing, role }) => {
                assert_eq!(missing, create);
                assert_eq!(role.as_deref(), Some("Viewer"));
            }
            other => panic!("expected a denial, got {other:?}"),
        }
    }

    #[test]
    fn no_workspace_is_denied() {
        let mut f = facts(PermissionSet::all(), false, Actor::User(UserId::new()));
        f.workspace = None;
        assert!(authorize(&f, "tools:view".parse().unwrap()).is_err());
    }

    #[test]
    fn account_admin_scope_needs_a_user_session() {
        let user = UserId::new();
        assert!(
            authorize_account_admin(&facts(PermissionSet::all(), true, Actor::User(user))).is_ok()
        );
        assert!(
            authorize_account_admin(&facts(PermissionSet::all(), false, Actor::User(user)))
                .is_err()
        );
        let key = Actor::ApiKey {
            key: ItemId::new(),
            creator: user,
        };
        assert!(authorize_account_admin(&facts(PermissionSet::all(), true, key)).is_err());
    }
}
