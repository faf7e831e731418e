//! `ApiError`: the one HTTP error type. It maps each domain error to its status and the
//! stable body of SPEC §4, `{"error": {"code", "message", ...details}}`. A 500 never echoes
//! internals; it is logged (inside the request's span, with its request id).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use flowspace_core::DomainError;
use flowspace_core::permissions::Permission;
use serde_json::{Map, Value, json};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Map<String, Value>,
    pub retry_after: Option<u32>,
    /// The permission a refusal names (403 `missingPermission`): the response carries it as a
    /// `DeniedPermission` extension, so that the guard records every such refusal in the audit
    /// trail, whether the guard or a further check inside the request made it.
    pub denied: Option<Permission>,
}

/// The permission a response refused for (see `ApiError::denied`).
#[derive(Clone, Copy, Debug)]
pub struct DeniedPermission(pub Permission);

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: Map::new(),
            retry_after: None,
            denied: None,
        }
    }

    pub fn detail(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.details.insert(key.to_string(), value.into());
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::NotFound(what) => Self::not_found(what),
            DomainError::Unauthenticated(msg) => Self::unauthorized(msg),
            DomainError::MissingPermission { missing, role } => {
                let mut e = Self::new(
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    format!("your role in this workspace lacks the permission {missing}"),
                )
                .detail("missingPermission", missing.to_string())
                .detail("role", role.map(Value::String).unwrap_or(Value::Null));
                e.denied = Some(missing);
                e
            }
            DomainError::Forbidden { reason } => {
                Self::new(StatusCode::FORBIDDEN, "forbidden", reason)
            }
            DomainError::Conflict { code, message } => {
                Self::new(StatusCode::CONFLICT, code, message)
            }
            DomainError::Invalid { field, reason } => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                format!("{field}: {reason}"),
            )
            .detail("field", field)
            .detail("reason", reason),
            DomainError::NoOrganization => Self::new(
                StatusCode::FORBIDDEN,
                "no_organization",
                "you do not belong to any organization: ask an owner to invite you",
            ),
            DomainError::OrganizationSuspended => Self::new(
                StatusCode::FORBIDDEN,
                "organization_suspended",
                "this organization is suspended: switch to another one or ask the instance admin",
            ),
            DomainError::MfaEnrollmentRequired => Self::new(
                StatusCode::FORBIDDEN,
                "mfa_enrollment_required",
                "this organization requires two-factor sign-in: set it up first (POST /api/v1/auth/mfa/totp/enroll)",
            ),
            DomainError::SetupRequired => Self::new(
                StatusCode::PRECONDITION_REQUIRED,
                "setup_required",
                "Flowspace is not set up yet: POST /api/v1/setup first",
            ),
            DomainError::Busy(msg) => {
                let mut e = Self::new(StatusCode::SERVICE_UNAVAILABLE, "busy", msg);
                e.retry_after = Some(1);
                e
            }
            DomainError::Internal(detail) => {
                tracing::error!(error = %detail, "internal error");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal server error",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = Map::new();
        body.insert("code".into(), Value::String(self.code.into()));
        body.insert("message".into(), Value::String(self.message));
        body.extend(self.details);
        let mut res = (self.status, axum::Json(json!({ "error": body }))).into_response();
        if let Some(secs) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if let Some(p) = self.denied {
            res.extensions_mut().insert(DeniedPermission(p));
        }
        res
    }
}
