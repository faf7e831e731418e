//! Rule 8: what may be done to a role.

use crate::error::{DomainError, DomainResult};

/// Rule 8: a role in use cannot be deleted.
pub fn check_role_deletable(builtin: bool, in_use: i64) -> DomainResult<()> {
    if builtin {
        return Err(DomainError::conflict(
            "builtin_role",
            "built-in roles cannot be changed",
        ));
    }
    if in_use > 0 {
        return Err(DomainError::conflict(
            "role_in_use",
            format!("the role is still given to {in_use} member(s) or group(s)"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_builtin_role_or_one_in_use_stays() {
        assert!(
            check_role_deletable(false, 3)
                .unwrap_err()
                .to_string()
                .contains('3')
        );
        assert!(check_role_deletable(true, 0).is_err());
        assert!(check_role_deletable(false, 0).is_ok());
    }
}
