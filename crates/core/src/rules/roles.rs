//! Rule 8: what may be done to a role.

use crate::error::{DomainError, DomainResult};

/// Rule 8: a built-in role (`Admin`, `Developer`, `Viewer`) cannot be edited.
pub fn check_role_editable(builtin: bool) -> DomainResult<()> {
    if builtin {
        return Err(DomainError::conflict(
            "builtin_role",
            "built-in roles cannot be changed",
        ));
    }
    Ok(())
}

/// Rule 8: a built-in role cannot be deleted, nor a role in use (`in_use`: the memberships
/// and group grants that give it).
pub fn check_role_deletable(builtin: bool, in_use: i64) -> DomainResult<()> {
    check_role_editable(builtin)?;
    if in_use > 0 {
        return Err(DomainError::conflict(
            "role_in_use",
            format!("the role is still given to {in_use} member(s) or group(s)"),
        ));
    }
    Ok(())
}

/// Rule 8: why a role's guarded delete (the statement that deletes only a deletable role)
/// deleted nothing, from the role as read after it: `check_role_deletable`'s refusal, or,
/// when the role now reads as deletable, that it changed between the two.
pub fn role_delete_refusal(builtin: bool, in_use: i64) -> DomainError {
    match check_role_deletable(builtin, in_use) {
        Err(refusal) => refusal,
        Ok(()) => DomainError::conflict("role_changed", "the role changed meanwhile; try again"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::conflict_code;

    #[test]
    fn a_builtin_role_is_never_edited() {
        assert_eq!(conflict_code(check_role_editable(true)), "builtin_role");
        assert!(check_role_editable(false).is_ok());
    }

    #[test]
    fn a_builtin_role_or_one_in_use_stays() {
        assert!(
            check_role_deletable(false, 3)
                .unwrap_err()
                .to_string()
                .contains('3')
        );
        assert_eq!(conflict_code(check_role_deletable(false, 3)), "role_in_use");
        assert_eq!(conflict_code(check_role_deletable(true, 0)), "builtin_role");
        assert!(check_role_deletable(false, 0).is_ok());
    }

    #[test]
    fn a_delete_that_matched_nothing_says_why() {
        assert_eq!(
            conflict_code(Err(role_delete_refusal(true, 0))),
            "builtin_role"
        );
        assert_eq!(
            conflict_code(Err(role_delete_refusal(false, 1))),
            "role_in_use"
        );
        assert_eq!(
            conflict_code(Err(role_delete_refusal(false, 0))),
            "role_changed"
        );
    }
}
