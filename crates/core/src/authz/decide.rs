//! The checks that hand out the scopes: each reads the caller's facts and either refuses (a
//! 403 naming what is missing) or makes the one scope its guard needs.

use super::{
    Actor, AdminScope, AuditScope, CallerFacts, CreatorScope, InstanceScope, OrgFacts, OrgScope,
    SelfScope, ViewsScope, WorkspaceFacts, WorkspaceScope, WorkspacesScope,
};
use crate::error::{DomainError, DomainResult};
use crate::ids::{SessionId, WorkspaceId};
use crate::model::OrgRole;
use crate::perm;
use crate::permissions::Permission;

/// The caller's active organization, if they may act in it: a user in no organization is
/// refused (`NoOrganization`), a suspended one answers `OrganizationSuspended` (rule 18).
fn active_organization(facts: &CallerFacts) -> DomainResult<OrgFacts> {
    match facts.organization {
        None => Err(DomainError::NoOrganization),
        Some(o) if o.suspended => Err(DomainError::OrganizationSuspended),
        Some(o) => Ok(o),
    }
}

/// SPEC §9, `mfaRequired`: a signed-in member who still has to set up MFA may do nothing but
/// enrol (and read or end their session). The guard asks this of every route but those.
pub fn require_mfa_settled(facts: &CallerFacts) -> DomainResult<()> {
    if facts.mfa_pending {
        Err(DomainError::MfaEnrollmentRequired)
    } else {
        Ok(())
    }
}

/// Checks `required` in the caller's active workspace and hands out the scope.
///
/// - no active workspace: 403 naming the permission, with no role;
/// - the Account Admin (an owner or admin of the organization) holds every permission in every
///   workspace of the organization, but an API key holds only its own permissions whoever
///   created it.
pub fn authorize(facts: &CallerFacts, required: Permission) -> DomainResult<WorkspaceScope> {
    let org = active_organization(facts)?;
    let Some(ws) = &facts.workspace else {
        return Err(DomainError::MissingPermission {
            missing: required,
            role: None,
        });
    };
    let scope = WorkspaceScope {
        organization: org.id,
        workspace: ws.workspace,
        actor: facts.actor,
        is_account_admin: facts.is_account_admin(),
        role: ws.role.clone(),
        permissions: ws.permissions,
        ip: facts.ip.clone(),
        items_version: ws.items_version,
    };
    scope.require(required)?;
    Ok(scope)
}

/// Checks that the caller is an active member of their active organization, signed in as a
/// user (API keys are refused): what reading the organization and its settings needs.
pub fn authorize_org_member(facts: &CallerFacts) -> DomainResult<OrgScope> {
    let org = active_organization(facts)?;
    match facts.actor {
        Actor::User(user) => Ok(OrgScope {
            organization: org.id,
            user,
            role: org.role,
            ip: facts.ip.clone(),
        }),
        Actor::ApiKey { .. } => Err(DomainError::forbidden(
            "API keys cannot manage the organization",
        )),
    }
}

/// Checks that the caller is an owner or admin of the active organization (the Account Admin
/// of SPEC §1–6), signed in as a user (never through an API key).
pub fn authorize_account_admin(facts: &CallerFacts) -> DomainResult<AdminScope> {
    let org = authorize_org_member(facts)?;
    if org.role.is_admin() {
        Ok(AdminScope {
            org,
            instance: facts.is_instance_admin,
        })
    } else {
        Err(DomainError::forbidden(
            "only the Account Admin (an owner or admin of the organization) may do this",
        ))
    }
}

/// Checks that the caller is an owner of the active organization: what its SSO and MFA
/// policy and its owners need.
pub fn authorize_owner(facts: &CallerFacts) -> DomainResult<AdminScope> {
    let admin = authorize_account_admin(facts)?;
    if admin.role() == OrgRole::Owner {
        Ok(admin)
    } else {
        Err(DomainError::forbidden(
            "only an owner of the organization may do this",
        ))
    }
}

/// Checks that the caller is the instance admin, signed in with a session (SPEC §7). It needs
/// no organization, and a suspended one does not stop it.
pub fn authorize_instance_admin(
    facts: &CallerFacts,
    session: Option<SessionId>,
) -> DomainResult<InstanceScope> {
    match (facts.actor, session) {
        (Actor::User(user), Some(_)) if facts.is_instance_admin => Ok(InstanceScope {
            user,
            ip: facts.ip.clone(),
        }),
        (Actor::User(_), Some(_)) => Err(DomainError::forbidden(
            "only the instance admin may do this",
        )),
        _ => Err(DomainError::forbidden(
            "this route needs a signed-in user, not an API key",
        )),
    }
}

/// Checks that the caller may create an organization: the instance admin, or (when the
/// installation's `ALLOW_ORGANIZATION_CREATION` is `any`: `allow_any`) any user signed in with
/// a session.
pub fn authorize_org_creation(
    facts: &CallerFacts,
    session: Option<SessionId>,
    allow_any: bool,
) -> DomainResult<CreatorScope> {
    match (facts.actor, session) {
        (Actor::User(user), Some(_)) if facts.is_instance_admin || allow_any => Ok(CreatorScope {
            user,
            instance: facts.is_instance_admin,
            ip: facts.ip.clone(),
        }),
        (Actor::User(_), Some(_)) => Err(DomainError::forbidden(
            "only the instance admin may create organizations",
        )),
        _ => Err(DomainError::forbidden(
            "this route needs a signed-in user, not an API key",
        )),
    }
}

/// Checks that the caller is a user signed in with `session` (API keys are refused).
pub fn authorize_self(facts: &CallerFacts, session: Option<SessionId>) -> DomainResult<SelfScope> {
    match (facts.actor, session) {
        (Actor::User(user), Some(session)) => Ok(SelfScope {
            organization: facts.organization_id(),
            user,
            session,
            ip: facts.ip.clone(),
        }),
        _ => Err(DomainError::forbidden(
            "this route needs a signed-in user, not an API key",
        )),
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
    let org = active_organization(facts)?;
    if facts.is_account_admin() {
        return Ok(AuditScope {
            organization: org.id,
            workspace: requested,
            knows_people: true,
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
        organization: org.id,
        workspace: Some(ws.workspace),
        knows_people: false,
    })
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
    let org = active_organization(facts)?;
    let workspaces = (!facts.is_account_admin()).then(|| {
        standings
            .iter()
            .filter(|s| s.permissions.contains(required))
            .map(|s| s.workspace)
            .collect()
    });
    Ok(WorkspacesScope {
        organization: org.id,
        workspaces,
    })
}

/// What the caller may view in each workspace, from `standings` (their current standing in
/// each workspace they belong to, loaded fresh): every permission everywhere for the Account
/// Admin signed in; an API key only its own permissions in its one workspace (`facts`' active
/// workspace), whatever its creator holds elsewhere. Refuses nobody who may act in the active
/// organization: a workspace where the caller stands nowhere is one where nothing is shown.
pub fn authorize_views(
    facts: &CallerFacts,
    standings: &[WorkspaceFacts],
) -> DomainResult<ViewsScope> {
    let org = active_organization(facts)?;
    let standings = match facts.actor {
        Actor::User(_) if facts.is_account_admin() => None,
        Actor::User(_) => Some(
            standings
                .iter()
                .chain(facts.workspace.as_ref())
                .map(|s| (s.workspace, s.permissions))
                .collect(),
        ),
        Actor::ApiKey { .. } => Some(
            facts
                .workspace
                .iter()
                .map(|s| (s.workspace, s.permissions))
                .collect(),
        ),
    };
    Ok(ViewsScope {
        organization: org.id,
        standings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authz::facts::testing::facts;
    use crate::ids::{ItemId, UserId};
    use crate::permissions::{BuiltinRole, PermissionSet};

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
        assert_eq!(Some(as_admin.organization()), admin.organization_id());
        let key = Actor::ApiKey {
            key: ItemId::new(),
            creator: UserId::new(),
        };
        assert!(
            authorize_each(&facts(PermissionSet::all(), false, key), &[held], add_user).is_err()
        );
    }

    #[test]
    fn views_scope_follows_each_standing_and_keeps_a_key_to_its_workspace() {
        use crate::resource::ResourceKind::{Agentflow, Chatflow};
        let user = Actor::User(UserId::new());
        let standing = |perms: &[&str]| WorkspaceFacts {
            workspace: WorkspaceId::new(),
            role: None,
            permissions: PermissionSet::parse(perms.iter().copied()).unwrap(),
            items_version: None,
        };
        let flows = standing(&["chatflows:view"]);
        let nothing = standing(&["tools:view"]);
        let member = facts(
            PermissionSet::parse(["agentflows:view"]).unwrap(),
            false,
            user,
        );
        let active = member.workspace.as_ref().unwrap().workspace;
        let scope = authorize_views(&member, &[flows.clone(), nothing.clone()]).unwrap();
        assert!(scope.may_view(flows.workspace, Chatflow));
        assert!(!scope.may_view(flows.workspace, Agentflow));
        assert!(
            scope.may_view(active, Agentflow),
            "the active workspace too"
        );
        assert!(scope.stands_in(nothing.workspace));
        assert!(!scope.may_view(nothing.workspace, Chatflow));
        let elsewhere = WorkspaceId::new();
        assert!(!scope.stands_in(elsewhere) && !scope.may_view(elsewhere, Chatflow));

        let admin = authorize_views(&facts(PermissionSet::all(), true, user), &[]).unwrap();
        assert!(admin.stands_in(elsewhere) && admin.may_view(elsewhere, Chatflow));

        // A key of the Account Admin: its own permissions, in its own workspace only.
        let key = Actor::ApiKey {
            key: ItemId::new(),
            creator: UserId::new(),
        };
        let key_facts = facts(PermissionSet::parse(["chatflows:view"]).unwrap(), true, key);
        let own = key_facts.workspace.as_ref().unwrap().workspace;
        let scope = authorize_views(&key_facts, std::slice::from_ref(&flows)).unwrap();
        assert!(scope.may_view(own, Chatflow) && !scope.may_view(own, Agentflow));
        assert!(!scope.stands_in(flows.workspace) && !scope.stands_in(elsewhere));
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
