//! Groups (SPEC: Group): named sets of users of an organization, and their assignment to
//! workspaces with a role. What a group gives its members is read on every request (the store's
//! `standing`, worked out by `flowspace_core::authz::user_standing`), so a change here takes
//! effect on the next request. Every change is one transaction with its audit event.

use crate::audit::{AuditContext, AuditEvent, insert_audit};
use crate::types::Ts;
use crate::{Store, db_err, unique_or, with_db};
use flowspace_core::authz::AdminScope;
use flowspace_core::ids::{GroupId, OrganizationId, RoleId, UserId, WorkspaceId};
use flowspace_core::time::Timestamp;
use flowspace_core::{DomainError, DomainResult};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// A member of a group.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupMember {
    pub user_id: UserId,
    pub email: String,
    pub name: String,
}

/// A workspace a group is assigned to, with the role its members get there.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupWorkspace {
    pub workspace_id: WorkspaceId,
    pub workspace_name: String,
    pub role_id: RoleId,
    pub role_name: String,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    pub id: GroupId,
    pub organization_id: OrganizationId,
    pub name: String,
    pub description: Option<String>,
    pub members: Vec<GroupMember>,
    pub workspaces: Vec<GroupWorkspace>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A change to a group; `None` leaves a field as it is.
#[derive(Default)]
pub struct GroupPatch {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    /// Replaces the set of members.
    pub members: Option<Vec<UserId>>,
}

fn name_taken() -> DomainError {
    DomainError::conflict(
        "group_name_taken",
        "a group with this name already exists in the organization",
    )
}

fn ids_json(users: &[UserId]) -> serde_json::Value {
    serde_json::Value::from(users.iter().map(|u| u.to_string()).collect::<Vec<_>>())
}

/// Replaces the members of `$group` by `$users` inside the transaction `$tx`; a user of another
/// organization (or none) is a user that does not exist, and nothing is written.
macro_rules! set_members {
    ($tx:expr, $org:expr, $group:expr, $users:expr, $now:expr) => {{
        sqlx::query("DELETE FROM group_members WHERE group_id = $1")
            .bind($group.0)
            .execute(&mut *$tx)
            .await
            .map_err(db_err)?;
        for u in $users {
            let n = sqlx::query(
                "INSERT INTO group_members (group_id, user_id, created_at)
                 SELECT $1, u.user_id, $3 FROM org_members u WHERE u.user_id = $2 AND u.organization_id = $4
                 ON CONFLICT (group_id, user_id) DO NOTHING",
            )
            .bind($group.0)
            .bind(u.0)
            .bind($now)
            .bind($org.0)
            .execute(&mut *$tx)
            .await
            .map_err(db_err)?
            .rows_affected();
            if n == 0 {
                let exists: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM org_members WHERE user_id = $1 AND organization_id = $2",
                )
                .bind(u.0)
                .bind($org.0)
                .fetch_one(&mut *$tx)
                .await
                .map_err(db_err)?;
                if exists == 0 {
                    return Err(DomainError::NotFound("user"));
                }
            }
        }
    }};
}

impl Store {
    /// The organization's groups by name, each with its members and workspaces.
    pub async fn list_groups(&self, scope: &AdminScope) -> DomainResult<Vec<Group>> {
        self.load_groups(scope.organization(), None).await
    }

    pub async fn group(&self, scope: &AdminScope, id: GroupId) -> DomainResult<Group> {
        self.load_groups(scope.organization(), Some(id))
            .await?
            .into_iter()
            .next()
            .ok_or(DomainError::NotFound("group"))
    }

    async fn load_groups(
        &self,
        org: OrganizationId,
        only: Option<GroupId>,
    ) -> DomainResult<Vec<Group>> {
        type GroupRow = (Uuid, String, Option<String>, Ts, Ts);
        type MemberRow = (Uuid, Uuid, String, String);
        type WsRow = (Uuid, Uuid, String, Uuid, String);
        let only = only.map(|g| g.0);
        let (groups, members, workspaces): (Vec<GroupRow>, Vec<MemberRow>, Vec<WsRow>) = with_db!(self, pool => {
            let groups = sqlx::query_as(
                "SELECT g.id, g.name, g.description, g.created_at, g.updated_at FROM groups g
                 WHERE g.organization_id = $1 AND ($2 IS NULL OR g.id = $2) ORDER BY g.name_key, g.id")
                .bind(org.0).bind(only).fetch_all(pool).await.map_err(db_err)?;
            let members = sqlx::query_as(
                "SELECT gm.group_id, u.id, u.email, u.name FROM group_members gm
                 JOIN groups g ON g.id = gm.group_id JOIN users u ON u.id = gm.user_id
                 WHERE g.organization_id = $1 AND ($2 IS NULL OR g.id = $2) ORDER BY u.email_key, u.id")
                .bind(org.0).bind(only).fetch_all(pool).await.map_err(db_err)?;
            let workspaces = sqlx::query_as(
                "SELECT wg.group_id, w.id, w.name, r.id, r.name FROM workspace_groups wg
                 JOIN groups g ON g.id = wg.group_id JOIN workspaces w ON w.id = wg.workspace_id
                 JOIN roles r ON r.id = wg.role_id
                 WHERE g.organization_id = $1 AND ($2 IS NULL OR g.id = $2) ORDER BY w.is_default DESC, w.name_key, w.id")
                .bind(org.0).bind(only).fetch_all(pool).await.map_err(db_err)?;
            (groups, members, workspaces)
        });
        Ok(groups
            .into_iter()
            .map(|(id, name, description, created, updated)| Group {
                id: GroupId(id),
                organization_id: org,
                name,
                description,
                members: members
                    .iter()
                    .filter(|m| m.0 == id)
                    .map(|(_, u, email, name)| GroupMember {
                        user_id: UserId(*u),
                        email: email.clone(),
                        name: name.clone(),
                    })
                    .collect(),
                workspaces: workspaces
                    .iter()
                    .filter(|w| w.0 == id)
                    .map(|(_, w, wn, r, rn)| GroupWorkspace {
                        workspace_id: WorkspaceId(*w),
                        workspace_name: wn.clone(),
                        role_id: RoleId(*r),
                        role_name: rn.clone(),
                    })
                    .collect(),
                created_at: created.0,
                updated_at: updated.0,
            })
            .collect())
    }

    #[tracing::instrument(skip_all)]
    pub async fn create_group(
        &self,
        scope: &AdminScope,
        name: &str,
        description: Option<&str>,
        members: &[UserId],
        ctx: &AuditContext,
    ) -> DomainResult<Group> {
        let id = GroupId::new();
        let now = Ts(Timestamp::now());
        let org = scope.organization();
        with_db!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = pool.begin().await.map_err(db_err)?;
            sqlx::query("INSERT INTO groups (id, organization_id, name, name_key, description, created_at, updated_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $6)")
                .bind(id.0).bind(org.0).bind(name).bind(name.to_lowercase()).bind(description).bind(now)
                .execute(&mut *tx).await.map_err(|e| unique_or(e, name_taken()))?;
            set_members!(tx, org, id, members, now);
            let ev = AuditEvent {
                workspace: None,
                action: "group.create",
                target_kind: "group",
                target_id: Some(id.0),
                summary: serde_json::json!({"name": name, "members": ids_json(members)}),
            };
            insert_audit(&mut tx, ctx, &ev).await?;
            tx.commit().await.map_err(db_err)?;
        });
        self.group(scope, id).await
    }

    #[tracing::instrument(skip_all)]
    pub async fn update_group(
        &self,
        scope: &AdminScope,
        id: GroupId,
        patch: GroupPatch,
        ctx: &AuditContext,
    ) -> DomainResult<Group> {
        let current = self.group(scope, id).await?;
        let name = patch.name.unwrap_or(current.name);
        let description = patch.description.unwrap_or(current.description);
        let now = Ts(Timestamp::now());
        let org = scope.organization();
        with_db!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = pool.begin().await.map_err(db_err)?;
            let n = sqlx::query("UPDATE groups SET name = $1, name_key = $2, description = $3, updated_at = $4
                                 WHERE id = $5 AND organization_id = $6")
                .bind(&name).bind(name.to_lowercase()).bind(&description).bind(now).bind(id.0).bind(org.0)
                .execute(&mut *tx).await.map_err(|e| unique_or(e, name_taken()))?.rows_affected();
            if n == 0 {
                return Err(DomainError::NotFound("group"));
            }
            if let Some(members) = &patch.members {
                set_members!(tx, org, id, members, now);
            }
            let mut summary = serde_json::json!({"name": name});
            if let Some(members) = &patch.members {
                summary["members"] = ids_json(members);
            }
            let ev = AuditEvent {
                workspace: None,
                action: "group.update",
                target_kind: "group",
                target_id: Some(id.0),
                summary,
            };
            insert_audit(&mut tx, ctx, &ev).await?;
            tx.commit().await.map_err(db_err)?;
        });
        self.group(scope, id).await
    }

    /// Deletes a group: its members lose what it gave them at their next request.
    #[tracing::instrument(skip_all)]
    pub async fn delete_group(
        &self,
        scope: &AdminScope,
        id: GroupId,
        ctx: &AuditContext,
    ) -> DomainResult<()> {
        with_db!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = pool.begin().await.map_err(db_err)?;
            let n = sqlx::query("DELETE FROM groups WHERE id = $1 AND organization_id = $2")
                .bind(id.0).bind(scope.organization().0)
                .execute(&mut *tx).await.map_err(db_err)?.rows_affected();
            if n == 0 {
                return Err(DomainError::NotFound("group"));
            }
            let ev = AuditEvent {
                workspace: None,
                action: "group.delete",
                target_kind: "group",
                target_id: Some(id.0),
                summary: serde_json::json!({}),
            };
            insert_audit(&mut tx, ctx, &ev).await?;
            tx.commit().await.map_err(db_err)?;
        });
        Ok(())
    }

    /// Assigns a group to a workspace with a role, or changes the role of an assignment.
    #[tracing::instrument(skip_all)]
    pub async fn add_workspace_group(
        &self,
        scope: &AdminScope,
        workspace: WorkspaceId,
        group: GroupId,
        role: RoleId,
        ctx: &AuditContext,
    ) -> DomainResult<Group> {
        let org = scope.organization();
        let now = Ts(Timestamp::now());
        with_db!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = pool.begin().await.map_err(db_err)?;
            // Write first, so that SQLite takes its write lock at once (a read-then-write
            // transaction fails when another writer commits in between).
            sqlx::query("UPDATE organizations SET name = name WHERE id = $1")
                .bind(org.0).execute(&mut *tx).await.map_err(db_err)?;
            // Each of the three must belong to the caller's organization: anything else does
            // not exist.
            let ws: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM workspaces WHERE id = $1 AND organization_id = $2")
                .bind(workspace.0).bind(org.0).fetch_one(&mut *tx).await.map_err(db_err)?;
            if ws == 0 {
                return Err(DomainError::NotFound("workspace"));
            }
            let g: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM groups WHERE id = $1 AND organization_id = $2")
                .bind(group.0).bind(org.0).fetch_one(&mut *tx).await.map_err(db_err)?;
            if g == 0 {
                return Err(DomainError::NotFound("group"));
            }
            let n = sqlx::query("INSERT INTO workspace_groups (workspace_id, group_id, role_id, created_at)
                                 SELECT $1, $2, r.id, $4 FROM roles r WHERE r.id = $3 AND r.organization_id = $5
                                 ON CONFLICT (workspace_id, group_id) DO UPDATE SET role_id = excluded.role_id")
                .bind(workspace.0).bind(group.0).bind(role.0).bind(now).bind(org.0)
                .execute(&mut *tx).await.map_err(db_err)?.rows_affected();
            if n == 0 {
                return Err(DomainError::NotFound("role"));
            }
            let ev = AuditEvent {
                workspace: Some(workspace),
                action: "workspace.add-group",
                target_kind: "group",
                target_id: Some(group.0),
                summary: serde_json::json!({"roleId": role.to_string()}),
            };
            insert_audit(&mut tx, ctx, &ev).await?;
            tx.commit().await.map_err(db_err)?;
        });
        self.group(scope, group).await
    }

    /// Takes a group off a workspace: its members lose that role there at their next request.
    #[tracing::instrument(skip_all)]
    pub async fn remove_workspace_group(
        &self,
        scope: &AdminScope,
        workspace: WorkspaceId,
        group: GroupId,
        ctx: &AuditContext,
    ) -> DomainResult<()> {
        with_db!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = pool.begin().await.map_err(db_err)?;
            let n = sqlx::query("DELETE FROM workspace_groups WHERE workspace_id = $1 AND group_id = $2
                                   AND group_id IN (SELECT id FROM groups WHERE organization_id = $3)")
                .bind(workspace.0).bind(group.0).bind(scope.organization().0)
                .execute(&mut *tx).await.map_err(db_err)?.rows_affected();
            if n == 0 {
                return Err(DomainError::NotFound("group assignment"));
            }
            let ev = AuditEvent {
                workspace: Some(workspace),
                action: "workspace.remove-group",
                target_kind: "group",
                target_id: Some(group.0),
                summary: serde_json::json!({}),
            };
            insert_audit(&mut tx, ctx, &ev).await?;
            tx.commit().await.map_err(db_err)?;
        });
        Ok(())
    }

    /// How many group assignments give `role` (a role in use cannot be deleted, rule 8).
    pub async fn role_group_uses(&self, org: OrganizationId, role: RoleId) -> DomainResult<i64> {
        Ok(with_db!(self, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM workspace_groups wg JOIN roles r ON r.id = wg.role_id
                                WHERE wg.role_id = $1 AND r.organization_id = $2")
                .bind(role.0).bind(org.0).fetch_one(pool).await.map_err(db_err)?
        }))
    }
}
