//! Login activity (SPEC: Login activity; §4 `GET /login-activity`): every sign-in, failure
//! (with its reason), logout, refresh-token reuse or failure and password reset, for the
//! Account Admin, filtered and paginated, or as CSV with `Accept: text/csv`. The dashboard's
//! Login Activity page reads through the same query type and functions.

use super::{List, csv_field};
use crate::auth::Admin;
use crate::error::ApiResult;
use crate::extract::ApiQuery;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use flowspace_core::DomainError;
use flowspace_core::authz::AdminScope;
use flowspace_core::cursor::{PageRequest, Search};
use flowspace_core::time::Timestamp;
use flowspace_store::{LoginEventFilter, LoginOutcome};
use serde::Deserialize;

/// The most rows one CSV export holds.
const MAX_CSV_ROWS: usize = 100_000;

/// `?from=&to=&email=&outcome=&q=&limit=&cursor=`: the filters of the API route and of the
/// dashboard's page (which fills `from` and `to` from days).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ActivityParams {
    pub from: Option<String>,
    pub to: Option<String>,
    pub email: Option<String>,
    /// `success`, `failure`, `logout`, `refresh_reuse`, `refresh_failure`, `password_reset`.
    pub outcome: Option<String>,
    /// What the event's email contains (case-insensitively).
    pub q: Option<String>,
    #[serde(default, deserialize_with = "crate::extract::integral_param")]
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

fn time(field: &str, v: Option<&str>) -> Result<Option<Timestamp>, DomainError> {
    match v.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => Timestamp::parse_rfc3339(s).map(Some).ok_or_else(|| {
            DomainError::invalid(
                field,
                "must be an RFC 3339 date-time, e.g. 2026-01-31T12:00:00Z",
            )
        }),
    }
}

impl ActivityParams {
    /// The store's filter for these parameters, or the first one that is malformed.
    pub fn filter(&self) -> Result<LoginEventFilter, DomainError> {
        let outcome = match self
            .outcome
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            None => None,
            Some(o) => Some(LoginOutcome::parse(o).ok_or_else(|| {
                DomainError::invalid(
                    "outcome",
                    format!(
                        "must be one of {}",
                        LoginOutcome::ALL.map(LoginOutcome::as_str).join(", ")
                    ),
                )
            })?),
        };
        Ok(LoginEventFilter {
            from: time("from", self.from.as_deref())?,
            to: time("to", self.to.as_deref())?,
            email: self
                .email
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            outcome,
            search: Search::new(self.q.as_deref())?,
        })
    }
}

fn wants_csv(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|m| {
            m.split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("text/csv"))
        })
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn login_activity(
    State(state): State<AppState>,
    Admin(admin): Admin,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<ActivityParams>,
) -> ApiResult<Response> {
    let filter = q.filter()?;
    if !wants_csv(&headers) {
        let page = PageRequest::new(q.limit, q.cursor.as_deref())?;
        let page = state.store.login_events(&admin, &filter, page).await?;
        return Ok(Json(List::from(page)).into_response());
    }
    let csv = activity_csv(&state, &admin, &filter).await?;
    Ok(super::csv_download("login-activity.csv", csv))
}

/// Every event `filter` selects (at most `MAX_CSV_ROWS`), newest first, as CSV: the export of
/// the API route and of the dashboard's download.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn activity_csv(
    state: &AppState,
    admin: &AdminScope,
    filter: &LoginEventFilter,
) -> ApiResult<String> {
    let mut out = String::from("createdAt,email,outcome,reason,ip,userAgent,userId\r\n");
    let mut page = PageRequest::new(Some(flowspace_core::cursor::MAX_LIMIT), None)?;
    let mut rows = 0;
    loop {
        let p = state.store.login_events(admin, filter, page).await?;
        for e in &p.items {
            let fields = [
                e.created_at.to_string(),
                e.email.clone().unwrap_or_default(),
                e.outcome.clone(),
                e.reason.clone().unwrap_or_default(),
                e.ip.clone().unwrap_or_default(),
                e.user_agent.clone().unwrap_or_default(),
                e.user_id.map(|u| u.to_string()).unwrap_or_default(),
            ];
            let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
            out.push_str(&line.join(","));
            out.push_str("\r\n");
        }
        rows += p.items.len();
        match p.next {
            Some(next) if rows < MAX_CSV_ROWS => page.after = Some(next),
            _ => break,
        }
    }
    Ok(out)
}
