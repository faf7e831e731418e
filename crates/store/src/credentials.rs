//! Credentials (rule 11): the secret is kept sealed (the server encrypts it); reads never
//! return it. A credential shared into the scope's workspace is listed and readable there,
//! marked `shared`, and every write to it from there is refused.

use crate::audit::{AuditContext, AuditEvent, Verb, changes, insert_audit};
use crate::types::{Ts, keys_from_text, keys_to_text};
use crate::users::name_key;
use crate::versioned::commit_if_matched;
use crate::{Store, db_err, with_db};
use flowspace_core::authz::WorkspaceScope;
use flowspace_core::cursor::{Cursor, Page, PageRequest, Search};
use flowspace_core::ids::{ItemId, UserId, WorkspaceId};
use flowspace_core::model::{Credential, SealedSecret, WorkspaceRef};
use flowspace_core::resource::ResourceKind;
use flowspace_core::rules::{self, CredentialWrite};
use flowspace_core::time::Timestamp;
use flowspace_core::{DomainError, DomainResult};
use serde_json::json;
use uuid::Uuid;

const CRED_SELECT: &str =
    "SELECT c.id, c.workspace_id, w.name AS owner_name, c.name, c.description, c.credential_name,
        c.data_keys, c.version, c.created_by, c.created_at, c.updated_by, c.updated_at
    FROM credentials c JOIN workspaces w ON w.id = c.workspace_id";

/// Visible in workspace $1: owned by it, or shared into it.
const VISIBLE_IN: &str = "(c.workspace_id = $1 OR EXISTS (SELECT 1 FROM credential_shares s WHERE s.credential_id = c.id AND s.workspace_id = $1))";

#[derive(sqlx::FromRow)]
struct CredRow {
    id: Uuid,
    workspace_id: Uuid,
    owner_name: String,
    name: String,
    description: Option<String>,
    credential_name: String,
    data_keys: String,
    version: i64,
    created_by: Uuid,
    created_at: Ts,
    updated_by: Uuid,
    updated_at: Ts,
}

impl CredRow {
    fn into_credential(self, viewer: WorkspaceId) -> Credential {
        Credential {
            id: ItemId(self.id),
            workspace_id: WorkspaceId(self.workspace_id),
            name: self.name,
            description: self.description,
            credential_name: self.credential_name,
            data_keys: keys_from_text(&self.data_keys),
            shared: self.workspace_id != viewer.0,
            owner_workspace: WorkspaceRef {
                id: WorkspaceId(self.workspace_id),
                name: self.owner_name,
            },
            version: self.version,
            created_by: UserId(self.created_by),
            created_at: self.created_at.0,
            updated_by: UserId(self.updated_by),
            updated_at: self.updated_at.0,
        }
    }
}

pub struct CredentialFields {
    pub name: String,
    pub description: Option<String>,
    pub credential_name: String,
}

/// A new secret: its field names and its sealed form.
pub struct CredentialSecret {
    pub data_keys: Vec<String>,
    pub sealed: SealedSecret,
}

fn not_found() -> DomainError {
    DomainError::NotFound("credential")
}

impl Store {
    /// One page of the credentials visible in the scope's workspace (its own and those shared
    /// into it) whose name contains the search, newest first.
    pub async fn list_credentials(
        &self,
        scope: &WorkspaceScope,
        search: &Search,
        page: PageRequest,
    ) -> DomainResult<Page<Credential>> {
        let limit = i64::from(page.limit) + 1;
        let (after_t, after_id) = match page.after {
            Some(c) => (Some(Ts(c.created_at)), Some(c.id)),
            None => (None, None),
        };
        let sql = format!(
            "{CRED_SELECT} WHERE {VISIBLE_IN}
               AND ($5 IS NULL OR c.name_key LIKE $5 ESCAPE '\\')
               AND ($2 IS NULL OR c.created_at < $2 OR (c.created_at = $2 AND c.id < $3))
             ORDER BY c.created_at DESC, c.id DESC LIMIT $4"
        );
        let rows: Vec<CredRow> = with_db!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).bind(scope.workspace().0).bind(after_t).bind(after_id).bind(limit)
                .bind(search.like_pattern())
                .fetch_all(pool).await.map_err(db_err)?
        });
        let ws = scope.workspace();
        let items = rows.into_iter().map(|r| r.into_credential(ws)).collect();
        Ok(Page::from_rows(items, page.limit, |c: &Credential| {
            Cursor {
                created_at: c.created_at,
                id: c.id.0,
            }
        }))
    }

    pub async fn get_credential(
        &self,
        scope: &WorkspaceScope,
        id: ItemId,
    ) -> DomainResult<Credential> {
        let sql = format!("{CRED_SELECT} WHERE {VISIBLE_IN} AND c.id = $2");
        let row: Option<CredRow> = with_db!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).bind(scope.workspace().0).bind(id.0).fetch_optional(pool).await.map_err(db_err)?
        });
        Ok(row
            .ok_or_else(not_found)?
            .into_credential(scope.workspace()))
    }

    /// The sealed secret of a credential visible in the scope (to decrypt for a runtime).
    pub async fn credential_secret(
        &self,
        scope: &WorkspaceScope,
        id: ItemId,
    ) -> DomainResult<SealedSecret> {
        let sql = format!(
            "SELECT c.ciphertext, c.nonce, c.key_id FROM credentials c WHERE {VISIBLE_IN} AND c.id = $2"
        );
        let row: Option<(Vec<u8>, Vec<u8>, String)> = with_db!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).bind(scope.workspace().0).bind(id.0).fetch_optional(pool).await.map_err(db_err)?
        });
        let (ciphertext, nonce, key_id) = row.ok_or_else(not_found)?;
        Ok(SealedSecret {
            ciphertext,
            nonce,
            key_id,
        })
    }

    /// Creates a credential with a caller-chosen id: the id is the associated data of its
    /// encryption, so the secret must be sealed for this id before the row exists.
    #[tracing::instrument(skip_all)]
    pub async fn create_credential(
        &self,
        scope: &WorkspaceScope,
        id: ItemId,
        f: CredentialFields,
        secret: CredentialSecret,
    ) -> DomainResult<Credential> {
        let now = Ts(Timestamp::now());
        let user = scope.user_id();
        let ctx = AuditContext::from_scope(scope);
        let ev = AuditEvent::of_resource(
            scope,
            ResourceKind::Credential,
            Verb::Create,
            id,
            json!({"name": f.name, "credentialName": f.credential_name, "fields": secret.data_keys}),
        );
        with_db!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = pool.begin().await.map_err(db_err)?;
            sqlx::query("INSERT INTO credentials (id, organization_id, workspace_id, name, description, credential_name, data_keys,
                             ciphertext, nonce, key_id, version, created_by, created_at, updated_by, updated_at, name_key)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 1, $11, $12, $11, $12, $13)")
                .bind(id.0).bind(scope.organization().0).bind(scope.workspace().0).bind(&f.name).bind(&f.description)
                .bind(&f.credential_name).bind(keys_to_text(&secret.data_keys))
                .bind(&secret.sealed.ciphertext).bind(&secret.sealed.nonce).bind(&secret.sealed.key_id)
                .bind(user.0).bind(now).bind(name_key(&f.name))
                .execute(&mut *tx).await.map_err(db_err)?;
            insert_audit(&mut tx, &ctx, &ev).await?;
            tx.commit().await.map_err(db_err)?;
        });
        self.get_credential(scope, id).await
    }

    /// Updates a credential owned by the scope's workspace; `secret` replaces the secret.
    #[tracing::instrument(skip_all)]
    pub async fn update_credential(
        &self,
        scope: &WorkspaceScope,
        id: ItemId,
        expected_version: i64,
        f: CredentialFields,
        secret: Option<CredentialSecret>,
    ) -> DomainResult<Credential> {
        // Read before the transaction: when the update matches `expected_version`, this is
        // exactly the state it replaced.
        let before = self.get_credential(scope, id).await?;
        let mut summary = if before.version == expected_version {
            changes(&[
                ("name", json!(before.name), json!(f.name)),
                (
                    "description",
                    json!(before.description),
                    json!(f.description),
                ),
                (
                    "credentialName",
                    json!(before.credential_name),
                    json!(f.credential_name),
                ),
            ])
        } else {
            serde_json::Map::new()
        };
        if let Some(s) = &secret {
            // The field names only, never their values.
            summary.insert("secretReplaced".into(), json!(true));
            summary.insert("fields".into(), json!(s.data_keys));
        }
        summary.insert("version".into(), json!(expected_version + 1));
        let ctx = AuditContext::from_scope(scope);
        let ev = AuditEvent::of_resource(
            scope,
            ResourceKind::Credential,
            Verb::Update,
            id,
            summary.into(),
        );
        let now = Ts(Timestamp::now());
        let updated = with_db!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = pool.begin().await.map_err(db_err)?;
            let n = sqlx::query("UPDATE credentials SET name = $1, description = $2, credential_name = $3, version = version + 1,
                                     updated_by = $4, updated_at = $5, name_key = $9
                                 WHERE id = $6 AND workspace_id = $7 AND version = $8")
                .bind(&f.name).bind(&f.description).bind(&f.credential_name).bind(scope.user_id().0).bind(now)
                .bind(id.0).bind(scope.workspace().0).bind(expected_version).bind(name_key(&f.name))
                .execute(&mut *tx).await.map_err(db_err)?.rows_affected();
            if n == 1 && let Some(s) = &secret {
                sqlx::query("UPDATE credentials SET data_keys = $1, ciphertext = $2, nonce = $3, key_id = $4 WHERE id = $5 AND workspace_id = $6")
                    .bind(keys_to_text(&s.data_keys)).bind(&s.sealed.ciphertext).bind(&s.sealed.nonce).bind(&s.sealed.key_id)
                    .bind(id.0).bind(scope.workspace().0)
                    .execute(&mut *tx).await.map_err(db_err)?;
            }
            commit_if_matched(tx, n == 1, &ctx, &ev).await?
        });
        if updated {
            return self.get_credential(scope, id).await;
        }
        Err(self
            .write_conflict(scope, ResourceKind::Credential, id, Some(expected_version))
            .await)
    }

    /// The credential as read in the scope's workspace, when `rules::check_credential_writable`
    /// allows `write` there (403 where it is only shared into it).
    pub(crate) async fn writable_credential(
        &self,
        scope: &WorkspaceScope,
        id: ItemId,
        write: CredentialWrite,
    ) -> DomainResult<Credential> {
        let c = self.get_credential(scope, id).await?;
        rules::check_credential_writable(&c, write)?;
        Ok(c)
    }
}
