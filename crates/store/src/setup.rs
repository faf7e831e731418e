//! First run (rule 1): the first organization, its owner (who becomes the instance admin), the
//! built-in roles and the Default workspace, created in one transaction, once (`rules::check_first_setup` decides from the
//! setup read in that transaction).

use crate::audit::{AuditContext, AuditEvent, insert_audit};
use crate::organizations::insert_organization;
use crate::types::Ts;
use crate::{Store, db_err, unique_or, with_db};
use flowspace_core::ids::{OrganizationId, UserId, WorkspaceId};
use flowspace_core::rules;
use flowspace_core::time::Timestamp;
use flowspace_core::{DomainError, DomainResult};

pub struct SetupInput {
    pub organization_name: String,
    pub name: String,
    pub email: String,
    pub password_hash: String,
}

/// What setup created.
pub struct SetupOutcome {
    pub organization: OrganizationId,
    pub user: UserId,
    pub workspace: WorkspaceId,
}

/// A setup that found a unique row taken lost the race to a concurrent one: rule 1 answers
/// as if it had read that setup done.
fn refused_if_taken(e: sqlx::Error) -> DomainError {
    match rules::check_first_setup(true) {
        Err(refusal) => unique_or(e, refusal),
        Ok(()) => db_err(e),
    }
}

impl Store {
    pub async fn is_setup_done(&self) -> DomainResult<bool> {
        let n: i64 = with_db!(self, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM setup_state")
                .fetch_one(pool)
                .await
                .map_err(db_err)?
        });
        Ok(n > 0)
    }

    pub async fn setup(&self, input: SetupInput) -> DomainResult<SetupOutcome> {
        self.setup_from(input, None).await
    }

    /// Setup, recorded in the new organization's audit trail as coming from `ip`.
    #[tracing::instrument(skip_all)]
    pub async fn setup_from(
        &self,
        input: SetupInput,
        ip: Option<String>,
    ) -> DomainResult<SetupOutcome> {
        let now = Ts(Timestamp::now());
        let org = OrganizationId::new();
        let user = UserId::new();
        let ws = WorkspaceId::new();
        let email_key = flowspace_core::rules::normalize_email(&input.email);
        let ctx = AuditContext {
            organization: org,
            actor: flowspace_core::authz::Actor::User(user),
            ip,
        };
        let ev = AuditEvent {
            workspace: Some(ws),
            action: "organization.setup",
            target_kind: "organization",
            target_id: Some(org.0),
            summary: serde_json::json!({"organization": input.organization_name, "email": input.email}),
        };
        with_db!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = pool.begin().await.map_err(db_err)?;
            // Write first, so that SQLite takes its write lock at once (a read-then-write
            // transaction fails when another writer commits in between).
            let admin_role = insert_organization(&mut tx, org, ws, &input.organization_name, user, now).await?;
            let done: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM setup_state")
                .fetch_one(&mut *tx).await.map_err(db_err)?;
            rules::check_first_setup(done > 0)?;
            // On PostgreSQL a concurrent setup may still commit after that read: the singleton
            // row it took refuses this one.
            sqlx::query("INSERT INTO setup_state (singleton, organization_id, completed_at) VALUES (1, $1, $2)")
                .bind(org.0).bind(now)
                .execute(&mut *tx).await.map_err(refused_if_taken)?;
            sqlx::query("INSERT INTO users (id, email, email_key, name, name_key, password_hash, status, is_instance_admin, last_workspace_id, created_at, updated_at)
                         VALUES ($1, $2, $3, $4, $8, $5, 'active', TRUE, $6, $7, $7)")
                .bind(user.0).bind(&input.email).bind(&email_key).bind(&input.name)
                .bind(&input.password_hash).bind(ws.0).bind(now).bind(input.name.to_lowercase())
                .execute(&mut *tx).await.map_err(refused_if_taken)?;
            sqlx::query("INSERT INTO org_members (organization_id, user_id, role, status, created_at, updated_at)
                         VALUES ($1, $2, 'owner', 'active', $3, $3)")
                .bind(org.0).bind(user.0).bind(now)
                .execute(&mut *tx).await.map_err(db_err)?;
            sqlx::query("INSERT INTO memberships (workspace_id, user_id, role_id, created_at) VALUES ($1, $2, $3, $4)")
                .bind(ws.0).bind(user.0).bind(admin_role.0).bind(now)
                .execute(&mut *tx).await.map_err(db_err)?;
            insert_audit(&mut tx, &ctx, &ev).await?;
            tx.commit().await.map_err(db_err)?;
        });
        Ok(SetupOutcome {
            organization: org,
            user,
            workspace: ws,
        })
    }
}
