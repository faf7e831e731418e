//! Rule 9 after the fact: whether an invitation still stands on its inviter's authority.

use super::WorkspaceFacts;
use crate::perm;
use crate::permissions::PermissionSet;

/// Rule 9, after the fact: an invitation carries its inviter's authority, so it stands only
/// while the inviter (`inviter`: their current standing in the invitation's workspace, `None`
/// when they are gone, disabled or no longer there) may still add users there and holds every
/// permission of the invited role. The invitation of a new organization's first owner
/// (`first_owner`) was made by creating the organization (SPEC §7): it stands on its own.
pub fn invitation_stands(
    inviter: Option<&WorkspaceFacts>,
    role: PermissionSet,
    first_owner: bool,
) -> bool {
    first_owner
        || inviter.is_some_and(|f| {
            f.permissions.contains(perm!(Workspace, AddUser)) && role.is_subset_of(f.permissions)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::WorkspaceId;
    use crate::permissions::BuiltinRole;

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
        assert!(invitation_stands(Some(&admin), viewer, false));
        assert!(invitation_stands(
            Some(&admin),
            BuiltinRole::Admin.permissions(),
            false
        ));
        // Gone, without workspace:add-user, or granting above their own: no longer.
        assert!(!invitation_stands(None, viewer, false));
        assert!(!invitation_stands(
            Some(&standing(BuiltinRole::Developer.permissions())),
            PermissionSet::empty(),
            false
        ));
        let adder =
            standing(PermissionSet::parse(["workspace:add-user", "workspace:view"]).unwrap());
        assert!(invitation_stands(
            Some(&adder),
            PermissionSet::parse(["workspace:view"]).unwrap(),
            false
        ));
        assert!(!invitation_stands(Some(&adder), viewer, false));
        // A new organization's first owner is invited by its creation.
        assert!(invitation_stands(
            None,
            BuiltinRole::Admin.permissions(),
            true
        ));
    }
}
