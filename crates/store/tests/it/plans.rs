//! Query plans: the items list query, searched by `q` or not, is served by the `items_list` index
//! (workspace first) on both backends, on a table big enough for the planner to have a choice.

use crate::common::{Org, backends};
use flowspace_core::ids::WorkspaceId;
use flowspace_core::time::Timestamp;
use flowspace_store::LIST_ITEMS_SQL;
use uuid::Uuid;

const ROWS_PER_WORKSPACE: i64 = 2000;

/// Fills `ws` with `ROWS_PER_WORKSPACE` items of three kinds, straight in the table.
async fn fill(o: &Org, ws: WorkspaceId) {
    let n = if let Some(p) = o.store.sqlite_pool() {
        sqlx::query(
            "INSERT INTO items (id, organization_id, workspace_id, kind, name, description, data, version,
                                created_by, created_at, updated_by, updated_at, name_key)
             WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < $4)
             SELECT randomblob(16), $1, $2,
                    CASE n % 3 WHEN 0 THEN 'chatflow' WHEN 1 THEN 'tool' ELSE 'variable' END,
                    'item ' || n, NULL, '{}', 1, $3, $5 - n * 1000, $3, $5, 'item ' || n
             FROM g",
        )
        .bind(o.org.0)
        .bind(ws.0)
        .bind(o.admin.0)
        .bind(ROWS_PER_WORKSPACE)
        .bind(Timestamp::now().micros())
        .execute(p)
        .await
        .map(|r| r.rows_affected())
    } else {
        let p = o.store.postgres_pool().expect("a pool");
        sqlx::query(
            "INSERT INTO items (id, organization_id, workspace_id, kind, name, description, data, version,
                                created_by, created_at, updated_by, updated_at, name_key)
             SELECT gen_random_uuid(), $1, $2,
                    CASE g % 3 WHEN 0 THEN 'chatflow' WHEN 1 THEN 'tool' ELSE 'variable' END,
                    'item ' || g, NULL, '{}', 1, $3, now() - g * interval '1 millisecond', $3, now(),
                    'item ' || g
             FROM generate_series(1, $4) g",
        )
        .bind(o.org.0)
        .bind(ws.0)
        .bind(o.admin.0)
        .bind(ROWS_PER_WORKSPACE)
        .execute(p)
        .await
        .map(|r| r.rows_affected())
    }
    .expect("bulk insert");
    assert_eq!(n, ROWS_PER_WORKSPACE as u64);
}

/// The plan of the list query for `ws`, first page or after a cursor, searched by the
/// `LIKE` pattern `q` or not, as text.
async fn plan(
    o: &Org,
    ws: WorkspaceId,
    cursor: Option<(Timestamp, Uuid)>,
    q: Option<&str>,
) -> String {
    if let Some(p) = o.store.sqlite_pool() {
        let sql = format!("EXPLAIN QUERY PLAN {LIST_ITEMS_SQL}");
        let rows: Vec<(i64, i64, i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(ws.0)
            .bind("chatflow")
            .bind(cursor.map(|c| c.0.micros()))
            .bind(cursor.map(|c| c.1))
            .bind(51_i64)
            .bind(q)
            .fetch_all(p)
            .await
            .expect("explain");
        rows.into_iter().map(|r| r.3).collect::<Vec<_>>().join("\n")
    } else {
        let p = o.store.postgres_pool().expect("a pool");
        let sql = format!("EXPLAIN {LIST_ITEMS_SQL}");
        let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(ws.0)
            .bind("chatflow")
            .bind(cursor.map(|c| c.0.to_offset()))
            .bind(cursor.map(|c| c.1))
            .bind(51_i64)
            .bind(q)
            .fetch_all(p)
            .await
            .expect("explain");
        rows.join("\n")
    }
}

#[tokio::test]
async fn the_items_list_query_uses_the_workspace_index() {
    for b in backends() {
        let o = Org::new(&b).await;
        let mut spaces = vec![o.default_ws];
        for i in 0..4 {
            spaces.push(o.workspace(&format!("W{i}")).await);
        }
        for ws in &spaces {
            fill(&o, *ws).await;
        }
        if let Some(p) = o.store.sqlite_pool() {
            sqlx::query("ANALYZE").execute(p).await.unwrap();
        } else {
            let p = o.store.postgres_pool().unwrap();
            sqlx::query("ANALYZE items").execute(p).await.unwrap();
        }

        let target = spaces[2];
        let scope = o.scope(target, "chatflows:view").await;
        let first = o
            .store
            .list_items(
                &scope,
                flowspace_core::resource::ResourceKind::Chatflow,
                flowspace_core::cursor::PageRequest {
                    limit: 50,
                    after: None,
                },
            )
            .await
            .unwrap();
        assert_eq!(first.items.len(), 50);
        let last = first.items.last().unwrap();
        let cursor = Some((last.created_at, last.id.0));

        // A search (`q`) filters the rows the index walks, in the same order.
        for (label, c, q) in [
            ("first page", None, None),
            ("after a cursor", cursor, None),
            ("searched", None, Some("%item 1%")),
            ("searched after a cursor", cursor, Some("%item 1%")),
        ] {
            let text = plan(&o, target, c, q).await;
            let tag = format!("{} {label}:\n{text}", b.name());
            assert!(text.contains("items_list"), "{tag}");
            match b {
                crate::common::Backend::Sqlite => {
                    assert!(text.contains("SEARCH items USING"), "{tag}");
                    assert!(
                        !text.contains("TEMP B-TREE"),
                        "the index gives the order, no sort: {tag}"
                    );
                }
                crate::common::Backend::Postgres(_) => {
                    assert!(!text.contains("Seq Scan"), "{tag}");
                    // A search may rather sort the few rows it keeps of the workspace's
                    // (read through the index) than walk the index in order.
                    assert!(
                        q.is_some() || !text.contains("Sort"),
                        "the index gives the order, no sort: {tag}"
                    );
                }
            }
        }
    }
}

#[tokio::test]
async fn every_workspace_list_index_starts_with_workspace_id() {
    for b in backends() {
        let o = Org::new(&b).await;
        for (index, want) in [
            ("items_list", Some("workspace_id")),
            ("credentials_list", Some("workspace_id")),
            ("api_keys_list", Some("workspace_id")),
            // The lookup really reads the schema: an index that does not exist answers nothing.
            ("no_such_index", None),
        ] {
            let first = first_column(&o, index).await;
            assert_eq!(first.as_deref(), want, "{} {index}", b.name());
        }
    }
}

/// The first column of an index of the store's schema.
async fn first_column(o: &Org, index: &str) -> Option<String> {
    if let Some(p) = o.store.sqlite_pool() {
        sqlx::query_scalar("SELECT name FROM pragma_index_info($1) WHERE seqno = 0")
            .bind(index)
            .fetch_optional(p)
            .await
            .unwrap()
    } else {
        let p = o.store.postgres_pool().unwrap();
        sqlx::query_scalar(
            "SELECT a.attname::TEXT FROM pg_index i
             JOIN pg_class c ON c.oid = i.indexrelid
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
             WHERE c.relname = $1 AND c.relnamespace = current_schema()::regnamespace",
        )
        .bind(index)
        .fetch_optional(p)
        .await
        .unwrap()
    }
}
