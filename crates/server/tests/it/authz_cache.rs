//! Rule 3 with the authorization cache on (the default): two replicas on one database. Every
//! caller is first served by replica 2 twice, so that replica 2 has it cached, then a change
//! is made through replica 1, and replica 2's very next answer must reflect it.

use flowspace_core::time::Timestamp;
use flowspace_testkit::{Client, TestServer, World, backends};
use serde_json::json;

/// `c`'s credentials, sent to `replica` in `ws`.
fn on(replica: &TestServer, c: &Client, ws: &str) -> Client {
    replica
        .client()
        .with_token(c.token.as_deref().expect("signed in"))
        .in_workspace(ws)
}

/// Serves `path` to `c` twice (the second answer comes from the cache) and checks both are 200.
async fn warm(c: &Client, path: &str) {
    for _ in 0..2 {
        let r = c.get(path).await;
        assert_eq!(r.status, 200, "warming {path}: {}", r.body);
    }
}

async fn api_key(c: &Client, permissions: &[&str], expires_at: Option<String>) -> (String, String) {
    let mut body = json!({"name": "k", "permissions": permissions});
    if let Some(t) = expires_at {
        body["expiresAt"] = json!(t);
    }
    let r = c.post("/apikeys", body).await;
    assert_eq!(r.status, 201, "create API key: {}", r.body);
    (r.id(), r.body["key"].as_str().expect("key").to_string())
}

#[tokio::test]
async fn sessions_lose_what_was_taken_on_the_very_next_request_on_a_warm_replica() {
    for b in backends() {
        let w = World::new(&b).await;
        let r2 = w.server.replica().await;
        let ws = w.workspace("Team").await;
        let name = b.name();

        // Signing out on replica 1.
        let (_, a) = w.member("a@example.com", &ws, "Developer").await;
        let a2 = on(&r2, &a, &ws);
        warm(&a2, "/chatflows").await;
        assert_eq!(a.post("/auth/logout", json!({})).await.status, 204);
        assert_eq!(a2.get("/chatflows").await.status, 401, "{name}: signed out");

        // Disabling the user.
        let (bid, bob) = w.member("b@example.com", &ws, "Developer").await;
        let b2 = on(&r2, &bob, &ws);
        warm(&b2, "/chatflows").await;
        let r = w
            .admin
            .patch(&format!("/users/{bid}"), json!({"status": "disabled"}))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(b2.get("/chatflows").await.status, 401, "{name}: disabled");

        // Editing the role held: what it takes is refused, what it gives is allowed.
        let custom = w.role("Custom", &["chatflows:view"]).await;
        let (_, c) = w.member("c@example.com", &ws, &custom).await;
        let c2 = on(&r2, &c, &ws);
        warm(&c2, "/chatflows").await;
        assert_eq!(c2.get("/tools").await.status, 403);
        let r = w
            .admin
            .put(
                &format!("/roles/{custom}"),
                json!({"name": "Custom", "permissions": ["tools:view"]}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(
            c2.get("/chatflows").await.status,
            403,
            "{name}: role edited"
        );
        assert_eq!(c2.get("/tools").await.status, 200, "{name}: role edited");

        // Unlinking from the workspace.
        let (did, d) = w.member("d@example.com", &ws, "Developer").await;
        let d2 = on(&r2, &d, &ws);
        warm(&d2, "/chatflows").await;
        let r = w
            .admin
            .post(
                &format!("/workspace/{ws}/remove-user"),
                json!({ "userId": did }),
            )
            .await;
        assert_eq!(r.status, 204, "{}", r.body);
        assert_eq!(d2.get("/chatflows").await.status, 404, "{name}: unlinked");

        // Leaving the group that gave the access.
        let eid = w.user("e@example.com").await;
        let g = w
            .admin
            .post("/groups", json!({"name": "Readers", "members": [eid]}))
            .await;
        assert_eq!(g.status, 201, "{}", g.body);
        let gid = g.id();
        let r = w
            .admin
            .post(
                &format!("/workspace/{ws}/add-group"),
                json!({"groupId": gid, "role": "Viewer"}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let e = w
            .server
            .login("e@example.com", flowspace_testkit::PASSWORD)
            .await;
        let e2 = on(&r2, &e, &ws);
        warm(&e2, "/chatflows").await;
        let r = w
            .admin
            .patch(&format!("/groups/{gid}"), json!({"members": []}))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(e2.get("/chatflows").await.status, 404, "{name}: left group");
    }
}

#[tokio::test]
async fn api_keys_lose_what_was_taken_on_the_very_next_request_on_a_warm_replica() {
    for b in backends() {
        let w = World::new(&b).await;
        let r2 = w.server.replica().await;
        let ws = w.workspace("Team").await;
        let admin = w.admin.in_workspace(&ws);
        let name = b.name();
        let key_on_2 = |key: &str| r2.client().with_token(key);

        // Deleted.
        let (id, key) = api_key(&admin, &["chatflows:view"], None).await;
        warm(&key_on_2(&key), "/chatflows").await;
        assert_eq!(admin.delete(&format!("/apikeys/{id}")).await.status, 204);
        assert_eq!(
            key_on_2(&key).get("/chatflows").await.status,
            401,
            "{name}: deleted"
        );

        // Narrowed.
        let (id, key) = api_key(&admin, &["chatflows:view", "tools:view"], None).await;
        warm(&key_on_2(&key), "/chatflows").await;
        let r = admin
            .put(
                &format!("/apikeys/{id}"),
                json!({"name": "k", "version": 1, "permissions": ["tools:view"]}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(
            key_on_2(&key).get("/chatflows").await.status,
            403,
            "{name}: narrowed"
        );
        assert_eq!(key_on_2(&key).get("/tools").await.status, 200);

        // Its creator unlinked from the key's workspace.
        let (hid, h) = w.member("h@example.com", &ws, "Developer").await;
        let (_, key) = api_key(&h, &["chatflows:view"], None).await;
        warm(&key_on_2(&key), "/chatflows").await;
        let r = w
            .admin
            .post(
                &format!("/workspace/{ws}/remove-user"),
                json!({ "userId": hid }),
            )
            .await;
        assert_eq!(r.status, 204, "{}", r.body);
        assert_eq!(
            key_on_2(&key).get("/chatflows").await.status,
            401,
            "{name}: creator unlinked"
        );

        // Expired while cached: expiry is checked on every use, not only when loaded.
        let expires = Timestamp::now().plus_seconds(5);
        let (_, key) = api_key(&admin, &["chatflows:view"], Some(expires.to_string())).await;
        warm(&key_on_2(&key), "/chatflows").await;
        let left = expires.micros() - Timestamp::now().micros();
        tokio::time::sleep(std::time::Duration::from_micros(
            left.max(0) as u64 + 300_000,
        ))
        .await;
        assert_eq!(
            key_on_2(&key).get("/chatflows").await.status,
            401,
            "{name}: expired"
        );
    }
}

/// Writes that bump the versions, run at once: on PostgreSQL every trigger locks the
/// organization's row before a version row, as the audit trail does, so none deadlocks (a
/// deadlock would abort one of them with a 500).
#[tokio::test]
async fn concurrent_writes_that_bump_versions_do_not_deadlock() {
    for b in backends() {
        let w = World::new(&b).await;
        let ws = w.workspace("Team").await;
        let other = w.workspace("Other").await;
        let admin = w.admin.in_workspace(&ws);
        let role = w.role("Custom", &["chatflows:view"]).await;
        let uid = w.user("g@example.com").await;
        let g = w
            .admin
            .post("/groups", json!({"name": "G", "members": [uid]}))
            .await;
        assert_eq!(g.status, 201, "{}", g.body);
        let gid = g.id();
        let mut flows = Vec::new();
        for i in 0..8 {
            flows.push(create_flow(&admin, &format!("f{i}")).await);
        }
        for round in 0..8 {
            let perms = if round % 2 == 0 {
                json!(["chatflows:view"])
            } else {
                json!(["chatflows:view", "tools:view"])
            };
            let (target, source) = if round % 2 == 0 {
                (&other, &ws)
            } else {
                (&ws, &other)
            };
            let src = w.admin.in_workspace(source);
            let answers = futures_util::future::join_all([
                Box::pin(w.admin.put(
                    &format!("/roles/{role}"),
                    json!({"name": "Custom", "permissions": perms}),
                )) as std::pin::Pin<Box<dyn std::future::Future<Output = _> + Send>>,
                Box::pin(w.admin.post(
                    &format!("/workspace/{ws}/add-group"),
                    json!({"groupId": gid, "role": if round % 2 == 0 { "Viewer" } else { "Developer" }}),
                )),
                Box::pin(src.post("/chatflows", json!({"name": format!("n{round}")}))),
                Box::pin(w.admin.post(
                    "/admin/flows/move",
                    json!({"ids": flows, "targetWorkspaceId": target}),
                )),
                Box::pin(w.admin.post(
                    &format!("/workspace/{other}/add-user"),
                    json!({"userId": uid, "role": if round % 2 == 0 { "Viewer" } else { role.as_str() }}),
                )),
            ])
            .await;
            for r in answers {
                assert!(
                    r.status < 500,
                    "{} round {round}: {} {}",
                    b.name(),
                    r.status,
                    r.body
                );
            }
        }
    }
}

async fn create_flow(c: &Client, name: &str) -> String {
    let r = c.post("/chatflows", json!({ "name": name })).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.id()
}
