//! Workspace API keys: only a SHA-256 hash of the key is kept; the key itself is shown once.

use crate::audit::{AuditContext, AuditEvent, Verb, changes, insert_audit};
use crate::types::{Ts, perms_from_text, perms_to_text, ts};
use crate::users::name_key;
use crate::versioned::commit_if_matched;
use crate::{Store, db_err, unique_or, with_db};
use flowspace_core::authz::WorkspaceScope;
use flowspace_core::cursor::{Cursor, Page, PageRequest, Search};
use flowspace_core::ids::{ItemId, UserId, WorkspaceId};
use flowspace_core::model::ApiKey;
use flowspace_core::permissions::PermissionSet;
use flowspace_core::resource::ResourceKind;
use flowspace_core::time::Timestamp;
use flowspace_core::{DomainError, DomainResult};
use serde_json::json;
use uuid::Uuid;

const KEY_COLS: &str =
    "id, workspace_id, name, description, prefix, permissions, expires_at, last_used_at, version,
    created_by, created_at, updated_by, updated_at";

#[derive(sqlx::FromRow)]
struct KeyRow {
    id: Uuid,
    workspace_id: Uuid,
    name: String,
    description: Option<String>,
    prefix: String,
    permissions: String,
    expires_at: Option<Ts>,
    last_used_at: Option<Ts>,
    version: i64,
    created_by: Uuid,
    created_at: Ts,
    updated_by: Uuid,
    updated_at: Ts,
}

impl KeyRow {
    fn into_key(self) -> DomainResult<ApiKey> {
        Ok(ApiKey {
            id: ItemId(self.id),
            workspace_id: WorkspaceId(self.workspace_id),
            name: self.name,
            description: self.description,
            prefix: self.prefix,
            permissions: perms_from_text(&self.permissions)?,
            expires_at: ts(self.expires_at),
            last_used_at: ts(self.last_used_at),
            version: self.version,
            created_by: UserId(self.created_by),
            created_at: self.created_at.0,
            updated_by: UserId(self.updated_by),
            updated_at: self.updated_at.0,
        })
    }
}

pub struct ApiKeyFields {
    pub name: String,
    pub description: Option<String>,
    pub permissions: PermissionSet,
    pub expires_at: Option<Timestamp>,
}

fn not_found() -> DomainError {
    DomainError::NotFound("API key")
}

impl Store {
    /// One page of the scope's workspace's API keys whose name contains the search, newest
    /// first.
    pub async fn list_api_keys(
        &self,
        scope: &WorkspaceScope,
        search: &Search,
        page: PageRequest,
    ) -> DomainResult<Page<ApiKey>> {
        let limit = i64::from(page.limit) + 1;
        let (after_t, after_id) = match page.after {
            Some(c) => (Some(Ts(c.created_at)), Some(c.id)),
            None => (None, None),
        };
        let sql = format!(
            "SELECT {KEY_COLS} FROM api_keys WHERE workspace_id = $1
               AND ($5 IS NULL OR name_key LIKE $5 ESCAPE '\\')
               AND ($2 IS NULL OR created_at < $2 OR (created_at = $2 AND id < $3))
             ORDER BY created_at DESC, id DESC LIMIT $4"
        );
        let rows: Vec<KeyRow> = with_db!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).bind(scope.workspace().0).bind(after_t).bind(after_id).bind(limit)
                .bind(search.like_pattern())
                .fetch_all(pool).await.map_err(db_err)?
        });
        let keys = rows
            .into_iter()
            .map(KeyRow::into_key)
            .collect::<DomainResult<Vec<_>>>()?;
        Ok(Page::from_rows(keys, page.limit, |k: &ApiKey| Cursor {
            created_at: k.created_at,
            id: k.id.0,
        }))
    }

    pub async fn get_api_key(&self, scope: &WorkspaceScope, id: ItemId) -> DomainResult<ApiKey> {
        let sql = format!("SELECT {KEY_COLS} FROM api_keys WHERE id = $1 AND workspace_id = $2");
        let row: Option<KeyRow> = with_db!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).bind(id.0).bind(scope.workspace().0).fetch_optional(pool).await.map_err(db_err)?
        });
        row.ok_or_else(not_found)?.into_key()
    }

    #[tracing::instrument(skip_all)]
    pub async fn create_api_key(
        &self,
        scope: &WorkspaceScope,
        f: ApiKeyFields,
        prefix: &str,
        hash: &[u8],
    ) -> DomainResult<ApiKey> {
        let id = ItemId::new();
        let now = Ts(Timestamp::now());
        let sql = format!(
            "INSERT INTO api_keys (id, organization_id, workspace_id, name, description, prefix, key_hash, permissions, expires_at,
                 version, created_by, created_at, updated_by, updated_at, name_key)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, $10, $11, $10, $11, $12) RETURNING {KEY_COLS}"
        );
        let ctx = AuditContext::from_scope(scope);
        let ev = AuditEvent::of_resource(
            scope,
            ResourceKind::ApiKey,
            Verb::Create,
            id,
            json!({"name": f.name, "prefix": prefix, "permissions": f.permissions.iter().map(|p| p.to_string()).collect::<Vec<_>>(), "expiresAt": f.expires_at}),
        );
        let row: KeyRow = with_db!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = pool.begin().await.map_err(db_err)?;
            let row: KeyRow = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).bind(id.0).bind(scope.organization().0).bind(scope.workspace().0)
                .bind(&f.name).bind(&f.description).bind(prefix).bind(hash).bind(perms_to_text(f.permissions))
                .bind(f.expires_at.map(Ts)).bind(scope.user_id().0).bind(now).bind(name_key(&f.name))
                .fetch_one(&mut *tx).await
                .map_err(|e| unique_or(e, DomainError::conflict("key_collision", "try again")))?;
            insert_audit(&mut tx, &ctx, &ev).await?;
            tx.commit().await.map_err(db_err)?;
            row
        });
        row.into_key()
    }

    #[tracing::instrument(skip_all)]
    pub async fn update_api_key(
        &self,
        scope: &WorkspaceScope,
        id: ItemId,
        expected_version: i64,
        f: ApiKeyFields,
    ) -> DomainResult<ApiKey> {
        // Read before the transaction: when the update matches `expected_version`, this is
        // exactly the state it replaced.
        let before = self.get_api_key(scope, id).await?;
        let mut summary = if before.version == expected_version {
            let mut c = changes(&[
                ("name", json!(before.name), json!(f.name)),
                (
                    "description",
                    json!(before.description),
                    json!(f.description),
                ),
                ("expiresAt", json!(before.expires_at), json!(f.expires_at)),
            ]);
            if before.permissions != f.permissions {
                c.insert("permissions".into(), json!({
                    "from": before.permissions.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
                    "to": f.permissions.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
                }));
            }
            c
        } else {
            serde_json::Map::new()
        };
        summary.insert("version".into(), json!(expected_version + 1));
        let ctx = AuditContext::from_scope(scope);
        let ev = AuditEvent::of_resource(
            scope,
            ResourceKind::ApiKey,
            Verb::Update,
            id,
            summary.into(),
        );
        let now = Ts(Timestamp::now());
        let sql = format!(
            "UPDATE api_keys SET name = $1, description = $2, permissions = $3, expires_at = $4, version = version + 1,
                 updated_by = $5, updated_at = $6, name_key = $10
             WHERE id = $7 AND workspace_id = $8 AND version = $9 RETURNING {KEY_COLS}"
        );
        let row: Option<KeyRow> = with_db!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = pool.begin().await.map_err(db_err)?;
            let row: Option<KeyRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).bind(&f.name).bind(&f.description).bind(perms_to_text(f.permissions))
                .bind(f.expires_at.map(Ts)).bind(scope.user_id().0).bind(now)
                .bind(id.0).bind(scope.workspace().0).bind(expected_version).bind(name_key(&f.name))
                .fetch_optional(&mut *tx).await.map_err(db_err)?;
            commit_if_matched(tx, row.is_some(), &ctx, &ev).await?;
            row
        });
        match row {
            Some(r) => r.into_key(),
            None => Err(self
                .write_conflict(scope, ResourceKind::ApiKey, id, Some(expected_version))
                .await),
        }
    }
}
