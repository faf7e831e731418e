//! Walks every route of `flowspace_server::routes::table()` (STYLE.md, "Isolation by
//! construction"): each route is public by the explicit list below, or it refuses an anonymous
//! caller (401), a member without the permission its guard names (403 with
//! `missingPermission`), a non-admin on Account Admin routes (403), and an API key where a
//! signed-in user is required; and it lets the right caller through its guard (a member whose
//! role holds the permission, the Account Admin, a signed-in user). Adding a route means adding
//! it here: the count is checked. The dashboard's pages and forms are walked in `page_walk`,
//! with these fixtures. The installation holds a second organization, whose owner is refused
//! every workspace route naming the walk's workspace with 404 (rule 17). The operator routes outside `/api/v1` (`/metrics`) are listed below
//! too, and walked: off unless configured, and then refusing every user credential and any
//! token but the metrics token.

use flowspace_server::auth::Guard;
use flowspace_server::routes::pages::pages;
use flowspace_server::routes::{RouteDef, operator_routes, table};
use flowspace_testkit::{Client, TestServer, World, backends};
use reqwest::Method;
use serde_json::json;
use std::collections::BTreeSet;

/// How many routes the table holds. A new route must be walked (and, if public, listed below).
const ROUTE_COUNT: usize = 140;

/// The routes anyone may call: `Open` ones even before setup, `Public` ones after it.
const PUBLIC_ROUTES: [(&str, &str, &str); 16] = [
    ("GET", "/ping", "Open"),
    ("GET", "/health/ready", "Open"),
    ("GET", "/setup", "Open"),
    ("POST", "/setup", "Open"),
    ("POST", "/auth/login", "Public"),
    ("POST", "/auth/refresh", "Public"),
    ("GET", "/invitations/lookup", "Public"),
    ("GET", "/invitations/{id}", "Public"),
    ("POST", "/auth/register", "Public"),
    ("POST", "/auth/forgot-password", "Public"),
    ("POST", "/auth/reset-password", "Public"),
    ("POST", "/auth/mfa/verify", "Public"),
    ("POST", "/auth/mfa/passkey/options", "Public"),
    ("GET", "/auth/sso-providers", "Public"),
    ("GET", "/auth/oidc/{id}/start", "Public"),
    ("GET", "/auth/oidc/callback", "Public"),
];

/// The operator routes (`routes::operator_routes`): for a scraper, never for a user.
const OPERATOR_ROUTES: [(&str, &str, &str); 1] = [("GET", "/metrics", "MetricsToken")];

/// A metrics token for the tests (at least 32 characters, not one repeated).
pub(super) const METRICS_TOKEN: &str = "walk-metrics-9c4e1f7a2b8d3065e1f4";

fn guard_name(g: Guard) -> &'static str {
    match g {
        Guard::Open => "Open",
        Guard::Public => "Public",
        Guard::SignedIn => "SignedIn",
        Guard::Enrolling => "Enrolling",
        Guard::OrgMember => "OrgMember",
        Guard::AccountAdmin => "AccountAdmin",
        Guard::Owner => "Owner",
        Guard::InstanceAdmin => "InstanceAdmin",
        Guard::OrgCreator => "OrgCreator",
        Guard::Workspace(_) => "Workspace",
        Guard::WorkspaceAndViews(_) => "WorkspaceAndViews",
        Guard::PathWorkspace(_) => "PathWorkspace",
        Guard::BodyWorkspace(_) => "BodyWorkspace",
        Guard::InvitationWorkspace(_) => "InvitationWorkspace",
        Guard::EachWorkspace(_) => "EachWorkspace",
        Guard::AuditLog => "AuditLog",
        Guard::MetricsToken => "MetricsToken",
    }
}

/// The route's path with each parameter filled in: the real workspace `ws` for
/// `/workspace/{id}...` and the real invitation `inv` for invitation routes (so that the guard
/// looks at a workspace the caller belongs to), a random uuid elsewhere.
fn concrete(def: &RouteDef, ws: &str, inv: &str) -> String {
    def.path
        .split('/')
        .map(|seg| {
            if seg.starts_with('{') && seg.ends_with('}') {
                if def.path.starts_with("/workspace/") {
                    ws.to_string()
                } else if matches!(def.guard, Guard::InvitationWorkspace(_)) {
                    inv.to_string()
                } else {
                    uuid::Uuid::new_v4().to_string()
                }
            } else {
                seg.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// An empty object, or for a guard that reads the body's workspace, one naming `ws`.
fn body_for(def: &RouteDef, ws: &str) -> Option<serde_json::Value> {
    matches!(def.method, Method::POST | Method::PUT | Method::PATCH).then(|| match def.guard {
        Guard::BodyWorkspace(_) => json!({ "workspaceId": ws }),
        _ => json!({}),
    })
}

async fn call(c: &Client, def: &RouteDef, path: &str, ws: &str) -> flowspace_testkit::Resp {
    c.send(def.method.clone(), path, body_for(def, ws), &[])
        .await
}

/// A fresh session of the member whose role (Admin) holds every permission of `ws`: fresh,
/// since one of the routes walked is logout.
async fn member_session(w: &World, ws: &str) -> Client {
    w.server
        .login("member@example.com", flowspace_testkit::PASSWORD)
        .await
        .in_workspace(ws)
}

/// A new open invitation into `ws` (its id), each for an email of its own.
pub(super) async fn invite(w: &World, ws: &str) -> String {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let r = w
        .admin
        .post(
            "/invitations",
            json!({"email": format!("walk-invitee-{n}@example.com"), "workspaceId": ws, "role": "Viewer"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["invitation"]["id"].as_str().unwrap().to_string()
}

/// The guard let the caller through: whatever the handler made of the empty body, it was
/// not a refusal (401, 403) nor a failure.
fn passed(r: &flowspace_testkit::Resp, what: &str) {
    assert!(
        r.status != 401 && r.status != 403 && r.status < 500,
        "the right caller passes the guard: {what}: {} {}",
        r.status,
        r.body
    );
}

/// The role "Nothing", without any permission; if the server refused an empty role, one
/// unrelated permission, returned second (the routes needing exactly it are skipped).
pub(super) async fn empty_role(w: &World) -> (String, Option<&'static str>) {
    let r = w
        .admin
        .post("/roles", json!({"name": "Nothing", "permissions": []}))
        .await;
    if r.status == 201 {
        (r.id(), None)
    } else {
        assert_eq!(r.status, 422, "{}", r.body);
        (
            w.role("Nothing", &["auditLogs:view"]).await,
            Some("auditLogs:view"),
        )
    }
}

#[test]
fn the_route_table_is_counted_and_its_public_routes_are_listed() {
    let t = table();
    let listing: Vec<String> = t
        .iter()
        .map(|r| format!("{} {} {:?}", r.method, r.path, r.guard))
        .collect();
    assert_eq!(
        t.len(),
        ROUTE_COUNT,
        "the route table changed: walk the new routes and update ROUTE_COUNT\n{}",
        listing.join("\n")
    );
    let unique: BTreeSet<(String, &str)> = t
        .iter()
        .map(|r| (r.method.to_string(), r.path.as_str()))
        .collect();
    assert_eq!(unique.len(), t.len(), "a method and path appear twice");

    let public: BTreeSet<(String, String, &str)> = t
        .iter()
        .filter(|r| r.guard.is_public())
        .map(|r| (r.method.to_string(), r.path.clone(), guard_name(r.guard)))
        .collect();
    let expected: BTreeSet<(String, String, &str)> = PUBLIC_ROUTES
        .iter()
        .map(|(m, p, g)| (m.to_string(), p.to_string(), *g))
        .collect();
    assert_eq!(
        public, expected,
        "the public routes differ from the explicit list"
    );
    let operators: BTreeSet<(String, &str, &str)> = operator_routes()
        .iter()
        .map(|r| (r.method.to_string(), r.path, guard_name(r.guard)))
        .collect();
    let expected: BTreeSet<(String, &str, &str)> = OPERATOR_ROUTES
        .iter()
        .map(|(m, p, g)| (m.to_string(), *p, *g))
        .collect();
    assert_eq!(
        operators, expected,
        "the operator routes differ from the list"
    );
    // The metrics token opens operator routes only: no API route, page or form takes it.
    assert!(t.iter().all(|r| r.guard != Guard::MetricsToken));
    assert!(pages().iter().all(|p| p.guard != Guard::MetricsToken));
    for r in &t {
        assert!(r.path.starts_with('/'), "{}", r.path);
        if let Guard::PathWorkspace(_) | Guard::InvitationWorkspace(_) = r.guard {
            assert!(
                r.path.contains("{id}"),
                "{} {}: a PathWorkspace or InvitationWorkspace guard needs the id in the path",
                r.method,
                r.path
            );
        }
    }
}

#[tokio::test]
async fn every_guarded_route_refuses_whoever_it_should() {
    let t = table();
    for b in backends() {
        let w = World::new(&b).await;
        let ws = w.workspace("Walk").await;
        let (role, skip) = empty_role(&w).await;
        let (_, nobody) = w.member("nobody@example.com", &ws, &role).await;
        let (_, _member) = w.member("member@example.com", &ws, "Admin").await;
        let anon = w.server.client();
        let forged = anon.with_token("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln");
        let bad_key = anon.with_token("fsk_0000000000000000000000000000000000");
        let key = w
            .admin
            .in_workspace(&ws)
            .post(
                "/apikeys",
                json!({"name": "walker", "permissions": ["chatflows:view"]}),
            )
            .await;
        assert_eq!(key.status, 201, "{}", key.body);
        let key = anon.with_token(key.body["key"].as_str().unwrap());
        let other = w.workspace("Elsewhere").await;
        let inv = invite(&w, &ws).await;
        // A second organization, whose owner holds every permission there.
        let (_, b_owner) = crate::organizations::new_org(&w, "Beta", "owner@beta.test").await;

        let mut walked = 0;
        for def in &t {
            if def.guard.is_public() {
                continue;
            }
            walked += 1;
            let path = concrete(def, &ws, &inv);
            let what = format!("{} {path} ({:?}) on {}", def.method, def.guard, b.name());

            for (who, c) in [
                ("anonymous", &anon),
                ("forged token", &forged),
                ("unknown key", &bad_key),
            ] {
                let r = call(c, def, &path, &ws).await;
                assert_eq!(
                    (r.status, r.code()),
                    (401, "unauthorized"),
                    "{who}: {what}: {}",
                    r.body
                );
            }

            match def.guard {
                Guard::Open | Guard::Public | Guard::MetricsToken => unreachable!(),
                // The walk's admin set the installation up: the Account Admin (an owner of the
                // organization) and the instance admin.
                Guard::AccountAdmin | Guard::Owner | Guard::InstanceAdmin | Guard::OrgCreator => {
                    // A member with the strongest built-in role is still not the Account Admin.
                    let member = member_session(&w, &ws).await;
                    for (who, c) in [
                        ("Admin-role member", &member),
                        ("empty role", &nobody),
                        ("API key", &key),
                    ] {
                        let r = call(c, def, &path, &ws).await;
                        assert_eq!(
                            (r.status, r.code()),
                            (403, "forbidden"),
                            "{who}: {what}: {}",
                            r.body
                        );
                    }
                    // The Account Admin passes (a fresh session: one of these routes could end
                    // it).
                    let admin = w
                        .server
                        .login(flowspace_testkit::ADMIN_EMAIL, flowspace_testkit::PASSWORD)
                        .await
                        .in_workspace(&ws);
                    passed(&call(&admin, def, &path, &ws).await, &what);
                }
                Guard::Workspace(p)
                | Guard::WorkspaceAndViews(p)
                | Guard::PathWorkspace(p)
                | Guard::BodyWorkspace(p)
                | Guard::InvitationWorkspace(p) => {
                    let p = p.to_string();
                    let names =
                        !matches!(def.guard, Guard::Workspace(_) | Guard::WorkspaceAndViews(_));
                    let by_person = matches!(
                        def.guard,
                        Guard::BodyWorkspace(_) | Guard::InvitationWorkspace(_)
                    );
                    // An invitation route acts on a fresh invitation each time (one revokes).
                    let fresh = || {
                        let path = path.clone();
                        async {
                            if matches!(def.guard, Guard::InvitationWorkspace(_)) {
                                concrete(def, &ws, &invite(&w, &ws).await)
                            } else {
                                path
                            }
                        }
                    };
                    // A member whose role holds the permission (Admin holds them all) passes;
                    // where the request names the workspace, the handler is reached (a 2xx, or
                    // its own 422 on the empty body), never a 404 for that workspace.
                    let member = member_session(&w, &ws).await;
                    let r = call(&member, def, &fresh().await, &ws).await;
                    passed(&r, &what);
                    // The owner of another organization naming this one's workspace (or
                    // invitation): 404, like one that does not exist, never 403 (rule 17).
                    let foreign = call(&b_owner.in_workspace(&ws), def, &fresh().await, &ws).await;
                    assert_eq!(
                        foreign.status, 404,
                        "owner of another organization: {what}: {}",
                        foreign.body
                    );
                    if names {
                        assert!(
                            r.status < 300
                                || (r.status == 422 && r.body["error"]["field"] != "workspaceId"),
                            "the named workspace is reached: {what}: {} {}",
                            r.status,
                            r.body
                        );
                    }
                    if by_person {
                        // A workspace the member is not in is one that does not exist.
                        let elsewhere = match def.guard {
                            Guard::InvitationWorkspace(_) => {
                                concrete(def, &other, &invite(&w, &other).await)
                            }
                            _ => path.clone(),
                        };
                        let r = member
                            .send(def.method.clone(), &elsewhere, body_for(def, &other), &[])
                            .await;
                        assert_eq!(
                            (r.status, r.code()),
                            (404, "not_found"),
                            "{what}: {}",
                            r.body
                        );
                    }
                    if skip == Some(p.as_str()) {
                        continue;
                    }
                    let r = call(&nobody, def, &fresh().await, &ws).await;
                    assert_eq!(
                        (r.status, r.code()),
                        (403, "forbidden"),
                        "{what}: {}",
                        r.body
                    );
                    assert_eq!(
                        r.body["error"]["missingPermission"], p,
                        "{what}: {}",
                        r.body
                    );
                    assert_eq!(r.body["error"]["role"], "Nothing", "{what}: {}", r.body);
                    let r = call(&key, def, &fresh().await, &ws).await;
                    if by_person {
                        // Routes that manage people refuse API keys before anything else.
                        assert_eq!((r.status, r.code()), (403, "forbidden"), "API key: {what}");
                        assert!(r.body["error"]["missingPermission"].is_null(), "{what}");
                    } else if p != "chatflows:view" {
                        assert_eq!(r.status, 403, "API key: {what}: {}", r.body);
                        assert_eq!(r.body["error"]["missingPermission"], p, "API key: {what}");
                    }
                }
                Guard::SignedIn | Guard::Enrolling | Guard::OrgMember => {
                    // A fresh session each time: one of these routes is logout.
                    let member = member_session(&w, &ws).await;
                    passed(&call(&member, def, &path, &ws).await, &what);
                    let r = call(&key, def, &path, &ws).await;
                    assert_eq!(
                        (r.status, r.code()),
                        (403, "forbidden"),
                        "an API key is not a signed-in user: {what}: {}",
                        r.body
                    );
                }
                Guard::EachWorkspace(p) => {
                    // A list over the workspaces where the caller holds `p`: a member whose
                    // role holds it sees the workspace's invitation and not one of a workspace
                    // they are not in, the empty role sees none, an API key is refused.
                    assert_eq!(def.method, Method::GET, "{what}");
                    let inv = invite(&w, &ws).await;
                    let elsewhere = invite(&w, &other).await;
                    let member = member_session(&w, &ws).await;
                    let r = call(&member, def, &path, &ws).await;
                    assert_eq!(r.status, 200, "{what}: {}", r.body);
                    assert!(
                        r.body["items"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .any(|i| i["id"] == inv.as_str()),
                        "{p}: {what}: {}",
                        r.body
                    );
                    assert!(
                        !r.body["items"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .any(|i| i["id"] == elsewhere.as_str()),
                        "{what}: {}",
                        r.body
                    );
                    let r = call(&nobody, def, &path, &ws).await;
                    assert_eq!(
                        (r.status, r.body["items"].clone()),
                        (200, json!([])),
                        "{what}"
                    );
                    let r = call(&key, def, &path, &ws).await;
                    assert_eq!(r.status, 403, "API key: {what}: {}", r.body);
                }
                Guard::AuditLog => {
                    let member = member_session(&w, &ws).await;
                    passed(&call(&member, def, &path, &ws).await, &what);
                    for (who, c) in [("empty role", &nobody), ("API key", &key)] {
                        if who == "empty role" && skip == Some("auditLogs:view") {
                            continue;
                        }
                        let r = call(c, def, &path, &ws).await;
                        assert_eq!((r.status, r.code()), (403, "forbidden"), "{who}: {what}");
                        // The empty role is told which permission it lacks; an API key never
                        // reads the trail, whatever it holds.
                        if who == "empty role" {
                            assert_eq!(
                                r.body["error"]["missingPermission"], "auditLogs:view",
                                "{who}: {what}"
                            );
                        }
                    }
                }
            }
        }
        assert_eq!(walked, ROUTE_COUNT - PUBLIC_ROUTES.len());
        // Nothing the walk sent changed the workspace's membership or items.
        let members = w.admin.get(&format!("/workspace/{ws}/users")).await;
        assert_eq!(members.status, 200, "{}", members.body);
        assert_eq!(
            members.body["items"].as_array().unwrap().len(),
            3,
            "{}",
            members.body
        );
        assert_eq!(
            w.admin.in_workspace(&ws).get("/chatflows").await.body["items"],
            json!([])
        );
    }
}

/// Each operator route: not found while metrics are off (even for the Account Admin); with
/// METRICS_TOKEN set, refused (401) to the anonymous, to a signed-in Account Admin's token, to
/// an API key, to a forged token and to the metrics token with anything added or missing, and
/// answered to that token alone, even before setup.
#[tokio::test]
async fn every_operator_route_is_off_or_takes_the_metrics_token_alone() {
    for b in backends() {
        let off = World::new(&b).await;
        for def in operator_routes() {
            let path = format!("/{}", def.path);
            let r = off.admin.send(def.method.clone(), &path, None, &[]).await;
            assert_eq!(r.status, 404, "metrics off: {} {}", def.path, b.name());
        }

        let server = TestServer::start_with(&b, |c| {
            c.metrics_token = Some(METRICS_TOKEN.into());
        })
        .await;
        let anon = server.client();
        let scraper = anon.with_token(METRICS_TOKEN);
        for def in operator_routes() {
            let path = format!("/{}", def.path);
            let what = format!("{} {} on {}", def.method, def.path, b.name());
            let r = scraper.send(def.method.clone(), &path, None, &[]).await;
            assert_eq!(r.status, 200, "before setup: {what}: {}", r.text);
        }
        let admin = server.setup().await;
        let ws = admin.get("/auth/me").await.body["activeWorkspace"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let key = admin
            .in_workspace(&ws)
            .post(
                "/apikeys",
                json!({"name": "scraper?", "permissions": ["chatflows:view"]}),
            )
            .await;
        assert_eq!(key.status, 201, "{}", key.body);
        let key = anon.with_token(key.body["key"].as_str().unwrap());
        let longer = format!("{METRICS_TOKEN}x");
        let shorter = &METRICS_TOKEN[..METRICS_TOKEN.len() - 1];
        for def in operator_routes() {
            let path = format!("/{}", def.path);
            let what = format!("{} {} on {}", def.method, def.path, b.name());
            for (who, c) in [
                ("anonymous", anon.clone()),
                ("the Account Admin", admin.clone()),
                ("an API key", key.clone()),
                (
                    "a forged token",
                    anon.with_token("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"),
                ),
                ("the token and more", anon.with_token(&longer)),
                ("the token but its end", anon.with_token(shorter)),
            ] {
                let r = c.send(def.method.clone(), &path, None, &[]).await;
                assert_eq!(
                    (r.status, r.code()),
                    (401, "unauthorized"),
                    "{who}: {what}: {}",
                    r.text
                );
            }
            // The token in a cookie or a query string is not a bearer token.
            let cookie = format!("fs_access={METRICS_TOKEN}");
            let r = anon
                .send(def.method.clone(), &path, None, &[("cookie", &cookie)])
                .await;
            assert_eq!(r.status, 401, "cookie: {what}");
            let r = anon
                .send(
                    def.method.clone(),
                    &format!("{path}?token={METRICS_TOKEN}"),
                    None,
                    &[],
                )
                .await;
            assert_eq!(r.status, 401, "query: {what}");
            let r = scraper.send(def.method.clone(), &path, None, &[]).await;
            assert_eq!(r.status, 200, "{what}: {}", r.text);
        }
    }
}
