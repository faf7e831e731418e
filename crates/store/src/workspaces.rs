//! Workspaces and memberships (rules 5, 6, 7).

use crate::audit::{AuditContext, AuditEvent, changes, insert_audit};
use crate::types::Ts;
use crate::{Store, db_err, unique_or, with_db};
use flowspace_core::authz::{AdminScope, WorkspaceScope};
use flowspace_core::cursor::{Cursor, Page, PageRequest, Search};
use flowspace_core::ids::{OrganizationId, RoleId, UserId, WorkspaceId};
use flowspace_core::model::{Member, UserStatus, Workspace};
use flowspace_core::rules;
use flowspace_core::time::Timestamp;
use flowspace_core::{DomainError, DomainResult};
use serde_json::json;
use uuid::Uuid;

const WORKSPACE_SELECT: &str =
    "SELECT w.id, w.organization_id, w.name, w.description, w.color, w.icon, w.is_default,
        (SELECT COUNT(*) FROM memberships m WHERE m.workspace_id = w.id) AS member_count,
        w.created_at, w.updated_at
    FROM workspaces w";

#[derive(sqlx::FromRow)]
struct WorkspaceRow {
    id: Uuid,
    organization_id: Uuid,
    name: String,
    description: Option<String>,
    color: Option<String>,
    icon: Option<String>,
    is_default: bool,
    member_count: i64,
    created_at: Ts,
    updated_at: Ts,
}

impl From<WorkspaceRow> for Workspace {
    fn from(r: WorkspaceRow) -> Self {
        Workspace {
            id: WorkspaceId(r.id),
            organization_id: OrganizationId(r.organization_id),
            name: r.name,
            description: r.description,
            color: r.color,
            icon: r.icon,
            is_default: r.is_default,
            member_count: r.member_count,
            created_at: r.created_at.0,
            updated_at: r.updated_at.0,
        }
    }
}

pub struct NewWorkspace {
    pub name: String,
    pub description: Option<String>,
    pub color: Option<String>,
    pub icon: Option<String>,
}

#[derive(Default)]
pub struct WorkspacePatch {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub color: Option<Option<String>>,
    pub icon: Option<Option<String>>,
}

fn name_taken() -> DomainError {
    DomainError::conflict(
        "workspace_name_taken",
        "a workspace with this name already exists in the organization",
    )
}

impl Store {
    /// The workspaces a user belongs to, directly or through a group (every workspace of the
    /// organization for the Account Admin), Default first, then by name.
    pub async fn list_workspaces(
        &self,
        org: OrganizationId,
        user: UserId,
        is_admin: bool,
    ) -> DomainResult<Vec<Workspace>> {
        let sql = format!(
            "{WORKSPACE_SELECT} WHERE w.organization_id = $1
               AND ($3 OR EXISTS (SELECT 1 FROM memberships m WHERE m.workspace_id = w.id AND m.user_id = $2)
                    OR EXISTS (SELECT 1 FROM workspace_groups wg JOIN group_members gm ON gm.group_id = wg.group_id
                               WHERE wg.workspace_id = w.id AND gm.user_id = $2))
             ORDER BY w.is_default DESC, w.name"
        );
        let rows: Vec<WorkspaceRow> = with_db!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).bind(org.0).bind(user.0).bind(is_admin)
                .fetch_all(pool).await.map_err(db_err)?
        });
        Ok(rows.into_iter().map(Workspace::from).collect())
    }

    /// A bounded, searched slice of what `list_workspaces` answers (a workspace picker, the
    /// switcher): those whose name contains `search` (case-insensitive), Default first, then
    /// by name, at most `limit`; and whether more match. The workspaces are chosen in SQL, so
    /// an organization with 10,000 of them is never read whole.
    pub async fn find_workspaces(
        &self,
        org: OrganizationId,
        user: UserId,
        is_admin: bool,
        search: &Search,
        limit: u32,
    ) -> DomainResult<(Vec<Workspace>, bool)> {
        // The ids are chosen first, so the member counts are counted for those alone.
        let sql = format!(
            "{WORKSPACE_SELECT} WHERE w.id IN (
               SELECT f.id FROM workspaces f WHERE f.organization_id = $1
                 AND ($4 IS NULL OR f.name_key LIKE $4 ESCAPE '\\')
                 AND ($3 OR EXISTS (SELECT 1 FROM memberships m WHERE m.workspace_id = f.id AND m.user_id = $2)
                      OR EXISTS (SELECT 1 FROM workspace_groups wg JOIN group_members gm ON gm.group_id = wg.group_id
                                 WHERE wg.workspace_id = f.id AND gm.user_id = $2))
                 ORDER BY f.is_default DESC, f.name LIMIT $5)
             ORDER BY w.is_default DESC, w.name"
        );
        let fetch = i64::from(limit) + 1;
        let mut rows: Vec<WorkspaceRow> = with_db!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(org.0).bind(user.0).bind(is_admin).bind(search.like_pattern()).bind(fetch)
                .fetch_all(pool).await.map_err(db_err)?
        });
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        Ok((rows.into_iter().map(Workspace::from).collect(), more))
    }

    /// Workspace `id` of `org`, if it is one of `org`'s (a name to show, a choice to check).
    pub async fn workspace_of(
        &self,
        org: OrganizationId,
        id: WorkspaceId,
    ) -> DomainResult<Option<Workspace>> {
        match self.workspace_in_org(org, id).await {
            Ok(w) => Ok(Some(w)),
            Err(DomainError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The scope's workspace.
    pub async fn workspace(&self, scope: &WorkspaceScope) -> DomainResult<Workspace> {
        self.workspace_in_org(scope.organization(), scope.workspace())
            .await
    }

    async fn workspace_in_org(
        &self,
        org: OrganizationId,
        id: WorkspaceId,
    ) -> DomainResult<Workspace> {
        let sql = format!("{WORKSPACE_SELECT} WHERE w.id = $1 AND w.organization_id = $2");
        let row: Option<WorkspaceRow> = with_db!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).bind(id.0).bind(org.0).fetch_optional(pool).await.map_err(db_err)?
        });
        row.map(Workspace::from)
            .ok_or(DomainError::NotFound("workspace"))
    }

    /// Rule 5: the Account Admin creates a workspace and becomes its member with the Admin role.
    #[tracing::instrument(skip_all)]
    pub async fn create_workspace(
        &self,
        scope: &AdminScope,
        new: NewWorkspace,
    ) -> DomainResult<Workspace> {
        let id = WorkspaceId::new();
        let now = Ts(Timestamp::now());
        let org = scope.organization();
        let ctx = AuditContext::from_admin(scope);
        let ev = AuditEvent {
            workspace: Some(id),
            action: "workspace.create",
            target_kind: "workspace",
            target_id: Some(id.0),
            summary: json!({"name": new.name}),
        };
        with_db!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = pool.begin().await.map_err(db_err)?;
            sqlx::query("INSERT INTO workspaces (id, organization_id, name, name_key, description, color, icon, is_default, created_by, created_at, updated_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, FALSE, $8, $9, $9)")
                .bind(id.0).bind(org.0).bind(&new.name).bind(new.name.to_lowercase())
                .bind(&new.description).bind(&new.color).bind(&new.icon).bind(scope.user_id().0).bind(now)
                .execute(&mut *tx).await.map_err(|e| unique_or(e, name_taken()))?;
            sqlx::query("INSERT INTO memberships (workspace_id, user_id, role_id, created_at)
                         SELECT $1, $2, r.id, $3 FROM roles r WHERE r.organization_id = $4 AND r.builtin = TRUE AND r.name = 'Admin'")
                .bind(id.0).bind(scope.user_id().0).bind(now).bind(org.0)
                .execute(&mut *tx).await.map_err(db_err)?;
            insert_audit(&mut tx, &ctx, &ev).await?;
            tx.commit().await.map_err(db_err)?;
        });
        self.workspace_in_org(org, id).await
    }

    pub async fn update_workspace(
        &self,
        scope: &WorkspaceScope,
        patch: WorkspacePatch,
    ) -> DomainResult<Workspace> {
        let current = self.workspace(scope).await?;
        let name = patch.name.unwrap_or(current.name.clone());
        let description = patch.description.unwrap_or(current.description.clone());
        let color = patch.color.unwrap_or(current.color.clone());
        let icon = patch.icon.unwrap_or(current.icon.clone());
        let now = Ts(Timestamp::now());
        let ctx = AuditContext::from_scope(scope);
        let ev = AuditEvent {
            workspace: Some(scope.workspace()),
            action: "workspace.update",
            target_kind: "workspace",
            target_id: Some(scope.workspace().0),
            summary: changes(&[
                ("name", json!(current.name), json!(name)),
                (
                    "description",
                    json!(current.description),
                    json!(description),
                ),
                ("color", json!(current.color), json!(color)),
                ("icon", json!(current.icon), json!(icon)),
            ])
            .into(),
        };
        with_db!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = pool.begin().await.map_err(db_err)?;
            sqlx::query("UPDATE workspaces SET name = $1, name_key = $2, description = $3, color = $4, icon = $5, updated_at = $6
                         WHERE id = $7 AND organization_id = $8")
                .bind(&name).bind(name.to_lowercase()).bind(&description).bind(&color).bind(&icon).bind(now)
                .bind(scope.workspace().0).bind(scope.organization().0)
                .execute(&mut *tx).await.map_err(|e| unique_or(e, name_taken()))?;
            insert_audit(&mut tx, &ctx, &ev).await?;
            tx.commit().await.map_err(db_err)?;
        });
        self.workspace(scope).await
    }

    /// Rule 6, in one transaction: every item, membership, API key, credential and share of
    /// the workspace goes with it (foreign keys cascade); sessions and users whose active
    /// workspace it was lose it and fall back at their next request. The delete's own
    /// condition is what makes it race-free; when it deletes nothing,
    /// `rules::workspace_delete_refusal` says why from the workspace read after it.
    #[tracing::instrument(skip_all)]
    pub async fn delete_workspace(&self, scope: &AdminScope, id: WorkspaceId) -> DomainResult<()> {
        let org = scope.organization();
        let ctx = AuditContext::from_admin(scope);
        let deleted: Option<String> = with_db!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = pool.begin().await.map_err(db_err)?;
            let gone: Option<String> = sqlx::query_scalar("DELETE FROM workspaces WHERE id = $1 AND organization_id = $2 AND is_default = FALSE
                           AND NOT EXISTS (SELECT 1 FROM memberships m WHERE m.workspace_id = $1 AND m.user_id <> $3)
                         RETURNING name")
                .bind(id.0).bind(org.0).bind(scope.user_id().0)
                .fetch_optional(&mut *tx).await.map_err(db_err)?;
            if let Some(name) = &gone {
                let ev = AuditEvent {
                    workspace: Some(id),
                    action: "workspace.delete",
                    target_kind: "workspace",
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
        // Nothing was deleted: say why.
        let ws = self.workspace_in_org(org, id).await?;
        let others: i64 = with_db!(self, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM memberships WHERE workspace_id = $1 AND user_id <> $2")
                .bind(id.0).bind(scope.user_id().0).fetch_one(pool).await.map_err(db_err)?
        });
        Err(rules::workspace_delete_refusal(ws.is_default, others))
    }

    /// One page of the scope's members (`GET /workspace/{id}/users`), in the order they were
    /// added, those whose name or email contains the search (a keyset page and an escaped
    /// `LIKE` in SQL).
    #[tracing::instrument(skip_all)]
    pub async fn page_members(
        &self,
        scope: &WorkspaceScope,
        search: &Search,
        page: PageRequest,
    ) -> DomainResult<Page<Member>> {
        type Row = (Uuid, String, String, String, bool, Uuid, String, Ts);
        let (after_t, after_id) = match page.after {
            Some(c) => (Some(Ts(c.created_at)), Some(c.id)),
            None => (None, None),
        };
        let rows: Vec<Row> = with_db!(self, pool => {
            sqlx::query_as(
                "SELECT u.id, u.email, CASE WHEN om.status = 'invited' THEN u.email ELSE u.name END,
                        om.status, om.role IN ('owner', 'admin'), r.id, r.name, m.created_at
                 FROM memberships m JOIN users u ON u.id = m.user_id JOIN roles r ON r.id = m.role_id
                 JOIN org_members om ON om.user_id = u.id AND om.organization_id = $2
                 WHERE m.workspace_id = $1
                   AND ($3 IS NULL OR u.email_key LIKE $3 ESCAPE '\\'
                        OR (om.status <> 'invited' AND u.name_key LIKE $3 ESCAPE '\\'))
                   AND ($4 IS NULL OR m.created_at > $4 OR (m.created_at = $4 AND u.id > $5))
                 ORDER BY m.created_at, u.id LIMIT $6")
                .bind(scope.workspace().0).bind(scope.organization().0).bind(search.like_pattern())
                .bind(after_t).bind(after_id).bind(i64::from(page.limit) + 1)
                .fetch_all(pool).await.map_err(db_err)?
        });
        let members = rows
            .into_iter()
            .map(|(u, email, name, status, admin, r, rn, at)| Member {
                user_id: UserId(u),
                email,
                name,
                status: UserStatus::parse(&status).unwrap_or(UserStatus::Disabled),
                is_account_admin: admin,
                role_id: RoleId(r),
                role_name: rn,
                added_at: at.0,
            })
            .collect();
        Ok(Page::from_rows(members, page.limit, |m| Cursor {
            created_at: m.added_at,
            id: m.user_id.0,
        }))
    }

    pub async fn members(&self, scope: &WorkspaceScope) -> DomainResult<Vec<Member>> {
        type Row = (Uuid, String, String, String, bool, Uuid, String, Ts);
        let rows: Vec<Row> = with_db!(self, pool => {
            sqlx::query_as(
                "SELECT u.id, u.email, CASE WHEN om.status = 'invited' THEN u.email ELSE u.name END,
                        om.status, om.role IN ('owner', 'admin'), r.id, r.name, m.created_at
                 FROM memberships m JOIN users u ON u.id = m.user_id JOIN roles r ON r.id = m.role_id
                 JOIN org_members om ON om.user_id = u.id AND om.organization_id = $2
                 WHERE m.workspace_id = $1 ORDER BY m.created_at, u.id")
                .bind(scope.workspace().0).bind(scope.organization().0).fetch_all(pool).await.map_err(db_err)?
        });
        Ok(rows
            .into_iter()
            .map(|(u, email, name, status, admin, r, rn, at)| Member {
                user_id: UserId(u),
                email,
                name,
                status: UserStatus::parse(&status).unwrap_or(UserStatus::Disabled),
                is_account_admin: admin,
                role_id: RoleId(r),
                role_name: rn,
                added_at: at.0,
            })
            .collect())
    }

    /// Adds `user` to the scope's workspace with `role`, or changes their role there, unless
    /// `rules::check_member_role_changeable` refuses (the Account Admin) from the user read in
    /// this transaction.
    pub async fn add_member(
        &self,
        scope: &WorkspaceScope,
        user: UserId,
        role: RoleId,
    ) -> DomainResult<Member> {
        let (ws, org) = (scope.workspace(), scope.organization());
        let now = Ts(Timestamp::now());
        // For the summary only: the role the user held here before, if any.
        let old_role: Option<String> = with_db!(self, pool => {
            sqlx::query_scalar("SELECT r.name FROM memberships m JOIN roles r ON r.id = m.role_id
                                WHERE m.workspace_id = $1 AND m.user_id = $2")
                .bind(ws.0).bind(user.0).fetch_optional(pool).await.map_err(db_err)?
        });
        let ctx = AuditContext::from_scope(scope);
        with_db!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = pool.begin().await.map_err(db_err)?;
            // Write first, then ask: the write takes SQLite's write lock at once (a
            // read-then-write transaction fails when another writer commits in between) and
            // PostgreSQL's locks in the order every change of a membership takes them
            // (membership, then organization); a refusal rolls it back. Only a user and a role
            // of the scope's organization are written.
            // An upsert keeps the original `created_at`: a new row carries `now`.
            let added: Option<Ts> = sqlx::query_scalar("INSERT INTO memberships (workspace_id, user_id, role_id, created_at)
                         SELECT $1, u.user_id, r.id, $4 FROM roles r JOIN org_members u ON u.user_id = $2 AND u.organization_id = $5
                         WHERE r.id = $3 AND r.organization_id = $5
                         ON CONFLICT (workspace_id, user_id) DO UPDATE SET role_id = excluded.role_id
                         RETURNING created_at")
                .bind(ws.0).bind(user.0).bind(role.0).bind(now).bind(org.0)
                .fetch_optional(&mut *tx).await.map_err(db_err)?;
            let target: Option<(String, bool)> = sqlx::query_as(
                "SELECT u.email, m.role IN ('owner', 'admin')
                 FROM org_members m JOIN users u ON u.id = m.user_id
                 WHERE m.user_id = $1 AND m.organization_id = $2")
                .bind(user.0).bind(org.0).fetch_optional(&mut *tx).await.map_err(db_err)?;
            let (email, is_account_admin) = target.ok_or(DomainError::NotFound("user"))?;
            rules::check_member_role_changeable(is_account_admin)?;
            let new_role: Option<String> = sqlx::query_scalar("SELECT name FROM roles WHERE id = $1 AND organization_id = $2")
                .bind(role.0).bind(org.0).fetch_optional(&mut *tx).await.map_err(db_err)?;
            let new_role = new_role.ok_or(DomainError::NotFound("role"))?;
            if let Some(at) = added {
                let is_new = at.0 == now.0;
                let ev = AuditEvent {
                    workspace: Some(ws),
                    action: if is_new { "membership.add" } else { "membership.update" },
                    target_kind: "user",
                    target_id: Some(user.0),
                    summary: if is_new {
                        json!({"email": email, "role": new_role})
                    } else {
                        json!({"email": email, "role": {"from": old_role, "to": new_role}})
                    },
                };
                insert_audit(&mut tx, &ctx, &ev).await?;
                tx.commit().await.map_err(db_err)?;
            }
        });
        self.members(scope)
            .await?
            .into_iter()
            .find(|m| m.user_id == user)
            .ok_or(DomainError::NotFound("role"))
    }

    /// Rule 7: unlinks a member, unless `rules::check_unlinkable` refuses (the Account Admin).
    pub async fn remove_member(&self, scope: &WorkspaceScope, user: UserId) -> DomainResult<()> {
        let org = scope.organization();
        let ctx = AuditContext::from_scope(scope);
        let removed = with_db!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = pool.begin().await.map_err(db_err)?;
            // Unlink first, then ask: the write takes SQLite's write lock at once (a
            // read-then-write transaction fails when another writer commits in between) and
            // PostgreSQL's locks in the order every unlinking takes them (membership, then
            // organization); a refusal rolls it back.
            let n = sqlx::query("DELETE FROM memberships WHERE workspace_id = $1 AND user_id = $2")
                .bind(scope.workspace().0).bind(user.0).execute(&mut *tx).await.map_err(db_err)?.rows_affected();
            let (is_account_admin, email): (bool, Option<String>) = sqlx::query_as(
                "SELECT COALESCE((SELECT m.role IN ('owner', 'admin') FROM org_members m
                                  WHERE m.organization_id = o.id AND m.user_id = $2), FALSE),
                        (SELECT u.email FROM users u WHERE u.id = $2)
                 FROM organizations o WHERE o.id = $1")
                .bind(org.0).bind(user.0).fetch_one(&mut *tx).await.map_err(db_err)?;
            rules::check_unlinkable(is_account_admin)?;
            if n > 0 {
                let ev = AuditEvent {
                    workspace: Some(scope.workspace()),
                    action: "membership.remove",
                    target_kind: "user",
                    target_id: Some(user.0),
                    summary: json!({"email": email}),
                };
                insert_audit(&mut tx, &ctx, &ev).await?;
                tx.commit().await.map_err(db_err)?;
            }
            n
        });
        if removed == 0 {
            return Err(DomainError::NotFound("member"));
        }
        Ok(())
    }
}
