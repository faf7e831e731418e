//! Moving items between workspaces (rule 12): bulk move and copy of flows, export of a
//! workspace's items, import of a bundle, and re-encryption of every credential. Each of these
//! is one transaction: all or nothing.

use crate::audit::{AuditContext, AuditEvent, insert_audit};
use crate::credentials::CredentialSecret;
use crate::items::ItemFields;
use crate::types::{Ts, keys_from_text, keys_to_text};
use crate::users::name_key;
use crate::{Store, db_err, with_db};
use flowspace_core::authz::{AdminScope, WorkspaceScope};
use flowspace_core::ids::{ItemId, WorkspaceId};
use flowspace_core::model::SealedSecret;
use flowspace_core::resource::ResourceKind;
use flowspace_core::time::Timestamp;
use flowspace_core::{DomainError, DomainResult};
use std::collections::HashSet;
use uuid::Uuid;

/// What a bulk transfer did with a flow.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum TransferStatus {
    Moved,
    Copied,
}

/// What happened to one flow of a bulk move or copy.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Transferred {
    pub id: ItemId,
    /// The copy's id (copies only); a move keeps the id.
    pub new_id: Option<ItemId>,
    pub from_workspace_id: WorkspaceId,
    pub to_workspace_id: WorkspaceId,
    pub status: TransferStatus,
}

/// An item as an export carries it.
#[derive(Clone, Debug)]
pub struct ExportedItem {
    pub kind: ResourceKind,
    pub id: ItemId,
    pub name: String,
    pub description: Option<String>,
    pub data: String,
}

/// A credential as an export carries it: never its secret.
#[derive(Clone, Debug)]
pub struct ExportedCredential {
    pub id: ItemId,
    pub name: String,
    pub description: Option<String>,
    pub credential_name: String,
    pub data_keys: Vec<String>,
}

/// One thing to create by an import, under an id the caller chose.
pub enum ImportEntry {
    Item {
        kind: ResourceKind,
        id: ItemId,
        fields: ItemFields,
    },
    Credential {
        id: ItemId,
        fields: crate::credentials::CredentialFields,
        secret: CredentialSecret,
    },
}

/// A flow of the organization, as the Account Admin picks it to move or copy.
#[derive(Clone, Debug)]
pub struct FlowRef {
    pub id: ItemId,
    pub kind: ResourceKind,
    pub name: String,
    pub workspace_id: WorkspaceId,
}

/// What an import created.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Imported {
    pub kind: String,
    pub id: ItemId,
    pub name: String,
    /// Whether the name was suffixed because the workspace already had it.
    pub renamed: bool,
}

const FLOW_KINDS: &str = "('chatflow', 'agentflow')";

/// What a bulk transfer does with each flow.
#[derive(Clone, Copy, Debug)]
enum Transfer {
    Move,
    Copy,
}

/// Names already used in a workspace, and the next suffix to try for each base name, so that
/// many clashes cost no more than one each.
#[derive(Default)]
struct Names {
    taken: HashSet<String>,
    next: std::collections::HashMap<String, u64>,
}

impl Names {
    /// `name`, or `name (2)`, `name (3)`, ... whichever is free, never longer than an item
    /// name may be.
    fn free(&mut self, name: &str) -> (String, bool) {
        if self.taken.insert(name.to_string()) {
            return (name.to_string(), false);
        }
        let mut n = self.next.get(name).copied().unwrap_or(2);
        loop {
            let suffix = format!(" ({n})");
            let room =
                flowspace_core::rules::MAX_ITEM_NAME_CHARS.saturating_sub(suffix.chars().count());
            let stem: String = name.chars().take(room).collect();
            let candidate = format!("{stem}{suffix}");
            n += 1;
            if self.taken.insert(candidate.clone()) {
                self.next.insert(name.to_string(), n);
                return (candidate, true);
            }
        }
    }
}

/// A row of `items` as a `FlowRef`.
fn flow_ref((id, kind, name, ws): (Uuid, String, String, Uuid)) -> DomainResult<FlowRef> {
    let kind = ResourceKind::from_db_name(&kind)
        .ok_or_else(|| DomainError::Internal(format!("unknown item kind {kind}")))?;
    Ok(FlowRef {
        id: ItemId(id),
        kind,
        name,
        workspace_id: WorkspaceId(ws),
    })
}

impl Store {
    /// Bulk move: every flow keeps its id and version; all move or none does.
    pub async fn move_flows(
        &self,
        admin: &AdminScope,
        ids: &[ItemId],
        target: WorkspaceId,
        ctx: &AuditContext,
    ) -> DomainResult<Vec<Transferred>> {
        self.transfer_flows(Transfer::Move, admin, ids, target, ctx)
            .await
    }

    /// Bulk copy: every flow gets a new id and version 1 in the target; all or nothing.
    pub async fn copy_flows(
        &self,
        admin: &AdminScope,
        ids: &[ItemId],
        target: WorkspaceId,
        ctx: &AuditContext,
    ) -> DomainResult<Vec<Transferred>> {
        self.transfer_flows(Transfer::Copy, admin, ids, target, ctx)
            .await
    }

    #[tracing::instrument(skip_all, fields(count = ids.len(), mode = ?mode))]
    async fn transfer_flows(
        &self,
        mode: Transfer,
        admin: &AdminScope,
        ids: &[ItemId],
        target: WorkspaceId,
        ctx: &AuditContext,
    ) -> DomainResult<Vec<Transferred>> {
        let org = admin.organization();
        let now = Ts(Timestamp::now());
        let user = admin.user_id();
        let source_sql = format!(
            "SELECT workspace_id FROM items WHERE id = $1 AND organization_id = $2 AND kind IN {FLOW_KINDS}"
        );
        let move_sql = format!(
            "UPDATE items SET workspace_id = $1 WHERE id = $2 AND organization_id = $3 AND kind IN {FLOW_KINDS}"
        );
        let copy_sql = format!(
            "INSERT INTO items (id, organization_id, workspace_id, kind, name, description, data, version, created_by, created_at, updated_by, updated_at, name_key)
             SELECT $1, organization_id, $2, kind, name, description, data, 1, $3, $4, $3, $4, name_key
             FROM items WHERE id = $5 AND organization_id = $6 AND kind IN {FLOW_KINDS}"
        );
        with_db!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = pool.begin().await.map_err(db_err)?;
            // Write first, so that SQLite takes its write lock at once (a read-then-write
            // transaction can fail when another writer commits in between).
            sqlx::query("UPDATE organizations SET name = name WHERE id = $1")
                .bind(org.0).execute(&mut *tx).await.map_err(db_err)?;
            let ws: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM workspaces WHERE id = $1 AND organization_id = $2")
                .bind(target.0).bind(org.0).fetch_one(&mut *tx).await.map_err(db_err)?;
            if ws == 0 {
                return Err(DomainError::NotFound("workspace"));
            }
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                let from: Option<(Uuid,)> = sqlx::query_as(sqlx::AssertSqlSafe(source_sql.as_str()))
                    .bind(id.0).bind(org.0).fetch_optional(&mut *tx).await.map_err(db_err)?;
                let Some((from,)) = from else {
                    return Err(DomainError::NotFound("flow"));
                };
                let (new_id, action, status, summary) = match mode {
                    Transfer::Move => {
                        sqlx::query(sqlx::AssertSqlSafe(move_sql.as_str()))
                            .bind(target.0).bind(id.0).bind(org.0)
                            .execute(&mut *tx).await.map_err(db_err)?;
                        (None, "flow.move", TransferStatus::Moved, serde_json::json!({"from": from.to_string(), "to": target.to_string()}))
                    }
                    Transfer::Copy => {
                        let new_id = ItemId::new();
                        sqlx::query(sqlx::AssertSqlSafe(copy_sql.as_str()))
                            .bind(new_id.0).bind(target.0).bind(user.0).bind(now).bind(id.0).bind(org.0)
                            .execute(&mut *tx).await.map_err(db_err)?;
                        (Some(new_id), "flow.copy", TransferStatus::Copied,
                         serde_json::json!({"source": id.to_string(), "from": from.to_string(), "to": target.to_string()}))
                    }
                };
                let ev = AuditEvent {
                    workspace: Some(target),
                    action,
                    target_kind: "flow",
                    target_id: Some(new_id.unwrap_or(*id).0),
                    summary,
                };
                insert_audit(&mut tx, ctx, &ev).await?;
                out.push(Transferred { id: *id, new_id, from_workspace_id: WorkspaceId(from), to_workspace_id: target, status });
            }
            tx.commit().await.map_err(db_err)?;
            Ok(out)
        })
    }

    /// The scope's plain items of `kinds` (all of them, oldest first), or only `ids`.
    pub async fn export_items(
        &self,
        scope: &WorkspaceScope,
        kinds: &[ResourceKind],
    ) -> DomainResult<Vec<ExportedItem>> {
        let mut out = Vec::new();
        for kind in kinds.iter().filter(|k| ResourceKind::PLAIN.contains(k)) {
            let rows: Vec<(Uuid, String, Option<String>, String)> = with_db!(self, pool => {
                sqlx::query_as("SELECT id, name, description, data FROM items WHERE workspace_id = $1 AND kind = $2 ORDER BY created_at, id")
                    .bind(scope.workspace().0).bind(kind.db_name()).fetch_all(pool).await.map_err(db_err)?
            });
            out.extend(
                rows.into_iter()
                    .map(|(id, name, description, data)| ExportedItem {
                        kind: *kind,
                        id: ItemId(id),
                        name,
                        description,
                        data,
                    }),
            );
        }
        Ok(out)
    }

    /// The credentials the scope's workspace owns (not those shared into it), without secrets.
    pub async fn export_credentials(
        &self,
        scope: &WorkspaceScope,
    ) -> DomainResult<Vec<ExportedCredential>> {
        let rows: Vec<(Uuid, String, Option<String>, String, String)> = with_db!(self, pool => {
            sqlx::query_as("SELECT id, name, description, credential_name, data_keys FROM credentials WHERE workspace_id = $1 ORDER BY created_at, id")
                .bind(scope.workspace().0).fetch_all(pool).await.map_err(db_err)?
        });
        Ok(rows
            .into_iter()
            .map(
                |(id, name, description, credential_name, keys)| ExportedCredential {
                    id: ItemId(id),
                    name,
                    description,
                    credential_name,
                    data_keys: keys_from_text(&keys),
                },
            )
            .collect())
    }

    /// The names an import of `entries` (kind and name, in order) would give now: each name, or
    /// the suffixed one when the workspace (or an earlier entry) has it, as `import` names
    /// them. Nothing is written; a write in between may change the answer.
    pub async fn import_names(
        &self,
        scope: &WorkspaceScope,
        entries: &[(ResourceKind, &str)],
    ) -> DomainResult<Vec<(String, bool)>> {
        let ws = scope.workspace();
        let mut taken: std::collections::HashMap<&'static str, Names> =
            std::collections::HashMap::new();
        let mut out = Vec::with_capacity(entries.len());
        for (kind, name) in entries {
            let kind_name = kind.db_name();
            if !taken.contains_key(kind_name) {
                let names: Vec<(String,)> = with_db!(self, pool => {
                    if *kind == ResourceKind::Credential {
                        sqlx::query_as("SELECT name FROM credentials WHERE workspace_id = $1")
                            .bind(ws.0).fetch_all(pool).await.map_err(db_err)?
                    } else {
                        sqlx::query_as("SELECT name FROM items WHERE workspace_id = $1 AND kind = $2")
                            .bind(ws.0).bind(kind_name).fetch_all(pool).await.map_err(db_err)?
                    }
                });
                taken.insert(
                    kind_name,
                    Names {
                        taken: names.into_iter().map(|(n,)| n).collect(),
                        ..Names::default()
                    },
                );
            }
            out.push(taken.entry(kind_name).or_default().free(name));
        }
        Ok(out)
    }

    /// The flows (chatflows and agentflows) of the organization's workspace `workspace`, oldest
    /// first, at most `limit`: for the Account Admin to choose what to move or copy.
    pub async fn workspace_flows(
        &self,
        admin: &AdminScope,
        workspace: WorkspaceId,
        limit: u32,
    ) -> DomainResult<Vec<FlowRef>> {
        let sql = format!(
            "SELECT id, kind, name, workspace_id FROM items
              WHERE organization_id = $1 AND workspace_id = $2 AND kind IN {FLOW_KINDS}
              ORDER BY created_at, id LIMIT $3"
        );
        let rows: Vec<(Uuid, String, String, Uuid)> = with_db!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(admin.organization().0).bind(workspace.0).bind(i64::from(limit))
                .fetch_all(pool).await.map_err(db_err)?
        });
        rows.into_iter().map(flow_ref).collect()
    }

    /// The flows of the organization among `ids` (in any of its workspaces), oldest first; an
    /// id that is no flow of the organization is left out.
    pub async fn flows_by_id(
        &self,
        admin: &AdminScope,
        ids: &[ItemId],
    ) -> DomainResult<Vec<FlowRef>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let marks: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
            let sql = format!(
                "SELECT id, kind, name, workspace_id FROM items
                  WHERE organization_id = $1 AND kind IN {FLOW_KINDS} AND id IN ({})
                  ORDER BY created_at, id",
                marks.join(", ")
            );
            let rows: Vec<(Uuid, String, String, Uuid)> = with_db!(self, pool => {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).bind(admin.organization().0);
                for id in chunk {
                    q = q.bind(id.0);
                }
                q.fetch_all(pool).await.map_err(db_err)?
            });
            for row in rows {
                out.push(flow_ref(row)?);
            }
        }
        Ok(out)
    }

    /// Writes every entry into the scope's workspace in one transaction; a name the workspace
    /// already has gets a ` (2)`-style suffix.
    #[tracing::instrument(skip_all, fields(count = entries.len()))]
    pub async fn import(
        &self,
        scope: &WorkspaceScope,
        entries: Vec<ImportEntry>,
        ctx: &AuditContext,
    ) -> DomainResult<Vec<Imported>> {
        let now = Ts(Timestamp::now());
        let user = scope.user_id();
        let ws = scope.workspace();
        let org = scope.organization();
        with_db!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = pool.begin().await.map_err(db_err)?;
            // Write first, so that SQLite takes its write lock at once (a read-then-write
            // transaction can fail when another writer commits in between).
            sqlx::query("UPDATE organizations SET name = name WHERE id = $1")
                .bind(org.0).execute(&mut *tx).await.map_err(db_err)?;
            let mut taken: std::collections::HashMap<&'static str, Names> = std::collections::HashMap::new();
            let mut out = Vec::with_capacity(entries.len());
            for entry in &entries {
                let kind_name = match entry {
                    ImportEntry::Item { kind, .. } => kind.db_name(),
                    ImportEntry::Credential { .. } => ResourceKind::Credential.db_name(),
                };
                if !taken.contains_key(kind_name) {
                    let names: Vec<(String,)> = if kind_name == ResourceKind::Credential.db_name() {
                        sqlx::query_as("SELECT name FROM credentials WHERE workspace_id = $1")
                            .bind(ws.0).fetch_all(&mut *tx).await.map_err(db_err)?
                    } else {
                        sqlx::query_as("SELECT name FROM items WHERE workspace_id = $1 AND kind = $2")
                            .bind(ws.0).bind(kind_name).fetch_all(&mut *tx).await.map_err(db_err)?
                    };
                    taken.insert(kind_name, Names { taken: names.into_iter().map(|(n,)| n).collect(), ..Names::default() });
                }
                let set = taken.entry(kind_name).or_default();
                match entry {
                    ImportEntry::Item { kind, id, fields } => {
                        let (name, renamed) = set.free(&fields.name);
                        sqlx::query("INSERT INTO items (id, organization_id, workspace_id, kind, name, description, data, version, created_by, created_at, updated_by, updated_at, name_key)
                                     VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $9, $8, $9, $10)")
                            .bind(id.0).bind(org.0).bind(ws.0).bind(kind.db_name()).bind(&name).bind(&fields.description)
                            .bind(&fields.data).bind(user.0).bind(now).bind(name_key(&name))
                            .execute(&mut *tx).await.map_err(db_err)?;
                        out.push(Imported { kind: kind.path().to_string(), id: *id, name, renamed });
                    }
                    ImportEntry::Credential { id, fields, secret } => {
                        let (name, renamed) = set.free(&fields.name);
                        sqlx::query("INSERT INTO credentials (id, organization_id, workspace_id, name, description, credential_name, data_keys,
                                         ciphertext, nonce, key_id, version, created_by, created_at, updated_by, updated_at, name_key)
                                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 1, $11, $12, $11, $12, $13)")
                            .bind(id.0).bind(org.0).bind(ws.0).bind(&name).bind(&fields.description).bind(&fields.credential_name)
                            .bind(keys_to_text(&secret.data_keys)).bind(&secret.sealed.ciphertext).bind(&secret.sealed.nonce)
                            .bind(&secret.sealed.key_id).bind(user.0).bind(now).bind(name_key(&name))
                            .execute(&mut *tx).await.map_err(db_err)?;
                        out.push(Imported { kind: ResourceKind::Credential.path().to_string(), id: *id, name, renamed });
                    }
                }
            }
            let ev = AuditEvent {
                workspace: Some(ws),
                action: "workspace.import",
                target_kind: "workspace",
                target_id: Some(ws.0),
                summary: serde_json::json!({"created": out.len()}),
            };
            insert_audit(&mut tx, ctx, &ev).await?;
            tx.commit().await.map_err(db_err)?;
            Ok(out)
        })
    }

    /// Re-seals every credential of the installation in one transaction: `reseal` gets each
    /// credential's id and sealed secret and answers the new sealed form. Answers the count.
    #[tracing::instrument(skip_all)]
    pub async fn reseal_all_credentials(
        &self,
        reseal: impl Fn(ItemId, &SealedSecret) -> DomainResult<SealedSecret>,
    ) -> DomainResult<u64> {
        with_db!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = pool.begin().await.map_err(db_err)?;
            // Write first, so that SQLite takes its write lock at once (a read-then-write
            // transaction can fail when another writer commits in between).
            sqlx::query("UPDATE organizations SET name = name")
               .execute(&mut *tx).await.map_err(db_err)?;
            let rows: Vec<(Uuid, Vec<u8>, Vec<u8>, String)> = sqlx::query_as("SELECT id, ciphertext, nonce, key_id FROM credentials")
                .fetch_all(&mut *tx).await.map_err(db_err)?;
            let mut n = 0u64;
            for (id, ciphertext, nonce, key_id) in rows {
                let sealed = reseal(ItemId(id), &SealedSecret { ciphertext, nonce, key_id })?;
                sqlx::query("UPDATE credentials SET ciphertext = $1, nonce = $2, key_id = $3 WHERE id = $4")
                    .bind(&sealed.ciphertext).bind(&sealed.nonce).bind(&sealed.key_id).bind(id)
                    .execute(&mut *tx).await.map_err(db_err)?;
                n += 1;
            }
            tx.commit().await.map_err(db_err)?;
            Ok(n)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_names_get_suffixes_and_stay_short() {
        let mut names = Names {
            taken: ["Flow".to_string(), "Flow (2)".to_string()]
                .into_iter()
                .collect(),
            ..Names::default()
        };
        assert_eq!(names.free("Flow"), ("Flow (3)".to_string(), true));
        assert_eq!(names.free("Flow"), ("Flow (4)".to_string(), true));
        assert_eq!(names.free("Other"), ("Other".to_string(), false));
        assert_eq!(names.free("Other"), ("Other (2)".to_string(), true));
        let long = "x".repeat(flowspace_core::rules::MAX_ITEM_NAME_CHARS);
        assert!(!names.free(&long).1);
        let (again, renamed) = names.free(&long);
        assert!(
            renamed
                && again.chars().count() == flowspace_core::rules::MAX_ITEM_NAME_CHARS
                && again.ends_with(" (2)")
        );
    }
}
