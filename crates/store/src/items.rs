//! Plain workspace items: chatflows, agentflows, assistants, tools, variables, document stores
//! and datasets (rules 2 and 13). Every query filters by the scope's workspace and the kind.

use crate::audit::{AuditContext, AuditEvent, Verb, changes, insert_audit, insert_audit_sqlite};
use crate::group_commit::sqlite_err;
use crate::group_commit_pg::NewItem;
use crate::types::Ts;
use crate::users::name_key;
use crate::versioned::commit_if_matched;
use crate::{Store, db_err, with_db};
use flowspace_core::authz::WorkspaceScope;
use flowspace_core::cursor::{Cursor, Page, PageRequest, Search};
use flowspace_core::ids::{ItemId, UserId, WorkspaceId};
use flowspace_core::model::Item;
use flowspace_core::resource::ResourceKind;
use flowspace_core::rules;
use flowspace_core::time::Timestamp;
use flowspace_core::{DomainError, DomainResult};
use serde_json::json;
use serde_json::value::RawValue;
use uuid::Uuid;

const ITEM_COLS: &str = "id, workspace_id, name, description, data, version, created_by, created_at, updated_by, updated_at";

/// The list query of `search_items` (binds: workspace, kind, cursor time, cursor id, limit,
/// and the `LIKE` pattern of `q` or NULL), public so that the conformance suite can check on
/// both backends that its plan uses the `items_list` index. The columns are those of
/// `ITEM_COLS`.
pub const LIST_ITEMS_SQL: &str = "SELECT id, workspace_id, name, description, data, version, created_by, created_at, updated_by, updated_at
    FROM items WHERE workspace_id = $1 AND kind = $2
      AND ($6 IS NULL OR name_key LIKE $6 ESCAPE '\\')
      AND ($3 IS NULL OR created_at < $3 OR (created_at = $3 AND id < $4))
    ORDER BY created_at DESC, id DESC LIMIT $5";

/// A new item's row (binds: id, organization, workspace, kind, name, description, data, the
/// creating user, the time, the name's search key); version 1.
const INSERT_ITEM_SQL: &str = "INSERT INTO items (id, organization_id, workspace_id, kind, name, description, data, version, created_by, created_at, updated_by, updated_at, name_key)
    VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $9, $8, $9, $10)";

#[derive(sqlx::FromRow)]
struct ItemRow {
    id: Uuid,
    workspace_id: Uuid,
    name: String,
    description: Option<String>,
    data: String,
    version: i64,
    created_by: Uuid,
    created_at: Ts,
    updated_by: Uuid,
    updated_at: Ts,
}

impl ItemRow {
    fn into_item(self) -> DomainResult<Item> {
        Ok(Item {
            id: ItemId(self.id),
            workspace_id: WorkspaceId(self.workspace_id),
            name: self.name,
            description: self.description,
            data: RawValue::from_string(self.data).map_err(DomainError::internal)?,
            version: self.version,
            created_by: UserId(self.created_by),
            created_at: self.created_at.0,
            updated_by: UserId(self.updated_by),
            updated_at: self.updated_at.0,
        })
    }
}

/// The fields a create or an update writes.
pub struct ItemFields {
    pub name: String,
    pub description: Option<String>,
    /// Serialized JSON object, validated by `rules::item_data`.
    pub data: String,
}

fn not_found(kind: ResourceKind) -> DomainError {
    DomainError::NotFound(kind.label())
}

impl Store {
    /// One page of the scope's items of `kind`, newest first (uncached: the API lists through
    /// `list_items_rendered`, `cache.rs`).
    pub async fn list_items(
        &self,
        scope: &WorkspaceScope,
        kind: ResourceKind,
        page: PageRequest,
    ) -> DomainResult<Page<Item>> {
        self.search_items(scope, kind, &Search::default(), page)
            .await
    }

    /// One page of the scope's items of `kind` whose name contains the search, newest first
    /// (uncached: the API lists through `list_items_rendered`, `cache.rs`).
    pub async fn search_items(
        &self,
        scope: &WorkspaceScope,
        kind: ResourceKind,
        search: &Search,
        page: PageRequest,
    ) -> DomainResult<Page<Item>> {
        let limit = i64::from(page.limit) + 1;
        let (after_t, after_id) = match page.after {
            Some(c) => (Some(Ts(c.created_at)), Some(c.id)),
            None => (None, None),
        };
        let rows: Vec<ItemRow> = with_db!(self, pool => {
            sqlx::query_as(LIST_ITEMS_SQL).bind(scope.workspace().0).bind(kind.db_name())
                .bind(after_t).bind(after_id).bind(limit).bind(search.like_pattern())
                .fetch_all(pool).await.map_err(db_err)?
        });
        let items = rows
            .into_iter()
            .map(ItemRow::into_item)
            .collect::<DomainResult<Vec<_>>>()?;
        Ok(Page::from_rows(items, page.limit, |i| Cursor {
            created_at: i.created_at,
            id: i.id.0,
        }))
    }

    pub async fn get_item(
        &self,
        scope: &WorkspaceScope,
        kind: ResourceKind,
        id: ItemId,
    ) -> DomainResult<Item> {
        let sql = format!(
            "SELECT {ITEM_COLS} FROM items WHERE id = $1 AND workspace_id = $2 AND kind = $3"
        );
        let row: Option<ItemRow> = with_db!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).bind(id.0).bind(scope.workspace().0).bind(kind.db_name())
                .fetch_optional(pool).await.map_err(db_err)?
        });
        row.ok_or_else(|| not_found(kind))?.into_item()
    }

    #[tracing::instrument(skip_all, fields(kind = kind.db_name()))]
    pub async fn create_item(
        &self,
        scope: &WorkspaceScope,
        kind: ResourceKind,
        f: ItemFields,
    ) -> DomainResult<Item> {
        self.insert_item(scope, kind, f, None).await
    }

    /// Inserts an item and its audit event in one transaction; `source` is the item it copies.
    async fn insert_item(
        &self,
        scope: &WorkspaceScope,
        kind: ResourceKind,
        f: ItemFields,
        source: Option<ItemId>,
    ) -> DomainResult<Item> {
        let id = ItemId::new();
        let now = Ts(Timestamp::now());
        let user = scope.user_id();
        let (verb, summary) = match source {
            None => (Verb::Create, json!({"name": f.name})),
            Some(src) => (
                Verb::Duplicate,
                json!({"name": f.name, "source": src.to_string()}),
            ),
        };
        let ev = AuditEvent::of_resource(scope, kind, verb, id, summary);
        let ctx = AuditContext::from_scope(scope);
        if let Some(group) = &self.group {
            // SQLite: committed with the other writes waiting now (`group_commit`). The row is
            // what is inserted here, so it is not read back.
            let row = ItemRow {
                id: id.0,
                workspace_id: scope.workspace().0,
                name: f.name,
                description: f.description,
                data: f.data,
                version: 1,
                created_by: user.0,
                created_at: now,
                updated_by: user.0,
                updated_at: now,
            };
            let (org, kind_name) = (scope.organization().0, kind.db_name());
            return group
                .write(move |conn| {
                    conn.prepare_cached(INSERT_ITEM_SQL)
                        .and_then(|mut insert| {
                            insert.execute(rusqlite::named_params! {
                                "$1": row.id.as_bytes(),
                                "$2": org.as_bytes(),
                                "$3": row.workspace_id.as_bytes(),
                                "$4": kind_name,
                                "$5": row.name,
                                "$6": row.description,
                                "$7": row.data,
                                "$8": row.created_by.as_bytes(),
                                "$9": now.0.micros(),
                                "$10": name_key(&row.name),
                            })
                        })
                        .and_then(|_| insert_audit_sqlite(conn, &ctx, &ev))
                        .map_err(sqlite_err)?;
                    Ok(row)
                })
                .await?
                .into_item();
        }
        if let Some(creates) = &self.pg_creates {
            // PostgreSQL: written with the other creates of the organization waiting now
            // (`group_commit_pg`).
            let made = creates
                .create(NewItem {
                    id: id.0,
                    organization: scope.organization().0,
                    workspace: scope.workspace().0,
                    kind: kind.db_name(),
                    name_key: name_key(&f.name),
                    name: f.name,
                    description: f.description,
                    data: f.data,
                    user: user.0,
                    at: now.0,
                    ctx,
                    ev,
                })
                .await?;
            return ItemRow {
                id: made.id,
                workspace_id: made.workspace,
                name: made.name,
                description: made.description,
                data: made.data,
                version: 1,
                created_by: made.user,
                created_at: now,
                updated_by: made.user,
                updated_at: now,
            }
            .into_item();
        }
        let sql = format!("{INSERT_ITEM_SQL} RETURNING {ITEM_COLS}");
        let row: ItemRow = with_db!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = pool.begin().await.map_err(db_err)?;
            let row: ItemRow = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).bind(id.0).bind(scope.organization().0).bind(scope.workspace().0)
                .bind(kind.db_name()).bind(&f.name).bind(&f.description).bind(&f.data).bind(user.0).bind(now)
                .bind(name_key(&f.name))
                .fetch_one(&mut *tx).await.map_err(db_err)?;
            insert_audit(&mut tx, &ctx, &ev).await?;
            tx.commit().await.map_err(db_err)?;
            row
        });
        row.into_item()
    }

    /// Rule 13: writes only when `expected_version` is still the stored one.
    #[tracing::instrument(skip_all, fields(kind = kind.db_name()))]
    pub async fn update_item(
        &self,
        scope: &WorkspaceScope,
        kind: ResourceKind,
        id: ItemId,
        expected_version: i64,
        f: ItemFields,
    ) -> DomainResult<Item> {
        // Read before the transaction: when the update below matches `expected_version`, this
        // is exactly the state it replaced (every write bumps the version).
        let before = self.get_item(scope, kind, id).await?;
        let now = Ts(Timestamp::now());
        let sql = format!(
            "UPDATE items SET name = $1, description = $2, data = $3, version = version + 1, updated_by = $4, updated_at = $5, name_key = $10
             WHERE id = $6 AND workspace_id = $7 AND kind = $8 AND version = $9 RETURNING {ITEM_COLS}"
        );
        let mut summary = if before.version == expected_version {
            let mut c = changes(&[
                ("name", json!(before.name), json!(f.name)),
                (
                    "description",
                    json!(before.description),
                    json!(f.description),
                ),
            ]);
            if before.data.get() != f.data {
                c.insert("dataChanged".into(), json!(true));
            }
            c
        } else {
            serde_json::Map::new()
        };
        summary.insert("version".into(), json!(expected_version + 1));
        let ev = AuditEvent::of_resource(scope, kind, Verb::Update, id, summary.into());
        let ctx = AuditContext::from_scope(scope);
        let row: Option<ItemRow> = with_db!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = pool.begin().await.map_err(db_err)?;
            let row: Option<ItemRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).bind(&f.name).bind(&f.description).bind(&f.data).bind(scope.user_id().0).bind(now)
                .bind(id.0).bind(scope.workspace().0).bind(kind.db_name()).bind(expected_version).bind(name_key(&f.name))
                .fetch_optional(&mut *tx).await.map_err(db_err)?;
            commit_if_matched(tx, row.is_some(), &ctx, &ev).await?;
            row
        });
        match row {
            Some(r) => r.into_item(),
            None => Err(self
                .write_conflict(scope, kind, id, Some(expected_version))
                .await),
        }
    }

    /// A copy of an item in the same workspace, named "<name> (copy)".
    pub async fn duplicate_item(
        &self,
        scope: &WorkspaceScope,
        kind: ResourceKind,
        id: ItemId,
    ) -> DomainResult<Item> {
        let src = self.get_item(scope, kind, id).await?;
        // A name too long for the suffix loses its end, never its beginning (which is what
        // tells the copy apart in a list).
        const SUFFIX: &str = " (copy)";
        let keep = rules::MAX_ITEM_NAME_CHARS - SUFFIX.chars().count();
        let stem: String = src.name.chars().take(keep).collect();
        let name = format!("{}{SUFFIX}", stem.trim_end());
        self.insert_item(
            scope,
            kind,
            ItemFields {
                name,
                description: src.description,
                data: src.data.get().to_string(),
            },
            Some(id),
        )
        .await
    }
}
