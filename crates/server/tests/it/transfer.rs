//! Issue 4 through HTTP: credentials shared across workspaces (rule 11), resolve, key rotation,
//! export and import (rule 12), and the Account Admin's bulk move and copy of flows.

use flowspace_testkit::{Backend, Client, PASSWORD, World, backends};
use serde_json::{Value, json};

async fn credential(c: &Client, name: &str, secret: &str) -> String {
    let r = c
        .post("/credentials", json!({"name": name, "credentialName": "openAIApi", "data": {"apiKey": secret, "org": "acme"}}))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.id()
}

fn names(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn sharing_matrix() {
    for b in backends() {
        let w = World::new(&b).await;
        let (a, t, third) = (
            w.workspace("Owner").await,
            w.workspace("Target").await,
            w.workspace("Third").await,
        );
        let admin_a = w.admin.in_workspace(&a);
        let cred = credential(&admin_a, "OpenAI", "sk-shared-secret").await;
        let shares = admin_a
            .put(
                &format!("/credentials/{cred}/shares"),
                json!({"workspaceIds": [t]}),
            )
            .await;
        assert_eq!(shares.status, 200, "{}", shares.body);
        assert_eq!(shares.body["workspaces"][0]["name"], "Target");
        assert_eq!(
            admin_a
                .get(&format!("/credentials/{cred}/shares"))
                .await
                .body["workspaces"]
                .as_array()
                .unwrap()
                .len(),
            1
        );

        // In the target: listed, marked shared, readable, usable, never writable or re-shareable.
        let (_, dev_t) = w.member("dev-t@example.com", &t, "Developer").await;
        let list = dev_t.get("/credentials").await;
        assert_eq!(list.body["items"][0]["shared"], true, "{}", list.body);
        assert_eq!(list.body["items"][0]["ownerWorkspace"]["name"], "Owner");
        assert!(!list.text.contains("sk-shared-secret"));
        assert_eq!(dev_t.get(&format!("/credentials/{cred}")).await.status, 200);
        let put = dev_t
            .put(
                &format!("/credentials/{cred}"),
                json!({"name": "Mine", "version": 1}),
            )
            .await;
        assert_eq!(put.status, 403, "{}", put.body);
        assert!(
            put.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("shared")
        );
        assert_eq!(
            dev_t.delete(&format!("/credentials/{cred}")).await.status,
            403
        );
        let admin_t = w.admin.in_workspace(&t);
        let reshare = admin_t
            .put(
                &format!("/credentials/{cred}/shares"),
                json!({"workspaceIds": [third]}),
            )
            .await;
        assert_eq!(
            reshare.status, 403,
            "only the owner workspace shares: {}",
            reshare.body
        );
        let used = dev_t
            .post(&format!("/credentials/{cred}/resolve"), json!({}))
            .await;
        assert_eq!(
            (used.status, used.body["data"]["apiKey"].as_str()),
            (200, Some("sk-shared-secret")),
            "{}",
            used.body
        );

        // In a third workspace: nothing, exactly like an id that does not exist.
        let admin_c = w.admin.in_workspace(&third);
        assert!(names(&admin_c.get("/credentials").await.body).is_empty());
        assert_eq!(
            admin_c.get(&format!("/credentials/{cred}")).await.status,
            404
        );
        assert_eq!(
            admin_c
                .post(&format!("/credentials/{cred}/resolve"), json!({}))
                .await
                .status,
            404
        );
        assert_eq!(
            admin_c
                .get(&format!("/credentials/{cred}/shares"))
                .await
                .status,
            404
        );

        // Sharing needs credentials:share in the owner workspace; a Developer lacks it.
        let (_, dev_a) = w.member("dev-a@example.com", &a, "Developer").await;
        let denied = dev_a
            .put(
                &format!("/credentials/{cred}/shares"),
                json!({"workspaceIds": [third]}),
            )
            .await;
        assert_eq!(
            (
                denied.status,
                denied.body["error"]["missingPermission"].as_str()
            ),
            (403, Some("credentials:share"))
        );
        // A sharer shares only into workspaces they belong to: another one is "not found".
        let sharer = w
            .role("Sharer", &["credentials:share", "credentials:create"])
            .await;
        let (_, sharer_a) = w.member("sharer@example.com", &a, &sharer).await;
        let own = credential(&sharer_a, "Sharer's", "sk-sharer").await;
        let r = sharer_a
            .put(
                &format!("/credentials/{own}/shares"),
                json!({"workspaceIds": [third]}),
            )
            .await;
        assert_eq!(r.status, 404, "not a member of the target: {}", r.body);
        assert!(!r.text.contains("Third"), "the target's name does not leak");
        assert!(
            sharer_a
                .get(&format!("/credentials/{own}/shares"))
                .await
                .body["workspaces"]
                .as_array()
                .unwrap()
                .is_empty()
        );
        // An unknown workspace: 404, and the set is unchanged.
        let unknown = admin_a
            .put(
                &format!("/credentials/{cred}/shares"),
                json!({"workspaceIds": [third, uuid_v4()]}),
            )
            .await;
        assert_eq!(unknown.status, 404);
        assert_eq!(
            admin_a
                .get(&format!("/credentials/{cred}/shares"))
                .await
                .body["workspaces"][0]["name"],
            "Target"
        );
        assert_eq!(
            admin_a
                .put(
                    &format!("/credentials/{cred}/shares"),
                    json!({"workspaceIds": ["nope"]})
                )
                .await
                .status,
            422
        );

        // Unsharing removes it there at once.
        assert_eq!(
            admin_a
                .put(
                    &format!("/credentials/{cred}/shares"),
                    json!({"workspaceIds": []})
                )
                .await
                .status,
            200
        );
        assert_eq!(dev_t.get(&format!("/credentials/{cred}")).await.status, 404);
        assert!(names(&dev_t.get("/credentials").await.body).is_empty());

        // Deleting the target workspace or the credential removes the share.
        admin_a
            .put(
                &format!("/credentials/{cred}/shares"),
                json!({"workspaceIds": [third]}),
            )
            .await;
        assert_eq!(
            w.admin.delete(&format!("/workspace/{third}")).await.status,
            204
        );
        assert!(
            admin_a
                .get(&format!("/credentials/{cred}/shares"))
                .await
                .body["workspaces"]
                .as_array()
                .unwrap()
                .is_empty()
        );
        admin_a
            .put(
                &format!("/credentials/{cred}/shares"),
                json!({"workspaceIds": [t]}),
            )
            .await;
        assert_eq!(
            admin_a.delete(&format!("/credentials/{cred}")).await.status,
            204
        );
        assert!(
            names(&dev_t.get("/credentials").await.body).is_empty(),
            "{}",
            b.name()
        );
    }
}

fn uuid_v4() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[tokio::test]
async fn resolve_allowed_and_denied_and_audited() {
    for b in backends() {
        let w = World::new(&b).await;
        let a = w.workspace("A").await;
        let admin_a = w.admin.in_workspace(&a);
        let cred = credential(&admin_a, "Key", "sk-resolve-me").await;
        // An API key with credentials:view resolves it: this is how a runtime gets secrets.
        let key = admin_a
            .post(
                "/apikeys",
                json!({"name": "runtime", "permissions": ["credentials:view"]}),
            )
            .await;
        let runtime = w
            .server
            .client()
            .with_token(key.body["key"].as_str().unwrap());
        let r = runtime
            .post(&format!("/credentials/{cred}/resolve"), json!({}))
            .await;
        assert_eq!(
            r.body["data"],
            json!({"apiKey": "sk-resolve-me", "org": "acme"}),
            "{}",
            r.body
        );
        // A key without credentials:view, and a member whose role lacks it, are refused.
        let key2 = admin_a
            .post(
                "/apikeys",
                json!({"name": "flows", "permissions": ["chatflows:view"]}),
            )
            .await;
        let flows_only = w
            .server
            .client()
            .with_token(key2.body["key"].as_str().unwrap());
        let r = flows_only
            .post(&format!("/credentials/{cred}/resolve"), json!({}))
            .await;
        assert_eq!(
            (r.status, r.body["error"]["missingPermission"].as_str()),
            (403, Some("credentials:view"))
        );
        let role = w.role("Flows only", &["chatflows:view"]).await;
        let (_, member) = w.member("m@example.com", &a, &role).await;
        assert_eq!(
            member
                .post(&format!("/credentials/{cred}/resolve"), json!({}))
                .await
                .status,
            403
        );
        // A plain read never reveals the secret.
        assert!(
            !admin_a
                .get(&format!("/credentials/{cred}"))
                .await
                .text
                .contains("sk-resolve-me")
        );
        let org = org_id(&w).await;
        let events = w.server.store().audit_events(org, 100).await.unwrap();
        let resolves: Vec<_> = events
            .iter()
            .filter(|e| e.action == "credential.resolve")
            .collect();
        assert_eq!(resolves.len(), 1, "one audit event per successful resolve");
        assert!(
            resolves[0].actor_api_key_id.is_some(),
            "the API key is the actor"
        );
    }
}

#[tokio::test]
async fn key_rotation_keeps_every_credential_readable() {
    for b in backends() {
        let w = World::new(&b).await;
        let admin = w.admin.clone();
        let mut ids = Vec::new();
        for i in 0..5 {
            ids.push(credential(&admin, &format!("c{i}"), &format!("sk-rotate-{i}")).await);
        }
        let key_ids_before = key_ids(&w).await;
        assert_eq!(key_ids_before.len(), 1);
        let config = flowspace_testkit::test_config(
            w.server.data_dir().to_path_buf(),
            w.server.database_url.clone(),
        );
        let (count, _) = flowspace_server::rotate_encryption_key(config, None)
            .await
            .unwrap();
        assert_eq!(count, 5);
        let key_ids_after = key_ids(&w).await;
        assert_eq!(key_ids_after.len(), 1);
        assert_ne!(
            key_ids_after, key_ids_before,
            "every credential is sealed with the new key"
        );
        // The running server still holds only the old key in memory: a restart picks up the new
        // one (and keeps the old for reading).
        let server = w.server.restart().await;
        let admin = server.login(flowspace_testkit::ADMIN_EMAIL, PASSWORD).await;
        for (i, id) in ids.iter().enumerate() {
            let r = admin
                .post(&format!("/credentials/{id}/resolve"), json!({}))
                .await;
            assert_eq!(
                r.body["data"]["apiKey"],
                format!("sk-rotate-{i}"),
                "{}",
                r.body
            );
        }
        // New credentials are sealed with the new key.
        credential(&admin, "after", "sk-after").await;
    }
}

async fn key_ids(w: &World) -> std::collections::BTreeSet<String> {
    let rows: Vec<(String,)> = match &w.server.backend {
        Backend::Sqlite => sqlx::query_as("SELECT key_id FROM credentials")
            .fetch_all(w.server.store().sqlite_pool().unwrap())
            .await
            .unwrap(),
        Backend::Postgres(_) => sqlx::query_as("SELECT key_id FROM credentials")
            .fetch_all(w.server.store().postgres_pool().unwrap())
            .await
            .unwrap(),
    };
    rows.into_iter().map(|(k,)| k).collect()
}

#[tokio::test]
async fn export_then_import_rewrites_references() {
    for b in backends() {
        let w = World::new(&b).await;
        let (a, t) = (w.workspace("Source").await, w.workspace("Dest").await);
        let src = w.admin.in_workspace(&a);
        let tool = src
            .post(
                "/tools",
                json!({"name": "Search", "data": {"schema": {"q": "string"}}}),
            )
            .await
            .id();
        let cred = credential(&src, "OpenAI", "sk-never-exported").await;
        let flow = src
            .post("/chatflows", json!({"name": "Bot", "data": {"nodes": [{"tool": tool, "credential": cred}], "note": "uses a tool"}}))
            .await
            .id();
        src.post(
            "/variables",
            json!({"name": "region", "data": {"value": "eu-secret-value", "type": "static"}}),
        )
        .await;

        let bundle = src.post("/export", json!({})).await;
        assert_eq!(bundle.status, 200, "{}", bundle.body);
        assert!(
            !bundle.text.contains("sk-never-exported"),
            "credential secrets never leave"
        );
        assert!(
            !bundle.text.contains("eu-secret-value"),
            "variable values only on request"
        );
        assert_eq!(
            bundle.body["credentials"][0]["dataKeys"],
            json!(["apiKey", "org"])
        );
        let with_values = src
            .post(
                "/export",
                json!({"kinds": ["variables"], "includeVariableValues": true}),
            )
            .await;
        assert!(with_values.text.contains("eu-secret-value"));
        assert_eq!(with_values.body["items"].as_array().unwrap().len(), 1);

        let dst = w.admin.in_workspace(&t);
        let imported = dst.post("/import", bundle.body.clone()).await;
        assert_eq!(imported.status, 201, "{}", imported.body);
        assert_eq!(imported.body["created"].as_array().unwrap().len(), 4);
        let flows = dst.get("/chatflows").await;
        let new_flow = &flows.body["items"][0];
        assert_ne!(new_flow["id"], flow.as_str(), "new ids");
        let new_tool = dst.get("/tools").await.body["items"][0]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let new_cred = dst.get("/credentials").await.body["items"][0]["id"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(
            new_flow["data"]["nodes"][0]["tool"],
            new_tool.as_str(),
            "reference rewritten: {new_flow}"
        );
        assert_eq!(
            new_flow["data"]["nodes"][0]["credential"],
            new_cred.as_str()
        );
        assert_eq!(new_flow["data"]["note"], "uses a tool");
        // The source is untouched; a second import resolves name clashes with a suffix.
        assert_eq!(names(&src.get("/chatflows").await.body), vec!["Bot"]);
        let again = dst.post("/import", bundle.body.clone()).await;
        assert_eq!(again.status, 201);
        let mut got = names(&dst.get("/chatflows").await.body);
        got.sort();
        assert_eq!(got, vec!["Bot", "Bot (2)"]);
        assert!(
            again.body["created"]
                .as_array()
                .unwrap()
                .iter()
                .all(|c| c["renamed"] == true)
        );
    }
}

#[tokio::test]
async fn an_import_preview_names_what_it_creates_and_the_clashes_and_writes_nothing() {
    for b in backends() {
        let w = World::new(&b).await;
        let (a, t) = (w.workspace("Source").await, w.workspace("Dest").await);
        let src = w.admin.in_workspace(&a);
        for name in ["Bot", "Helper", "Bot copy"] {
            let r = src.post("/chatflows", json!({"name": name})).await;
            assert_eq!(r.status, 201, "{}", r.body);
        }
        credential(&src, "OpenAI", "sk-x").await;
        let bundle = src
            .post("/export", json!({"kinds": ["chatflows", "credentials"]}))
            .await
            .body;
        let dst = w.admin.in_workspace(&t);
        dst.post("/chatflows", json!({"name": "Bot"})).await;
        dst.post("/chatflows", json!({"name": "Bot (2)"})).await;
        let before = names(&dst.get("/chatflows").await.body).len();
        let r = dst.post("/import/preview", bundle.clone()).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let entries: Vec<(String, String, String, bool)> = r.body["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["kind"].as_str().unwrap().to_string(),
                    e["bundleName"].as_str().unwrap().to_string(),
                    e["name"].as_str().unwrap().to_string(),
                    e["renamed"].as_bool().unwrap(),
                )
            })
            .collect();
        let e = |k: &str, b: &str, n: &str, r: bool| (k.into(), b.into(), n.into(), r);
        assert_eq!(
            entries,
            vec![
                e("chatflows", "Bot", "Bot (3)", true),
                e("chatflows", "Helper", "Helper", false),
                e("chatflows", "Bot copy", "Bot copy", false),
                e("credentials", "OpenAI", "OpenAI", false),
            ]
        );
        assert_eq!(
            names(&dst.get("/chatflows").await.body).len(),
            before,
            "a preview writes nothing"
        );
        // The import then does what the preview said.
        let done = dst.post("/import", bundle.clone()).await;
        assert_eq!(done.status, 201, "{}", done.body);
        let created: Vec<&str> = done.body["created"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(created, vec!["Bot (3)", "Helper", "Bot copy", "OpenAI"]);
        // Checked as the import is: a bad entry is named, and the permission is import's.
        let mut bad = bundle.clone();
        bad["items"][1]["name"] = json!("");
        let r = dst.post("/import/preview", bad).await;
        assert_eq!(
            (r.status, r.body["error"]["field"].as_str()),
            (422, Some("items[1].name")),
            "{}",
            r.body
        );
        let (_, viewer) = w.member("v@example.com", &t, "Viewer").await;
        let r = viewer.post("/import/preview", bundle).await;
        assert_eq!(
            (r.status, r.body["error"]["missingPermission"].as_str()),
            (403, Some("workspace:import"))
        );
    }
}

#[tokio::test]
async fn a_tampered_or_forbidden_bundle_changes_nothing() {
    for b in backends() {
        let w = World::new(&b).await;
        let (a, t) = (w.workspace("Source").await, w.workspace("Dest").await);
        let src = w.admin.in_workspace(&a);
        for i in 0..3 {
            src.post("/chatflows", json!({"name": format!("f{i}")}))
                .await;
        }
        let bundle = src
            .post("/export", json!({"kinds": ["chatflows"]}))
            .await
            .body;
        let dst = w.admin.in_workspace(&t);
        let mut bad = bundle.clone();
        bad["items"][2]["data"] = json!([1, 2, 3]);
        let r = dst.post("/import", bad).await;
        assert_eq!(
            (r.status, r.body["error"]["field"].as_str()),
            (422, Some("items[2].data")),
            "{}",
            r.body
        );
        let mut bad = bundle.clone();
        bad["items"][1]["kind"] = json!("apikeys");
        assert_eq!(dst.post("/import", bad).await.status, 422);
        let mut bad = bundle.clone();
        bad["items"][1]["id"] = bad["items"][0]["id"].clone();
        assert_eq!(dst.post("/import", bad).await.status, 422);
        let mut bad = bundle.clone();
        bad["format"] = json!("something-else");
        assert_eq!(dst.post("/import", bad).await.status, 422);
        assert_eq!(
            dst.post("/import", json!({"format": "flowspace-bundle"}))
                .await
                .status,
            422
        );
        assert!(
            names(&dst.get("/chatflows").await.body).is_empty(),
            "nothing was written"
        );
        // Import needs workspace:import and the :create of every kind it holds.
        let role = w
            .role("Importer", &["workspace:import", "tools:create"])
            .await;
        let (_, importer) = w.member("imp@example.com", &t, &role).await;
        let r = importer.post("/import", bundle.clone()).await;
        assert_eq!(
            (r.status, r.body["error"]["missingPermission"].as_str()),
            (403, Some("chatflows:create"))
        );
        let role = w
            .role("Creator", &["workspace:import", "chatflows:create"])
            .await;
        let (_, creator) = w.member("creator@example.com", &t, &role).await;
        let r = creator.post("/import", bundle.clone()).await;
        assert_eq!(
            (r.status, r.body["error"]["missingPermission"].as_str()),
            (403, Some("chatflows:import"))
        );
        let (_, viewer) = w.member("v@example.com", &a, "Viewer").await;
        let r = viewer.post("/export", json!({})).await;
        assert_eq!(
            (r.status, r.body["error"]["missingPermission"].as_str()),
            (403, Some("workspace:export"))
        );
        assert!(names(&dst.get("/chatflows").await.body).is_empty());
    }
}

async fn exec(w: &World, sqlite: &str, postgres: &[&str]) {
    match &w.server.backend {
        Backend::Sqlite => {
            sqlx::query(sqlx::AssertSqlSafe(sqlite))
                .execute(w.server.store().sqlite_pool().unwrap())
                .await
                .unwrap();
        }
        Backend::Postgres(_) => {
            for s in postgres {
                sqlx::query(sqlx::AssertSqlSafe(*s))
                    .execute(w.server.store().postgres_pool().unwrap())
                    .await
                    .unwrap();
            }
        }
    }
}

#[tokio::test]
async fn bulk_move_of_1000_flows_is_all_or_nothing() {
    for b in backends() {
        let w = World::new(&b).await;
        let (a, t) = (w.workspace("From").await, w.workspace("To").await);
        let src = w.admin.in_workspace(&a);
        let mut ids = Vec::new();
        for i in 0..1000 {
            let kind = if i % 2 == 0 {
                "/chatflows"
            } else {
                "/agentflows"
            };
            ids.push(
                src.post(kind, json!({"name": format!("flow-{i}")}))
                    .await
                    .id(),
            );
        }
        assert_eq!(ids.len(), 1000);
        // A failure injected half-way (the 500th flow's update aborts) moves nothing.
        exec(
            &w,
            "CREATE TRIGGER fail_half BEFORE UPDATE OF workspace_id ON items WHEN NEW.name = 'flow-500' BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
            &[
                "CREATE FUNCTION fail_half() RETURNS trigger AS $$ BEGIN IF NEW.name = 'flow-500' THEN RAISE EXCEPTION 'injected failure'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql",
                "CREATE TRIGGER fail_half BEFORE UPDATE ON items FOR EACH ROW EXECUTE FUNCTION fail_half()",
            ],
        )
        .await;
        let r = w
            .admin
            .post(
                "/admin/flows/move",
                json!({"ids": ids, "targetWorkspaceId": t}),
            )
            .await;
        assert_eq!(r.status, 500, "{}", r.body);
        let dst = w.admin.in_workspace(&t);
        assert_eq!(
            count(&dst, "/chatflows").await + count(&dst, "/agentflows").await,
            0,
            "nothing moved"
        );
        assert_eq!(
            count(&src, "/chatflows").await + count(&src, "/agentflows").await,
            1000
        );
        exec(
            &w,
            "DROP TRIGGER fail_half",
            &[
                "DROP TRIGGER fail_half ON items",
                "DROP FUNCTION fail_half()",
            ],
        )
        .await;

        // An unknown id also moves nothing; a member who is not the Account Admin is refused.
        let mut with_unknown = ids.clone();
        with_unknown.push(uuid_v4());
        assert_eq!(
            w.admin
                .post(
                    "/admin/flows/move",
                    json!({"ids": with_unknown, "targetWorkspaceId": t})
                )
                .await
                .status,
            404
        );
        let (_, member) = w.member("m@example.com", &a, "Admin").await;
        assert_eq!(
            member
                .post(
                    "/admin/flows/move",
                    json!({"ids": ids, "targetWorkspaceId": t})
                )
                .await
                .status,
            403
        );
        assert_eq!(count(&dst, "/chatflows").await, 0);

        let r = w
            .admin
            .post(
                "/admin/flows/move",
                json!({"ids": ids, "targetWorkspaceId": t}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let results = r.body["results"].as_array().unwrap();
        assert_eq!(results.len(), 1000);
        assert!(
            results
                .iter()
                .all(|x| x["status"] == "moved" && x["fromWorkspaceId"] == a.as_str())
        );
        assert_eq!(
            count(&dst, "/chatflows").await + count(&dst, "/agentflows").await,
            1000
        );
        let moved = dst.get(&format!("/chatflows/{}", ids[0])).await;
        assert_eq!(
            (moved.status, moved.body["version"].as_i64()),
            (200, Some(1)),
            "ids and versions kept"
        );
        assert_eq!(src.get(&format!("/chatflows/{}", ids[0])).await.status, 404);

        // Copy back: new ids, the moved ones stay.
        let some: Vec<String> = ids.iter().take(10).cloned().collect();
        let r = w
            .admin
            .post(
                "/admin/flows/copy",
                json!({"ids": some, "targetWorkspaceId": a}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let copies = r.body["results"].as_array().unwrap();
        assert!(
            copies
                .iter()
                .all(|x| x["status"] == "copied" && x["newId"] != x["id"])
        );
        assert_eq!(
            count(&src, "/chatflows").await + count(&src, "/agentflows").await,
            10
        );
        assert_eq!(
            count(&dst, "/chatflows").await + count(&dst, "/agentflows").await,
            1000
        );
        let org = org_id(&w).await;
        let events = w.server.store().audit_events(org, 5000).await.unwrap();
        assert_eq!(
            events.iter().filter(|e| e.action == "flow.move").count(),
            1000
        );
        assert_eq!(
            events.iter().filter(|e| e.action == "flow.copy").count(),
            10
        );
    }
}

async fn count(c: &Client, path: &str) -> usize {
    let mut n = 0;
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(cur) => format!("{path}?limit=200&cursor={cur}"),
            None => format!("{path}?limit=200"),
        };
        let page = c.get(&url).await;
        n += page.body["items"].as_array().unwrap().len();
        match page.body["nextCursor"].as_str() {
            Some(cur) => cursor = Some(cur.to_string()),
            None => return n,
        }
    }
}

async fn org_id(w: &World) -> flowspace_core::ids::OrganizationId {
    w.admin.get("/auth/me").await.body["organization"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn api_keys_cannot_mint_or_widen_keys() {
    for b in backends() {
        let w = World::new(&b).await;
        let key = w
            .admin
            .post("/apikeys", json!({"name": "k", "permissions": ["apikeys:create", "apikeys:update"], "expiresAt": "2099-01-01T00:00:00Z"}))
            .await;
        assert_eq!(key.status, 201, "{}", key.body);
        let as_key = w
            .server
            .client()
            .with_token(key.body["key"].as_str().unwrap());
        let r = as_key
            .post(
                "/apikeys",
                json!({"name": "forever", "permissions": ["apikeys:create"]}),
            )
            .await;
        assert_eq!(r.status, 403, "{}", r.body);
        let id = key.id();
        let r = as_key
            .put(
                &format!("/apikeys/{id}"),
                json!({"name": "k", "permissions": ["apikeys:create"], "version": 1}),
            )
            .await;
        assert_eq!(r.status, 403, "{}", r.body);
        let listed = w.admin.get("/apikeys").await;
        assert_eq!(
            listed.body["items"].as_array().unwrap().len(),
            1,
            "nothing was created"
        );
        assert_eq!(listed.body["items"][0]["expiresAt"], "2099-01-01T00:00:00Z");
    }
}
