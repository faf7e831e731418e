//! Workspaces and memberships: creation (rule 5), deletion (rule 6), unlinking (rule 7),
//! add-user with its "no granting above your own" check, and revocation across replicas
//! (rule 3).

use flowspace_testkit::{Backend, Client, TestServer, World, backends};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Rows of `table` whose `workspace_id` is `ws`, read straight from the database.
pub(crate) async fn rows_in(server: &TestServer, table: &str, ws: &str) -> i64 {
    let id = uuid::Uuid::parse_str(ws).unwrap();
    let sql = format!("SELECT COUNT(*) FROM {table} WHERE workspace_id = $1");
    let store = server.store();
    if let Some(p) = store.sqlite_pool() {
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_one(p)
            .await
            .unwrap()
    } else {
        let p = store.postgres_pool().unwrap();
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_one(p)
            .await
            .unwrap()
    }
}

/// Rows of `table` whose `column` is `id`, read straight from the database.
async fn rows_where(server: &TestServer, table: &str, column: &str, id: &str) -> i64 {
    let id = uuid::Uuid::parse_str(id).unwrap();
    let sql = format!("SELECT COUNT(*) FROM {table} WHERE {column} = $1");
    let store = server.store();
    if let Some(p) = store.sqlite_pool() {
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_one(p)
            .await
            .unwrap()
    } else {
        let p = store.postgres_pool().unwrap();
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_one(p)
            .await
            .unwrap()
    }
}

/// Shares credential `cred` into workspace `ws`, straight in the database.
async fn share(server: &TestServer, cred: &str, ws: &str) {
    let (c, w) = (
        uuid::Uuid::parse_str(cred).unwrap(),
        uuid::Uuid::parse_str(ws).unwrap(),
    );
    let store = server.store();
    if let Some(p) = store.sqlite_pool() {
        sqlx::query("INSERT INTO credential_shares (credential_id, workspace_id, created_at) VALUES ($1, $2, 0)")
            .bind(c).bind(w).execute(p).await.unwrap();
    } else {
        sqlx::query("INSERT INTO credential_shares (credential_id, workspace_id, created_at) VALUES ($1, $2, now())")
            .bind(c).bind(w).execute(store.postgres_pool().unwrap()).await.unwrap();
    }
}

/// Inserts a second organization with one active user and one custom role, straight into
/// the database: their ids.
pub(crate) async fn foreign_user_and_role(server: &TestServer) -> (String, String) {
    let (org, user, role) = (
        uuid::Uuid::new_v4(),
        uuid::Uuid::new_v4(),
        uuid::Uuid::new_v4(),
    );
    let store = server.store();
    if let Some(p) = store.sqlite_pool() {
        sqlx::query("INSERT INTO organizations (id, name, created_at) VALUES ($1, 'Other', 0)")
            .bind(org)
            .execute(p)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO users (id, email, email_key, name, status, created_at, updated_at)
                     VALUES ($1, 'x@other.example', 'x@other.example', 'X', 'active', 0, 0)",
        )
        .bind(user)
        .execute(p)
        .await
        .unwrap();
        sqlx::query("INSERT INTO org_members (organization_id, user_id, role, status, created_at, updated_at)
                     VALUES ($1, $2, 'member', 'active', 0, 0)")
            .bind(org).bind(user).execute(p).await.unwrap();
        sqlx::query("INSERT INTO roles (id, organization_id, name, name_key, permissions, builtin, created_at, updated_at)
                     VALUES ($1, $2, 'Foreign', 'foreign', '[\"chatflows:view\"]', FALSE, 0, 0)")
            .bind(role).bind(org).execute(p).await.unwrap();
    } else {
        let p = store.postgres_pool().unwrap();
        sqlx::query("INSERT INTO organizations (id, name, created_at) VALUES ($1, 'Other', now())")
            .bind(org)
            .execute(p)
            .await
            .unwrap();
        sqlx::query("INSERT INTO users (id, email, email_key, name, status, created_at, updated_at)
                     VALUES ($1, 'x@other.example', 'x@other.example', 'X', 'active', now(), now())")
            .bind(user).execute(p).await.unwrap();
        sqlx::query("INSERT INTO org_members (organization_id, user_id, role, status, created_at, updated_at)
                     VALUES ($1, $2, 'member', 'active', now(), now())")
            .bind(org).bind(user).execute(p).await.unwrap();
        sqlx::query("INSERT INTO roles (id, organization_id, name, name_key, permissions, builtin, created_at, updated_at)
                     VALUES ($1, $2, 'Foreign', 'foreign', '[\"chatflows:view\"]', FALSE, now(), now())")
            .bind(role).bind(org).execute(p).await.unwrap();
    }
    (user.to_string(), role.to_string())
}

/// The same client without an `X-Workspace-Id` header.
pub(crate) fn no_header(c: &Client) -> Client {
    let mut c = c.clone();
    c.workspace = None;
    c
}

/// The id of the role called `name`.
pub(crate) async fn role_id(admin: &Client, name: &str) -> String {
    let r = admin.get("/roles").await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == name)
        .unwrap_or_else(|| panic!("no role {name} in {}", r.body))["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The caller's own user id.
pub(crate) async fn my_id(c: &Client) -> String {
    let me = c.get("/auth/me").await;
    assert_eq!(me.status, 200, "{}", me.body);
    me.body["user"]["id"].as_str().unwrap().to_string()
}

/// Members of `ws` (as `admin` sees them): user id → role name.
pub(crate) async fn members(admin: &Client, ws: &str) -> BTreeMap<String, String> {
    let r = admin.get(&format!("/workspace/{ws}/users")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["userId"].as_str().unwrap().to_string(),
                m["roleName"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The workspaces a client lists: name → memberCount.
async fn listed(c: &Client) -> BTreeMap<String, i64> {
    let r = c.get("/workspaces").await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["name"].as_str().unwrap().to_string(),
                w["memberCount"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn names(list: &BTreeMap<String, i64>) -> Vec<&str> {
    list.keys().map(String::as_str).collect()
}

async fn remove(c: &Client, ws: &str, user: &str) -> flowspace_testkit::Resp {
    c.post(
        &format!("/workspace/{ws}/remove-user"),
        json!({ "userId": user }),
    )
    .await
}

async fn add(c: &Client, ws: &str, user: &str, role: &str) -> flowspace_testkit::Resp {
    c.post(
        &format!("/workspace/{ws}/add-user"),
        json!({ "userId": user, "role": role }),
    )
    .await
}

fn assert_denied(r: &flowspace_testkit::Resp, missing: &str, role: Value, ctx: &str) {
    assert_eq!(r.status, 403, "{ctx}: {}", r.body);
    assert_eq!(
        r.body["error"]["missingPermission"], missing,
        "{ctx}: {}",
        r.body
    );
    assert_eq!(r.body["error"]["role"], role, "{ctx}: {}", r.body);
}

#[tokio::test]
async fn only_the_account_admin_creates_workspaces_and_becomes_a_member() {
    for b in backends() {
        let w = World::new(&b).await;
        let admin_id = my_id(&w.admin).await;
        let catalogue = w.admin.get("/permissions").await;
        let all: Vec<&str> = catalogue.body["permissions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap())
            .collect();
        let everything = w.role("Everything", &all).await;
        let (_, m) = w
            .member("every@example.com", &w.default_ws, &everything)
            .await;
        let (_, a) = w
            .member("adminrole@example.com", &w.default_ws, "Admin")
            .await;
        for (who, c) in [
            ("custom role with every permission", &m),
            ("Admin role", &a),
        ] {
            let r = c.post("/workspace", json!({"name": "Mine"})).await;
            assert_eq!(
                (r.status, r.code()),
                (403, "forbidden"),
                "{who} on {}: {}",
                b.name(),
                r.body
            );
        }
        assert_eq!(
            names(&listed(&w.admin).await),
            ["Default"],
            "a refused create makes nothing"
        );

        let r = w
            .admin
            .post(
                "/workspace",
                json!({"name": "  Sales ", "description": "the sales team", "color": "#AABBCC", "icon": "briefcase"}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(r.body["name"], "Sales");
        assert_eq!(r.body["description"], "the sales team");
        assert_eq!(r.body["color"], "#aabbcc");
        assert_eq!(r.body["isDefault"], false);
        assert_eq!(r.body["memberCount"], 1);
        let ws = r.id();
        let list = w.admin.get(&format!("/workspace/{ws}/users")).await;
        let items = list.body["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{}", list.body);
        assert_eq!(items[0]["userId"], admin_id.as_str());
        assert_eq!(items[0]["isAccountAdmin"], true);
        // The creator's /auth/me lists it among their workspaces.
        let me = w.admin.get("/auth/me").await;
        assert!(
            me.body["assignedWorkspaces"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x["workspaceId"] == ws.as_str()),
            "{}",
            me.body
        );
        // Holding every permission in Default gives nothing in the new workspace.
        assert_eq!(
            m.in_workspace(&ws)
                .get(&format!("/workspace/{ws}"))
                .await
                .status,
            404
        );
        assert_eq!(m.get(&format!("/workspace/{ws}/users")).await.status, 404);
    }
}

#[tokio::test]
async fn workspace_names_are_required_bounded_and_unique_case_insensitively() {
    for b in backends() {
        let w = World::new(&b).await;
        for bad in [
            json!({"name": ""}),
            json!({"name": "   "}),
            json!({"name": "x".repeat(101)}),
            json!({"name": "é".repeat(101)}),
            json!({"name": 7}),
        ] {
            let r = w.admin.post("/workspace", bad.clone()).await;
            assert_eq!(
                (r.status, r.body["error"]["field"].as_str()),
                (422, Some("name")),
                "{bad} on {}: {}",
                b.name(),
                r.body
            );
        }
        // A missing name is refused too, naming it.
        let r = w
            .admin
            .post("/workspace", json!({"description": "no name"}))
            .await;
        assert_eq!(r.status, 422, "{}", r.body);
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("name"),
            "{}",
            r.body
        );
        // 100 characters (not bytes) is fine.
        let long = w
            .admin
            .post("/workspace", json!({"name": "é".repeat(100)}))
            .await;
        assert_eq!(long.status, 201, "{}", long.body);
        let sales = w.workspace("Sales").await;
        for dup in ["Sales", "sales", "  SALES  ", "default", "DEFAULT"] {
            let r = w.admin.post("/workspace", json!({ "name": dup })).await;
            assert_eq!(r.status, 409, "{dup} on {}: {}", b.name(), r.body);
        }
        // Renaming into a taken name is refused too; renaming to another case of its own
        // name is fine.
        let other = w.workspace("Other").await;
        let r = w
            .admin
            .patch(&format!("/workspace/{other}"), json!({"name": "sAlEs"}))
            .await;
        assert_eq!(r.status, 409, "{}", r.body);
        let r = w
            .admin
            .patch(&format!("/workspace/{other}"), json!({"name": ""}))
            .await;
        assert_eq!(
            (r.status, r.body["error"]["field"].as_str()),
            (422, Some("name"))
        );
        let r = w
            .admin
            .patch(&format!("/workspace/{sales}"), json!({"name": "SALES"}))
            .await;
        assert_eq!(
            (r.status, r.body["name"].as_str()),
            (200, Some("SALES")),
            "{}",
            r.body
        );

        let r = w
            .admin
            .post("/workspace", json!({"name": "Colored", "color": "red"}))
            .await;
        assert_eq!(
            (r.status, r.body["error"]["field"].as_str()),
            (422, Some("color"))
        );
        // Two creates of one name at once: exactly one wins.
        let (x, y) = tokio::join!(
            w.admin.post("/workspace", json!({"name": "Race"})),
            w.admin.post("/workspace", json!({"name": "RACE"}))
        );
        let mut statuses = [x.status, y.status];
        statuses.sort_unstable();
        assert_eq!(
            statuses,
            [201, 409],
            "{} / {} on {}",
            x.body,
            y.body,
            b.name()
        );

        let list = listed(&w.admin).await;
        assert_eq!(list.len(), 5, "{list:?}");
        assert!(
            list.contains_key("Other") && list.contains_key("SALES"),
            "{list:?}"
        );
    }
}

#[tokio::test]
async fn workspace_list_shows_a_members_workspaces_with_member_counts() {
    for b in backends() {
        let w = World::new(&b).await;
        let alpha = w.workspace("Alpha").await;
        let beta = w.workspace("Beta").await;
        let _gamma = w.workspace("Gamma").await;
        let (_, m) = w.member("m@example.com", &alpha, "Viewer").await;
        let (n_id, n) = w.member("n@example.com", &alpha, "Developer").await;
        w.add(&beta, &n_id, "Viewer").await;
        w.user("nobody@example.com").await;
        let nobody = w
            .server
            .login("nobody@example.com", flowspace_testkit::PASSWORD)
            .await;

        let all = listed(&w.admin).await;
        assert_eq!(
            all,
            BTreeMap::from([
                ("Default".to_string(), 1),
                ("Alpha".to_string(), 3),
                ("Beta".to_string(), 2),
                ("Gamma".to_string(), 1),
            ]),
            "the Account Admin sees every workspace on {}",
            b.name()
        );
        assert_eq!(
            listed(&m).await,
            BTreeMap::from([("Alpha".to_string(), 3)]),
            "a member sees only their workspaces"
        );
        assert_eq!(names(&listed(&n).await), ["Alpha", "Beta"]);
        assert!(
            listed(&nobody).await.is_empty(),
            "no membership, no workspace"
        );
        // The list is not a way around membership: Gamma stays unreachable.
        assert_eq!(n.in_workspace(&_gamma).get("/chatflows").await.status, 404);
    }
}

#[tokio::test]
async fn only_the_account_admin_deletes_and_never_the_default_workspace() {
    for b in backends() {
        let w = World::new(&b).await;
        let r = w
            .admin
            .delete(&format!("/workspace/{}", w.default_ws))
            .await;
        assert_eq!(
            (r.status, r.code()),
            (409, "default_workspace"),
            "{}",
            r.body
        );
        let lonely = w.workspace("Lonely").await;
        let (_, boss) = w.member("boss@example.com", &w.default_ws, "Admin").await;
        w.add(&lonely, &my_id(&boss).await, "Admin").await;
        let r = boss.delete(&format!("/workspace/{lonely}")).await;
        assert_eq!(
            r.status, 403,
            "an Admin-role member cannot delete: {}",
            r.body
        );
        let r = boss.delete(&format!("/workspace/{}", w.default_ws)).await;
        assert_eq!(r.status, 403, "{}", r.body);
        assert_eq!(names(&listed(&w.admin).await), ["Default", "Lonely"]);
        let unknown = uuid::Uuid::new_v4();
        assert_eq!(
            w.admin
                .delete(&format!("/workspace/{unknown}"))
                .await
                .status,
            404
        );
        assert_eq!(w.admin.delete("/workspace/not-an-id").await.status, 404);
        assert_eq!(
            w.admin
                .get(&format!("/workspace/{}", w.default_ws))
                .await
                .status,
            200
        );
    }
}

#[tokio::test]
async fn a_workspace_with_other_members_is_deleted_only_once_they_are_unlinked() {
    for b in backends() {
        let w = World::new(&b).await;
        let ws = w.workspace("Doomed").await;
        let (u1, _) = w.member("a@example.com", &ws, "Viewer").await;
        let (u2, _) = w.member("b@example.com", &ws, "Developer").await;
        let r = w.admin.delete(&format!("/workspace/{ws}")).await;
        assert_eq!(
            (r.status, r.code()),
            (409, "workspace_has_members"),
            "{}",
            r.body
        );
        let msg = r.body["error"]["message"].as_str().unwrap();
        assert!(msg.contains("2 member"), "names how many remain: {msg}");

        assert_eq!(remove(&w.admin, &ws, &u1).await.status, 204);
        let r = w.admin.delete(&format!("/workspace/{ws}")).await;
        assert_eq!(r.status, 409, "{}", r.body);
        let msg = r.body["error"]["message"].as_str().unwrap();
        assert!(msg.contains("1 member"), "{msg}");
        assert_eq!(w.admin.get(&format!("/workspace/{ws}")).await.status, 200);

        assert_eq!(remove(&w.admin, &ws, &u2).await.status, 204);
        let r = w.admin.delete(&format!("/workspace/{ws}")).await;
        assert_eq!(r.status, 204, "{} on {}", r.body, b.name());
        assert_eq!(w.admin.get(&format!("/workspace/{ws}")).await.status, 404);
        assert_eq!(
            w.admin.delete(&format!("/workspace/{ws}")).await.status,
            404
        );
        assert_eq!(names(&listed(&w.admin).await), ["Default"]);
        // The unlinked users themselves remain.
        for u in [&u1, &u2] {
            assert_eq!(w.admin.get(&format!("/users/{u}")).await.status, 200);
        }
    }
}

#[tokio::test]
async fn deleting_a_workspace_removes_everything_in_it_and_nothing_else() {
    for b in backends() {
        let w = World::new(&b).await;
        let ws = w.workspace("Temp").await;
        let inside = w.admin.in_workspace(&ws);
        let flow = inside
            .post("/chatflows", json!({"name": "flow", "data": {"nodes": []}}))
            .await;
        assert_eq!(flow.status, 201, "{}", flow.body);
        let flow = flow.id();
        let cred = inside
            .post(
                "/credentials",
                json!({"name": "openai", "credentialName": "openAIApi", "data": {"apiKey": "sk-secret"}}),
            )
            .await;
        assert_eq!(cred.status, 201, "{}", cred.body);
        let cred = cred.id();
        let tool = inside.post("/tools", json!({"name": "tool"})).await;
        assert_eq!(tool.status, 201, "{}", tool.body);
        let key = inside
            .post(
                "/apikeys",
                json!({"name": "ci", "permissions": ["chatflows:view"]}),
            )
            .await;
        assert_eq!(key.status, 201, "{}", key.body);
        let key = key.body["key"].as_str().unwrap().to_string();
        let by_key = w.server.client().with_token(&key);
        assert_eq!(
            by_key.get("/chatflows").await.status,
            200,
            "the key works before"
        );
        // Something in Default that must survive.
        let home = w.admin.in_workspace(&w.default_ws);
        let kept = home.post("/chatflows", json!({"name": "kept"})).await.id();
        let home_cred = home
            .post(
                "/credentials",
                json!({"name": "home", "credentialName": "openAIApi", "data": {"apiKey": "sk-home"}}),
            )
            .await;
        assert_eq!(home_cred.status, 201, "{}", home_cred.body);
        let home_cred = home_cred.id();
        // Shares out of and into the workspace.
        share(&w.server, &cred, &w.default_ws).await;
        share(&w.server, &home_cred, &ws).await;
        assert_eq!(
            rows_where(&w.server, "credential_shares", "credential_id", &cred).await,
            1
        );

        assert_eq!(rows_in(&w.server, "items", &ws).await, 2);
        assert_eq!(rows_in(&w.server, "credentials", &ws).await, 1);
        assert_eq!(rows_in(&w.server, "api_keys", &ws).await, 1);

        let r = w.admin.delete(&format!("/workspace/{ws}")).await;
        assert_eq!(r.status, 204, "{}", r.body);

        for path in [
            "/chatflows".to_string(),
            format!("/chatflows/{flow}"),
            format!("/credentials/{cred}"),
            "/tools".to_string(),
        ] {
            let r = inside.get(&path).await;
            assert_eq!(
                r.status,
                404,
                "{path} in the deleted workspace on {}: {}",
                b.name(),
                r.body
            );
        }
        for table in [
            "items",
            "credentials",
            "api_keys",
            "memberships",
            "credential_shares",
        ] {
            assert_eq!(
                rows_in(&w.server, table, &ws).await,
                0,
                "{table} keeps rows of the deleted workspace on {}",
                b.name()
            );
        }
        assert_eq!(
            rows_where(&w.server, "credential_shares", "credential_id", &cred).await,
            0,
            "its credential's shares into other workspaces go"
        );
        assert_eq!(
            rows_where(&w.server, "credential_shares", "credential_id", &home_cred).await,
            0
        );
        assert_eq!(
            home.get(&format!("/credentials/{home_cred}")).await.status,
            200
        );
        assert_eq!(home.get(&format!("/credentials/{cred}")).await.status, 404);
        assert_eq!(
            by_key.get("/chatflows").await.status,
            401,
            "its API key stops working"
        );
        assert_eq!(home.get(&format!("/chatflows/{kept}")).await.status, 200);
        assert_eq!(rows_in(&w.server, "items", &w.default_ws).await, 1);
    }
}

#[tokio::test]
async fn users_whose_active_workspace_was_deleted_fall_back() {
    for b in backends() {
        let w = World::new(&b).await;
        let ws = w.workspace("Short-lived").await;
        let r = w
            .admin
            .post("/auth/switch-workspace", json!({"workspaceId": ws}))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(
            w.admin.get("/auth/me").await.body["activeWorkspace"]["id"],
            ws.as_str()
        );
        // A second session, started while the workspace was the last one used.
        let second = w
            .server
            .login(flowspace_testkit::ADMIN_EMAIL, flowspace_testkit::PASSWORD)
            .await;
        assert_eq!(
            second.get("/auth/me").await.body["activeWorkspace"]["id"],
            ws.as_str()
        );

        assert_eq!(
            w.admin.delete(&format!("/workspace/{ws}")).await.status,
            204
        );
        for c in [&w.admin, &second] {
            let me = c.get("/auth/me").await;
            assert_eq!(me.status, 200, "{}", me.body);
            assert_eq!(
                me.body["activeWorkspace"]["id"],
                w.default_ws.as_str(),
                "{} {}",
                b.name(),
                me.body
            );
            assert_eq!(me.body["activeWorkspace"]["name"], "Default");
            // And requests without a header act there.
            assert_eq!(c.get("/chatflows").await.status, 200);
        }
        let fresh = w
            .server
            .login(flowspace_testkit::ADMIN_EMAIL, flowspace_testkit::PASSWORD)
            .await;
        assert_eq!(
            fresh.get("/auth/me").await.body["activeWorkspace"]["id"],
            w.default_ws.as_str()
        );

        // A member in two workspaces whose active one goes lands in the other.
        let a = w.workspace("A").await;
        let bb = w.workspace("B").await;
        let (uid, m) = w.member("m@example.com", &a, "Developer").await;
        w.add(&bb, &uid, "Viewer").await;
        let m = no_header(&m);
        assert_eq!(
            m.post("/auth/switch-workspace", json!({"workspaceId": a}))
                .await
                .status,
            200
        );
        assert_eq!(remove(&w.admin, &a, &uid).await.status, 204);
        assert_eq!(w.admin.delete(&format!("/workspace/{a}")).await.status, 204);
        let me = m.get("/auth/me").await;
        assert_eq!(me.body["activeWorkspace"]["id"], bb.as_str(), "{}", me.body);
        assert_eq!(me.body["activeWorkspace"]["role"], "Viewer");
    }
}

#[tokio::test]
async fn remove_user_unlinks_the_member_on_their_next_request() {
    for b in backends() {
        let w = World::new(&b).await;
        let ws = w.workspace("Team").await;
        let (uid, m) = w.member("m@example.com", &ws, "Developer").await;
        let flow = m.post("/chatflows", json!({"name": "mine"})).await;
        assert_eq!(flow.status, 201, "{}", flow.body);
        let flow = flow.id();
        assert_eq!(no_header(&m).get("/chatflows").await.status, 200);

        let r = remove(&w.admin, &ws, &uid).await;
        assert_eq!(r.status, 204, "{}", r.body);
        // Same token, the very next request.
        let r = m.get("/chatflows").await;
        assert_eq!(
            (r.status, r.code()),
            (404, "not_found"),
            "with X-Workspace-Id on {}: {}",
            b.name(),
            r.body
        );
        assert_eq!(m.post("/chatflows", json!({"name": "x"})).await.status, 404);
        assert_eq!(m.get(&format!("/chatflows/{flow}")).await.status, 404);
        let bare = no_header(&m);
        let r = bare.get("/chatflows").await;
        assert_denied(&r, "chatflows:view", Value::Null, "no workspace left");
        let me = bare.get("/auth/me").await;
        assert_eq!(me.status, 200, "the profile stays reachable: {}", me.body);
        assert_eq!(me.body["activeWorkspace"], Value::Null, "{}", me.body);
        assert_eq!(me.body["assignedWorkspaces"], json!([]));
        assert!(listed(&bare).await.is_empty());
        assert!(!members(&w.admin, &ws).await.contains_key(&uid));
        // What they made stays in the workspace.
        let kept = w
            .admin
            .in_workspace(&ws)
            .get(&format!("/chatflows/{flow}"))
            .await;
        assert_eq!(
            (kept.status, kept.body["createdBy"].as_str()),
            (200, Some(uid.as_str()))
        );
        // Removing again: no longer a member.
        assert_eq!(remove(&w.admin, &ws, &uid).await.status, 404);

        // They can be added back, with another role.
        w.add(&ws, &uid, "Viewer").await;
        assert_eq!(m.get("/chatflows").await.status, 200);
        assert_denied(
            &m.post("/chatflows", json!({"name": "x"})).await,
            "chatflows:create",
            json!("Viewer"),
            "re-added as Viewer",
        );

        // A member of two workspaces unlinked from the active one falls back to the other.
        let other = w.workspace("Other").await;
        let (vid, v) = w.member("v@example.com", &ws, "Viewer").await;
        w.add(&other, &vid, "Developer").await;
        let v_bare = no_header(&v);
        assert_eq!(
            v_bare
                .post("/auth/switch-workspace", json!({"workspaceId": ws}))
                .await
                .status,
            200
        );
        assert_eq!(remove(&w.admin, &ws, &vid).await.status, 204);
        assert_eq!(v.get("/chatflows").await.status, 404);
        let me = v_bare.get("/auth/me").await;
        assert_eq!(
            me.body["activeWorkspace"]["id"],
            other.as_str(),
            "{}",
            me.body
        );
        assert_eq!(
            v_bare
                .post("/chatflows", json!({"name": "there"}))
                .await
                .status,
            201
        );
    }
}

#[tokio::test]
async fn the_account_admin_is_never_unlinked_and_only_members_are_removed() {
    for b in backends() {
        let w = World::new(&b).await;
        let admin_id = my_id(&w.admin).await;
        let ws = w.workspace("Team").await;
        let (_, boss) = w.member("boss@example.com", &ws, "Admin").await;
        let (vid, viewer) = w.member("viewer@example.com", &ws, "Viewer").await;
        let outsider = w.user("out@example.com").await;

        for (who, c, in_ws) in [
            ("self", &w.admin, ws.as_str()),
            ("self in Default", &w.admin, w.default_ws.as_str()),
            ("an Admin-role member", &boss, ws.as_str()),
        ] {
            let r = remove(c, in_ws, &admin_id).await;
            assert_eq!(
                (r.status, r.code()),
                (409, "account_admin"),
                "{who} on {}: {}",
                b.name(),
                r.body
            );
        }
        assert!(members(&w.admin, &ws).await.contains_key(&admin_id));
        assert!(
            members(&w.admin, &w.default_ws)
                .await
                .contains_key(&admin_id)
        );

        for id in [
            outsider.clone(),
            uuid::Uuid::new_v4().to_string(),
            "nope".to_string(),
        ] {
            let r = remove(&boss, &ws, &id).await;
            assert_eq!(r.status, 404, "{id}: {}", r.body);
        }
        assert_denied(
            &remove(&viewer, &ws, &my_id(&boss).await).await,
            "workspace:unlink-user",
            json!("Viewer"),
            "a Viewer cannot unlink",
        );
        assert_eq!(members(&w.admin, &ws).await.len(), 3);
        let r = remove(&boss, &ws, &vid).await;
        assert_eq!(
            r.status, 204,
            "a member with workspace:unlink-user unlinks: {}",
            r.body
        );
        assert_eq!(members(&w.admin, &ws).await.len(), 2);
    }
}

#[tokio::test]
async fn add_user_takes_a_role_id_or_name_and_changes_an_existing_role() {
    for b in backends() {
        let w = World::new(&b).await;
        let ws = w.workspace("Team").await;
        let uid = w.user("m@example.com").await;
        let r = add(&w.admin, &ws, &uid, "Viewer").await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["userId"], uid.as_str());
        assert_eq!(r.body["roleName"], "Viewer");
        let m = w
            .server
            .login("m@example.com", flowspace_testkit::PASSWORD)
            .await
            .in_workspace(&ws);
        assert_eq!(m.get("/chatflows").await.status, 200);
        assert_denied(
            &m.post("/chatflows", json!({"name": "x"})).await,
            "chatflows:create",
            json!("Viewer"),
            "Viewer",
        );

        let developer = role_id(&w.admin, "Developer").await;
        let r = add(&w.admin, &ws, &uid, &developer).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["roleName"], "Developer");
        assert_eq!(r.body["roleId"], developer.as_str());
        // The very next request, same token.
        let r = m.post("/chatflows", json!({"name": "now I can"})).await;
        assert_eq!(
            r.status,
            201,
            "Viewer -> Developer on {}: {}",
            b.name(),
            r.body
        );
        let ms = members(&w.admin, &ws).await;
        assert_eq!(
            ms.len(),
            2,
            "changing a role adds no second membership: {ms:?}"
        );
        assert_eq!(ms[&uid], "Developer");
        assert_eq!(listed(&w.admin).await["Team"], 2);

        let custom = w.role("Flows only", &["chatflows:view"]).await;
        let r = add(&w.admin, &ws, &uid, &custom).await;
        assert_eq!(
            (r.status, r.body["roleName"].as_str()),
            (200, Some("Flows only"))
        );
        assert_denied(
            &m.get("/tools").await,
            "tools:view",
            json!("Flows only"),
            "custom role",
        );
        // The Account Admin's own standing is not a role to change.
        let r = add(&w.admin, &ws, &my_id(&w.admin).await, "Viewer").await;
        assert_eq!(r.status, 409, "{}", r.body);
        assert_eq!(
            w.admin
                .in_workspace(&ws)
                .post("/chatflows", json!({"name": "a"}))
                .await
                .status,
            201
        );
    }
}

#[tokio::test]
async fn nobody_grants_a_role_above_their_own() {
    for b in backends() {
        let w = World::new(&b).await;
        let ws = w.workspace("Team").await;
        let inviter = w
            .role(
                "Inviter",
                &[
                    "workspace:add-user",
                    "workspace:view",
                    "chatflows:create",
                    "tools:view",
                ],
            )
            .await;
        let narrow = w.role("Narrow", &["chatflows:view"]).await;
        let writer = w.role("Writer", &["tools:create"]).await;
        let (inv_id, inv) = w.member("inv@example.com", &ws, &inviter).await;
        let target = w.user("t@example.com").await;

        let r = add(&inv, &ws, &target, &writer).await;
        assert_denied(
            &r,
            "tools:create",
            json!("Inviter"),
            "Writer holds tools:create",
        );
        for above in ["Admin", "Viewer", "Developer"] {
            let r = add(&inv, &ws, &target, above).await;
            assert_eq!(r.status, 403, "{above} on {}: {}", b.name(), r.body);
            assert!(
                r.body["error"]["missingPermission"].is_string(),
                "{}",
                r.body
            );
            assert_eq!(r.body["error"]["role"], "Inviter");
        }
        // Not even to themselves.
        let r = add(&inv, &ws, &inv_id, "Admin").await;
        assert_eq!(r.status, 403, "{}", r.body);
        let ms = members(&w.admin, &ws).await;
        assert!(
            !ms.contains_key(&target),
            "a refused add adds nobody: {ms:?}"
        );
        assert_eq!(ms[&inv_id], "Inviter");
        // Nor may they change the role of a member who holds more than they do: an Admin
        // member cannot be demoted by the Inviter, even to a role the Inviter could give.
        let boss = w.user("boss@example.com").await;
        w.add(&ws, &boss, "Admin").await;
        let r = add(&inv, &ws, &boss, &narrow).await;
        assert_eq!(r.status, 403, "demoting a member above you: {}", r.body);
        assert_eq!(members(&w.admin, &ws).await[&boss], "Admin");
        // ... nor unlink them.
        let unlinker = w
            .role("Unlinker", &["workspace:unlink-user", "workspace:view"])
            .await;
        let (_, unl) = w.member("unl@example.com", &ws, &unlinker).await;
        let r = unl
            .post(
                &format!("/workspace/{ws}/remove-user"),
                json!({"userId": boss}),
            )
            .await;
        assert_eq!(r.status, 403, "unlinking a member above you: {}", r.body);
        assert_eq!(members(&w.admin, &ws).await[&boss], "Admin");

        let r = add(&inv, &ws, &target, &narrow).await;
        assert_eq!(
            (r.status, r.body["roleName"].as_str()),
            (200, Some("Narrow")),
            "{}",
            r.body
        );
        let t = w
            .server
            .login("t@example.com", flowspace_testkit::PASSWORD)
            .await
            .in_workspace(&ws);
        assert_eq!(t.get("/chatflows").await.status, 200);
        assert_denied(
            &add(&t, &ws, &inv_id, &narrow).await,
            "workspace:add-user",
            json!("Narrow"),
            "no add-user",
        );
        // The inviter's permission is checked in the workspace of the path.
        assert_eq!(add(&inv, &w.default_ws, &target, &narrow).await.status, 404);
    }
}

#[tokio::test]
async fn add_user_needs_a_known_user_of_the_organization_and_a_known_role() {
    for b in backends() {
        let w = World::new(&b).await;
        let ws = w.workspace("Team").await;
        let uid = w.user("m@example.com").await;
        let (foreign_user, foreign_role) = foreign_user_and_role(&w.server).await;
        for (what, user, role) in [
            (
                "unknown user",
                uuid::Uuid::new_v4().to_string(),
                "Viewer".to_string(),
            ),
            (
                "malformed user id",
                "nope".to_string(),
                "Viewer".to_string(),
            ),
            (
                "user of another organization",
                foreign_user.clone(),
                "Viewer".to_string(),
            ),
            (
                "unknown role id",
                uid.clone(),
                uuid::Uuid::new_v4().to_string(),
            ),
            ("unknown role name", uid.clone(), "Nope".to_string()),
            (
                "role of another organization",
                uid.clone(),
                foreign_role.clone(),
            ),
        ] {
            let r = add(&w.admin, &ws, &user, &role).await;
            assert_eq!(
                (r.status, r.code()),
                (404, "not_found"),
                "{what} on {}: {}",
                b.name(),
                r.body
            );
        }
        assert_eq!(members(&w.admin, &ws).await.len(), 1, "nothing was added");
        assert_eq!(rows_in(&w.server, "memberships", &ws).await, 1);
        assert_eq!(add(&w.admin, &ws, &uid, "Viewer").await.status, 200);
    }
}

/// Rule 3 across replicas: a change made through one server applies on the other at once.
#[tokio::test]
async fn unlinking_and_role_changes_apply_on_every_replica() {
    for b in backends() {
        if !matches!(b, Backend::Postgres(_)) {
            continue; // replicas share a PostgreSQL database
        }
        let w = World::new(&b).await;
        let r2 = w.server.replica().await;
        let ws = w.workspace("Team").await;
        let (uid, m) = w.member("m@example.com", &ws, "Developer").await;
        let token = m.token.clone().unwrap();
        let on2 = r2.client().with_token(&token).in_workspace(&ws);
        // Warm the second replica up with this caller.
        assert_eq!(on2.get("/chatflows").await.status, 200);
        assert_eq!(
            on2.post("/chatflows", json!({"name": "a"})).await.status,
            201
        );

        // A role change on replica 1 ...
        assert_eq!(add(&w.admin, &ws, &uid, "Viewer").await.status, 200);
        assert_denied(
            &on2.post("/chatflows", json!({"name": "b"})).await,
            "chatflows:create",
            json!("Viewer"),
            "role changed on replica 1",
        );
        // ... and an edit of the role held.
        let custom = w.role("Custom", &["chatflows:view"]).await;
        assert_eq!(add(&w.admin, &ws, &uid, &custom).await.status, 200);
        assert_eq!(
            on2.post("/chatflows", json!({"name": "c"})).await.status,
            403
        );
        let r = w
            .admin
            .put(
                &format!("/roles/{custom}"),
                json!({"name": "Custom", "permissions": ["chatflows:create"]}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(
            on2.post("/chatflows", json!({"name": "d"})).await.status,
            201
        );

        // Unlinking on replica 1.
        assert_eq!(remove(&w.admin, &ws, &uid).await.status, 204);
        let r = on2.get("/chatflows").await;
        assert_eq!(
            r.status, 404,
            "unlinked on replica 1, still in on replica 2: {}",
            r.body
        );
        let r = no_header(&on2).get("/chatflows").await;
        assert_eq!(r.status, 403, "{}", r.body);
    }
}
