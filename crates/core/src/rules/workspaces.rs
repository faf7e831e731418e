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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_workspace_and_one_with_members_stay() {
        assert!(check_workspace_deletable(true, 0).is_err());
        let e = check_workspace_deletable(false, 2).unwrap_err().to_string();
        assert!(e.contains('2'), "{e}");
        assert!(check_workspace_deletable(false, 0).is_ok());
    }
}
