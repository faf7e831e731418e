//! Registration: following an invitation (rule 9). Spending its token is one conditional
//! `UPDATE` inside the transaction that activates the account (or takes an existing one: an
//! invitation into another organization, SPEC §7) and adds the memberships, so two concurrent
//! sign-ups with one token produce one winner.

use crate::audit::{AuditContext, AuditEvent, insert_audit};
use crate::invitations::TokenCheck;
use crate::types::Ts;
use crate::{Store, db_err, with_db};
use flowspace_core::DomainResult;
use flowspace_core::authz::Actor;
use flowspace_core::ids::WorkspaceId;
use flowspace_core::model::User;
use flowspace_core::time::Timestamp;

/// How an invitation is accepted.
pub enum Acceptance<'a> {
    /// An account that has not signed up: it is activated with this name and password hash.
    SignUp {
        name: &'a str,
        password_hash: &'a str,
    },
    /// An account that has signed up already (an invitation into another organization): the
    /// caller has checked its password.
    Existing,
}

impl Store {
    /// Spends an invitation token: activates the invited account (or takes the existing one),
    /// makes it an active member of the invitation's organization and adds the workspace
    /// membership, in one transaction. Answers the user as that organization sees them, and
    /// the workspace.
    #[tracing::instrument(skip_all)]
    pub async fn accept_invitation(
        &self,
        token_hash: &[u8],
        how: Acceptance<'_>,
        ip: Option<&str>,
    ) -> DomainResult<TokenCheck<(User, WorkspaceId)>> {
        let inv = match self.invitation_by_token(token_hash).await? {
            TokenCheck::Valid(i) => i,
            TokenCheck::Expired => return Ok(TokenCheck::Expired),
            TokenCheck::Invalid => return Ok(TokenCheck::Invalid),
        };
        let now = Ts(Timestamp::now());
        let ctx = AuditContext {
            organization: inv.organization_id,
            actor: Actor::User(inv.user_id),
            ip: ip.map(str::to_string),
        };
        let spent = with_db!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = pool.begin().await.map_err(db_err)?;
            let n = sqlx::query("UPDATE invitations SET accepted_at = $1
                                 WHERE id = $2 AND token_hash = $3 AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $1")
                .bind(now).bind(inv.id).bind(token_hash).execute(&mut *tx).await.map_err(db_err)?.rows_affected();
            let u = match how {
                Acceptance::SignUp { name, password_hash } => sqlx::query(
                    "UPDATE users SET name = $1, name_key = $6, password_hash = $2, status = 'active', updated_at = $3, last_workspace_id = $4
                     WHERE id = $5 AND status = 'invited'")
                    .bind(name).bind(password_hash).bind(now).bind(inv.workspace_id.0).bind(inv.user_id.0).bind(name.to_lowercase())
                    .execute(&mut *tx).await.map_err(db_err)?.rows_affected(),
                Acceptance::Existing => sqlx::query(
                    "UPDATE users SET last_workspace_id = $1 WHERE id = $2 AND status = 'active'")
                    .bind(inv.workspace_id.0).bind(inv.user_id.0)
                    .execute(&mut *tx).await.map_err(db_err)?.rows_affected(),
            };
            if n == 1 && u == 1 {
                sqlx::query("INSERT INTO org_members (organization_id, user_id, role, status, last_workspace_id, created_at, updated_at)
                             VALUES ($1, $2, 'member', 'active', $3, $4, $4)
                             ON CONFLICT (organization_id, user_id) DO UPDATE
                             SET status = CASE WHEN org_members.status = 'invited' THEN 'active' ELSE org_members.status END,
                                 last_workspace_id = excluded.last_workspace_id, updated_at = excluded.updated_at")
                    .bind(inv.organization_id.0).bind(inv.user_id.0).bind(inv.workspace_id.0).bind(now)
                    .execute(&mut *tx).await.map_err(db_err)?;
                sqlx::query("INSERT INTO memberships (workspace_id, user_id, role_id, created_at) VALUES ($1, $2, $3, $4)
                             ON CONFLICT (workspace_id, user_id) DO UPDATE SET role_id = excluded.role_id")
                    .bind(inv.workspace_id.0).bind(inv.user_id.0).bind(inv.role_id.0).bind(now)
                    .execute(&mut *tx).await.map_err(db_err)?;
                let ev = AuditEvent {
                    workspace: Some(inv.workspace_id),
                    action: "invitation.accept",
                    target_kind: "invitation",
                    target_id: Some(inv.id),
                    summary: serde_json::json!({"email": inv.email, "roleId": inv.role_id.to_string()}),
                };
                insert_audit(&mut tx, &ctx, &ev).await?;
                tx.commit().await.map_err(db_err)?;
                true
            } else {
                tx.rollback().await.map_err(db_err)?;
                false
            }
        });
        if !spent {
            return Ok(TokenCheck::Invalid);
        }
        Ok(TokenCheck::Valid((
            self.user_in_org(inv.organization_id, inv.user_id).await?,
            inv.workspace_id,
        )))
    }
}
