//! The audit trail: `GET /audit-events` (the Account Admin sees the whole organization, a
//! member holding `auditLogs:view` only their active workspace), as JSON pages or CSV, and
//! `GET /audit-events/verify`, which recomputes the organization's hash chain. The dashboard's
//! Audit Log pages read through the same query type and functions.

use super::{List, csv_field};
use crate::auth::{Admin, Audit};
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiQuery;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use flowspace_core::DomainError;
use flowspace_core::authz::{AdminScope, AuditScope};
use flowspace_core::cursor::{PageRequest, Search};
use flowspace_core::time::Timestamp;
use flowspace_store::{AuditFilter, AuditRow};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// The most rows one CSV export holds.
const CSV_MAX_ROWS: usize = 100_000;

/// One audit event.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEventView {
    pub id: Uuid,
    /// Position in the organization's chain.
    pub seq: Option<i64>,
    pub workspace_id: Option<Uuid>,
    /// `user` or `apiKey`.
    pub actor_type: &'static str,
    /// The user (for an API key: the user who created it).
    pub actor_user_id: Option<Uuid>,
    pub actor_api_key_id: Option<Uuid>,
    pub action: String,
    pub target_kind: String,
    pub target_id: Option<Uuid>,
    /// A short before/after summary.
    #[schema(value_type = Object)]
    pub summary: serde_json::Value,
    pub ip: Option<String>,
    pub created_at: Timestamp,
}

impl From<AuditRow> for AuditEventView {
    fn from(r: AuditRow) -> Self {
        Self {
            id: r.id,
            seq: r.seq,
            workspace_id: r.workspace.map(|w| w.0),
            actor_type: if r.actor_api_key_id.is_some() {
                "apiKey"
            } else {
                "user"
            },
            actor_user_id: r.actor_user_id,
            actor_api_key_id: r.actor_api_key_id,
            action: r.action,
            target_kind: r.target_kind,
            target_id: r.target_id,
            summary: serde_json::from_str(&r.summary)
                .unwrap_or(serde_json::Value::String(r.summary)),
            ip: r.ip,
            created_at: r.created_at,
        }
    }
}

/// The answer of `GET /audit-events/verify`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChainVerification {
    pub valid: bool,
    /// How many events were checked.
    pub checked: u64,
    /// The first event whose link does not hold.
    pub first_broken_event_id: Option<Uuid>,
}

/// `?actor=&action=&from=&to=&q=&limit=&cursor=` (and `workspaceId`, see below): the filters of the API route and
/// of the dashboard's page (which fills `actor` from an email or a name, and `from` and `to`
/// from days).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditQuery {
    #[serde(default, deserialize_with = "crate::extract::integral_param")]
    pub limit: Option<u32>,
    pub cursor: Option<String>,
    // `workspaceId` is read by the guard: it is part of the caller's `AuditScope`.
    pub actor: Option<String>,
    pub action: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    /// What the action, or the acting user's email or name, contains (case-insensitively).
    pub q: Option<String>,
}

fn parse_uuid(field: &'static str, v: Option<&str>) -> Result<Option<Uuid>, DomainError> {
    v.filter(|s| !s.is_empty())
        .map(|s| {
            s.trim()
                .parse::<Uuid>()
                .map_err(|_| DomainError::invalid(field, "must be an id"))
        })
        .transpose()
}

fn parse_time(field: &'static str, v: Option<&str>) -> Result<Option<Timestamp>, DomainError> {
    v.filter(|s| !s.is_empty())
        .map(|s| {
            Timestamp::parse_rfc3339(s.trim())
                .ok_or_else(|| DomainError::invalid(field, "must be an RFC 3339 time"))
        })
        .transpose()
}

impl AuditQuery {
    /// The caller's filter, within what their scope lets them read (the guard has checked
    /// `workspaceId` against the scope).
    pub fn filter(&self) -> Result<AuditFilter, DomainError> {
        Ok(AuditFilter {
            actor: parse_uuid("actor", self.actor.as_deref())?,
            action: self.action.clone().filter(|a| !a.is_empty()),
            from: parse_time("from", self.from.as_deref())?,
            to: parse_time("to", self.to.as_deref())?,
            search: Search::new(self.q.as_deref())?,
        })
    }
}

fn wants_csv(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("text/csv"))
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn list(
    State(state): State<AppState>,
    Audit(scope): Audit,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<Response> {
    let filter = q.filter()?;
    if wants_csv(&headers) {
        let csv = audit_csv(&state, &scope, &filter).await?;
        return Ok(super::csv_download("audit-events.csv", csv));
    }
    let page = PageRequest::new(q.limit, q.cursor.as_deref())?;
    let p = state.store.list_audit_events(&scope, &filter, page).await?;
    Ok(Json(List::from(p.map(AuditEventView::from))).into_response())
}

/// Every event of `scope` that `filter` selects (at most `CSV_MAX_ROWS`), newest first, as
/// CSV: the export of the API route and of the dashboard's download.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn audit_csv(
    state: &AppState,
    scope: &AuditScope,
    filter: &AuditFilter,
) -> ApiResult<String> {
    let mut rows = Vec::new();
    let mut page = PageRequest::new(Some(flowspace_core::cursor::MAX_LIMIT), None)?;
    loop {
        let p = state.store.list_audit_events(scope, filter, page).await?;
        rows.extend(p.items);
        match p.next {
            Some(next) if rows.len() < CSV_MAX_ROWS => page.after = Some(next),
            _ => break,
        }
    }
    rows.truncate(CSV_MAX_ROWS);
    Ok(to_csv(rows.into_iter().map(AuditEventView::from)))
}

fn to_csv(rows: impl Iterator<Item = AuditEventView>) -> String {
    let opt = |u: Option<Uuid>| u.map(|u| u.to_string()).unwrap_or_default();
    let mut out = String::from(
        "id,seq,createdAt,workspaceId,actorType,actorUserId,actorApiKeyId,action,targetKind,targetId,ip,summary\r\n",
    );
    for r in rows {
        let fields = [
            r.id.to_string(),
            r.seq.map(|s| s.to_string()).unwrap_or_default(),
            r.created_at.to_string(),
            opt(r.workspace_id),
            r.actor_type.to_string(),
            opt(r.actor_user_id),
            opt(r.actor_api_key_id),
            r.action,
            r.target_kind,
            opt(r.target_id),
            r.ip.unwrap_or_default(),
            r.summary.to_string(),
        ];
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    out
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn verify(
    State(state): State<AppState>,
    Admin(admin): Admin,
) -> ApiResult<Json<ChainVerification>> {
    verify_chain(&state, &admin).await.map(Json)
}

/// Recomputes the organization's audit hash chain.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn verify_chain(state: &AppState, admin: &AdminScope) -> ApiResult<ChainVerification> {
    let check = state
        .store
        .verify_audit_chain(admin)
        .await
        .map_err(ApiError::from)?;
    Ok(ChainVerification {
        valid: check.valid,
        checked: check.checked,
        first_broken_event_id: check.first_broken,
    })
}
