//! The domain error: what went wrong in terms of the product's rules. The server maps each
//! variant to one HTTP status and the stable error body of SPEC §4.

use crate::permissions::Permission;

pub type DomainResult<T> = Result<T, DomainError>;

#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// The thing does not exist, or is outside the caller's scope (indistinguishable on purpose).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// No valid credentials.
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// Signed in, but the role in the active workspace lacks a permission.
    #[error("missing permission {missing}")]
    MissingPermission {
        missing: Permission,
        role: Option<String>,
    },
    /// Signed in, but the action needs a standing no role gives (Account Admin, a user session).
    #[error("{reason}")]
    Forbidden { reason: String },
    /// The request conflicts with the current state (stale version, name taken, in use, ...).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// A field of the request is invalid.
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    /// Signed in, but the caller belongs to no organization (SPEC §7).
    #[error("you do not belong to any organization")]
    NoOrganization,
    /// The active organization is suspended (rule 18).
    #[error("this organization is suspended")]
    OrganizationSuspended,
    /// The active organization requires MFA and the caller has not set it up: they may only
    /// enrol (SPEC §9).
    #[error("this organization requires two-factor sign-in: set it up first")]
    MfaEnrollmentRequired,
    /// Setup has not been done yet (rule 1).
    #[error("setup required")]
    SetupRequired,
    /// The server is saturated and the client should retry (e.g. the password-hashing queue).
    #[error("{0}")]
    Busy(&'static str),
    /// A failure that is not the client's: storage, crypto, I/O.
    #[error("internal error: {0}")]
    Internal(String),
}

impl DomainError {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            message: message.into(),
        }
    }
    pub fn forbidden(reason: impl Into<String>) -> Self {
        Self::Forbidden {
            reason: reason.into(),
        }
    }
    pub fn internal(e: impl std::fmt::Display) -> Self {
        Self::Internal(e.to_string())
    }
}
