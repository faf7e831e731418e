//! Authorization: the only place where a scope is made.
//!
//! The store loads the rows authorization needs from the *current* database state on every
//! request (rule 3); this module computes what they amount to (`user_standing`,
//! `api_key_standing`) and decides. Every scope has private fields and is made only here, by a
//! function that checks the caller's standing:
//!
//! - `WorkspaceScope` (`authorize`): one permission in one workspace; every store method on a
//!   workspace table takes one and filters by its workspace.
//! - `AdminScope` (`authorize_account_admin`): the Account Admin, as a user.
//! - `SelfScope` (`authorize_self`): a signed-in user acting on their own account.
//! - `AuditScope` (`authorize_audit`): the audit events the caller may read, the whole
//!   organization or one workspace; the store filters by it.
//! - `WorkspacesScope` (`authorize_each`): the workspaces where the caller holds a permission,
//!   for lists that span workspaces (open invitations); `AdminScope::every_workspace` narrows
//!   the Account Admin's scope to it (all of them).

use crate::error::{DomainError, DomainResult};
use crate::ids::{ItemId, OrganizationId, SessionId, UserId, WorkspaceId};
use crate::perm;
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
    /// The Account Admin stands in every workspace of the organization: the scope of a list
    /// that spans workspaces (open invitations), as `authorize_each` hands it to them.
    pub fn every_workspace(&self) -> WorkspacesScope {
        WorkspacesScope {
            organization: self.organization,
            workspaces: None,
        }
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

/// Proof that the caller is a signed-in user (a session, never an API key), for the routes
/// about the caller themselves (profile, sign-out, switching workspace).
#[derive(Clone, Debug)]
pub struct SelfScope {
    organization: OrganizationId,
    user: UserId,
    session: SessionId,
    ip: Option<String>,
}

impl SelfScope {
    pub fn organization(&self) -> OrganizationId {
        self.organization
    }
    pub fn user_id(&self) -> UserId {
        self.user
    }
    pub fn session(&self) -> SessionId {
        self.session
    }
    pub fn actor(&self) -> Actor {
        Actor::User(self.user)
    }
    /// Where the request comes from, for the audit trail.
    pub fn ip(&self) -> Option<&str> {
        self.ip.as_deref()
    }
}

/// Checks that the caller is a user signed in with `session` (API keys are refused).
pub fn authorize_self(facts: &CallerFacts, session: Option<SessionId>) -> DomainResult<SelfScope> {
    match (facts.actor, session) {
        (Actor::User(user), Some(session)) => Ok(SelfScope {
            organization: facts.organization,
            user,
            session,
            ip: facts.ip.clone(),
        }),
        _ => Err(DomainError::forbidden(
            "this route needs a signed-in user, not an API key",
        )),
    }
}

/// The audit events a caller may read: the whole organization's (optionally narrowed to one
/// workspace) for the Account Admin, one workspace's for a member holding `auditLogs:view`
/// there. The store filters by `organization()` and `workspace()`.
#[derive(Clone, Debug)]
pub struct AuditScope {
    organization: OrganizationId,
    workspace: Option<WorkspaceId>,
}

impl AuditScope {
    pub fn organization(&self) -> OrganizationId {
        self.organization
    }
    /// `None`: every event of the organization.
    pub fn workspace(&self) -> Option<WorkspaceId> {
        self.workspace
    }
}

/// Who may read which audit events (SPEC §4, `GET /audit-events`): the Account Admin the
/// organization's (or the `requested` workspace's); another signed-in user needs
/// `auditLogs:view` in the active workspace and sees only that workspace — asking for another
/// one is refused naming the permission. API keys never read the trail.
pub fn authorize_audit(
    facts: &CallerFacts,
    requested: Option<WorkspaceId>,
) -> DomainResult<AuditScope> {
    if !matches!(facts.actor, Actor::User(_)) {
        return Err(DomainError::forbidden(
            "the audit trail is read by signed-in users, not API keys",
        ));
    }
    if facts.is_account_admin {
        return Ok(AuditScope {
            organization: facts.organization,
            workspace: requested,
        });
    }
    let view = perm!(AuditLogs, View);
    let denied = || DomainError::MissingPermission {
        missing: view,
        role: facts.workspace.as_ref().and_then(|w| w.role.clone()),
    };
    let ws = facts
        .workspace
        .as_ref()
        .filter(|w| w.permissions.contains(view))
        .ok_or_else(denied)?;
    if requested.is_some_and(|r| r != ws.workspace) {
        return Err(denied());
    }
    Ok(AuditScope {
        organization: facts.organization,
        workspace: Some(ws.workspace),
    })
}

/// The workspaces of an organization where the caller holds one permission, for a list that
/// spans workspaces: `All` for the Account Admin.
#[derive(Clone, Debug)]
pub struct WorkspacesScope {
    organization: OrganizationId,
    workspaces: Option<Vec<WorkspaceId>>,
}

impl WorkspacesScope {
    pub fn organization(&self) -> OrganizationId {
        self.organization
    }
    /// `None`: every workspace of the organization.
    pub fn workspaces(&self) -> Option<&[WorkspaceId]> {
        self.workspaces.as_deref()
    }
}

/// The workspaces among `standings` (the caller's standing in each workspace they belong to,
/// loaded fresh) where a signed-in user holds `required`; every workspace for the Account
/// Admin. API keys are refused.
pub fn authorize_each(
    facts: &CallerFacts,
    standings: &[WorkspaceFacts],
    required: Permission,
) -> DomainResult<WorkspacesScope> {
    if !matches!(facts.actor, Actor::User(_)) {
        return Err(DomainError::forbidden(
            "this route needs a signed-in user, not an API key",
        ));
    }
    let workspaces = (!facts.is_account_admin).then(|| {
        standings
            .iter()
            .filter(|s| s.permissions.contains(required))
            .map(|s| s.workspace)
            .collect()
    });
    Ok(WorkspacesScope {
        organization: facts.organization,
        workspaces,
    })
}

/// Whether an API key may carry `p` at all (SPEC §1: never user, role or workspace
/// management).
pub fn grantable_to_api_key(p: Permission) -> bool {
    p.resource() != crate::permissions::Resource::Workspace
}

/// The permissions a new or changed API key gets (SPEC §1, API key): the caller's `requested`
/// ones with their implied `:view`s, at least one, each grantable to a key, and each held by
/// the caller in the key's workspace (no granting above your own). A key cannot mint or widen
/// keys: a leaked short-lived key must not outlive itself.
pub fn api_key_permissions(
    scope: &WorkspaceScope,
    requested: &[String],
) -> DomainResult<PermissionSet> {
    if matches!(scope.actor(), Actor::ApiKey { .. }) {
        return Err(DomainError::forbidden(
            "API keys cannot create or change API keys",
        ));
    }
    let perms = PermissionSet::parse(requested.iter().map(String::as_str))
        .map_err(|e| DomainError::invalid("permissions", e.to_string()))?
        .with_implied_views();
    if perms.is_empty() {
        return Err(DomainError::invalid(
            "permissions",
            "must hold at least one permission",
        ));
    }
    if let Some(p) = perms.iter().find(|p| !grantable_to_api_key(*p)) {
        return Err(DomainError::invalid(
            "permissions",
            format!("{p}: API keys cannot manage workspaces"),
        ));
    }
    if let Some(p) = perms.missing_from(scope.permissions()).first() {
        return Err(DomainError::invalid(
            "permissions",
            format!("{p}: you cannot give a key a permission you lack"),
        ));
    }
    Ok(perms)
}

/// Rule 9, after the fact: an invitation carries its inviter's authority, so it stands only
/// while the inviter (`inviter`: their current standing in the invitation's workspace, `None`
/// when they are gone, disabled or no longer there) may still add users there and holds every
/// permission of the invited role.
pub fn invitation_stands(inviter: Option<&WorkspaceFacts>, role: PermissionSet) -> bool {
    inviter.is_some_and(|f| {
        f.permissions.contains(perm!(Workspace, AddUser)) && role.is_subset_of(f.permissions)
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
    fn audit_scope_is_the_organization_for_the_admin_and_one_workspace_otherwise() {
        let user = Actor::User(UserId::new());
        let admin = facts(PermissionSet::all(), true, user);
        let other = WorkspaceId::new();
        let scope = authorize_audit(&admin, None).unwrap();
        assert_eq!(scope.workspace(), None);
        assert_eq!(
            authorize_audit(&admin, Some(other)).unwrap().workspace(),
            Some(other)
        );

        let auditor = facts(
            PermissionSet::parse(["auditLogs:view"]).unwrap(),
            false,
            user,
        );
        let active = auditor.workspace.as_ref().unwrap().workspace;
        assert_eq!(
            authorize_audit(&auditor, None).unwrap().workspace(),
            Some(active)
        );
        assert_eq!(
            authorize_audit(&auditor, Some(active)).unwrap().workspace(),
            Some(active)
        );
        // Another workspace, or no auditLogs:view, is refused naming the permission.
        for f in [
            (&auditor, Some(other)),
            (
                &facts(
                    BuiltinRole::Admin
                        .permissions()
                        .intersection(PermissionSet::parse(["tools:view"]).unwrap()),
                    false,
                    user,
                ),
                None,
            ),
        ] {
            match authorize_audit(f.0, f.1) {
                Err(DomainError::MissingPermission { missing, .. }) => {
                    assert_eq!(missing.to_string(), "auditLogs:view")
                }
                other => panic!("expected a denial, got {other:?}"),
            }
        }
        // An API key of the Account Admin is not the Account Admin.
        let key = Actor::ApiKey {
            key: ItemId::new(),
            creator: UserId::new(),
        };
        let admin_key = facts(PermissionSet::parse(["tools:view"]).unwrap(), true, key);
        assert!(authorize_audit(&admin_key, None).is_err());
    }

    #[test]
    fn workspaces_scope_keeps_where_the_permission_is_held() {
        let user = Actor::User(UserId::new());
        let add_user: Permission = "workspace:add-user".parse().unwrap();
        let standing = |perms: PermissionSet| WorkspaceFacts {
            workspace: WorkspaceId::new(),
            role: None,
            permissions: perms,
            items_version: None,
        };
        let held = standing(BuiltinRole::Admin.permissions());
        let not_held = standing(BuiltinRole::Developer.permissions());
        let member = facts(PermissionSet::empty(), false, user);
        let scope = authorize_each(&member, &[held.clone(), not_held], add_user).unwrap();
        assert_eq!(scope.workspaces(), Some(&[held.workspace][..]));
        let admin = facts(PermissionSet::all(), true, user);
        assert_eq!(
            authorize_each(&admin, &[], add_user).unwrap().workspaces(),
            None
        );
        let as_admin = authorize_account_admin(&admin).unwrap().every_workspace();
        assert_eq!(
            as_admin.workspaces(),
            None,
            "the Account Admin's lists span all"
        );
        assert_eq!(as_admin.organization(), admin.organization);
        let key = Actor::ApiKey {
            key: ItemId::new(),
            creator: UserId::new(),
        };
        assert!(
            authorize_each(&facts(PermissionSet::all(), false, key), &[held], add_user).is_err()
        );
    }

    #[test]
    fn an_invitation_stands_while_its_inviter_could_still_issue_it() {
        let standing = |perms: PermissionSet| WorkspaceFacts {
            workspace: WorkspaceId::new(),
            role: None,
            permissions: perms,
            items_version: None,
        };
        let viewer = BuiltinRole::Viewer.permissions();
        let admin = standing(BuiltinRole::Admin.permissions());
        assert!(invitation_stands(Some(&admin), viewer));
        assert!(invitation_stands(
            Some(&admin),
            BuiltinRole::Admin.permissions()
        ));
        // Gone, without workspace:add-user, or granting above their own: no longer.
        assert!(!invitation_stands(None, viewer));
        assert!(!invitation_stands(
            Some(&standing(BuiltinRole::Developer.permissions())),
            PermissionSet::empty()
        ));
        let adder =
            standing(PermissionSet::parse(["workspace:add-user", "workspace:view"]).unwrap());
        assert!(invitation_stands(
            Some(&adder),
            PermissionSet::parse(["workspace:view"]).unwrap()
        ));
        assert!(!invitation_stands(Some(&adder), viewer));
    }

    #[test]
    fn an_api_key_gets_what_its_creator_may_give_and_nothing_of_workspace_management() {
        let user = Actor::User(UserId::new());
        let dev = authorize(
            &facts(BuiltinRole::Developer.permissions(), false, user),
            perm!(Apikeys, Create),
        )
        .unwrap();
        let ask = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let got = api_key_permissions(&dev, &ask(&["tools:update"])).unwrap();
        assert_eq!(got.to_strings(), vec!["tools:view", "tools:update"]);
        for (bad, field) in [
            (ask(&[]), "permissions"),
            (ask(&["tools:fly"]), "permissions"),
            (ask(&["credentials:share"]), "permissions"),
        ] {
            match api_key_permissions(&dev, &bad) {
                Err(DomainError::Invalid { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{bad:?}: expected 422, got {other:?}"),
            }
        }
        let admin = authorize(
            &facts(PermissionSet::all(), true, user),
            perm!(Apikeys, Create),
        )
        .unwrap();
        assert!(api_key_permissions(&admin, &ask(&["workspace:view"])).is_err());
        assert!(!grantable_to_api_key(perm!(Workspace, AddUser)));
        assert!(grantable_to_api_key(perm!(AuditLogs, View)));
        let key = Actor::ApiKey {
            key: ItemId::new(),
            creator: UserId::new(),
        };
        let by_key = authorize(
            &facts(PermissionSet::all(), false, key),
            perm!(Apikeys, Create),
        )
        .unwrap();
        assert!(matches!(
            api_key_permissions(&by_key, &ask(&["tools:view"])),
            Err(DomainError::Forbidden { .. })
        ));
    }

    #[test]
    fn self_scope_needs_a_session() {
        let user = UserId::new();
        let f = facts(PermissionSet::empty(), false, Actor::User(user));
        let session = SessionId::new();
        let scope = authorize_self(&f, Some(session)).unwrap();
        assert_eq!((scope.user_id(), scope.session()), (user, session));
        assert!(authorize_self(&f, None).is_err());
        let key = Actor::ApiKey {
            key: ItemId::new(),
            creator: user,
        };
        assert!(authorize_self(&facts(PermissionSet::all(), true, key), Some(session)).is_err());
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
