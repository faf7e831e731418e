//! Rule 6: when a workspace can be deleted.

use crate::error::{DomainError, DomainResult};

/// Rule 6: the Default workspace is never deleted, nor one where members other than the
/// Account Admin remain.
pub fn check_workspace_deletable(is_default: bool, other_members: i64) -> DomainResult<()> {
    if is_default {
        return Err(DomainError::conflict(
            "default_workspace",
            "the Default workspace cannot be deleted",
        ));
    }
    if other_members > 0 {
        return Err(DomainError::conflict(
            "workspace_has_members",
            format!(
                "{other_members} member(s) other than the Account Admin remain; unlink them first"
            ),
        ));
    }
    Ok(())
}

/// Rule 6: why a workspace's guarded delete (the statement that deletes only a deletable
/// workspace) deleted nothing, from the workspace as read after it:
/// `check_workspace_deletable`'s refusal, or, when it now reads as deletable, that it changed
/// between the two.
pub fn workspace_delete_refusal(is_default: bool, other_members: i64) -> DomainError {
    match check_workspace_deletable(is_default, other_members) {
        Err(refusal) => refusal,
        Ok(()) => DomainError::conflict(
            "workspace_changed",
            "the workspace changed meanwhile; try again",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::conflict_code;

    #[test]
    fn the_default_workspace_and_one_with_members_stay() {
        assert!(check_workspace_deletable(true, 0).is_err());
        let e = check_workspace_deletable(false, 2).unwrap_err().to_string();
        assert!(e.contains('2'), "{e}");
        assert!(check_workspace_deletable(false, 0).is_ok());
    }

    #[test]
    fn a_delete_that_matched_nothing_says_why() {
        let why = |d, n| conflict_code(Err(workspace_delete_refusal(d, n)));
        assert_eq!(why(true, 0), "default_workspace");
        assert_eq!(why(false, 1), "workspace_has_members");
        assert_eq!(why(false, 0), "workspace_changed");
    }
}
