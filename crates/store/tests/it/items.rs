//! Items: create, read, list, update with version checking, delete; pagination.

use crate::common::{Org, backends, conflict_code, is_not_found};
use flowspace_core::cursor::PageRequest;
use flowspace_core::ids::ItemId;
use flowspace_core::model::Item;
use flowspace_core::resource::ResourceKind;
use flowspace_store::ItemFields;

fn fields(name: &str, data: &str) -> ItemFields {
    ItemFields {
        name: name.into(),
        description: Some(format!("about {name}")),
        data: data.into(),
    }
}

fn page(limit: u32) -> PageRequest {
    PageRequest { limit, after: None }
}

#[tokio::test]
async fn create_get_update_delete_with_versions() {
    for b in backends() {
        let o = Org::new(&b).await;
        let scope = o.scope(o.default_ws, "chatflows:update").await;
        let kind = ResourceKind::Chatflow;
        let created = o
            .store
            .create_item(&scope, kind, fields("Flow", r#"{"nodes":[1,2]}"#))
            .await
            .unwrap();
        assert_eq!(created.version, 1);
        assert_eq!(created.workspace_id, o.default_ws);
        assert_eq!(created.created_by, o.admin);
        assert_eq!(created.updated_by, o.admin);
        assert_eq!(created.created_at, created.updated_at);

        let got = o.store.get_item(&scope, kind, created.id).await.unwrap();
        assert_eq!(got.name, "Flow");
        assert_eq!(got.description.as_deref(), Some("about Flow"));
        assert_eq!(got.data.get(), r#"{"nodes":[1,2]}"#, "{}", b.name());
        assert_eq!(
            got.created_at,
            created.created_at,
            "{}: timestamps round-trip",
            b.name()
        );

        // The kind is part of the identity: the same id is no tool.
        let r = o
            .store
            .get_item(&scope, ResourceKind::Tool, created.id)
            .await;
        assert!(is_not_found(&r), "{}", b.name());

        let v2 = o
            .store
            .update_item(
                &scope,
                kind,
                created.id,
                1,
                fields("Flow 2", r#"{"a":true}"#),
            )
            .await
            .unwrap();
        assert_eq!(v2.version, 2);
        assert_eq!(v2.name, "Flow 2");
        assert_eq!(v2.created_at, created.created_at);
        assert!(v2.updated_at >= created.updated_at);

        // A stale version is refused and changes nothing.
        let stale = o
            .store
            .update_item(&scope, kind, created.id, 1, fields("Lost", "{}"))
            .await;
        assert_eq!(
            conflict_code(&stale),
            Some("version_conflict"),
            "{}",
            b.name()
        );
        let now = o.store.get_item(&scope, kind, created.id).await.unwrap();
        assert_eq!((now.version, now.name.as_str()), (2, "Flow 2"));

        // Updating an id that does not exist is not found, whatever the version.
        let r = o
            .store
            .update_item(&scope, kind, ItemId::new(), 1, fields("X", "{}"))
            .await;
        assert!(is_not_found(&r), "{}", b.name());

        let r = o
            .store
            .delete_resource(&scope, kind, created.id, Some(1))
            .await;
        assert_eq!(conflict_code(&r), Some("version_conflict"), "{}", b.name());
        assert!(o.store.get_item(&scope, kind, created.id).await.is_ok());
        o.store
            .delete_resource(&scope, kind, created.id, Some(2))
            .await
            .unwrap();
        assert!(is_not_found(
            &o.store.get_item(&scope, kind, created.id).await
        ));
        assert!(is_not_found(
            &o.store
                .delete_resource(&scope, kind, created.id, None)
                .await
        ));

        // Without a version, delete takes whatever is there.
        let other = o
            .store
            .create_item(&scope, kind, fields("Other", "{}"))
            .await
            .unwrap();
        o.store
            .delete_resource(&scope, kind, other.id, None)
            .await
            .unwrap();
        let list = o.store.list_items(&scope, kind, page(50)).await.unwrap();
        assert!(list.items.is_empty(), "{}", b.name());
        assert!(list.next.is_none());
    }
}

#[tokio::test]
async fn duplicate_makes_a_copy_in_the_same_workspace() {
    for b in backends() {
        let o = Org::new(&b).await;
        let scope = o.scope(o.default_ws, "tools:create").await;
        let kind = ResourceKind::Tool;
        let src = o
            .store
            .create_item(&scope, kind, fields("T", r#"{"x":1}"#))
            .await
            .unwrap();
        let copy = o.store.duplicate_item(&scope, kind, src.id).await.unwrap();
        assert_ne!(copy.id, src.id);
        assert_eq!(copy.name, "T (copy)");
        assert_eq!(copy.data.get(), src.data.get());
        assert_eq!(copy.version, 1);
        assert_eq!(copy.workspace_id, o.default_ws, "{}", b.name());
    }
}

/// Walks every page of `kind` with `limit`, checking that each non-last page is full.
async fn walk(
    o: &Org,
    scope: &flowspace_core::authz::WorkspaceScope,
    kind: ResourceKind,
    limit: u32,
) -> Vec<Item> {
    let mut all = Vec::new();
    let mut req = page(limit);
    for _ in 0..100 {
        let p = o.store.list_items(scope, kind, req).await.unwrap();
        let full = p.items.len() == limit as usize;
        all.extend(p.items);
        match p.next {
            Some(c) => {
                assert!(full, "{}: a page with a next cursor is full", o.name());
                assert_eq!(
                    c.id,
                    all.last().unwrap().id.0,
                    "the cursor names the last item"
                );
                req = PageRequest {
                    limit,
                    after: Some(c),
                };
            }
            None => return all,
        }
    }
    panic!("pagination does not end");
}

#[tokio::test]
async fn lists_are_newest_first_across_page_boundaries() {
    for b in backends() {
        let o = Org::new(&b).await;
        let scope = o.scope(o.default_ws, "chatflows:view").await;
        let kind = ResourceKind::Chatflow;
        let mut made = Vec::new();
        for i in 0..7 {
            made.push(
                o.store
                    .create_item(&scope, kind, fields(&format!("F{i}"), "{}"))
                    .await
                    .unwrap(),
            );
        }
        // Other kinds in the same workspace never show up in this list.
        o.store
            .create_item(&scope, ResourceKind::Tool, fields("T", "{}"))
            .await
            .unwrap();
        o.store
            .create_item(&scope, ResourceKind::Variable, fields("V", "{}"))
            .await
            .unwrap();

        // Give F2..F5 one creation time, so that the id decides their order and the page
        // boundaries (limit 3: after F6 F5 F4 | F3 F2 F1 ...) fall inside the tie.
        let n = o
            .exec(
                "UPDATE items SET created_at = (SELECT created_at FROM items WHERE id = $1)
                 WHERE id IN ($2, $3, $4)",
                &[made[2].id.0, made[3].id.0, made[4].id.0, made[5].id.0],
            )
            .await;
        assert_eq!(n, 3);

        let mut expected: Vec<(i64, uuid::Uuid)> = Vec::new();
        for it in &made {
            let fresh = o.store.get_item(&scope, kind, it.id).await.unwrap();
            expected.push((fresh.created_at.micros(), fresh.id.0));
        }
        expected.sort_by(|a, b| b.cmp(a));

        for limit in [1, 2, 3, 4, 6, 7, 50] {
            let all = walk(&o, &scope, kind, limit).await;
            let got: Vec<(i64, uuid::Uuid)> = all
                .iter()
                .map(|i| (i.created_at.micros(), i.id.0))
                .collect();
            assert_eq!(got, expected, "{} with limit {limit}", b.name());
        }
        let first = o.store.list_items(&scope, kind, page(7)).await.unwrap();
        assert_eq!(first.items.len(), 7);
        assert!(
            first.next.is_none(),
            "{}: exactly one page has no next",
            b.name()
        );
        assert_eq!(first.items[0].id, made[6].id, "{}: newest first", b.name());
    }
}

/// Creates arriving together (on SQLite, committed in groups by one writer thread): each gets
/// its own answer, a failing one takes nothing of the others with it, and every create that
/// answered is there once with its audit event, in an intact chain.
#[tokio::test]
async fn creates_at_once_each_answer_alone_and_all_are_audited() {
    for b in backends() {
        let o = Org::new(&b).await;
        let kind = ResourceKind::Chatflow;
        let scope = o.scope(o.default_ws, "chatflows:update").await;
        // A workspace deleted after its scope was handed out: creates there must fail.
        let doomed = o.workspace("Doomed").await;
        let doomed_scope = o.scope(doomed, "chatflows:update").await;
        o.store
            .delete_workspace(&o.admin_scope().await, doomed)
            .await
            .unwrap();
        let before = o.store.verify_audit_chain(&scope).await.unwrap();
        assert!(before.valid, "{}", b.name());

        const N: usize = 300;
        let tasks: Vec<_> = (0..N)
            .map(|i| {
                let store = o.store.clone();
                let scope = if i % 10 == 3 {
                    doomed_scope.clone()
                } else {
                    scope.clone()
                };
                tokio::spawn(async move {
                    let r = store
                        .create_item(&scope, kind, fields(&format!("flow {i}"), "{}"))
                        .await;
                    (i, r)
                })
            })
            .collect();
        let mut made = Vec::new();
        for t in tasks {
            let (i, r) = t.await.unwrap();
            if i % 10 == 3 {
                assert!(r.is_err(), "{}: a create in a deleted workspace", b.name());
            } else {
                let item = r.unwrap_or_else(|e| panic!("{}: flow {i}: {e}", b.name()));
                assert_eq!(
                    item.name,
                    format!("flow {i}"),
                    "{}: its own answer",
                    b.name()
                );
                made.push(item);
            }
        }
        assert_eq!(made.len(), N - N / 10, "{}", b.name());
        for item in &made {
            let got = o.store.get_item(&scope, kind, item.id).await.unwrap();
            assert_eq!(got.name, item.name, "{}", b.name());
            assert_eq!(got.version, 1, "{}", b.name());
            assert_eq!(got.created_at, item.created_at, "{}", b.name());
        }
        let stored = o
            .count(
                "SELECT COUNT(*) FROM items WHERE workspace_id = $1",
                o.default_ws.0,
            )
            .await;
        assert_eq!(stored as usize, made.len(), "{}: nothing more", b.name());
        let created_events = o
            .count(
                "SELECT COUNT(*) FROM audit_events WHERE workspace_id = $1 AND action = 'chatflow.create'",
                o.default_ws.0,
            )
            .await;
        assert_eq!(
            created_events as usize,
            made.len(),
            "{}: one event each",
            b.name()
        );
        let after = o.store.verify_audit_chain(&scope).await.unwrap();
        assert!(after.valid, "{}: {after:?}", b.name());
        assert_eq!(
            after.checked,
            before.checked + made.len() as u64,
            "{}: the failed creates left no link",
            b.name()
        );
    }
}
