//! Roles and the permission catalogue (rule 8, SPEC §3), role edits taking effect at once
//! (rule 3), and denials that explain themselves (rule 4).

use crate::workspaces::{foreign_user_and_role, members, no_header, role_id};
use flowspace_testkit::{PASSWORD, World, backends};
use serde_json::{Value, json};

fn perms(role: &Value) -> Vec<&str> {
    role["permissions"]
        .as_array()
        .unwrap_or_else(|| panic!("no permissions in {role}"))
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn the_catalogue_lists_51_permissions_to_any_signed_in_user() {
    for b in backends() {
        let w = World::new(&b).await;
        w.user("nobody@example.com").await;
        let nobody = w.server.login("nobody@example.com", PASSWORD).await;
        assert_eq!(w.server.client().get("/permissions").await.status, 401);
        for c in [&w.admin, &nobody] {
            let r = c.get("/permissions").await;
            assert_eq!(r.status, 200, "{}", r.body);
            let list = perms(&r.body);
            assert_eq!(list.len(), 51, "{} on {}", r.body, b.name());
            let unique: std::collections::BTreeSet<_> = list.iter().collect();
            assert_eq!(unique.len(), 51);
            for p in [
                "chatflows:import",
                "agentflows:duplicate",
                "tools:export",
                "credentials:share",
                "documentStores:view",
                "datasets:delete",
                "workspace:add-user",
                "workspace:unlink-user",
                "auditLogs:view",
            ] {
                assert!(list.contains(&p), "{p} missing from {list:?}");
            }
            let resources = r.body["resources"].as_array().unwrap();
            assert_eq!(resources.len(), 11);
            let chat = resources
                .iter()
                .find(|x| x["resource"] == "chatflows")
                .unwrap();
            assert_eq!(
                chat["actions"],
                json!([
                    "view",
                    "create",
                    "update",
                    "duplicate",
                    "delete",
                    "export",
                    "import"
                ])
            );
        }
    }
}

#[tokio::test]
async fn built_in_roles_are_listed_first_and_cannot_be_changed() {
    for b in backends() {
        let w = World::new(&b).await;
        let custom = w.role("Zeta", &["tools:view"]).await;
        let r = w.admin.get("/roles").await;
        assert_eq!(r.status, 200, "{}", r.body);
        let items = r.body["items"].as_array().unwrap();
        let names: Vec<&str> = items.iter().map(|x| x["name"].as_str().unwrap()).collect();
        assert_eq!(names.len(), 4, "{names:?}");
        assert_eq!(
            names[..3]
                .iter()
                .copied()
                .collect::<std::collections::BTreeSet<_>>(),
            ["Admin", "Developer", "Viewer"].into_iter().collect(),
            "built-in first: {names:?}"
        );
        assert_eq!(names[3], "Zeta");
        let by_name = |n: &str| items.iter().find(|x| x["name"] == n).unwrap();
        assert_eq!(perms(by_name("Admin")).len(), 51);
        let dev = perms(by_name("Developer"));
        assert_eq!(dev.len(), 43, "{dev:?}");
        assert!(dev.contains(&"credentials:delete") && !dev.contains(&"credentials:share"));
        assert!(
            !dev.iter()
                .any(|p| p.starts_with("workspace:") || p.starts_with("auditLogs:"))
        );
        let viewer = perms(by_name("Viewer"));
        assert_eq!(viewer.len(), 11);
        assert!(viewer.iter().all(|p| p.ends_with(":view")), "{viewer:?}");
        for n in ["Admin", "Developer", "Viewer"] {
            assert_eq!(by_name(n)["builtin"], true);
        }
        assert_eq!(by_name("Zeta")["builtin"], false);

        for n in ["Admin", "Developer", "Viewer"] {
            let id = role_id(&w.admin, n).await;
            let r = w
                .admin
                .put(
                    &format!("/roles/{id}"),
                    json!({"name": n, "permissions": ["tools:view"]}),
                )
                .await;
            assert_eq!(
                (r.status, r.code()),
                (409, "builtin_role"),
                "edit {n} on {}: {}",
                b.name(),
                r.body
            );
            let r = w.admin.delete(&format!("/roles/{id}")).await;
            assert_eq!(
                (r.status, r.code()),
                (409, "builtin_role"),
                "delete {n}: {}",
                r.body
            );
            let after = w.admin.get(&format!("/roles/{id}")).await;
            assert_eq!(after.body["name"], n);
        }
        assert_eq!(
            perms(
                &w.admin
                    .get(&format!("/roles/{}", role_id(&w.admin, "Viewer").await))
                    .await
                    .body
            )
            .len(),
            11
        );
        assert_eq!(w.admin.get(&format!("/roles/{custom}")).await.status, 200);
        assert_eq!(
            w.admin
                .get(&format!("/roles/{}", uuid::Uuid::new_v4()))
                .await
                .status,
            404
        );
        // Another organization's role is not there at all.
        let (_, foreign) = foreign_user_and_role(&w.server).await;
        let f = format!("/roles/{foreign}");
        assert_eq!(w.admin.get(&f).await.status, 404);
        assert_eq!(
            w.admin
                .put(&f, json!({"name": "Mine", "permissions": []}))
                .await
                .status,
            404
        );
        assert_eq!(w.admin.delete(&f).await.status, 404);
        assert_eq!(
            w.admin.get("/roles").await.body["items"]
                .as_array()
                .unwrap()
                .len(),
            4
        );
    }
}

#[tokio::test]
async fn only_the_account_admin_creates_edits_and_deletes_roles() {
    for b in backends() {
        let w = World::new(&b).await;
        let role = w.role("Editors", &["chatflows:update"]).await;
        let (_, boss) = w.member("boss@example.com", &w.default_ws, "Admin").await;
        w.user("nobody@example.com").await;
        let nobody = w.server.login("nobody@example.com", PASSWORD).await;
        for (who, c) in [
            ("Admin-role member", &boss),
            ("user without workspace", &nobody),
        ] {
            let r = c
                .post(
                    "/roles",
                    json!({"name": "Mine", "permissions": ["tools:view"]}),
                )
                .await;
            assert_eq!(
                (r.status, r.code()),
                (403, "forbidden"),
                "{who} create on {}: {}",
                b.name(),
                r.body
            );
            let r = c
                .put(
                    &format!("/roles/{role}"),
                    json!({"name": "Editors", "permissions": ["tools:view"]}),
                )
                .await;
            assert_eq!(r.status, 403, "{who} edit: {}", r.body);
            let r = c.delete(&format!("/roles/{role}")).await;
            assert_eq!(r.status, 403, "{who} delete: {}", r.body);
            // Reading is for anyone signed in.
            let r = c.get("/roles").await;
            assert_eq!(r.status, 200, "{who} list: {}", r.body);
            assert_eq!(r.body["items"].as_array().unwrap().len(), 4);
            assert_eq!(c.get(&format!("/roles/{role}")).await.status, 200);
        }
        let anon = w.server.client();
        assert_eq!(anon.get("/roles").await.status, 401);
        let stored = w.admin.get(&format!("/roles/{role}")).await;
        assert_eq!(
            perms(&stored.body),
            ["chatflows:view", "chatflows:update"],
            "unchanged"
        );
        assert_eq!(
            w.admin.get("/roles").await.body["items"]
                .as_array()
                .unwrap()
                .len(),
            4
        );
    }
}

#[tokio::test]
async fn role_permissions_are_catalogue_entries_and_imply_their_view() {
    for b in backends() {
        let w = World::new(&b).await;
        for bad in [
            json!({"name": "R", "permissions": ["chatflows:fly"]}),
            json!({"name": "R", "permissions": ["nope"]}),
            json!({"name": "R", "permissions": ["tools:view", "users:view"]}),
            json!({"name": "R", "permissions": ["credentials:export"]}),
            json!({"name": "R", "permissions": "chatflows:view"}),
        ] {
            let r = w.admin.post("/roles", bad.clone()).await;
            assert_eq!(
                (r.status, r.body["error"]["field"].as_str()),
                (422, Some("permissions")),
                "{bad} on {}: {}",
                b.name(),
                r.body
            );
        }
        for bad in [
            json!({"name": "", "permissions": []}),
            json!({"name": "x".repeat(101), "permissions": []}),
        ] {
            let r = w.admin.post("/roles", bad).await;
            assert_eq!(
                (r.status, r.body["error"]["field"].as_str()),
                (422, Some("name")),
                "{}",
                r.body
            );
        }
        assert_eq!(
            w.admin.get("/roles").await.body["items"]
                .as_array()
                .unwrap()
                .len(),
            3,
            "nothing created"
        );

        let r = w
            .admin
            .post(
                "/roles",
                json!({"name": "Builder", "description": "builds", "permissions": ["chatflows:create", "tools:delete", "workspace:add-user"]}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let expected = [
            "chatflows:view",
            "chatflows:create",
            "tools:view",
            "tools:delete",
            "workspace:view",
            "workspace:add-user",
        ];
        let mut got = perms(&r.body);
        got.sort_unstable();
        let mut want = expected.to_vec();
        want.sort_unstable();
        assert_eq!(got, want, "the answer lists the implied views");
        let id = r.id();
        let read = w.admin.get(&format!("/roles/{id}")).await;
        let mut stored = perms(&read.body);
        stored.sort_unstable();
        assert_eq!(stored, want, "the stored role lists them");
        // The same on edit, and an unknown entry on edit changes nothing.
        let r = w
            .admin
            .put(
                &format!("/roles/{id}"),
                json!({"name": "Builder", "permissions": ["datasets:update"]}),
            )
            .await;
        assert_eq!(
            (r.status, perms(&r.body)),
            (200, vec!["datasets:view", "datasets:update"]),
            "{}",
            r.body
        );
        let r = w
            .admin
            .put(
                &format!("/roles/{id}"),
                json!({"name": "Builder", "permissions": ["datasets:fly"]}),
            )
            .await;
        assert_eq!(
            (r.status, r.body["error"]["field"].as_str()),
            (422, Some("permissions"))
        );
        assert_eq!(
            perms(&w.admin.get(&format!("/roles/{id}")).await.body),
            ["datasets:view", "datasets:update"]
        );
        // The implied view is really granted.
        let (_, m) = w.member("m@example.com", &w.default_ws, &id).await;
        assert_eq!(m.get("/datasets").await.status, 200);
    }
}

#[tokio::test]
async fn role_names_are_unique_case_insensitively() {
    for b in backends() {
        let w = World::new(&b).await;
        let editors = w.role("Editors", &["tools:view"]).await;
        let other = w.role("Other", &["tools:view"]).await;
        for dup in ["Editors", "editors", " EDITORS ", "admin", "Viewer"] {
            let r = w
                .admin
                .post(
                    "/roles",
                    json!({"name": dup, "permissions": ["tools:view"]}),
                )
                .await;
            assert_eq!(r.status, 409, "{dup} on {}: {}", b.name(), r.body);
        }
        let r = w
            .admin
            .put(
                &format!("/roles/{other}"),
                json!({"name": "eDiToRs", "permissions": ["tools:view"]}),
            )
            .await;
        assert_eq!(r.status, 409, "{}", r.body);
        let r = w
            .admin
            .put(
                &format!("/roles/{other}"),
                json!({"name": "developer", "permissions": ["tools:view"]}),
            )
            .await;
        assert_eq!(r.status, 409, "{}", r.body);
        assert_eq!(
            w.admin.get(&format!("/roles/{other}")).await.body["name"],
            "Other"
        );
        // Renaming a role to another case of its own name is fine.
        let r = w
            .admin
            .put(
                &format!("/roles/{editors}"),
                json!({"name": "EDITORS", "permissions": ["tools:view"]}),
            )
            .await;
        assert_eq!(
            (r.status, r.body["name"].as_str()),
            (200, Some("EDITORS")),
            "{}",
            r.body
        );
        assert_eq!(
            w.admin.get("/roles").await.body["items"]
                .as_array()
                .unwrap()
                .len(),
            5
        );
    }
}

#[tokio::test]
async fn a_role_in_use_cannot_be_deleted() {
    for b in backends() {
        let w = World::new(&b).await;
        let ws = w.workspace("Team").await;
        let role = w.role("Custom", &["chatflows:view"]).await;
        let unused = w.role("Unused", &["tools:view"]).await;
        let (u1, _) = w.member("a@example.com", &ws, &role).await;
        let (u2, _) = w.member("b@example.com", &w.default_ws, &role).await;
        assert_eq!(
            w.admin.get(&format!("/roles/{role}")).await.body["inUse"],
            2
        );

        let r = w.admin.delete(&format!("/roles/{role}")).await;
        assert_eq!(
            (r.status, r.code()),
            (409, "role_in_use"),
            "{} on {}",
            r.body,
            b.name()
        );
        let msg = r.body["error"]["message"].as_str().unwrap();
        assert!(msg.contains('2'), "names the count: {msg}");
        assert_eq!(
            members(&w.admin, &ws).await[&u1],
            "Custom",
            "the holder keeps it"
        );

        let r = w
            .admin
            .post(
                &format!("/workspace/{ws}/remove-user"),
                json!({"userId": u1}),
            )
            .await;
        assert_eq!(r.status, 204);
        let r = w.admin.delete(&format!("/roles/{role}")).await;
        assert_eq!(r.status, 409);
        assert!(
            r.body["error"]["message"].as_str().unwrap().contains('1'),
            "{}",
            r.body
        );
        // Moving the last holder to another role frees it.
        let r = w
            .admin
            .post(
                &format!("/workspace/{}/add-user", w.default_ws),
                json!({"userId": u2, "role": "Viewer"}),
            )
            .await;
        assert_eq!(r.status, 200);
        assert_eq!(
            w.admin.get(&format!("/roles/{role}")).await.body["inUse"],
            0
        );
        assert_eq!(w.admin.delete(&format!("/roles/{role}")).await.status, 204);
        assert_eq!(w.admin.get(&format!("/roles/{role}")).await.status, 404);
        assert_eq!(w.admin.delete(&format!("/roles/{role}")).await.status, 404);
        assert_eq!(
            w.admin.delete(&format!("/roles/{unused}")).await.status,
            204
        );
        assert_eq!(
            w.admin.get("/roles").await.body["items"]
                .as_array()
                .unwrap()
                .len(),
            3
        );
    }
}

#[tokio::test]
async fn editing_a_role_applies_to_its_holders_next_request() {
    for b in backends() {
        let w = World::new(&b).await;
        let ws = w.workspace("Team").await;
        let role = w.role("Custom", &["chatflows:view"]).await;
        let (_, m) = w.member("m@example.com", &ws, &role).await;
        let (_, n) = w.member("n@example.com", &w.default_ws, &role).await;
        let r = m.post("/chatflows", json!({"name": "x"})).await;
        assert_eq!(r.status, 403, "{}", r.body);

        let r = w
            .admin
            .put(
                &format!("/roles/{role}"),
                json!({"name": "Custom", "permissions": ["chatflows:create"]}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        for c in [&m, &n] {
            let r = c.post("/chatflows", json!({"name": "now"})).await;
            assert_eq!(
                r.status,
                201,
                "same token, next request, on {}: {}",
                b.name(),
                r.body
            );
        }
        let me = no_header(&m).get("/auth/me").await;
        assert!(
            me.body["permissions"]
                .as_array()
                .unwrap()
                .contains(&json!("chatflows:create")),
            "{}",
            me.body
        );

        let r = w
            .admin
            .put(
                &format!("/roles/{role}"),
                json!({"name": "Renamed", "permissions": ["tools:view"]}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let r = m.get("/chatflows").await;
        assert_eq!(r.status, 403, "{}", r.body);
        assert_eq!(r.body["error"]["missingPermission"], "chatflows:view");
        assert_eq!(
            r.body["error"]["role"], "Renamed",
            "the role's current name"
        );
        assert_eq!(m.get("/tools").await.status, 200);
    }
}

#[tokio::test]
async fn a_denial_names_the_missing_permission_and_the_callers_role() {
    for b in backends() {
        let w = World::new(&b).await;
        let ws = w.workspace("Team").await;
        let (_, viewer) = w.member("v@example.com", &ws, "Viewer").await;
        let (_, dev) = w.member("d@example.com", &ws, "Developer").await;
        let cases = [
            (
                &viewer,
                "POST",
                "/chatflows".to_string(),
                "chatflows:create",
                "Viewer",
            ),
            (
                &viewer,
                "PATCH",
                format!("/workspace/{ws}"),
                "workspace:update",
                "Viewer",
            ),
            (
                &viewer,
                "POST",
                "/credentials".to_string(),
                "credentials:create",
                "Viewer",
            ),
            (
                &dev,
                "GET",
                format!("/workspace/{ws}/users"),
                "workspace:view",
                "Developer",
            ),
            (
                &dev,
                "POST",
                format!("/workspace/{ws}/add-user"),
                "workspace:add-user",
                "Developer",
            ),
        ];
        for (c, method, path, missing, role) in cases {
            let body = json!({"name": "x", "credentialName": "c", "data": {"k": "v"}, "userId": "x", "role": "Viewer"});
            let body = (method != "GET").then_some(body);
            let r = c.send(method.parse().unwrap(), &path, body, &[]).await;
            assert_eq!(r.status, 403, "{method} {path} on {}: {}", b.name(), r.body);
            assert_eq!(r.code(), "forbidden");
            assert_eq!(
                r.body["error"]["missingPermission"], missing,
                "{method} {path}: {}",
                r.body
            );
            assert_eq!(r.body["error"]["role"], role, "{method} {path}: {}", r.body);
            assert!(
                r.body["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains(missing)
            );
        }
    }
}
