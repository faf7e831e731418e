//! Per-IP limits on the public account routes (rule 15), counted in the database so every
//! replica agrees: invitation look-ups, sign-ups and password-reset requests.

use super::session::ClientInfo;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::http::StatusCode;

/// Per-IP limits on the public account routes (rule 15), counted in the database so every
/// replica agrees: invitation lookups, sign-ups and password-reset requests.
pub const LOOKUPS_PER_HOUR: i64 = 120;
pub const SIGNUPS_PER_HOUR: i64 = 30;
pub const RESET_REQUESTS_PER_HOUR: i64 = 20;

pub(crate) async fn limit_per_ip(
    state: &AppState,
    bucket: &str,
    max_per_hour: i64,
    client: &ClientInfo,
) -> ApiResult<()> {
    let key = client.ip.as_deref().unwrap_or("unknown");
    match state
        .store
        .hit_rate_limit(bucket, key, 3600, max_per_hour)
        .await?
    {
        None => Ok(()),
        Some(secs) => {
            let mut e = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                "too many requests from your address: retry later",
            );
            e.retry_after = Some(u32::try_from(secs.max(1)).unwrap_or(u32::MAX));
            Err(e)
        }
    }
}
