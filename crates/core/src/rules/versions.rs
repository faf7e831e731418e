//! Rule 13, optimistic concurrency: a write names the version it read.

use crate::error::{DomainError, DomainResult};

/// The version sent with an update must be the current one (rule 13).
pub fn check_version(current: i64, sent: i64) -> DomainResult<()> {
    if current == sent {
        Ok(())
    } else {
        Err(DomainError::conflict(
            "version_conflict",
            format!(
                "the item changed since you read it (version {sent}, now {current}); read it again and retry"
            ),
        ))
    }
}
