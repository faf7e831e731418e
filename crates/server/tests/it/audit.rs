//! The audit trail: every change leaves an event in the same transaction, with its actor,
//! workspace, action, summary and address; the chain of hashes reveals a changed or removed
//! event; the list API filters, pages, exports CSV and keeps members to their workspace.

use flowspace_testkit::{Client, TestServer, World, backends};
use serde_json::{Value, json};
use uuid::Uuid;

async fn me(c: &Client) -> String {
    let r = c.get("/auth/me").await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["user"]["id"].as_str().unwrap().to_string()
}

/// The newest event of `action` (as the Account Admin sees it).
async fn latest(admin: &Client, action: &str) -> Value {
    let r = admin.get(&format!("/audit-events?action={action}")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["items"][0].clone()
}

async fn verify(admin: &Client) -> Value {
    let r = admin.get("/audit-events/verify").await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

/// Runs one statement with one id parameter against the server's database.
async fn exec(s: &TestServer, sql: &'static str, id: Uuid) {
    let store = s.store();
    if let Some(p) = store.sqlite_pool() {
        sqlx::query(sql).bind(id).execute(p).await.unwrap();
    } else if let Some(p) = store.postgres_pool() {
        sqlx::query(sql).bind(id).execute(p).await.unwrap();
    }
}

#[tokio::test]
async fn item_and_membership_writes_are_recorded_with_actor_workspace_summary_and_ip() {
    for b in backends() {
        let w = World::new(&b).await;
        let admin = w.admin.in_workspace(&w.default_ws);
        let uid = me(&admin).await;
        let name = b.name();

        let c = admin
            .post(
                "/chatflows",
                json!({"name": "a", "data": {"nodes": [], "edges": []}}),
            )
            .await;
        assert_eq!(c.status, 201, "{}", c.body);
        let id = c.id();
        let e = latest(&admin, "chatflow.create").await;
        assert_eq!(e["actorUserId"], uid, "{name}");
        assert_eq!(e["actorType"], "user", "{name}");
        assert!(e["actorApiKeyId"].is_null(), "{name}");
        assert_eq!(e["workspaceId"], w.default_ws, "{name}");
        assert_eq!(e["targetKind"], "chatflow", "{name}");
        assert_eq!(e["targetId"], id, "{name}");
        assert_eq!(e["summary"], json!({"name": "a"}), "{name}");
        assert_eq!(e["ip"], "127.0.0.1", "{name}");
        assert!(
            e["createdAt"].is_string() && e["seq"].is_i64(),
            "{name}: {e}"
        );

        let u = admin
            .put(
                &format!("/chatflows/{id}"),
                json!({"name": "b", "data": {"nodes": [], "edges": []}, "version": 1}),
            )
            .await;
        assert_eq!(u.status, 200, "{}", u.body);
        let e = latest(&admin, "chatflow.update").await;
        assert_eq!(e["targetId"], id, "{name}");
        assert_eq!(
            e["summary"],
            json!({"name": {"from": "a", "to": "b"}, "version": 2}),
            "{name}"
        );
        assert_eq!(e["actorUserId"], uid, "{name}");

        assert_eq!(admin.delete(&format!("/chatflows/{id}")).await.status, 204);
        let e = latest(&admin, "chatflow.delete").await;
        assert_eq!(e["summary"], json!({"name": "b", "version": 2}), "{name}");
        assert_eq!(e["workspaceId"], w.default_ws, "{name}");

        // Memberships: an add, then a role change.
        let ws = w.workspace("Team").await;
        let user = w.user("dev@example.com").await;
        w.add(&ws, &user, "Viewer").await;
        let e = latest(&admin, "membership.add").await;
        assert_eq!(
            (&e["workspaceId"], &e["targetId"], &e["actorUserId"]),
            (&json!(ws), &json!(user), &json!(uid)),
            "{name}"
        );
        assert_eq!(
            e["summary"],
            json!({"email": "dev@example.com", "role": "Viewer"}),
            "{name}"
        );
        assert_eq!(e["ip"], "127.0.0.1", "{name}");
        w.add(&ws, &user, "Developer").await;
        let e = latest(&admin, "membership.update").await;
        assert_eq!(e["workspaceId"], ws, "{name}");
        assert_eq!(
            e["summary"]["role"],
            json!({"from": "Viewer", "to": "Developer"}),
            "{name}"
        );
        let r = admin
            .post(
                &format!("/workspace/{ws}/remove-user"),
                json!({"userId": user}),
            )
            .await;
        assert_eq!(r.status, 204, "{}", r.body);
        assert_eq!(latest(&admin, "membership.remove").await["targetId"], user);

        // Roles, workspaces and users are recorded too.
        let role = w.role("Auditor", &["auditLogs:view"]).await;
        let r = admin
            .put(
                &format!("/roles/{role}"),
                json!({"name": "Auditors", "permissions": ["auditLogs:view", "tools:view"]}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let e = latest(&admin, "role.update").await;
        assert_eq!(
            e["summary"]["name"],
            json!({"from": "Auditor", "to": "Auditors"})
        );
        assert_eq!(e["summary"]["permissions"]["added"], json!(["tools:view"]));
        assert_eq!(latest(&admin, "role.create").await["targetId"], role);
        assert_eq!(latest(&admin, "workspace.create").await["workspaceId"], ws);
        assert_eq!(latest(&admin, "user.create").await["targetId"], user);
        assert_eq!(
            latest(&admin, "organization.setup").await["actorUserId"],
            uid
        );
        assert_eq!(verify(&admin).await["valid"], true, "{name}");
    }
}

#[tokio::test]
async fn an_api_key_is_recorded_as_the_actor() {
    for b in backends() {
        let w = World::new(&b).await;
        let admin = w.admin.in_workspace(&w.default_ws);
        let uid = me(&admin).await;
        let k = admin
            .post(
                "/apikeys",
                json!({"name": "ci", "permissions": ["chatflows:create"]}),
            )
            .await;
        assert_eq!(k.status, 201, "{}", k.body);
        let key_id = k.id();
        let e = latest(&admin, "apikey.create").await;
        assert_eq!(e["targetId"], key_id);
        assert!(
            !e["summary"]
                .to_string()
                .contains(k.body["key"].as_str().unwrap()),
            "the key itself is never recorded"
        );
        let by_key = w
            .server
            .client()
            .with_token(k.body["key"].as_str().unwrap());
        let c = by_key.post("/chatflows", json!({"name": "by key"})).await;
        assert_eq!(c.status, 201, "{}", c.body);
        let e = latest(&admin, "chatflow.create").await;
        assert_eq!(e["actorType"], "apiKey", "{}", b.name());
        assert_eq!(e["actorApiKeyId"], key_id, "{}", b.name());
        assert_eq!(e["actorUserId"], uid, "the key's creator");
        assert_eq!(e["ip"], "127.0.0.1");
        // The actor filter finds the key's events.
        let r = admin.get(&format!("/audit-events?actor={key_id}")).await;
        assert_eq!(r.body["items"].as_array().unwrap().len(), 1, "{}", r.body);
    }
}

#[tokio::test]
async fn denied_requests_are_recorded() {
    for b in backends() {
        let w = World::new(&b).await;
        let (vid, viewer) = w.member("v@example.com", &w.default_ws, "Viewer").await;
        let r = viewer.post("/chatflows", json!({"name": "no"})).await;
        assert_eq!(r.status, 403, "{}", r.body);
        let e = latest(&w.admin, "access.denied").await;
        assert_eq!(e["actorUserId"], vid, "{}", b.name());
        assert_eq!(e["workspaceId"], w.default_ws);
        assert_eq!(e["summary"]["missingPermission"], "chatflows:create");
        assert_eq!(e["summary"]["method"], "POST");
        assert!(
            e["summary"]["route"]
                .as_str()
                .unwrap()
                .ends_with("/chatflows"),
            "{e}"
        );
        assert_eq!(e["ip"], "127.0.0.1");

        let r = viewer.get("/users").await;
        assert_eq!(r.status, 403);
        let e = latest(&w.admin, "access.denied").await;
        assert_eq!(e["summary"]["accountAdminRequired"], true, "{e}");
        assert!(e["summary"]["missingPermission"].is_null());
        assert_eq!(verify(&w.admin).await["valid"], true);
    }
}

#[tokio::test]
async fn the_list_filters_pages_and_exports_csv() {
    for b in backends() {
        let w = World::new(&b).await;
        let admin = w.admin.in_workspace(&w.default_ws);
        let uid = me(&admin).await;
        let ws = w.workspace("Other").await;
        for i in 0..5 {
            let r = admin
                .post("/chatflows", json!({"name": format!("f{i}")}))
                .await;
            assert_eq!(r.status, 201);
        }
        let other = w.admin.in_workspace(&ws);
        assert_eq!(other.post("/tools", json!({"name": "t"})).await.status, 201);

        // Pages of 2, newest first, five in all.
        let mut names = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut path = "/audit-events?action=chatflow.create&limit=2".to_string();
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let r = admin.get(&path).await;
            assert_eq!(r.status, 200, "{}", r.body);
            let items = r.body["items"].as_array().unwrap();
            assert!(items.len() <= 2);
            names.extend(
                items
                    .iter()
                    .map(|e| e["summary"]["name"].as_str().unwrap().to_string()),
            );
            match r.body["nextCursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => break,
            }
        }
        assert_eq!(names, ["f4", "f3", "f2", "f1", "f0"], "{}", b.name());

        let r = admin
            .get(&format!("/audit-events?workspaceId={ws}&limit=200"))
            .await;
        let items = r.body["items"].as_array().unwrap();
        assert!(items.iter().all(|e| e["workspaceId"] == ws), "{}", r.body);
        assert!(items.iter().any(|e| e["action"] == "tool.create"));
        assert!(items.iter().any(|e| e["action"] == "workspace.create"));

        let r = admin
            .get(&format!("/audit-events?actor={uid}&limit=200"))
            .await;
        assert!(r.body["items"].as_array().unwrap().len() >= 7, "{}", r.body);
        let r = admin
            .get(&format!("/audit-events?actor={}", Uuid::new_v4()))
            .await;
        assert_eq!(r.body["items"], json!([]));

        let r = admin.get("/audit-events?from=2999-01-01T00:00:00Z").await;
        assert_eq!(r.body["items"], json!([]), "{}", r.body);
        let r = admin
            .get("/audit-events?from=2000-01-01T00:00:00Z&to=2999-01-01T00:00:00Z&action=chatflow.create")
            .await;
        assert_eq!(r.body["items"].as_array().unwrap().len(), 5);
        let r = admin.get("/audit-events?to=2000-01-01T00:00:00Z").await;
        assert_eq!(r.body["items"], json!([]));
        let r = admin.get("/audit-events?from=yesterday").await;
        assert_eq!(
            (r.status, r.body["error"]["field"].as_str()),
            (422, Some("from"))
        );

        let csv = admin
            .send(
                reqwest::Method::GET,
                "/audit-events?action=chatflow.create",
                None,
                &[("accept", "text/csv")],
            )
            .await;
        assert_eq!(csv.status, 200);
        let ct = csv.headers["content-type"].to_str().unwrap();
        assert!(ct.starts_with("text/csv"), "{ct}");
        let lines: Vec<&str> = csv.text.lines().collect();
        assert_eq!(lines.len(), 6, "{}", csv.text);
        assert!(lines[0].starts_with("id,seq,createdAt,workspaceId"));
        assert!(lines[1..].iter().all(|l| l.contains("chatflow.create")));
        assert!(lines[1].contains("f4") && lines[1].contains("127.0.0.1"));
    }
}

#[tokio::test]
async fn members_see_only_their_workspace_with_audit_logs_view() {
    for b in backends() {
        let w = World::new(&b).await;
        let ws = w.workspace("Audited").await;
        w.role("Auditor", &["auditLogs:view", "chatflows:view"])
            .await;
        let (_, auditor) = w.member("aud@example.com", &ws, "Auditor").await;
        // Developer holds every resource permission but not auditLogs:view (Viewer holds every :view).
        let (_, dev) = w.member("dev@example.com", &ws, "Developer").await;
        let in_ws = w.admin.in_workspace(&ws);
        assert_eq!(
            in_ws
                .post("/chatflows", json!({"name": "here"}))
                .await
                .status,
            201
        );
        let admin = w.admin.in_workspace(&w.default_ws);
        assert_eq!(
            admin
                .post("/chatflows", json!({"name": "elsewhere"}))
                .await
                .status,
            201
        );

        let r = auditor.get("/audit-events?limit=200").await;
        assert_eq!(r.status, 200, "{}", r.body);
        let items = r.body["items"].as_array().unwrap();
        assert!(!items.is_empty());
        assert!(items.iter().all(|e| e["workspaceId"] == ws), "{}", b.name());
        assert!(items.iter().any(|e| e["summary"]["name"] == "here"));
        let r = auditor
            .get(&format!("/audit-events?workspaceId={}", w.default_ws))
            .await;
        assert_eq!(r.status, 403, "{}", r.body);
        let csv = auditor
            .send(
                reqwest::Method::GET,
                "/audit-events",
                None,
                &[("accept", "text/csv")],
            )
            .await;
        assert_eq!(csv.status, 200);
        assert!(!csv.text.contains("elsewhere"));

        let r = dev.get("/audit-events").await;
        assert_eq!(r.status, 403, "{}", r.body);
        assert_eq!(r.body["error"]["missingPermission"], "auditLogs:view");
        let e = latest(&w.admin, "access.denied").await;
        assert_eq!(e["summary"]["missingPermission"], "auditLogs:view", "{e}");
        assert_eq!(auditor.get("/audit-events/verify").await.status, 403);
        // An API key never reads the trail (the route needs a signed-in user).
        let k = in_ws
            .post(
                "/apikeys",
                json!({"name": "k", "permissions": ["auditLogs:view"]}),
            )
            .await;
        if k.status == 201 {
            let by_key = w
                .server
                .client()
                .with_token(k.body["key"].as_str().unwrap());
            assert_eq!(by_key.get("/audit-events").await.status, 403);
        }
    }
}

#[tokio::test]
async fn verify_detects_a_changed_event_exactly_and_a_removed_one() {
    for b in backends() {
        let w = World::new(&b).await;
        let admin = w.admin.in_workspace(&w.default_ws);
        for i in 0..6 {
            let r = admin
                .post("/chatflows", json!({"name": format!("c{i}")}))
                .await;
            assert_eq!(r.status, 201);
        }
        let v = verify(&admin).await;
        assert_eq!(v["valid"], true, "{}: {v}", b.name());
        assert!(v["firstBrokenEventId"].is_null());
        let total = v["checked"].as_u64().unwrap();
        assert!(total >= 7, "{v}");

        let events = admin.get("/audit-events?action=chatflow.create").await;
        let items = events.body["items"].as_array().unwrap();
        let target: Uuid = items[3]["id"].as_str().unwrap().parse().unwrap();
        exec(
            &w.server,
            r#"UPDATE audit_events SET summary = '{"name":"forged"}' WHERE id = $1"#,
            target,
        )
        .await;
        let v = verify(&admin).await;
        assert_eq!(v["valid"], false, "{}: {v}", b.name());
        assert_eq!(v["firstBrokenEventId"], target.to_string(), "{}", b.name());

        // A fresh server, and an event removed from the middle.
        let w = World::new(&b).await;
        let admin = w.admin.in_workspace(&w.default_ws);
        for i in 0..6 {
            assert_eq!(
                admin
                    .post("/chatflows", json!({"name": format!("c{i}")}))
                    .await
                    .status,
                201
            );
        }
        let events = admin.get("/audit-events?action=chatflow.create").await;
        let items = events.body["items"].as_array().unwrap();
        let gone: Uuid = items[2]["id"].as_str().unwrap().parse().unwrap();
        let next = items[1]["id"].as_str().unwrap().to_string();
        exec(&w.server, "DELETE FROM audit_events WHERE id = $1", gone).await;
        let v = verify(&admin).await;
        assert_eq!(v["valid"], false, "{}: {v}", b.name());
        assert_eq!(v["firstBrokenEventId"], next, "the event after the gap");

        // Removing the newest event leaves no broken link, but the chain misses its head.
        let w = World::new(&b).await;
        let admin = w.admin.in_workspace(&w.default_ws);
        assert_eq!(
            admin
                .post("/chatflows", json!({"name": "last"}))
                .await
                .status,
            201
        );
        let newest: Uuid = latest(&admin, "chatflow.create").await["id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        exec(&w.server, "DELETE FROM audit_events WHERE id = $1", newest).await;
        assert_eq!(verify(&admin).await["valid"], false, "{}", b.name());
    }
}

#[tokio::test]
async fn concurrent_writes_never_fork_the_chain() {
    for b in backends() {
        let w = World::new(&b).await;
        let admin = w.admin.in_workspace(&w.default_ws);
        let before = verify(&admin).await["checked"].as_u64().unwrap();
        let tasks: Vec<_> = (0..20)
            .map(|i| {
                let c = admin.clone();
                tokio::spawn(async move {
                    c.post("/chatflows", json!({"name": format!("p{i}")}))
                        .await
                        .status
                })
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await.unwrap(), 201, "{}", b.name());
        }
        let v = verify(&admin).await;
        assert_eq!(v["valid"], true, "{}: {v}", b.name());
        assert_eq!(v["checked"].as_u64().unwrap(), before + 20, "{v}");
        let r = admin
            .get("/audit-events?action=chatflow.create&limit=200")
            .await;
        let mut seqs: Vec<i64> = r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["seq"].as_i64().unwrap())
            .collect();
        seqs.sort_unstable();
        seqs.dedup();
        assert_eq!(seqs.len(), 20);
    }
}

#[tokio::test]
async fn a_refusal_made_inside_a_request_is_recorded_like_the_guards() {
    for b in backends() {
        let w = World::new(&b).await;
        let ws = w.workspace("Inviting").await;
        // The guard lets this member invite (workspace:add-user), but rule 9 refuses a role
        // above their own: the refusal names the permission and lands in the audit trail.
        let role = w
            .role("Adder", &["workspace:add-user", "workspace:view"])
            .await;
        let (_, adder) = w.member("adder@example.com", &ws, &role).await;
        let r = adder
            .post(
                "/invitations",
                json!({"email": "x@example.com", "workspaceId": ws, "role": "Admin"}),
            )
            .await;
        assert_eq!((r.status, r.code()), (403, "forbidden"), "{}", r.body);
        let missing = r.body["error"]["missingPermission"].clone();
        assert!(missing.is_string(), "{}", r.body);
        let e = latest(&w.admin, "access.denied").await;
        assert_eq!(e["summary"]["missingPermission"], missing, "{e}");
        assert_eq!(e["summary"]["method"], "POST", "{e}");
        assert_eq!(e["summary"]["route"], "/api/v1/invitations", "{e}");
        assert_eq!(e["workspaceId"], ws.as_str(), "{e}");
        // Nothing was invited.
        let open = w.admin.get("/invitations").await;
        assert_eq!(open.body["items"], json!([]), "{}", open.body);
    }
}

#[tokio::test]
async fn the_dashboards_log_pages_read_and_export_what_the_api_does() {
    use super::page_walk::Browser;
    for b in backends() {
        let w = World::new(&b).await;
        let made = w
            .admin
            .post("/chatflows", json!({"name": "Exported"}))
            .await;
        assert_eq!(made.status, 201, "{}", made.body);
        let mut browser = Browser::signed_in(
            &w.server.base_url,
            flowspace_testkit::ADMIN_EMAIL,
            &w.default_ws,
        )
        .await;
        let csv = |path: &'static str| {
            let admin = w.admin.clone();
            async move {
                let r = admin
                    .send(reqwest::Method::GET, path, None, &[("accept", "text/csv")])
                    .await;
                assert_eq!(r.status, 200, "{}", r.text);
                r.text
            }
        };

        // The downloads are the API's exports, byte for byte.
        let api = csv("/login-activity?outcome=success").await;
        let page = browser.get("/login-activity.csv?outcome=success").await;
        assert_eq!(page.status, 200, "{}", page.body);
        let ct = page.headers["content-type"].to_str().unwrap();
        assert!(ct.starts_with("text/csv"), "{ct}");
        assert_eq!(page.body, api);
        assert!(api.lines().count() >= 2, "{api}");
        let api = csv("/audit-events?action=chatflow.create").await;
        let page = browser.get("/audit-log.csv?action=chatflow.create").await;
        assert_eq!((page.status, page.body.as_str()), (200, api.as_str()));
        assert_eq!(api.lines().count(), 2, "{api}");

        // Days, an actor by email, the Account Admin's workspace filter.
        let page = browser
            .get("/login-activity?outcome=success&from=2000-01-01")
            .await;
        assert_eq!(page.status, 200);
        assert!(
            page.body.contains("data-outcome=\"success\""),
            "{}",
            page.body
        );
        let page = browser.get("/login-activity?from=yesterday").await;
        assert!(page.body.contains("id=\"filter-warning\""), "{}", page.body);
        let page = browser
            .get("/audit-log?actor=admin%40example.com&action=chatflow.create")
            .await;
        assert!(
            page.body.contains("data-action=\"chatflow.create\""),
            "{}",
            page.body
        );
        let page = browser
            .get(&format!("/audit-log?workspaceId={}", w.default_ws))
            .await;
        assert!(
            page.body
                .contains(&format!("<option value=\"{}\" selected>", w.default_ws)),
            "{}",
            page.body
        );
        let page = browser.get("/audit-log?actor=nobody%40example.com").await;
        assert!(page.body.contains("no user has the email"), "{}", page.body);
        let page = browser.get("/audit-log/verify").await;
        assert_eq!(page.status, 200);
        assert!(
            page.body.contains("The audit chain is intact."),
            "{}",
            page.body
        );
    }
}

/// The instance admin's routes and creating an organization refuse a member with 403, and
/// each refusal is an `access.denied` event naming the standing that was required, like the
/// workspace and Account Admin guards' refusals.
#[tokio::test]
async fn refusals_of_the_instance_admin_and_organization_creator_guards_are_recorded() {
    for b in backends() {
        let w = World::new(&b).await;
        let (mid, member) = w.member("m@example.com", &w.default_ws, "Viewer").await;
        let org = w.admin.get("/organization").await.body["id"]
            .as_str()
            .expect("organization id")
            .to_string();
        for (method, path, body, route, role) in [
            (
                "POST",
                "/organizations".to_string(),
                json!({"name": "Mine", "ownerEmail": "m@example.com"}),
                "/organizations",
                "organization-creator",
            ),
            (
                "PATCH",
                format!("/organizations/{org}"),
                json!({"status": "suspended"}),
                "/organizations/{id}",
                "instance-admin",
            ),
            (
                "DELETE",
                format!("/organizations/{org}"),
                Value::Null,
                "/organizations/{id}",
                "instance-admin",
            ),
        ] {
            let r = match method {
                "POST" => member.post(&path, body).await,
                "PATCH" => member.patch(&path, body).await,
                _ => member.delete(&path).await,
            };
            assert_eq!(r.status, 403, "{method} {path} on {}: {}", b.name(), r.body);
            let e = latest(&w.admin, "access.denied").await;
            assert_eq!(e["actorUserId"], mid, "{method} {path}: {e}");
            assert_eq!(e["summary"]["method"], method, "{e}");
            assert!(
                e["summary"]["route"].as_str().unwrap().ends_with(route),
                "{e}"
            );
            assert_eq!(e["summary"]["requiredRole"], role, "{e}");
            assert_eq!(e["summary"]["accountAdminRequired"], false, "{e}");
            assert!(e["summary"]["missingPermission"].is_null(), "{e}");
        }
        assert_eq!(w.admin.get("/organization").await.body["status"], "active");
        assert_eq!(verify(&w.admin).await["valid"], true);
    }
}
