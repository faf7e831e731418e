//! Rule 17 over the whole route table, with two organizations on both backends: organization
//! B's owner, walking every list and read route, sees exactly what it saw before organization
//! A was filled (the same ids, the same counts) and none of A's ids; every route that takes an
//! id answers for each of A's ids (workspaces, users, roles, groups, invitations, items of every
//! kind, API keys, the organization itself) exactly what it answers for an id that never
//! existed; `X-Workspace-Id` (or a body's `workspaceId`) naming A's workspace answers like one
//! that does not exist; and nothing of A changed. The same holds the other way round.

use crate::organizations::{active_ws, new_org};
use crate::resources::KINDS;
use flowspace_server::auth::Guard;
use flowspace_server::routes::{RouteDef, table};
use flowspace_testkit::{Client, PASSWORD, Resp, TestServer, World, backends};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// Every id found in `v`.
fn uuids(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::String(s) if s.parse::<uuid::Uuid>().is_ok() => {
            out.insert(s.clone());
        }
        Value::Object(o) => o.values().for_each(|v| uuids(v, out)),
        Value::Array(a) => a.iter().for_each(|v| uuids(v, out)),
        _ => {}
    }
}

/// What a read shows: its status, how many items, and every id in it.
type Seen = (u16, Option<usize>, BTreeSet<String>);

/// Every `GET` route without an id, read by `c` in workspace `ws`.
async fn snapshot(c: &Client, ws: &str) -> BTreeMap<String, Seen> {
    let c = c.in_workspace(ws);
    let mut out = BTreeMap::new();
    for def in table() {
        if def.method != Method::GET || def.guard.is_public() || def.path.contains('{') {
            continue;
        }
        let path = if def.paginated {
            format!("{}?limit=200", def.path)
        } else {
            def.path.clone()
        };
        let r = c.get(&path).await;
        assert!(r.status < 500, "{path}: {}", r.body);
        let mut ids = BTreeSet::new();
        uuids(&r.body, &mut ids);
        let n = r.body["items"].as_array().map(Vec::len);
        out.insert(def.path.clone(), (r.status, n, ids));
    }
    out
}

/// Fills an organization through its owner `c` (signed in, active in `ws`): a workspace, a
/// user who signs in (and fails once), a role, a group, an open invitation, and an item of
/// every kind (API keys included) in both workspaces. Answers every id made.
async fn populate(
    server: &TestServer,
    c: &Client,
    ws: &str,
    tag: &str,
    domain: &str,
) -> Vec<String> {
    let mut ids = vec![ws.to_string()];
    let r = c
        .post("/workspace", json!({"name": format!("{tag} North")}))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let north = r.id();
    ids.push(north.clone());
    let email = format!("user@{domain}");
    let r = c
        .post(
            "/users",
            json!({"email": email, "name": format!("{tag} user"), "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let user = r.id();
    ids.push(user.clone());
    let r = c
        .post(
            &format!("/workspace/{north}/add-user"),
            json!({"userId": user, "role": "Developer"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    server.login(&email, PASSWORD).await;
    let r = server
        .client()
        .post(
            "/auth/login",
            json!({"email": email, "password": "not the password"}),
        )
        .await;
    assert_eq!(r.status, 401);
    let r = c
        .post(
            "/roles",
            json!({"name": format!("{tag} role"), "permissions": ["tools:view"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    ids.push(r.id());
    let r = c
        .post(
            "/groups",
            json!({"name": format!("{tag} group"), "members": [user]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    ids.push(r.id());
    let r = c
        .post(
            "/invitations",
            json!({"email": format!("invitee@{domain}"), "workspaceId": north, "role": "Viewer"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    ids.push(r.body["invitation"]["id"].as_str().unwrap().to_string());
    for w in [ws, north.as_str()] {
        for kind in KINDS {
            let r = c
                .in_workspace(w)
                .post(
                    &kind.base(),
                    kind.create_body(&format!("{tag} {}", kind.path)),
                )
                .await;
            assert_eq!(r.status, 201, "{}: {}", kind.path, r.body);
            ids.push(r.id());
        }
    }
    ids
}

/// A body plausible for any write route: what an item, a role, a member, a share needs.
fn body_for(def: &RouteDef, ws: &str) -> Option<Value> {
    if !matches!(def.method, Method::POST | Method::PUT | Method::PATCH) {
        return None;
    }
    if let Some(kind) = KINDS
        .iter()
        .find(|k| def.path.starts_with(&format!("/{}/", k.path)))
        && def.method == Method::PUT
        && !def.path.ends_with("/shares")
    {
        return Some(kind.update_body("renamed", Some(1)));
    }
    Some(json!({
        "name": "renamed",
        "description": "changed",
        "permissions": ["tools:view"],
        "role": "member",
        "status": "disabled",
        "workspaceId": ws,
        "workspaceIds": [ws],
        "members": [],
        "version": 1,
    }))
}

/// The answer without what differs between two requests.
fn comparable(r: &Resp) -> (u16, Value) {
    let mut b = r.body.clone();
    if let Some(e) = b.get_mut("error").and_then(Value::as_object_mut) {
        e.remove("requestId");
    }
    (r.status, b)
}

/// `b` (in its workspace `b_ws`) calls every route that takes an id with each of `a_ids`, and
/// every route with `a_ws` as the workspace it names: each answer is the one for an id that
/// never existed. Answers how many of those were 404s.
async fn walk(b: &Client, b_ws: &str, a_ids: &[String], a_ws: &str) -> usize {
    let c = b.in_workspace(b_ws);
    let mut not_found = 0;
    for def in table() {
        let body = body_for(&def, b_ws);
        if def.path.contains("{id}") {
            let ghost = uuid::Uuid::new_v4().to_string();
            let expected = comparable(
                &c.send(
                    def.method.clone(),
                    &def.path.replace("{id}", &ghost),
                    body.clone(),
                    &[],
                )
                .await,
            );
            for id in a_ids {
                let path = def.path.replace("{id}", id);
                let r = c.send(def.method.clone(), &path, body.clone(), &[]).await;
                assert_eq!(
                    comparable(&r),
                    expected,
                    "{} {} with an id of the other organization",
                    def.method,
                    def.path
                );
                assert!(!(200..300).contains(&r.status), "{} {path}", def.method);
                if r.status == 404 {
                    not_found += 1;
                }
            }
        }
        // The other organization's workspace named by the header, or by the body.
        let ghost_ws = uuid::Uuid::new_v4().to_string();
        let path = def.path.replace("{id}", &uuid::Uuid::new_v4().to_string());
        let with_ws = |ws: &str| match def.guard {
            Guard::BodyWorkspace(_) => (b.clone(), body_for(&def, ws)),
            _ => (b.in_workspace(ws), body.clone()),
        };
        let (gc, gb) = with_ws(&ghost_ws);
        let expected = comparable(&gc.send(def.method.clone(), &path, gb, &[]).await);
        let (ac, ab) = with_ws(a_ws);
        let r = ac.send(def.method.clone(), &path, ab, &[]).await;
        assert_eq!(
            comparable(&r),
            expected,
            "{} {} naming the other organization's workspace",
            def.method,
            def.path
        );
        if r.status == 404 {
            not_found += 1;
        }
    }
    not_found
}

#[tokio::test]
async fn two_organizations_see_nothing_of_each_other_on_any_route() {
    for backend in backends() {
        let w = World::new(&backend).await;
        let a = w.admin.clone();
        let a_ws = w.default_ws.clone();
        let a_org = crate::organizations::me(&a).await["activeOrganization"]
            .as_str()
            .unwrap()
            .to_string();
        let (b_org, b) = new_org(&w, "Beta", "owner@beta.test").await;
        let b_ws = active_ws(&b).await;
        let mut b_ids = populate(&w.server, &b, &b_ws, "Beta", "beta.test").await;
        b_ids.push(b_org.clone());
        let b_before = snapshot(&b, &b_ws).await;

        let mut a_ids = populate(&w.server, &a, &a_ws, "Acme", "example.com").await;
        a_ids.push(a_org.clone());
        let a_before = snapshot(&a, &a_ws).await;
        let b_after = snapshot(&b, &b_ws).await;
        assert_eq!(b_after, b_before, "B's reads changed when A was filled");
        let seen_by = |s: &BTreeMap<String, Seen>, ids: &[String], who: &str| {
            for (path, (_, _, found)) in s {
                for id in ids {
                    assert!(!found.contains(id), "{who} sees {id} in {path}");
                }
            }
        };
        seen_by(&b_after, &a_ids, "B");
        // The instance admin's own list of organizations names Beta: that is its job.
        let mut b_inside: Vec<String> = b_ids.clone();
        b_inside.retain(|i| *i != b_org);
        seen_by(&a_before, &b_inside, "A");
        // Lists are not empty: there was something to leak.
        for p in [
            "/chatflows",
            "/users",
            "/roles",
            "/groups",
            "/invitations",
            "/audit-events",
            "/login-activity",
            "/workspaces",
            "/apikeys",
        ] {
            let (status, n, _) = &b_after[p];
            assert_eq!(*status, 200, "{p}");
            if let Some(n) = n {
                assert!(*n > 0, "{p} is empty");
            }
        }

        // The instance admin's own id shows in B's trail (it created B): not a leak, but it
        // is walked too.
        let admin_id = crate::organizations::me(&a).await["user"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let mut walked = a_ids.clone();
        walked.push(admin_id);
        let hidden = walk(&b, &b_ws, &walked, &a_ws).await;
        assert!(hidden > 300, "{} answers were 404s", hidden);
        assert_eq!(snapshot(&a, &a_ws).await, a_before, "A changed");

        // The other way round: A's owner (also the instance admin) on B's ids.
        let b_now = snapshot(&b, &b_ws).await;
        let hidden = walk(&a, &a_ws, &b_inside, &b_ws).await;
        assert!(hidden > 300, "{} answers were 404s", hidden);
        assert_eq!(snapshot(&b, &b_ws).await, b_now, "B changed");
        eprintln!("{}: two organizations walked", backend.name());
    }
}
