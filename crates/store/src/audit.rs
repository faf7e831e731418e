//! Audit events, written in the same transaction as the change they record.

use crate::types::Ts;
use crate::{Store, db_err, with_db};
use flowspace_core::DomainResult;
use flowspace_core::authz::Actor;
use flowspace_core::ids::{OrganizationId, WorkspaceId};
use flowspace_core::time::Timestamp;
use uuid::Uuid;

/// Who acted and from where, as the server knows it.
#[derive(Clone, Debug)]
pub struct AuditContext {
    pub organization: OrganizationId,
    pub actor: Actor,
    pub ip: Option<String>,
}

/// One event to record.
#[derive(Clone, Debug)]
pub struct AuditEvent {
    pub workspace: Option<WorkspaceId>,
    pub action: &'static str,
    pub target_kind: &'static str,
    pub target_id: Option<Uuid>,
    pub summary: serde_json::Value,
}

/// Inserts `$ev` for `$ctx` through the executor `$exec` (a transaction of either backend).
macro_rules! insert_audit {
    ($exec:expr, $ctx:expr, $ev:expr) => {{
        let ctx: &$crate::audit::AuditContext = $ctx;
        let ev: &$crate::audit::AuditEvent = $ev;
        let (user, key) = match ctx.actor {
            flowspace_core::authz::Actor::User(u) => (Some(u.0), None),
            flowspace_core::authz::Actor::ApiKey { key, creator } => (Some(creator.0), Some(key.0)),
        };
        sqlx::query(
            "INSERT INTO audit_events (id, organization_id, workspace_id, actor_user_id, actor_api_key_id, action,
                 target_kind, target_id, summary, ip, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(uuid::Uuid::now_v7())
        .bind(ctx.organization.0)
        .bind(ev.workspace.map(|w| w.0))
        .bind(user)
        .bind(key)
        .bind(ev.action)
        .bind(ev.target_kind)
        .bind(ev.target_id)
        .bind(ev.summary.to_string())
        .bind(ctx.ip.as_deref())
        .bind($crate::types::Ts(flowspace_core::time::Timestamp::now()))
        .execute($exec)
        .await
        .map_err($crate::db_err)
    }};
}
pub(crate) use insert_audit;

/// A recorded event, as tests and (later) the audit API read it.
#[derive(Clone, Debug)]
pub struct AuditRow {
    pub workspace: Option<WorkspaceId>,
    pub actor_user_id: Option<Uuid>,
    pub actor_api_key_id: Option<Uuid>,
    pub action: String,
    pub target_kind: String,
    pub target_id: Option<Uuid>,
    pub summary: String,
    pub created_at: Timestamp,
}

impl Store {
    /// Records one event on its own (for an action that changes nothing else, such as
    /// revealing a credential's secret).
    pub async fn record_audit(&self, ctx: &AuditContext, ev: &AuditEvent) -> DomainResult<()> {
        with_db!(self, pool => { insert_audit!(pool, ctx, ev)?; });
        Ok(())
    }

    /// The organization's events, newest first.
    pub async fn audit_events(
        &self,
        org: OrganizationId,
        limit: i64,
    ) -> DomainResult<Vec<AuditRow>> {
        type Row = (
            Option<Uuid>,
            Option<Uuid>,
            Option<Uuid>,
            String,
            String,
            Option<Uuid>,
            String,
            Ts,
        );
        let rows: Vec<Row> = with_db!(self, pool => {
            sqlx::query_as("SELECT workspace_id, actor_user_id, actor_api_key_id, action, target_kind, target_id, summary, created_at
                            FROM audit_events WHERE organization_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2")
                .bind(org.0).bind(limit).fetch_all(pool).await.map_err(db_err)?
        });
        Ok(rows
            .into_iter()
            .map(
                |(w, u, k, action, target_kind, target_id, summary, at)| AuditRow {
                    workspace: w.map(WorkspaceId),
                    actor_user_id: u,
                    actor_api_key_id: k,
                    action,
                    target_kind,
                    target_id,
                    summary,
                    created_at: at.0,
                },
            )
            .collect())
    }
}
