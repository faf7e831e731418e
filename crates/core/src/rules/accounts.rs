//! The Account Admin's protections (a member of every workspace with every permission, never
//! unlinked, disabled or deleted) and the changes of a user account (rules 7 and 10).

use crate::error::{DomainError, DomainResult};
use crate::model::UserStatus;

/// Rule 7: any member can be unlinked from a workspace, the organization's Account Admin never
/// (`is_account_admin`: the user to unlink is the Account Admin of the workspace's
/// organization).
pub fn check_unlinkable(is_account_admin: bool) -> DomainResult<()> {
    if is_account_admin {
        return Err(DomainError::conflict(
            "account_admin",
            "the Account Admin cannot be unlinked from a workspace",
        ));
    }
    Ok(())
}

/// The Account Admin holds every permission in every workspace: their role in one cannot be
/// set or changed (`is_account_admin`: the user being given a role is the Account Admin of the
/// workspace's organization).
pub fn check_member_role_changeable(is_account_admin: bool) -> DomainResult<()> {
    if is_account_admin {
        return Err(DomainError::conflict(
            "account_admin",
            "the Account Admin holds every permission in every workspace; their role cannot be changed",
        ));
    }
    Ok(())
}

/// What the Account Admin asks of a user account (rule 10). A name change needs no check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserChange {
    /// Setting the status.
    Status(UserStatus),
    Delete,
}

/// Rule 10: the Account Admin sets a user `active` or `disabled` (422 for anything else) and
/// deletes users; the Account Admin themselves is never disabled or deleted, and an invited
/// user's status is not set by hand (they become active by signing up). `is_account_admin`
/// and `status` are the target user's.
pub fn check_user_change(
    is_account_admin: bool,
    status: UserStatus,
    change: UserChange,
) -> DomainResult<()> {
    match change {
        UserChange::Status(to) => {
            if !UserStatus::SETTABLE.contains(&to) {
                return Err(DomainError::invalid(
                    "status",
                    "must be \"active\" or \"disabled\"",
                ));
            }
            if is_account_admin && to == UserStatus::Disabled {
                return Err(DomainError::conflict(
                    "account_admin",
                    "the Account Admin cannot be disabled",
                ));
            }
            if status == UserStatus::Invited {
                return Err(DomainError::conflict(
                    "user_invited",
                    "an invited user becomes active by signing up",
                ));
            }
        }
        UserChange::Delete if is_account_admin => {
            return Err(DomainError::conflict(
                "account_admin",
                "the Account Admin cannot be deleted",
            ));
        }
        UserChange::Delete => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::conflict_code;

    #[test]
    fn the_account_admin_is_never_unlinked() {
        assert!(check_unlinkable(false).is_ok());
        assert_eq!(conflict_code(check_unlinkable(true)), "account_admin");
    }

    #[test]
    fn the_account_admins_role_is_never_changed() {
        assert!(check_member_role_changeable(false).is_ok());
        assert_eq!(
            conflict_code(check_member_role_changeable(true)),
            "account_admin"
        );
    }

    #[test]
    fn the_account_admin_is_never_disabled_or_deleted() {
        use UserStatus::{Active, Disabled};
        let admin = |change| check_user_change(true, Active, change);
        assert_eq!(
            conflict_code(admin(UserChange::Status(Disabled))),
            "account_admin"
        );
        assert_eq!(conflict_code(admin(UserChange::Delete)), "account_admin");
        assert!(admin(UserChange::Status(Active)).is_ok());
        // Anyone else can be disabled, enabled again and deleted.
        for change in [
            UserChange::Status(Disabled),
            UserChange::Status(Active),
            UserChange::Delete,
        ] {
            assert!(
                check_user_change(false, Active, change).is_ok(),
                "{change:?}"
            );
            assert!(
                check_user_change(false, Disabled, change).is_ok(),
                "{change:?}"
            );
        }
    }

    #[test]
    fn a_status_is_set_to_active_or_disabled_and_never_on_an_invited_user() {
        use UserStatus::{Active, Disabled, Invited};
        // `invited` is not a status to set, whoever the user is (422 before any 409).
        for (admin, status) in [(false, Active), (true, Active), (false, Invited)] {
            match check_user_change(admin, status, UserChange::Status(Invited)) {
                Err(DomainError::Invalid { field, .. }) => assert_eq!(field, "status"),
                other => panic!("expected 422, got {other:?}"),
            }
        }
        for to in [Active, Disabled] {
            assert_eq!(
                conflict_code(check_user_change(false, Invited, UserChange::Status(to))),
                "user_invited"
            );
        }
        // An invited user who never signed up can be deleted.
        assert!(check_user_change(false, Invited, UserChange::Delete).is_ok());
    }
}
