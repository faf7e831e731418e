//! The password policy of rule 15: at least 8 characters, not one of the common passwords
//! bundled with the binary, and not the account's own email.

use crate::error::{DomainError, DomainResult};

pub const MIN_LENGTH: usize = 8;
/// Hashing cost grows with length; no real password is longer.
pub const MAX_LENGTH: usize = 256;

const COMMON: &str = include_str!("common_passwords.txt");

/// The common passwords the policy refuses (compared in lower case) that are long enough to
/// be refused for nothing else: the document lists them.
pub fn common_within_bounds() -> impl Iterator<Item = &'static str> {
    COMMON
        .lines()
        .filter(|l| (MIN_LENGTH..=MAX_LENGTH).contains(&l.chars().count()))
}

fn is_common(pw: &str) -> bool {
    let lower = pw.to_lowercase();
    COMMON.lines().any(|l| l == lower)
}

pub fn check(password: &str, email: Option<&str>) -> DomainResult<()> {
    check_for(password, email, MIN_LENGTH as u32)
}

/// `check`, with an organization's minimum length (rule 19: never below `MIN_LENGTH`).
pub fn check_for(password: &str, email: Option<&str>, min_length: u32) -> DomainResult<()> {
    let len = password.chars().count();
    let min = (min_length as usize).max(MIN_LENGTH);
    if len < min {
        return Err(DomainError::invalid(
            "password",
            format!("must be at least {min} characters"),
        ));
    }
    if len > MAX_LENGTH {
        return Err(DomainError::invalid(
            "password",
            format!("must be at most {MAX_LENGTH} characters"),
        ));
    }
    if is_common(password) {
        return Err(DomainError::invalid(
            "password",
            "is one of the most common passwords; choose another",
        ));
    }
    if email.is_some_and(|e| e.trim().eq_ignore_ascii_case(password.trim())) {
        return Err(DomainError::invalid(
            "password",
            "must not be your email address",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy() {
        assert!(check("short", None).is_err());
        assert!(check("password", None).is_err());
        assert!(check("Password1", None).is_err(), "case-insensitive");
        assert!(check("12345678", None).is_err());
        assert!(check("a@b.co.uk", Some("A@b.co.uk")).is_err());
        assert!(check("correct horse battery", None).is_ok());
        assert!(check(&"x".repeat(MAX_LENGTH + 1), None).is_err());
        assert!(
            COMMON
                .lines()
                .all(|l| l == l.to_lowercase() && !l.is_empty())
        );
    }
}
