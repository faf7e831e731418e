//! Groups (SPEC: Group; §4 `/groups`, `add-group`, `remove-group`): Account Admin only, the
//! union of a direct role and group roles, group-only access, and revocation on the very next
//! request (rule 3).

use crate::workspaces::{my_id, no_header, rows_in};
use flowspace_testkit::{Client, PASSWORD, Resp, World, backends};
use serde_json::json;

async fn create_group(admin: &Client, name: &str, members: &[&str]) -> String {
    let r = admin
        .post("/groups", json!({"name": name, "members": members}))
        .await;
    assert_eq!(r.status, 201, "create group: {}", r.body);
    r.id()
}

async fn add_group(admin: &Client, ws: &str, group: &str, role: &str) -> Resp {
    admin
        .post(
            &format!("/workspace/{ws}/add-group"),
            json!({"groupId": group, "role": role}),
        )
        .await
}

async fn remove_group(admin: &Client, ws: &str, group: &str) -> Resp {
    admin
        .post(
            &format!("/workspace/{ws}/remove-group"),
            json!({ "groupId": group }),
        )
        .await
}

fn member_ids(group: &Resp) -> Vec<String> {
    let mut v: Vec<String> = group.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["userId"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

async fn new_flow(c: &Client, name: &str) -> Resp {
    c.post("/chatflows", json!({ "name": name })).await
}

#[tokio::test]
async fn groups_crud_is_for_the_account_admin_only() {
    for b in backends() {
        let w = World::new(&b).await;
        let ws = w.workspace("Team").await;
        let ann = w.user("ann@example.com").await;
        let bob = w.user("bob@example.com").await;
        // A workspace Admin is still not the Account Admin.
        let (_, boss) = w.member("boss@example.com", &ws, "Admin").await;

        let g = w
            .admin
            .post(
                "/groups",
                json!({"name": "Engineers", "description": "build things", "members": [ann]}),
            )
            .await;
        assert_eq!(g.status, 201, "{}: {}", b.name(), g.body);
        assert_eq!(g.body["name"], "Engineers");
        assert_eq!(g.body["description"], "build things");
        assert_eq!(member_ids(&g), vec![ann.clone()]);
        assert_eq!(g.body["members"][0]["email"], "ann@example.com");
        let id = g.id();

        // Names are unique per organization, compared case-insensitively.
        let dup = w.admin.post("/groups", json!({"name": "ENGINEERS"})).await;
        assert_eq!((dup.status, dup.code()), (409, "group_name_taken"));
        // Bad input changes nothing.
        let bad = w.admin.post("/groups", json!({"name": ""})).await;
        assert_eq!(bad.status, 422, "{}", bad.body);
        let ghost = w
            .admin
            .post(
                "/groups",
                json!({"name": "Ghosts", "members": [uuid::Uuid::new_v4().to_string()]}),
            )
            .await;
        assert_eq!(ghost.status, 404, "{}", ghost.body);
        let (foreign, _) = crate::workspaces::foreign_user_and_role(&w.server).await;
        let other_org = w
            .admin
            .post("/groups", json!({"name": "Foreign", "members": [foreign]}))
            .await;
        assert_eq!(other_org.status, 404, "{}", other_org.body);

        let list = w.admin.get("/groups").await;
        assert_eq!(list.status, 200);
        let names: Vec<&str> = list.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, vec!["Engineers"], "{}", b.name());

        // PATCH with members replaces the set; without it keeps it.
        let p = w
            .admin
            .patch(
                &format!("/groups/{id}"),
                json!({"name": "Builders", "members": [bob, bob]}),
            )
            .await;
        assert_eq!(p.status, 200, "{}", p.body);
        assert_eq!(p.body["name"], "Builders");
        assert_eq!(p.body["description"], "build things");
        assert_eq!(member_ids(&p), vec![bob.clone()]);
        let p = w
            .admin
            .patch(&format!("/groups/{id}"), json!({"description": null}))
            .await;
        assert_eq!(p.status, 200, "{}", p.body);
        assert_eq!(p.body["description"], serde_json::Value::Null);
        assert_eq!(member_ids(&p), vec![bob.clone()]);
        let got = w.admin.get(&format!("/groups/{id}")).await;
        assert_eq!(
            (got.status, got.body["name"].as_str()),
            (200, Some("Builders"))
        );

        // Nobody but the Account Admin.
        for r in [
            boss.get("/groups").await,
            boss.post("/groups", json!({"name": "Mine"})).await,
            boss.get(&format!("/groups/{id}")).await,
            boss.patch(&format!("/groups/{id}"), json!({"members": []}))
                .await,
            boss.delete(&format!("/groups/{id}")).await,
            add_group(&boss, &ws, &id, "Viewer").await,
            remove_group(&boss, &ws, &id).await,
        ] {
            assert_eq!(r.status, 403, "{}: {}", b.name(), r.body);
        }
        assert_eq!(w.server.client().get("/groups").await.status, 401);

        assert_eq!(w.admin.delete(&format!("/groups/{id}")).await.status, 204);
        assert_eq!(w.admin.get(&format!("/groups/{id}")).await.status, 404);
        assert_eq!(w.admin.delete(&format!("/groups/{id}")).await.status, 404);
        assert_eq!(w.admin.get("/groups/not-an-id").await.status, 404);
    }
}

#[tokio::test]
async fn permissions_are_the_union_of_direct_and_group_roles() {
    for b in backends() {
        let w = World::new(&b).await;
        let ws = w.workspace("Team").await;
        let (vic, c) = w.member("vic@example.com", &ws, "Viewer").await;

        let r = new_flow(&c, "before").await;
        assert_eq!(r.status, 403, "{}", r.body);
        assert_eq!(r.body["error"]["missingPermission"], "chatflows:create");

        let g = create_group(&w.admin, "Devs", &[&vic]).await;
        // By role name, and by role id.
        let r = add_group(&w.admin, &ws, &g, "Viewer").await;
        assert_eq!(r.status, 200, "{}", r.body);
        let dev = crate::workspaces::role_id(&w.admin, "Developer").await;
        let r = add_group(&w.admin, &ws, &g, &dev).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["workspaces"][0]["roleName"], "Developer");
        assert_eq!(r.body["workspaces"][0]["workspaceId"], ws.as_str());

        let r = new_flow(&c, "after").await;
        assert_eq!(r.status, 201, "{}: {}", b.name(), r.body);
        let me = c.get("/auth/me").await;
        let perms: Vec<&str> = me.body["permissions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap())
            .collect();
        assert!(perms.contains(&"chatflows:create"), "{perms:?}");
        // Still nothing neither role gives.
        let r = c
            .put(
                &format!("/credentials/{}/shares", uuid::Uuid::new_v4()),
                json!({"workspaceIds": []}),
            )
            .await;
        assert_eq!(r.status, 403, "{}", r.body);
        assert_eq!(r.body["error"]["missingPermission"], "credentials:share");

        // Unknown group, unknown role, unknown workspace.
        let nobody = uuid::Uuid::new_v4().to_string();
        assert_eq!(
            add_group(&w.admin, &ws, &nobody, "Viewer").await.status,
            404
        );
        assert_eq!(add_group(&w.admin, &ws, &g, "NoSuchRole").await.status, 404);
        assert_eq!(add_group(&w.admin, &nobody, &g, "Viewer").await.status, 404);
        assert_eq!(remove_group(&w.admin, &nobody, &g).await.status, 404);
    }
}

#[tokio::test]
async fn a_group_only_member_acts_until_removed_on_the_very_next_request() {
    for b in backends() {
        let w = World::new(&b).await;
        let ws = w.workspace("Labs").await;
        let gus = w.user("gus@example.com").await;
        let g = create_group(&w.admin, "Lab rats", &[&gus]).await;
        assert_eq!(add_group(&w.admin, &ws, &g, "Developer").await.status, 200);

        // No direct membership anywhere: the group's workspace is where they land.
        let c = w.server.login("gus@example.com", PASSWORD).await;
        let me = c.get("/auth/me").await;
        assert_eq!(me.body["activeWorkspace"]["id"], ws.as_str(), "{}", me.body);
        // ... and it is listed among their workspaces, with the group's role, for them and on
        // the Account Admin's Users page.
        assert_eq!(me.body["assignedWorkspaces"][0]["workspaceId"], ws.as_str());
        assert_eq!(me.body["assignedWorkspaces"][0]["roleName"], "Developer");
        let detail = w.admin.get(&format!("/users/{gus}")).await;
        assert_eq!(
            detail.body["workspaces"][0]["roleName"], "Developer",
            "{}",
            detail.body
        );
        let all = w.admin.get("/users").await;
        let row = all.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["id"] == gus.as_str())
            .unwrap()
            .clone();
        assert_eq!(row["workspaces"].as_array().unwrap().len(), 1, "{row}");
        let listed = c.get("/workspaces").await;
        let names: Vec<&str> = listed.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, vec!["Labs"], "{}", b.name());
        let r = new_flow(&no_header(&c), "no header").await;
        assert_eq!(r.status, 201, "{}: {}", b.name(), r.body);
        let c = c.in_workspace(&ws);
        assert_eq!(new_flow(&c, "one").await.status, 201);
        assert_eq!(c.get("/chatflows").await.status, 200);
        assert_eq!(
            c.post("/auth/switch-workspace", json!({ "workspaceId": ws }))
                .await
                .status,
            200
        );
        // Not in the Default workspace, where the group is not assigned.
        assert_eq!(
            c.in_workspace(&w.default_ws).get("/chatflows").await.status,
            404
        );

        // Out of the group: refused on the very next request.
        let p = w
            .admin
            .patch(&format!("/groups/{g}"), json!({"members": []}))
            .await;
        assert_eq!(p.status, 200, "{}", p.body);
        let r = c.get("/chatflows").await;
        assert_eq!(r.status, 404, "{}: {}", b.name(), r.body);
        assert_eq!(new_flow(&c, "two").await.status, 404);
        assert!(
            no_header(&c).get("/workspaces").await.body["items"]
                .as_array()
                .unwrap()
                .is_empty()
        );

        // Back in the group, then the group off the workspace: refused at once again.
        w.admin
            .patch(&format!("/groups/{g}"), json!({ "members": [gus] }))
            .await;
        assert_eq!(c.get("/chatflows").await.status, 200);
        assert_eq!(remove_group(&w.admin, &ws, &g).await.status, 204);
        assert_eq!(c.get("/chatflows").await.status, 404);
        assert_eq!(remove_group(&w.admin, &ws, &g).await.status, 404);

        // Deleting the group works the same way.
        assert_eq!(add_group(&w.admin, &ws, &g, "Viewer").await.status, 200);
        assert_eq!(c.get("/chatflows").await.status, 200);
        assert_eq!(w.admin.delete(&format!("/groups/{g}")).await.status, 204);
        assert_eq!(c.get("/chatflows").await.status, 404);
        // The user's account is untouched.
        assert_eq!(my_id(&no_header(&c)).await, gus);
    }
}

#[tokio::test]
async fn deleting_a_workspace_removes_its_group_assignments() {
    for b in backends() {
        let w = World::new(&b).await;
        let ws = w.workspace("Doomed").await;
        let keep = w.workspace("Kept").await;
        let hal = w.user("hal@example.com").await;
        let g = create_group(&w.admin, "Crew", &[&hal]).await;
        assert_eq!(add_group(&w.admin, &ws, &g, "Developer").await.status, 200);
        assert_eq!(add_group(&w.admin, &keep, &g, "Viewer").await.status, 200);
        assert_eq!(rows_in(&w.server, "workspace_groups", &ws).await, 1);

        // A group assignment is not a member: it does not block deletion.
        let r = w.admin.delete(&format!("/workspace/{ws}")).await;
        assert_eq!(r.status, 204, "{}: {}", b.name(), r.body);
        assert_eq!(rows_in(&w.server, "workspace_groups", &ws).await, 0);
        assert_eq!(rows_in(&w.server, "workspace_groups", &keep).await, 1);
        let got = w.admin.get(&format!("/groups/{g}")).await;
        let names: Vec<&str> = got.body["workspaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["workspaceName"].as_str().unwrap())
            .collect();
        assert_eq!(names, vec!["Kept"], "{}", got.body);
        assert_eq!(member_ids(&got), vec![hal]);
    }
}

#[tokio::test]
async fn a_role_given_to_a_group_is_in_use() {
    for b in backends() {
        let w = World::new(&b).await;
        let ws = w.workspace("Team").await;
        let role = w.role("Group role", &["tools:view"]).await;
        let group = create_group(&w.admin, "Support", &[]).await;
        assert_eq!(add_group(&w.admin, &ws, &group, &role).await.status, 200);
        let r = w.admin.get(&format!("/roles/{role}")).await;
        assert_eq!(r.body["inUse"], 1, "{}", r.body);
        let del = w.admin.delete(&format!("/roles/{role}")).await;
        assert_eq!(
            (del.status, del.code()),
            (409, "role_in_use"),
            "{}",
            del.body
        );
        assert_eq!(remove_group(&w.admin, &ws, &group).await.status, 204);
        assert_eq!(w.admin.delete(&format!("/roles/{role}")).await.status, 204);
    }
}
