//! The list and item caches (docs/architecture.md, "Caching lists"): first pages of item lists
//! and single items are kept per replica, and answered only while the workspace's items version
//! is unchanged. Two replicas on one database; every list or item is first served by replica 2
//! twice (so it is cached there), then written through replica 1, and replica 2's very next
//! answer must show the write.

use flowspace_testkit::{Client, World, backends};
use serde_json::{Value, json};

/// The names of a list, in order; the list is read twice (the second from the cache) and
/// both answers must be equal.
async fn names(c: &Client, path: &str) -> Vec<String> {
    let first = c.get(path).await;
    assert_eq!(first.status, 200, "{path}: {}", first.body);
    let second = c.get(path).await;
    assert_eq!(second.body, first.body, "{path}: a cached answer differs");
    first.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["name"].as_str().expect("name").to_string())
        .collect()
}

async fn create(c: &Client, name: &str) -> Value {
    let r = c.post("/chatflows", json!({ "name": name })).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body
}

#[tokio::test]
async fn a_cached_list_shows_every_write_from_any_replica_on_the_next_request() {
    for b in backends() {
        let w = World::new(&b).await;
        let r2 = w.server.replica().await;
        let token = w.admin.token.clone().expect("token");
        let (wa, wb) = (w.workspace("A").await, w.workspace("B").await);
        let (a1, b1) = (w.admin.in_workspace(&wa), w.admin.in_workspace(&wb));
        let a2 = r2.client().with_token(&token).in_workspace(&wa);
        let b2 = r2.client().with_token(&token).in_workspace(&wb);
        let name = b.name();

        create(&a1, "a-one").await;
        create(&b1, "b-one").await;
        assert_eq!(names(&a2, "/chatflows").await, ["a-one"], "{name}");
        assert_eq!(names(&b2, "/chatflows").await, ["b-one"], "{name}");
        assert_eq!(names(&a2, "/chatflows?limit=1").await, ["a-one"]);

        // Create, on replica 1.
        let two = create(&a1, "a-two").await;
        assert_eq!(names(&a2, "/chatflows").await, ["a-two", "a-one"], "{name}");
        assert_eq!(names(&a2, "/chatflows?limit=1").await, ["a-two"], "{name}");
        assert_eq!(
            names(&b2, "/chatflows").await,
            ["b-one"],
            "{name}: B untouched"
        );

        // Update.
        let id = two["id"].as_str().unwrap();
        let r = a1
            .put(
                &format!("/chatflows/{id}"),
                json!({"name": "a-two-renamed", "version": two["version"]}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(
            names(&a2, "/chatflows").await,
            ["a-two-renamed", "a-one"],
            "{name}"
        );

        // Move to another workspace: both lists change.
        let r = w
            .admin
            .post(
                "/admin/flows/move",
                json!({"ids": [id], "targetWorkspaceId": wb}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(
            names(&a2, "/chatflows").await,
            ["a-one"],
            "{name}: moved out"
        );
        assert_eq!(
            names(&b2, "/chatflows").await,
            ["a-two-renamed", "b-one"],
            "{name}: moved in"
        );

        // Delete.
        let r = b1.delete(&format!("/chatflows/{id}")).await;
        assert_eq!(r.status, 204, "{}", r.body);
        assert_eq!(names(&b2, "/chatflows").await, ["b-one"], "{name}: deleted");

        // Other kinds of the same workspace are other lists.
        assert!(names(&a2, "/tools").await.is_empty(), "{name}");
        let r = a1.post("/tools", json!({"name": "t"})).await;
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(names(&a2, "/tools").await, ["t"], "{name}");
        assert_eq!(names(&a2, "/chatflows").await, ["a-one"], "{name}");
    }
}

#[tokio::test]
async fn a_cached_list_is_still_authorized_on_every_request() {
    for b in backends() {
        let w = World::new(&b).await;
        let ws = w.workspace("Team").await;
        let admin = w.admin.in_workspace(&ws);
        create(&admin, "secret plans").await;
        let (uid, viewer) = w.member("v@example.com", &ws, "Viewer").await;
        assert_eq!(names(&viewer, "/chatflows").await, ["secret plans"]);

        // The page is cached, but the caller no longer may read it.
        let r = w
            .admin
            .post(
                &format!("/workspace/{ws}/remove-user"),
                json!({ "userId": uid }),
            )
            .await;
        assert_eq!(r.status, 204, "{}", r.body);
        let r = viewer.get("/chatflows").await;
        assert_eq!(r.status, 404, "{}: {}", b.name(), r.body);
        assert!(!r.text.contains("secret plans"), "{}", b.name());
    }
}

/// One item read twice (the second from the cache): both answers equal; the first answer.
async fn item(c: &Client, path: &str) -> Value {
    let first = c.get(path).await;
    assert_eq!(first.status, 200, "{path}: {}", first.body);
    let second = c.get(path).await;
    assert_eq!(second.text, first.text, "{path}: a cached answer differs");
    first.body
}

#[tokio::test]
async fn a_cached_item_shows_every_write_from_any_replica_on_the_next_request() {
    for b in backends() {
        let w = World::new(&b).await;
        let name = b.name();
        let r2 = w.server.replica().await;
        let token = w.admin.token.clone().expect("token");
        let (wa, wb) = (w.workspace("A").await, w.workspace("B").await);
        let a1 = w.admin.in_workspace(&wa);
        let a2 = r2.client().with_token(&token).in_workspace(&wa);
        let b2 = r2.client().with_token(&token).in_workspace(&wb);

        let one = create(&a1, "one").await;
        let other = create(&a1, "other").await;
        let path = format!("/chatflows/{}", one["id"].as_str().unwrap());
        let other_path = format!("/chatflows/{}", other["id"].as_str().unwrap());
        let cached = item(&a2, &path).await;
        assert_eq!(cached, one, "{name}: the read answers what the create did");
        assert_eq!(item(&a2, &other_path).await["name"], "other", "{name}");

        // Update, on replica 1: replica 2's next read shows it.
        let r = a1
            .put(
                &path,
                json!({"name": "one renamed", "version": one["version"]}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let read = item(&a2, &path).await;
        assert_eq!(read, r.body, "{name}: updated");
        assert_eq!(read["name"], "one renamed", "{name}");
        assert_eq!(read["version"], 2, "{name}");

        // Another kind with the same id is another key (and not found).
        let r = a2.get(&path.replace("/chatflows/", "/tools/")).await;
        assert_eq!(r.status, 404, "{name}: {}", r.body);

        // Moved to another workspace: gone from A, readable in B.
        let id = one["id"].as_str().unwrap();
        let r = w
            .admin
            .post(
                "/admin/flows/move",
                json!({"ids": [id], "targetWorkspaceId": wb}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let r = a2.get(&path).await;
        assert_eq!(r.status, 404, "{name}: moved out: {}", r.body);
        assert_eq!(item(&b2, &path).await["name"], "one renamed", "{name}");

        // Deleted, on replica 1.
        let r = a1.delete(&other_path).await;
        assert_eq!(r.status, 204, "{}", r.body);
        let r = a2.get(&other_path).await;
        assert_eq!(r.status, 404, "{name}: deleted: {}", r.body);
        assert!(!r.text.contains("\"other\""), "{name}");
    }
}

#[tokio::test]
async fn a_cached_item_is_still_authorized_on_every_request() {
    for b in backends() {
        let w = World::new(&b).await;
        let name = b.name();
        let r2 = w.server.replica().await;
        let ws = w.workspace("Team").await;
        let admin = w.admin.in_workspace(&ws);
        let made = create(&admin, "secret plans").await;
        let path = format!("/chatflows/{}", made["id"].as_str().unwrap());

        // A role edited to no longer give chatflows:view, on replica 1; the item is cached on
        // replica 2.
        let custom = w.role("Reader", &["chatflows:view"]).await;
        let (_, reader) = w.member("r@example.com", &ws, &custom).await;
        let token = reader.token.clone().expect("token");
        let reader2 = r2.client().with_token(&token).in_workspace(&ws);
        assert_eq!(item(&reader2, &path).await["name"], "secret plans");
        let r = w
            .admin
            .put(
                &format!("/roles/{custom}"),
                json!({"name": "Reader", "permissions": ["tools:view"]}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let r = reader2.get(&path).await;
        assert_eq!(r.status, 403, "{name}: role edited: {}", r.body);
        assert!(!r.text.contains("secret plans"), "{name}");

        // Removed from the workspace.
        let (uid, viewer) = w.member("v@example.com", &ws, "Viewer").await;
        let token = viewer.token.clone().expect("token");
        let viewer2 = r2.client().with_token(&token).in_workspace(&ws);
        assert_eq!(item(&viewer2, &path).await["name"], "secret plans");
        let r = w
            .admin
            .post(
                &format!("/workspace/{ws}/remove-user"),
                json!({ "userId": uid }),
            )
            .await;
        assert_eq!(r.status, 204, "{}", r.body);
        let r = viewer2.get(&path).await;
        assert_eq!(r.status, 404, "{name}: unlinked: {}", r.body);
        assert!(!r.text.contains("secret plans"), "{name}");

        // Read through another workspace the caller can read: not found there.
        let other = w.workspace("Other").await;
        let r = w.admin.in_workspace(&other).get(&path).await;
        assert_eq!(r.status, 404, "{name}: another workspace: {}", r.body);
    }
}
