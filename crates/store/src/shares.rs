//! Sharing a credential with other workspaces of its organization (rule 11). Only the owner
//! workspace shares (`rules::check_credential_writable`); the set is replaced as a whole, in one transaction with its audit event.

use crate::audit::{AuditContext, AuditEvent, insert_audit};
use crate::types::Ts;
use crate::{Store, db_err, with_db};
use flowspace_core::authz::WorkspaceScope;
use flowspace_core::ids::{ItemId, WorkspaceId};
use flowspace_core::model::WorkspaceRef;
use flowspace_core::rules::{self, CredentialWrite};
use flowspace_core::time::Timestamp;
use flowspace_core::{DomainError, DomainResult};
use uuid::Uuid;

impl Store {
    /// The workspaces a credential owned by the scope's workspace is shared with.
    pub async fn credential_shares(
        &self,
        scope: &WorkspaceScope,
        id: ItemId,
    ) -> DomainResult<Vec<WorkspaceRef>> {
        self.writable_credential(scope, id, CredentialWrite::Share)
            .await?;
        let rows: Vec<(Uuid, String)> = with_db!(self, pool => {
            sqlx::query_as("SELECT w.id, w.name FROM credential_shares s JOIN workspaces w ON w.id = s.workspace_id
                            WHERE s.credential_id = $1 ORDER BY w.name, w.id")
                .bind(id.0).fetch_all(pool).await.map_err(db_err)?
        });
        Ok(rows
            .into_iter()
            .map(|(id, name)| WorkspaceRef {
                id: WorkspaceId(id),
                name,
            })
            .collect())
    }

    /// Replaces the set of workspaces the credential is shared with.
    pub async fn set_credential_shares(
        &self,
        scope: &WorkspaceScope,
        id: ItemId,
        targets: &[WorkspaceId],
        ctx: &AuditContext,
    ) -> DomainResult<Vec<WorkspaceRef>> {
        self.writable_credential(scope, id, CredentialWrite::Share)
            .await?;
        rules::check_share_targets(scope.workspace(), targets)?;
        let now = Ts(Timestamp::now());
        let org = scope.organization();
        with_db!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = pool.begin().await.map_err(db_err)?;
            sqlx::query("DELETE FROM credential_shares WHERE credential_id = $1")
                .bind(id.0).execute(&mut *tx).await.map_err(db_err)?;
            for ws in targets {
                // The target must be a workspace of the same organization that the caller
                // belongs to (any, for the Account Admin): anything else is a workspace that
                // does not exist, and nothing is written.
                let n = sqlx::query("INSERT INTO credential_shares (credential_id, workspace_id, created_at)
                                     SELECT $1, w.id, $3 FROM workspaces w WHERE w.id = $2 AND w.organization_id = $4
                                       AND ($5 OR EXISTS (SELECT 1 FROM memberships m WHERE m.workspace_id = w.id AND m.user_id = $6))
                                     ON CONFLICT (credential_id, workspace_id) DO NOTHING")
                    .bind(id.0).bind(ws.0).bind(now).bind(org.0).bind(scope.is_account_admin()).bind(scope.user_id().0)
                    .execute(&mut *tx).await.map_err(|e| match &e {
                        // The credential was deleted meanwhile.
                        sqlx::Error::Database(d) if d.is_foreign_key_violation() => DomainError::NotFound("credential"),
                        _ => db_err(e),
                    })?.rows_affected();
                if n == 0 {
                    return Err(DomainError::NotFound("workspace"));
                }
            }
            let ev = AuditEvent {
                workspace: Some(scope.workspace()),
                action: "credential.share",
                target_kind: "credential",
                target_id: Some(id.0),
                summary: serde_json::json!({"workspaceIds": targets.iter().map(|w| w.to_string()).collect::<Vec<_>>()}),
            };
            insert_audit(&mut tx, ctx, &ev).await?;
            tx.commit().await.map_err(db_err)?;
        });
        self.credential_shares(scope, id).await
    }
}
