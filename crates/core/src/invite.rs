//! Rule 9, invitations: what inviting an email into a workspace does, and whether an
//! invitation carries enough authority to stand. The store loads the rows and writes the
//! outcome; these functions decide.

use crate::authz::WorkspaceFacts;
use crate::error::{DomainError, DomainResult};
use crate::ids::{OrganizationId, UserId};
use crate::model::UserStatus;
use crate::permissions::{Action, Permission, PermissionSet, Resource};

/// The user an invited email already belongs to, as the store found them.
#[derive(Clone, Copy, Debug)]
pub struct ExistingUser {
    pub id: UserId,
    pub organization: OrganizationId,
    pub status: UserStatus,
    pub is_account_admin: bool,
    /// Already holds a direct membership of the workspace.
    pub is_member: bool,
}

/// What inviting an email does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InviteAction {
    /// An active user of the organization: the membership is added at once.
    AddMember(UserId),
    /// A user who has not signed up yet (`None`: no account at all, one is created as
    /// `invited`): an invitation is sent, replacing any open one for the workspace.
    Invite(Option<UserId>),
}

/// What inviting an email into a workspace of `organization` does, given the user the email
/// already belongs to (if any). Refused: an email of another organization, the Account Admin
/// (a member of every workspace already), a disabled user, and an existing member.
pub fn invite_action(
    organization: OrganizationId,
    existing: Option<ExistingUser>,
) -> DomainResult<InviteAction> {
    let Some(u) = existing else {
        return Ok(InviteAction::Invite(None));
    };
    if u.organization != organization {
        return Err(DomainError::conflict(
            "email_taken",
            "a user with this email already exists",
        ));
    }
    if u.is_account_admin {
        return Err(DomainError::conflict(
            "account_admin",
            "the Account Admin is a member of every workspace already",
        ));
    }
    if u.status == UserStatus::Disabled {
        return Err(DomainError::conflict(
            "user_disabled",
            "this user is disabled: enable them first",
        ));
    }
    if u.is_member {
        return Err(DomainError::conflict(
            "already_member",
            "this user is already a member of the workspace: change their role with add-user",
        ));
    }
    Ok(match u.status {
        UserStatus::Active => InviteAction::AddMember(u.id),
        _ => InviteAction::Invite(Some(u.id)),
    })
}

/// Whether an invitation giving a role with `role` permissions stands on the authority of its
/// issuer, whose current standing in its workspace is `issuer` (`None`: they may no longer act
/// there): they must still be able to add users there and hold every permission of the role
/// (no granting above your own). Fails closed.
pub fn issuer_may_grant(issuer: Option<&WorkspaceFacts>, role: PermissionSet) -> bool {
    let add_user = Permission::new(Resource::Workspace, Action::AddUser);
    issuer.is_some_and(|f| {
        add_user.is_some_and(|p| f.permissions.contains(p)) && role.is_subset_of(f.permissions)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::WorkspaceId;
    use crate::permissions::BuiltinRole;

    fn user(org: OrganizationId, status: UserStatus) -> ExistingUser {
        ExistingUser {
            id: UserId::new(),
            organization: org,
            status,
            is_account_admin: false,
            is_member: false,
        }
    }

    fn code(r: DomainResult<InviteAction>) -> &'static str {
        match r {
            Err(DomainError::Conflict { code, .. }) => code,
            other => panic!("expected a conflict, got {other:?}"),
        }
    }

    #[test]
    fn inviting_adds_an_active_user_at_once_and_invites_anyone_else() {
        let org = OrganizationId::new();
        assert_eq!(
            invite_action(org, None).unwrap(),
            InviteAction::Invite(None)
        );
        let active = user(org, UserStatus::Active);
        assert_eq!(
            invite_action(org, Some(active)).unwrap(),
            InviteAction::AddMember(active.id)
        );
        let invited = user(org, UserStatus::Invited);
        assert_eq!(
            invite_action(org, Some(invited)).unwrap(),
            InviteAction::Invite(Some(invited.id))
        );
    }

    #[test]
    fn inviting_refuses_other_organizations_the_admin_disabled_users_and_members() {
        let org = OrganizationId::new();
        let other = user(OrganizationId::new(), UserStatus::Active);
        assert_eq!(code(invite_action(org, Some(other))), "email_taken");
        let admin = ExistingUser {
            is_account_admin: true,
            ..user(org, UserStatus::Active)
        };
        assert_eq!(code(invite_action(org, Some(admin))), "account_admin");
        let disabled = user(org, UserStatus::Disabled);
        assert_eq!(code(invite_action(org, Some(disabled))), "user_disabled");
        let member = ExistingUser {
            is_member: true,
            ..user(org, UserStatus::Invited)
        };
        assert_eq!(code(invite_action(org, Some(member))), "already_member");
    }

    #[test]
    fn an_invitation_stands_only_on_an_issuer_who_may_add_users_and_holds_the_role() {
        let facts = |permissions| WorkspaceFacts {
            workspace: WorkspaceId::new(),
            role: None,
            permissions,
            items_version: None,
        };
        let admin = facts(BuiltinRole::Admin.permissions());
        let viewer = facts(BuiltinRole::Viewer.permissions());
        let viewer_role = BuiltinRole::Viewer.permissions();
        assert!(issuer_may_grant(Some(&admin), viewer_role));
        assert!(issuer_may_grant(
            Some(&admin),
            BuiltinRole::Admin.permissions()
        ));
        // Cannot add users.
        assert!(!issuer_may_grant(Some(&viewer), viewer_role));
        // Can add users, but not grant above their own.
        let mut adder = viewer_role;
        adder.insert("workspace:add-user".parse().unwrap());
        assert!(issuer_may_grant(Some(&facts(adder)), viewer_role));
        assert!(!issuer_may_grant(
            Some(&facts(adder)),
            BuiltinRole::Admin.permissions()
        ));
        // No longer able to act there.
        assert!(!issuer_may_grant(None, viewer_role));
    }
}
