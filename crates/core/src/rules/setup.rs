//! Rule 1: first setup happens once.

use crate::error::{DomainError, DomainResult};

/// Rule 1: setup happens once; `setup_done` says whether it already has.
pub fn check_first_setup(setup_done: bool) -> DomainResult<()> {
    if setup_done {
        return Err(DomainError::conflict(
            "setup_done",
            "setup has already been done",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::conflict_code;

    #[test]
    fn setup_happens_once() {
        assert!(check_first_setup(false).is_ok());
        assert_eq!(conflict_code(check_first_setup(true)), "setup_done");
    }
}
