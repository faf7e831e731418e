//! Roles (rule 8): the built-in three of every organization and its custom roles.

use crate::audit::{AuditContext, AuditEvent, changes, insert_audit};
use crate::invitations::Invitation;
use crate::types::{Ts, perms_from_text, perms_to_text};
use crate::{Store, db_err, unique_or, with_db};
use flowspace_core::authz::{AdminScope, InOrganization};
use flowspace_core::ids::RoleId;
use flowspace_core::model::Role;
use flowspace_core::permissions::{Permission, PermissionSet};
use flowspace_core::rules;
use flowspace_core::time::Timestamp;
use flowspace_core::{DomainError, DomainResult};
use serde_json::json;
use uuid::Uuid;

const ROLE_SELECT: &str = "SELECT r.id, r.name, r.description, r.permissions, r.builtin,
        (SELECT COUNT(*) FROM memberships m WHERE m.role_id = r.id)
          + (SELECT COUNT(*) FROM workspace_groups g WHERE g.role_id = r.id) AS in_use,
        r.created_at, r.updated_at
    FROM roles r";

#[derive(sqlx::FromRow)]
struct RoleRow {
    id: Uuid,
    name: String,
    description: Option<String>,
    permissions: String,
    builtin: bool,
    in_use: i64,
    created_at: Ts,
    updated_at: Ts,
}

impl RoleRow {
    fn into_role(self) -> DomainResult<Role> {
        Ok(Role {
            id: RoleId(self.id),
            name: self.name,
            description: self.description,
            permissions: perms_from_text(&self.permissions)?,
            builtin: self.builtin,
            in_use: self.in_use,
            created_at: self.created_at.0,
            updated_at: self.updated_at.0,
        })
    }
}

fn name_taken() -> DomainError {
    DomainError::conflict("role_name_taken", "a role with this name already exists")
}

/// The audit event of an edit of `current`: what changed of name, description and
/// permissions.
fn update_event(
    current: &Role,
    name: &str,
    description: Option<&str>,
    permissions: PermissionSet,
) -> AuditEvent {
    let mut summary = changes(&[
        ("name", json!(current.name), json!(name)),
        (
            "description",
            json!(current.description),
            json!(description),
        ),
    ]);
    let strings = |v: Vec<Permission>| v.iter().map(ToString::to_string).collect::<Vec<_>>();
    let added = strings(permissions.missing_from(current.permissions));
    let removed = strings(current.permissions.missing_from(permissions));
    if !added.is_empty() || !removed.is_empty() {
        summary.insert(
            "permissions".into(),
            json!({"added": added, "removed": removed}),
        );
    }
    AuditEvent {
        workspace: None,
        action: "role.update",
        target_kind: "role",
        target_id: Some(current.id.0),
        summary: summary.into(),
    }
}

impl Store {
    /// Built-in roles first, then custom roles by name.
    pub async fn list_roles(&self, scope: &impl InOrganization) -> DomainResult<Vec<Role>> {
        let org = scope.organization_id();
        let sql = format!(
            "{ROLE_SELECT} WHERE r.organization_id = $1 ORDER BY r.builtin DESC, r.name_key"
        );
        let rows: Vec<RoleRow> = with_db!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).bind(org.0).fetch_all(pool).await.map_err(db_err)?
        });
        rows.into_iter().map(RoleRow::into_role).collect()
    }

    pub async fn role(&self, scope: &impl InOrganization, id: RoleId) -> DomainResult<Role> {
        let org = scope.organization_id();
        let sql = format!("{ROLE_SELECT} WHERE r.id = $1 AND r.organization_id = $2");
        let row: Option<RoleRow> = with_db!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).bind(id.0).bind(org.0).fetch_optional(pool).await.map_err(db_err)?
        });
        row.ok_or(DomainError::NotFound("role"))?.into_role()
    }

    /// The role an invitation (found by its token) gives, and whether it is the invitation of
    /// its organization's first owner (an invited owner: made with the organization).
    pub async fn invitation_role(&self, inv: &Invitation) -> DomainResult<(Role, bool)> {
        let sql = format!("{ROLE_SELECT} WHERE r.id = $1 AND r.organization_id = $2");
        let (row, owner): (Option<RoleRow>, Option<String>) = with_db!(self, pool => {
            let row = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(inv.role_id.0).bind(inv.organization_id.0).fetch_optional(pool).await.map_err(db_err)?;
            let owner = sqlx::query_scalar(
                "SELECT role FROM org_members WHERE organization_id = $1 AND user_id = $2 AND status = 'invited'")
                .bind(inv.organization_id.0).bind(inv.user_id.0).fetch_optional(pool).await.map_err(db_err)?;
            (row, owner)
        });
        let role = row.ok_or(DomainError::NotFound("role"))?.into_role()?;
        Ok((role, owner.as_deref() == Some("owner")))
    }

    /// A role named by its id or its name (built-in names such as `Viewer` included).
    pub async fn resolve_role(
        &self,
        scope: &impl InOrganization,
        id_or_name: &str,
    ) -> DomainResult<Role> {
        if let Ok(id) = id_or_name.parse::<Uuid>() {
            return self.role(scope, RoleId(id)).await;
        }
        let org = scope.organization_id();
        let sql = format!("{ROLE_SELECT} WHERE r.name_key = $1 AND r.organization_id = $2");
        let row: Option<RoleRow> = with_db!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).bind(id_or_name.trim().to_lowercase()).bind(org.0)
                .fetch_optional(pool).await.map_err(db_err)?
        });
        row.ok_or(DomainError::NotFound("role"))?.into_role()
    }

    pub async fn create_role(
        &self,
        scope: &AdminScope,
        name: &str,
        description: Option<&str>,
        permissions: PermissionSet,
    ) -> DomainResult<Role> {
        let id = RoleId::new();
        let now = Ts(Timestamp::now());
        let ctx = AuditContext::from_admin(scope);
        let ev = AuditEvent {
            workspace: None,
            action: "role.create",
            target_kind: "role",
            target_id: Some(id.0),
            summary: json!({"name": name, "permissions": permissions.to_strings()}),
        };
        with_db!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = pool.begin().await.map_err(db_err)?;
            sqlx::query("INSERT INTO roles (id, organization_id, name, name_key, description, permissions, builtin, created_at, updated_at)
                         VALUES ($1, $2, $3, $4, $5, $6, FALSE, $7, $7)")
                .bind(id.0).bind(scope.organization().0).bind(name).bind(name.to_lowercase())
                .bind(description).bind(perms_to_text(permissions)).bind(now)
                .execute(&mut *tx).await.map_err(|e| unique_or(e, name_taken()))?;
            insert_audit(&mut tx, &ctx, &ev).await?;
            tx.commit().await.map_err(db_err)?;
        });
        self.role(scope, id).await
    }

    /// Rule 8: edits a custom role, as `rules::check_role_editable` allows from the role read
    /// in this transaction (never a built-in one).
    pub async fn update_role(
        &self,
        scope: &AdminScope,
        id: RoleId,
        name: &str,
        description: Option<&str>,
        permissions: PermissionSet,
    ) -> DomainResult<Role> {
        let now = Ts(Timestamp::now());
        let ctx = AuditContext::from_admin(scope);
        let sql = format!("{ROLE_SELECT} WHERE r.id = $1 AND r.organization_id = $2");
        with_db!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = pool.begin().await.map_err(db_err)?;
            // Lock the role's row before reading it, with a write of a column no trigger
            // watches: on SQLite that takes the write lock at once (a read-then-write
            // transaction fails when another writer commits in between); on PostgreSQL nothing
            // changes the role between this read and the update below, and the role's row is
            // still taken before the organization's, as it was by the update alone.
            sqlx::query("UPDATE roles SET updated_at = updated_at WHERE id = $1 AND organization_id = $2")
                .bind(id.0).bind(scope.organization().0).execute(&mut *tx).await.map_err(db_err)?;
            let row: Option<RoleRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(id.0).bind(scope.organization().0).fetch_optional(&mut *tx).await.map_err(db_err)?;
            let current = row.ok_or(DomainError::NotFound("role"))?.into_role()?;
            rules::check_role_editable(current.builtin)?;
            sqlx::query("UPDATE roles SET name = $1, name_key = $2, description = $3, permissions = $4, updated_at = $5
                         WHERE id = $6 AND organization_id = $7")
                .bind(name).bind(name.to_lowercase()).bind(description).bind(perms_to_text(permissions)).bind(now)
                .bind(id.0).bind(scope.organization().0)
                .execute(&mut *tx).await.map_err(|e| unique_or(e, name_taken()))?;
            insert_audit(&mut tx, &ctx, &update_event(&current, name, description, permissions)).await?;
            tx.commit().await.map_err(db_err)?;
        });
        self.role(scope, id).await
    }

    /// Rule 8: deletes a custom role that nobody holds. The delete's own condition is what
    /// makes it race-free; when it deletes nothing, `rules::role_delete_refusal` says why from
    /// the role read after it (409 with the count when it is in use).
    pub async fn delete_role(&self, scope: &AdminScope, id: RoleId) -> DomainResult<()> {
        let ctx = AuditContext::from_admin(scope);
        let deleted: Option<String> = with_db!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = pool.begin().await.map_err(db_err)?;
            let gone: Option<String> = sqlx::query_scalar("DELETE FROM roles WHERE id = $1 AND organization_id = $2 AND builtin = FALSE
                           AND NOT EXISTS (SELECT 1 FROM memberships m WHERE m.role_id = $1)
                           AND NOT EXISTS (SELECT 1 FROM workspace_groups g WHERE g.role_id = $1)
                         RETURNING name")
                .bind(id.0).bind(scope.organization().0)
                .fetch_optional(&mut *tx).await.map_err(db_err)?;
            if let Some(name) = &gone {
                let ev = AuditEvent {
                    workspace: None,
                    action: "role.delete",
                    target_kind: "role",
                    target_id: Some(id.0),
                    summary: json!({"name": name}),
                };
                insert_audit(&mut tx, &ctx, &ev).await?;
                tx.commit().await.map_err(db_err)?;
            }
            gone
        });
        if deleted.is_some() {
            return Ok(());
        }
        let role = self.role(scope, id).await?;
        Err(rules::role_delete_refusal(role.builtin, role.in_use))
    }
}
