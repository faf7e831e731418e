//! The Account Admin's user management (rule 10): create, list, read, rename, disable and
//! delete users; the Account Admin's own account is protected.

use crate::workspaces::{foreign_user_and_role, members, my_id, no_header, rows_in};
use flowspace_testkit::{ADMIN_EMAIL, Backend, PASSWORD, World, backends};
use serde_json::{Value, json};

fn new_user(email: &str) -> Value {
    json!({"email": email, "name": "Someone", "password": PASSWORD})
}

async fn login_status(w: &World, email: &str, password: &str) -> (u16, String) {
    let r = w
        .server
        .client()
        .post("/auth/login", json!({"email": email, "password": password}))
        .await;
    (r.status, r.code().to_string())
}

#[tokio::test]
async fn user_management_is_for_the_account_admin_only() {
    for b in backends() {
        let w = World::new(&b).await;
        let (_, boss) = w.member("boss@example.com", &w.default_ws, "Admin").await;
        let (target, _) = w.member("t@example.com", &w.default_ws, "Viewer").await;
        let anon = w.server.client();
        for (who, c, status) in [("Admin-role member", &boss, 403), ("anonymous", &anon, 401)] {
            let one = format!("/users/{target}");
            let results = [
                ("list", c.get("/users").await),
                ("create", c.post("/users", new_user("x@example.com")).await),
                ("read", c.get(&one).await),
                (
                    "patch",
                    c.patch(&one, json!({"name": "Hacked", "status": "disabled"}))
                        .await,
                ),
                ("delete", c.delete(&one).await),
            ];
            for (what, r) in results {
                assert_eq!(r.status, status, "{who} {what} on {}: {}", b.name(), r.body);
            }
        }
        let t = w.admin.get(&format!("/users/{target}")).await;
        assert_eq!(
            (t.status, t.body["name"].as_str(), t.body["status"].as_str()),
            (200, Some("t"), Some("active"))
        );
        let list = w.admin.get("/users").await;
        assert_eq!(
            list.body["items"].as_array().unwrap().len(),
            3,
            "nobody was created: {}",
            list.body
        );
    }
}

#[tokio::test]
async fn a_new_user_is_active_and_belongs_to_no_workspace() {
    for b in backends() {
        let w = World::new(&b).await;
        let r = w
            .admin
            .post(
                "/users",
                json!({"email": "New@Example.com", "name": "  New Person ", "password": PASSWORD}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(r.body["status"], "active");
        assert_eq!(r.body["name"], "New Person");
        assert_eq!(r.body["isAccountAdmin"], false);
        assert_eq!(r.body["workspaces"], json!([]));
        assert_eq!(r.body["activeWorkspaceId"], Value::Null);
        assert_eq!(r.body["lastLoginAt"], Value::Null);
        assert!(
            !r.text.contains("argon2") && !r.text.to_lowercase().contains("password"),
            "{}",
            r.text
        );
        let id = r.id();
        assert!(
            !members(&w.admin, &w.default_ws).await.contains_key(&id),
            "Default is not automatic"
        );

        // Any case of the email signs in.
        let u = w.server.login("new@EXAMPLE.com", PASSWORD).await;
        assert_eq!(my_id(&u).await, id);
        let me = u.get("/auth/me").await;
        assert_eq!(
            me.body["activeWorkspace"],
            Value::Null,
            "{} on {}",
            me.body,
            b.name()
        );
        assert_eq!(me.body["assignedWorkspaces"], json!([]));
        assert_eq!(me.body["permissions"], json!([]));
        assert_eq!(me.body["isAccountAdmin"], false);
        let r = u.get("/chatflows").await;
        assert_eq!(r.status, 403, "{}", r.body);
        assert_eq!(r.body["error"]["missingPermission"], "chatflows:view");
        assert_eq!(r.body["error"]["role"], Value::Null);
        assert_eq!(
            u.in_workspace(&w.default_ws).get("/chatflows").await.status,
            404
        );
        assert_eq!(u.get("/workspaces").await.body["items"], json!([]));
        let r = u
            .post(
                "/auth/switch-workspace",
                json!({"workspaceId": w.default_ws}),
            )
            .await;
        assert_eq!(r.status, 404, "{}", r.body);
    }
}

#[tokio::test]
async fn emails_are_unique_in_any_case_and_passwords_must_be_strong() {
    for b in backends() {
        let w = World::new(&b).await;
        assert_eq!(
            w.admin
                .post("/users", new_user("M@Example.com"))
                .await
                .status,
            201
        );
        for dup in [
            "M@Example.com",
            "m@example.com",
            "  M@EXAMPLE.COM ",
            &ADMIN_EMAIL.to_uppercase(),
        ] {
            let r = w.admin.post("/users", new_user(dup)).await;
            assert_eq!(
                (r.status, r.code()),
                (409, "email_taken"),
                "{dup} on {}: {}",
                b.name(),
                r.body
            );
        }
        for (body, field) in [
            (
                json!({"email": "a@example.com", "name": "A", "password": "password1"}),
                "password",
            ),
            (
                json!({"email": "a@example.com", "name": "A", "password": "short"}),
                "password",
            ),
            (
                json!({"email": "a@example.com", "name": "A", "password": "a@example.com"}),
                "password",
            ),
            (
                json!({"email": "not-an-email", "name": "A", "password": PASSWORD}),
                "email",
            ),
            (
                json!({"email": "a@example.com", "name": "  ", "password": PASSWORD}),
                "name",
            ),
        ] {
            let r = w.admin.post("/users", body.clone()).await;
            assert_eq!(
                (r.status, r.body["error"]["field"].as_str()),
                (422, Some(field)),
                "{body} on {}: {}",
                b.name(),
                r.body
            );
        }
        let r = w
            .admin
            .post("/users", json!({"email": "a@example.com", "name": "A"}))
            .await;
        assert_eq!(r.status, 422, "{}", r.body);
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("password"),
            "{}",
            r.body
        );
        let list = w.admin.get("/users").await;
        assert_eq!(
            list.body["items"].as_array().unwrap().len(),
            2,
            "{}",
            list.body
        );
        assert_eq!(login_status(&w, "a@example.com", "password1").await.0, 401);
    }
}

#[tokio::test]
async fn patch_changes_name_and_status_and_disabling_cuts_access_at_once() {
    for b in backends() {
        let w = World::new(&b).await;
        let ws = w.workspace("Team").await;
        let (id, m) = w.member("m@example.com", &ws, "Developer").await;
        let key = m
            .post(
                "/apikeys",
                json!({"name": "k", "permissions": ["chatflows:view"]}),
            )
            .await;
        assert_eq!(key.status, 201, "{}", key.body);
        let by_key = w
            .server
            .client()
            .with_token(key.body["key"].as_str().unwrap());
        assert_eq!(by_key.get("/chatflows").await.status, 200);
        let one = format!("/users/{id}");

        let r = w.admin.patch(&one, json!({"name": "Renamed"})).await;
        assert_eq!(
            (r.status, r.body["name"].as_str(), r.body["status"].as_str()),
            (200, Some("Renamed"), Some("active"))
        );
        let r = w.admin.patch(&one, json!({"name": ""})).await;
        assert_eq!(
            (r.status, r.body["error"]["field"].as_str()),
            (422, Some("name"))
        );
        for bad in ["invited", "bogus"] {
            let r = w.admin.patch(&one, json!({ "status": bad })).await;
            assert_eq!(r.status, 422, "{bad}: {}", r.body);
        }
        assert_eq!(w.admin.get(&one).await.body["status"], "active");

        let r = w.admin.patch(&one, json!({"status": "disabled"})).await;
        assert_eq!(
            (r.status, r.body["status"].as_str()),
            (200, Some("disabled")),
            "{}",
            r.body
        );
        assert_eq!(
            m.get("/chatflows").await.status,
            401,
            "the session stops on the next request"
        );
        assert_eq!(no_header(&m).get("/auth/me").await.status, 401);
        assert_eq!(
            by_key.get("/chatflows").await.status,
            401,
            "and so do their API keys"
        );
        assert_eq!(
            login_status(&w, "m@example.com", PASSWORD).await,
            (401, "account_disabled".into())
        );
        let listed = w.admin.get(&format!("/workspace/{ws}/users")).await;
        let entry = listed.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["userId"] == id.as_str())
            .cloned();
        assert_eq!(entry.unwrap()["status"], "disabled");

        let r = w.admin.patch(&one, json!({"status": "active"})).await;
        assert_eq!((r.status, r.body["status"].as_str()), (200, Some("active")));
        assert_eq!(
            m.get("/chatflows").await.status,
            401,
            "ended sessions stay ended"
        );
        let again = w
            .server
            .login("m@example.com", PASSWORD)
            .await
            .in_workspace(&ws);
        assert_eq!(again.get("/chatflows").await.status, 200, "on {}", b.name());
        assert_eq!(
            by_key.get("/chatflows").await.status,
            200,
            "the key works again with its creator"
        );

        for missing in [uuid::Uuid::new_v4().to_string(), "nope".to_string()] {
            assert_eq!(
                w.admin
                    .patch(&format!("/users/{missing}"), json!({"name": "x"}))
                    .await
                    .status,
                404
            );
        }
        // A user of another organization is not the Account Admin's to see or change.
        let (foreign, _) = foreign_user_and_role(&w.server).await;
        let f = format!("/users/{foreign}");
        assert_eq!(w.admin.get(&f).await.status, 404);
        assert_eq!(
            w.admin
                .patch(&f, json!({"status": "disabled"}))
                .await
                .status,
            404
        );
        assert_eq!(w.admin.delete(&f).await.status, 404);
        let ids: Vec<String> = w.admin.get("/users").await.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_str().unwrap().to_string())
            .collect();
        assert!(!ids.contains(&foreign), "{ids:?}");
    }
}

#[tokio::test]
async fn the_last_owner_cannot_be_disabled_or_deleted() {
    for b in backends() {
        let w = World::new(&b).await;
        let admin_id = my_id(&w.admin).await;
        let one = format!("/users/{admin_id}");
        let r = w.admin.patch(&one, json!({"status": "disabled"})).await;
        assert_eq!(
            (r.status, r.code()),
            (409, "last_owner"),
            "{} on {}",
            r.body,
            b.name()
        );
        let r = w
            .admin
            .patch(&one, json!({"name": "Boss", "status": "disabled"}))
            .await;
        assert_eq!(r.status, 409, "{}", r.body);
        let r = w.admin.delete(&one).await;
        assert_eq!((r.status, r.code()), (409, "last_owner"), "{}", r.body);
        let me = w.admin.get(&one).await;
        assert_eq!(
            (me.body["status"].as_str(), me.body["name"].as_str()),
            (Some("active"), Some("Admin")),
            "a refused patch changes nothing"
        );
        assert_eq!(me.body["isAccountAdmin"], true);
        assert_eq!(w.admin.get("/chatflows").await.status, 200);
        let r = w.admin.patch(&one, json!({"name": "Boss"})).await;
        assert_eq!((r.status, r.body["name"].as_str()), (200, Some("Boss")));
        assert_eq!(login_status(&w, ADMIN_EMAIL, PASSWORD).await.0, 200);
    }
}

#[tokio::test]
async fn deleting_a_user_keeps_what_they_made_and_ends_their_access() {
    for b in backends() {
        let w = World::new(&b).await;
        let ws = w.workspace("Team").await;
        let (id, m) = w.member("m@example.com", &ws, "Developer").await;
        let flow = m.post("/chatflows", json!({"name": "theirs"})).await;
        assert_eq!(flow.status, 201, "{}", flow.body);
        let flow = flow.id();

        let r = w.admin.delete(&format!("/users/{id}")).await;
        assert_eq!(r.status, 204, "{} on {}", r.body, b.name());
        assert_eq!(w.admin.get(&format!("/users/{id}")).await.status, 404);
        assert_eq!(w.admin.delete(&format!("/users/{id}")).await.status, 404);
        let list = w.admin.get("/users").await;
        assert!(!list.text.contains(&id), "{}", list.body);

        let inside = w.admin.in_workspace(&ws);
        let flows = inside.get("/chatflows").await;
        let items = flows.body["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{}", flows.body);
        assert_eq!(items[0]["id"], flow.as_str());
        assert_eq!(items[0]["createdBy"], id.as_str());
        assert_eq!(
            inside.get(&format!("/chatflows/{flow}")).await.body["createdBy"],
            id.as_str()
        );

        assert_eq!(m.get("/chatflows").await.status, 401, "their session ends");
        assert_eq!(login_status(&w, "m@example.com", PASSWORD).await.0, 401);
        assert!(!members(&w.admin, &ws).await.contains_key(&id));
        assert_eq!(rows_in(&w.server, "memberships", &ws).await, 1);
        // The email can be used again.
        assert_eq!(
            w.admin
                .post("/users", new_user("M@example.com"))
                .await
                .status,
            201
        );
    }
}

#[tokio::test]
async fn the_user_list_shows_status_workspaces_active_workspace_and_last_login() {
    for b in backends() {
        let w = World::new(&b).await;
        let admin_id = my_id(&w.admin).await;
        let a = w.workspace("Alpha").await;
        let bb = w.workspace("Beta").await;
        let id = w.user("m@example.com").await;
        w.add(&a, &id, "Developer").await;
        w.add(&bb, &id, "Viewer").await;
        let idle = w.user("idle@example.com").await;

        let find = |list: &Value, who: &str| -> Value {
            list["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|u| u["id"] == who)
                .cloned()
                .unwrap_or_else(|| panic!("{who} not in {list}"))
        };
        let list = w.admin.get("/users").await.body;
        let admin = find(&list, &admin_id);
        assert_eq!(admin["isAccountAdmin"], true);
        assert_eq!(admin["status"], "active");
        assert_eq!(admin["email"], ADMIN_EMAIL);
        assert!(admin["lastLoginAt"].is_string(), "{admin}");
        let admin_ws: Vec<&str> = admin["workspaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["workspaceName"].as_str().unwrap())
            .collect();
        assert_eq!(admin_ws.len(), 3, "{admin}");
        let m = find(&list, &id);
        assert_eq!(m["isAccountAdmin"], false);
        assert_eq!(m["lastLoginAt"], Value::Null, "never signed in: {m}");
        let mut roles: Vec<(String, String, String)> = m["workspaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| {
                (
                    x["workspaceId"].as_str().unwrap().to_string(),
                    x["workspaceName"].as_str().unwrap().to_string(),
                    x["roleName"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        roles.sort();
        let mut want = vec![
            (a.clone(), "Alpha".to_string(), "Developer".to_string()),
            (bb.clone(), "Beta".to_string(), "Viewer".to_string()),
        ];
        want.sort();
        assert_eq!(roles, want, "on {}", b.name());
        assert_eq!(find(&list, &idle)["workspaces"], json!([]));
        assert_eq!(find(&list, &idle)["activeWorkspaceId"], Value::Null);

        // Signing in and switching shows up.
        let c = w.server.login("m@example.com", PASSWORD).await;
        assert_eq!(
            c.post("/auth/switch-workspace", json!({"workspaceId": bb}))
                .await
                .status,
            200
        );
        let detail = w.admin.get(&format!("/users/{id}")).await.body;
        assert!(detail["lastLoginAt"].is_string(), "{detail}");
        assert_eq!(detail["activeWorkspaceId"], bb.as_str(), "{detail}");
        assert_eq!(detail["workspaces"].as_array().unwrap().len(), 2);
        let list = w.admin.get("/users").await.body;
        assert_eq!(find(&list, &id)["activeWorkspaceId"], bb.as_str());

        // Unlinked from the active workspace: the list shows where they act now, never a
        // workspace they no longer belong to.
        let r = w
            .admin
            .post(
                &format!("/workspace/{bb}/remove-user"),
                json!({"userId": id}),
            )
            .await;
        assert_eq!(r.status, 204);
        let me = c.get("/auth/me").await.body;
        assert_eq!(me["activeWorkspace"]["id"], a.as_str(), "{me}");
        let detail = w.admin.get(&format!("/users/{id}")).await.body;
        assert_eq!(
            detail["workspaces"].as_array().unwrap().len(),
            1,
            "{detail}"
        );
        assert_eq!(
            detail["activeWorkspaceId"],
            a.as_str(),
            "{} on {}",
            detail,
            b.name()
        );
        assert_eq!(
            find(&w.admin.get("/users").await.body, &id)["activeWorkspaceId"],
            a.as_str()
        );

        // Disabled shows as such.
        assert_eq!(
            w.admin
                .patch(&format!("/users/{idle}"), json!({"status": "disabled"}))
                .await
                .status,
            200
        );
        assert_eq!(
            find(&w.admin.get("/users").await.body, &idle)["status"],
            "disabled"
        );
    }
}

/// Rule 3 across replicas: disabling or deleting a user on one server ends their access on
/// the other at once.
#[tokio::test]
async fn disabling_and_deleting_apply_on_every_replica() {
    for b in backends() {
        if !matches!(b, Backend::Postgres(_)) {
            continue; // replicas share a PostgreSQL database
        }
        let w = World::new(&b).await;
        let r2 = w.server.replica().await;
        let (id, m) = w.member("m@example.com", &w.default_ws, "Developer").await;
        let (id2, n) = w.member("n@example.com", &w.default_ws, "Developer").await;
        let on2 = r2.client().with_token(m.token.as_deref().unwrap());
        let n_on2 = r2.client().with_token(n.token.as_deref().unwrap());
        assert_eq!(on2.get("/chatflows").await.status, 200);
        assert_eq!(n_on2.get("/chatflows").await.status, 200);

        let r = w
            .admin
            .patch(&format!("/users/{id}"), json!({"status": "disabled"}))
            .await;
        assert_eq!(r.status, 200);
        assert_eq!(
            on2.get("/chatflows").await.status,
            401,
            "disabled on replica 1"
        );
        assert_eq!(w.admin.delete(&format!("/users/{id2}")).await.status, 204);
        assert_eq!(
            n_on2.get("/chatflows").await.status,
            401,
            "deleted on replica 1"
        );
        // And the other way round: the admin on replica 2 sees the change made on replica 1.
        let admin2 = r2.client().with_token(w.admin.token.as_deref().unwrap());
        assert_eq!(
            admin2.get(&format!("/users/{id}")).await.body["status"],
            "disabled"
        );
        assert_eq!(admin2.get(&format!("/users/{id2}")).await.status, 404);
    }
}
