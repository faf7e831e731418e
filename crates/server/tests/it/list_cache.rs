//! The list cache (docs/architecture.md, "Caching lists"): first pages of item lists are kept
//! per replica, and answered only while the workspace's items version is unchanged. Two
//! replicas on one database; every list is first served by replica 2 twice (so it is cached
//! there), then written through replica 1, and replica 2's very next list must show the write.

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
