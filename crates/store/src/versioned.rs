//! The one path of the writes that are conditional on a version (rule 13): the workspace
//! resources of every kind (items, credentials, API keys) are updated and deleted only at the
//! version the client read, and a write that matched no row is told apart here, once:
//! gone or outside the scope (404), shared into the workspace and so read-only (403), or
//! changed meanwhile (409 with both versions).

use crate::audit::{AuditContext, AuditEvent, AuditTx, Verb, kind_action};
use crate::{Store, db_err, with_db};
use flowspace_core::authz::WorkspaceScope;
use flowspace_core::ids::ItemId;
use flowspace_core::resource::ResourceKind;
use flowspace_core::rules::CredentialWrite;
use flowspace_core::{DomainError, DomainResult, rules};
use serde_json::json;

/// The table that holds resources of `kind`, whether it holds other kinds too (then every
/// statement filters by the kind as well), and what a conflict message calls such a row.
fn table(kind: ResourceKind) -> (&'static str, bool, &'static str) {
    match kind {
        ResourceKind::ApiKey => ("api_keys", false, "key"),
        ResourceKind::Credential => ("credentials", false, "credential"),
        _ => ("items", true, "item"),
    }
}

impl AuditEvent {
    /// The event of `verb` done to the resource `id` of `kind` in the scope's workspace.
    pub(crate) fn of_resource(
        scope: &WorkspaceScope,
        kind: ResourceKind,
        verb: Verb,
        id: ItemId,
        summary: serde_json::Value,
    ) -> Self {
        Self {
            workspace: Some(scope.workspace()),
            action: kind_action(kind, verb),
            target_kind: kind.db_name(),
            target_id: Some(id.0),
            summary,
        }
    }
}

/// Records `ev` and commits when the conditional write before it in `tx` matched a row;
/// otherwise drops `tx`, which rolls it back. Answers whether it matched.
pub(crate) async fn commit_if_matched<T: AuditTx>(
    mut tx: T,
    matched: bool,
    ctx: &AuditContext,
    ev: &AuditEvent,
) -> DomainResult<bool> {
    if matched {
        tx.insert_audit(ctx, ev).await?;
        tx.finish().await?;
    }
    Ok(matched)
}

impl Store {
    /// Deletes the resource `id` of `kind` (an item, a credential or an API key) in the
    /// scope's workspace, with its audit event; with `expected_version`, only at that version.
    #[tracing::instrument(skip_all, fields(kind = kind.db_name()))]
    pub async fn delete_resource(
        &self,
        scope: &WorkspaceScope,
        kind: ResourceKind,
        id: ItemId,
        expected_version: Option<i64>,
    ) -> DomainResult<()> {
        let (table, by_kind, _) = table(kind);
        let sql = format!(
            "DELETE FROM {table} WHERE id = $1 AND workspace_id = $2 AND ($3 IS NULL OR version = $3){}
             RETURNING name, version",
            if by_kind { " AND kind = $4" } else { "" }
        );
        let ctx = AuditContext::from_scope(scope);
        let deleted = with_db!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = pool.begin().await.map_err(db_err)?;
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(id.0).bind(scope.workspace().0).bind(expected_version);
            if by_kind {
                q = q.bind(kind.db_name());
            }
            let gone: Option<(String, i64)> = q.fetch_optional(&mut *tx).await.map_err(db_err)?;
            let summary = gone.as_ref().map(|(name, version)| json!({"name": name, "version": version}));
            let ev = AuditEvent::of_resource(scope, kind, Verb::Delete, id, summary.unwrap_or_default());
            commit_if_matched(tx, gone.is_some(), &ctx, &ev).await?
        });
        if deleted {
            return Ok(());
        }
        Err(self.write_conflict(scope, kind, id, expected_version).await)
    }

    /// Why a write of the resource `id` of `kind` at `expected_version` (`None`: any) matched
    /// no row, read after it: the error of reading it for writing (404 when it is gone or
    /// outside the scope, 403 when it is a credential only shared into the workspace), else
    /// the version conflict (409).
    pub(crate) async fn write_conflict(
        &self,
        scope: &WorkspaceScope,
        kind: ResourceKind,
        id: ItemId,
        expected_version: Option<i64>,
    ) -> DomainError {
        let current = match kind {
            ResourceKind::ApiKey => self.get_api_key(scope, id).await.map(|k| k.version),
            ResourceKind::Credential => self
                .writable_credential(scope, id, CredentialWrite::Change)
                .await
                .map(|c| c.version),
            _ => self.get_item(scope, kind, id).await.map(|i| i.version),
        };
        let checked = current.and_then(|v| rules::check_version(v, expected_version.unwrap_or(v)));
        match checked {
            Err(e) => e,
            // Matched nothing, yet is there at the version sent: it changed and changed back
            // between the write and this read.
            Ok(()) => DomainError::conflict(
                "version_conflict",
                format!("the {} changed meanwhile; read it again", table(kind).2),
            ),
        }
    }
}
