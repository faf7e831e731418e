//! Several organizations on one installation (SPEC §7, rules 17–19), through HTTP on both
//! backends: the instance admin's routes, switching organization, organization roles and the
//! last owner, invitations across organizations, settings and where they apply, and a user in
//! no organization.

use flowspace_server::auth::Guard;
use flowspace_server::config::OrgCreation;
use flowspace_server::routes::table;
use flowspace_testkit::smtp::{SmtpSink, token_of};
use flowspace_testkit::{ADMIN_EMAIL, Client, PASSWORD, Resp, TestServer, World, backends};
use serde_json::{Value, json};
use std::time::Duration;

const REGISTER: &str = "http://localhost:3000/register?token=";
const RESET: &str = "http://localhost:3000/reset-password?token=";
const WAIT: Duration = Duration::from_secs(10);

/// The caller's `me`.
pub(crate) async fn me(c: &Client) -> Value {
    let r = c.get("/auth/me").await;
    assert_eq!(r.status, 200, "me: {}", r.body);
    r.body
}

/// The names and roles of `me.organizations`, sorted by name.
fn orgs_of(me: &Value) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = me["organizations"]
        .as_array()
        .expect("organizations")
        .iter()
        .map(|o| {
            (
                o["name"].as_str().unwrap().to_string(),
                o["role"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

/// Signs up from an invitation link or token: the answer.
pub(crate) async fn register(server: &TestServer, link: &str, name: &str, password: &str) -> Resp {
    let token = token_of(link).unwrap_or_else(|| link.to_string());
    server
        .client()
        .post(
            "/auth/register",
            json!({"token": token, "name": name, "password": password}),
        )
        .await
}

fn signed_in(server: &TestServer, r: &Resp) -> Client {
    server
        .client()
        .with_token(r.body["accessToken"].as_str().expect("token"))
}

/// The instance admin creates organization `name` for a new email; its owner signs up from
/// the link answered (SMTP is off). Answers the organization's id and its owner, signed in.
pub(crate) async fn new_org(w: &World, name: &str, owner_email: &str) -> (String, Client) {
    let r = w
        .admin
        .post(
            "/organizations",
            json!({"name": name, "ownerEmail": owner_email}),
        )
        .await;
    assert_eq!(r.status, 201, "create organization: {}", r.body);
    let link = r.body["invitationLink"]
        .as_str()
        .unwrap_or_else(|| panic!("no invitationLink: {}", r.body))
        .to_string();
    assert!(link.starts_with(REGISTER), "{link}");
    let s = register(&w.server, &link, "Owner", PASSWORD).await;
    assert_eq!(s.status, 201, "owner signs up: {}", s.body);
    (r.id(), signed_in(&w.server, &s))
}

/// The active workspace of `c`.
pub(crate) async fn active_ws(c: &Client) -> String {
    me(c).await["activeWorkspace"]["id"]
        .as_str()
        .expect("active workspace")
        .to_string()
}

/// The members of the caller's active organization: (email, role, status).
async fn members(c: &Client) -> Vec<(String, String, String)> {
    let r = c.get("/organization/members").await;
    assert_eq!(r.status, 200, "members: {}", r.body);
    let mut v: Vec<(String, String, String)> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["email"].as_str().unwrap().to_string(),
                m["role"].as_str().unwrap().to_string(),
                m["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

fn owners(m: &[(String, String, String)]) -> usize {
    m.iter()
        .filter(|(_, r, s)| r == "owner" && s == "active")
        .count()
}

/// The organizations the instance admin lists: name → (status, memberCount).
async fn all_orgs(admin: &Client) -> Vec<(String, String, Value)> {
    let r = admin.get("/organizations").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mut v: Vec<(String, String, Value)> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["name"].as_str().unwrap().to_string(),
                o["status"].as_str().unwrap().to_string(),
                o["memberCount"].clone(),
            )
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

#[tokio::test]
async fn the_instance_admin_creates_organizations_for_existing_accounts_and_new_emails() {
    for b in backends() {
        let w = World::new(&b).await;
        let bob = w.user("bob@example.com").await;
        w.add(&w.default_ws, &bob, "Viewer").await;

        // An existing account is its owner at once: no invitation.
        let r = w
            .admin
            .post(
                "/organizations",
                json!({"name": "Bravo", "ownerEmail": "Bob@Example.com"}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(r.body["name"], "Bravo");
        assert!(r.body.get("invitationLink").is_none(), "{}", r.body);
        let bravo = r.id();
        let bob_c = w.server.login("bob@example.com", PASSWORD).await;
        let m = me(&bob_c).await;
        assert_eq!(
            orgs_of(&m),
            vec![
                ("Acme".to_string(), "member".to_string()),
                ("Bravo".to_string(), "owner".to_string())
            ]
        );
        let s = bob_c
            .post(
                "/auth/switch-organization",
                json!({"organizationId": bravo}),
            )
            .await;
        assert_eq!(s.status, 200, "{}", s.body);
        assert_eq!(s.body["activeOrganization"], bravo.as_str());
        assert_eq!(s.body["organization"]["name"], "Bravo");
        assert_eq!(s.body["isAccountAdmin"], true);
        assert_eq!(s.body["activeWorkspace"]["name"], "Default");
        assert_eq!(
            members(&bob_c).await,
            vec![(
                "bob@example.com".to_string(),
                "owner".to_string(),
                "active".to_string()
            )]
        );

        // A new email gets an invitation; the link signs up into the Default workspace, as
        // owner, in that organization only.
        let r = w
            .admin
            .post(
                "/organizations",
                json!({"name": "Charlie", "ownerEmail": "carol@example.org"}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let charlie = r.id();
        let link = r.body["invitationLink"].as_str().expect("link").to_string();
        assert!(link.starts_with(REGISTER), "{link}");
        let s = register(&w.server, &link, "Carol", PASSWORD).await;
        assert_eq!(s.status, 201, "{}", s.body);
        let carol = signed_in(&w.server, &s);
        let m = me(&carol).await;
        assert_eq!(
            orgs_of(&m),
            vec![("Charlie".to_string(), "owner".to_string())]
        );
        assert_eq!(m["activeOrganization"], charlie.as_str());
        assert_eq!(m["activeWorkspace"]["name"], "Default");
        assert_eq!(m["isAccountAdmin"], true);
        assert_eq!(m["isInstanceAdmin"], false);
        // The link is spent.
        let again = register(&w.server, &link, "Carol", PASSWORD).await;
        assert_eq!(again.status, 404, "{}", again.body);

        // The instance admin lists every organization with its member count; a member only
        // their own, without counts.
        assert_eq!(
            all_orgs(&w.admin).await,
            vec![
                ("Acme".into(), "active".into(), json!(2)),
                ("Bravo".into(), "active".into(), json!(1)),
                ("Charlie".into(), "active".into(), json!(1)),
            ]
        );
        let r = bob_c.get("/organizations").await;
        assert_eq!(r.status, 200);
        let mut names: Vec<&str> = r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| {
                assert!(o["memberCount"].is_null(), "{o}");
                o["name"].as_str().unwrap()
            })
            .collect();
        names.sort_unstable();
        assert_eq!(names, vec!["Acme", "Bravo"]);

        // Bad input: 422 and nothing made. A plain member (and an owner who is not the
        // instance admin) may not create one: 403.
        for body in [
            json!({"name": "", "ownerEmail": "x@example.com"}),
            json!({"name": "Delta", "ownerEmail": "not an email"}),
            json!({"ownerEmail": "x@example.com"}),
        ] {
            let r = w.admin.post("/organizations", body.clone()).await;
            assert_eq!(r.status, 422, "{body}: {}", r.body);
        }
        for c in [&bob_c, &carol] {
            let r = c.post("/organizations", json!({"name": "Delta"})).await;
            assert_eq!(r.status, 403, "{}", r.body);
        }
        assert_eq!(all_orgs(&w.admin).await.len(), 3);
        eprintln!("{}: organizations created", b.name());
    }
}

#[tokio::test]
async fn anyone_creates_an_organization_when_the_installation_allows_it() {
    for b in backends() {
        let server = TestServer::start_with(&b, |c| {
            c.allow_organization_creation = OrgCreation::Any;
        })
        .await;
        let admin = server.setup().await;
        let r = admin
            .post(
                "/users",
                json!({"email": "dora@example.com", "name": "Dora", "password": PASSWORD}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let dora = server.login("dora@example.com", PASSWORD).await;
        let r = dora.post("/organizations", json!({"name": "Dora's"})).await;
        assert_eq!(r.status, 201, "{}", r.body);
        assert!(r.body.get("invitationLink").is_none());
        let m = me(&dora).await;
        assert_eq!(
            orgs_of(&m),
            vec![
                ("Acme".to_string(), "member".to_string()),
                ("Dora's".to_string(), "owner".to_string())
            ]
        );
        // Naming herself is fine; naming someone else is the instance admin's alone.
        let r = dora
            .post(
                "/organizations",
                json!({"name": "Mine too", "ownerEmail": "DORA@example.com"}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        for other in [ADMIN_EMAIL, "stranger@example.com"] {
            let r = dora
                .post(
                    "/organizations",
                    json!({"name": "Theirs", "ownerEmail": other}),
                )
                .await;
            assert_eq!(r.status, 403, "{other}: {}", r.body);
        }
        assert_eq!(all_orgs(&admin).await.len(), 3);
        // Still: suspending and deleting are the instance admin's.
        let r = dora
            .patch(
                &format!(
                    "/organizations/{}",
                    m["activeOrganization"].as_str().unwrap()
                ),
                json!({"status": "suspended"}),
            )
            .await;
        assert_eq!(r.status, 403, "{}", r.body);
    }
}

#[tokio::test]
async fn a_suspended_organization_refuses_its_members_and_api_keys_until_reactivated() {
    for b in backends() {
        let w = World::new(&b).await;
        let (beta, owner) = new_org(&w, "Beta", "owner@beta.test").await;
        let b_ws = active_ws(&owner).await;
        let r = owner
            .in_workspace(&b_ws)
            .post(
                "/apikeys",
                json!({"name": "k", "permissions": ["chatflows:view"]}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let key = w
            .server
            .client()
            .with_token(r.body["key"].as_str().expect("key"));
        assert_eq!(key.get("/chatflows").await.status, 200);

        // Only the instance admin suspends; a bad status is 422.
        let path = format!("/organizations/{beta}");
        let r = owner.patch(&path, json!({"status": "suspended"})).await;
        assert_eq!(r.status, 403, "{}", r.body);
        let r = w.admin.patch(&path, json!({"status": "frozen"})).await;
        assert_eq!(r.status, 422, "{}", r.body);
        assert_eq!(owner.get("/chatflows").await.status, 200);
        let r = w
            .admin
            .patch(
                &format!("/organizations/{}", uuid::Uuid::new_v4()),
                json!({"status": "suspended"}),
            )
            .await;
        assert_eq!(r.status, 404, "{}", r.body);

        let r = w.admin.patch(&path, json!({"status": "suspended"})).await;
        assert_eq!((r.status, &r.body["status"]), (200, &json!("suspended")));
        for p in [
            "/chatflows",
            "/organization",
            "/users",
            "/roles",
            "/audit-events",
        ] {
            let r = owner.get(p).await;
            assert_eq!(
                (r.status, r.code()),
                (403, "organization_suspended"),
                "{p}: {}",
                r.body
            );
        }
        let r = key.get("/chatflows").await;
        assert_eq!(
            (r.status, r.code()),
            (403, "organization_suspended"),
            "{}",
            r.body
        );
        let r = owner
            .post("/chatflows", json!({"name": "x", "data": {}}))
            .await;
        assert_eq!(r.status, 403, "{}", r.body);
        // The member is still signed in (their own account), and sees the status.
        let m = me(&owner).await;
        assert_eq!(m["activeOrganization"], beta.as_str());
        assert!(m["organization"].is_null(), "{m}");
        // The instance admin's own organization is untouched.
        assert_eq!(w.admin.get("/users").await.status, 200);
        assert!(
            all_orgs(&w.admin)
                .await
                .contains(&("Beta".into(), "suspended".into(), json!(1)))
        );

        let r = w.admin.patch(&path, json!({"status": "active"})).await;
        assert_eq!((r.status, &r.body["status"]), (200, &json!("active")));
        assert_eq!(owner.get("/chatflows").await.status, 200);
        assert_eq!(owner.get("/organization").await.status, 200);
        assert_eq!(key.get("/chatflows").await.status, 200);
        // Both changes are in the organization's own trail.
        let r = owner.get("/audit-events").await;
        let actions: Vec<&str> = r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        assert!(actions.contains(&"organization.suspend"), "{actions:?}");
        assert!(actions.contains(&"organization.reactivate"), "{actions:?}");
    }
}

/// Every route a member of an organization reaches through it (not their own account's).
fn org_routes() -> Vec<(reqwest::Method, String)> {
    table()
        .into_iter()
        .filter(|r| {
            matches!(
                r.guard,
                Guard::OrgMember
                    | Guard::AccountAdmin
                    | Guard::Owner
                    | Guard::Workspace(_)
                    | Guard::EachWorkspace(_)
                    | Guard::AuditLog
            )
        })
        .map(|r| {
            let path = r.path.replace("{id}", &uuid::Uuid::new_v4().to_string());
            (r.method, path)
        })
        .collect()
}

#[tokio::test]
async fn deleting_an_organization_is_whole_and_its_members_fall_back() {
    for b in backends() {
        let w = World::new(&b).await;
        let acme = me(&w.admin).await["activeOrganization"]
            .as_str()
            .unwrap()
            .to_string();
        let bob = w.user("bob@example.com").await;
        w.add(&w.default_ws, &bob, "Viewer").await;
        let (beta, carol) = new_org(&w, "Beta", "carol@beta.test").await;
        let b_ws = active_ws(&carol).await;
        // Bob joins Beta and works there.
        let r = carol
            .post(
                "/invitations",
                json!({"email": "bob@example.com", "workspaceId": b_ws, "role": "Developer"}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let s = register(
            &w.server,
            r.body["link"].as_str().unwrap(),
            "ignored",
            PASSWORD,
        )
        .await;
        assert_eq!(s.status, 201, "{}", s.body);
        let bob_c = signed_in(&w.server, &s);
        let m = me(&bob_c).await;
        assert_eq!(m["activeOrganization"], beta.as_str());
        let r = bob_c
            .post("/chatflows", json!({"name": "in beta", "data": {}}))
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let flow = r.id();
        let r = carol
            .in_workspace(&b_ws)
            .post(
                "/apikeys",
                json!({"name": "k", "permissions": ["chatflows:view"]}),
            )
            .await;
        let key = w
            .server
            .client()
            .with_token(r.body["key"].as_str().expect("key"));
        assert_eq!(key.get("/chatflows").await.status, 200);
        // An open invitation for an email that has no account elsewhere.
        let r = carol
            .post(
                "/invitations",
                json!({"email": "pending@beta.test", "workspaceId": b_ws, "role": "Viewer"}),
            )
            .await;
        assert_eq!(r.status, 201);
        let pending_link = r.body["link"].as_str().unwrap().to_string();

        // Only the instance admin deletes.
        let r = carol.delete(&format!("/organizations/{beta}")).await;
        assert_eq!(r.status, 403, "{}", r.body);
        let r = w.admin.delete(&format!("/organizations/{beta}")).await;
        assert_eq!(r.status, 204, "{}", r.body);
        let r = w.admin.delete(&format!("/organizations/{beta}")).await;
        assert_eq!(r.status, 404, "{}", r.body);
        assert_eq!(
            all_orgs(&w.admin).await,
            vec![("Acme".into(), "active".into(), json!(2))]
        );

        // Bob's session falls back to Acme, on his next request.
        let m = me(&bob_c).await;
        assert_eq!(m["activeOrganization"], acme.as_str(), "{m}");
        assert_eq!(
            orgs_of(&m),
            vec![("Acme".to_string(), "member".to_string())]
        );
        assert_eq!(m["activeWorkspace"]["id"], w.default_ws.as_str());
        let r = bob_c.get("/chatflows").await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["items"], json!([]));
        assert_eq!(bob_c.get(&format!("/chatflows/{flow}")).await.status, 404);
        let r = bob_c
            .in_workspace(&b_ws)
            .get(&format!("/chatflows/{flow}"))
            .await;
        assert_eq!(r.status, 404, "{}", r.body);

        // Carol belonged to Beta only: signed in still, in no organization.
        let m = me(&carol).await;
        assert_eq!(m["organizations"], json!([]), "{m}");
        assert!(m["activeOrganization"].is_null(), "{m}");
        assert!(m["activeWorkspace"].is_null(), "{m}");
        let relogin = w
            .server
            .client()
            .post(
                "/auth/login",
                json!({"email": "carol@beta.test", "password": PASSWORD}),
            )
            .await;
        assert_eq!(relogin.status, 200, "{}", relogin.body);
        let carol2 = signed_in(&w.server, &relogin);
        assert_eq!(me(&carol2).await["organizations"], json!([]));
        for c in [&carol, &carol2] {
            for (method, path) in org_routes() {
                let body = matches!(
                    method,
                    reqwest::Method::POST | reqwest::Method::PUT | reqwest::Method::PATCH
                )
                .then(|| json!({}));
                let r = c.send(method.clone(), &path, body, &[]).await;
                assert_eq!(
                    (r.status, r.code()),
                    (403, "no_organization"),
                    "{method} {path}: {}",
                    r.body
                );
            }
        }
        let r = carol.get("/organizations").await;
        assert_eq!((r.status, &r.body["items"]), (200, &json!([])));
        let r = carol
            .post("/auth/switch-organization", json!({"organizationId": acme}))
            .await;
        assert_eq!(r.status, 404, "{}", r.body);
        // Beta's API key, and its pending invitation, are gone with it.
        assert_eq!(key.get("/chatflows").await.status, 401);
        let r = register(&w.server, &pending_link, "Late", PASSWORD).await;
        assert_eq!(r.status, 404, "{}", r.body);
        let r = w
            .server
            .client()
            .post(
                "/auth/login",
                json!({"email": "pending@beta.test", "password": PASSWORD}),
            )
            .await;
        assert_eq!(r.status, 401);

        // The installation keeps one organization.
        let r = w.admin.delete(&format!("/organizations/{acme}")).await;
        assert_eq!(
            (r.status, r.code()),
            (409, "last_organization"),
            "{}",
            r.body
        );
        assert_eq!(w.admin.get("/users").await.status, 200);
    }
}

#[tokio::test]
async fn the_instance_admin_sees_nothing_inside_an_organization_it_is_not_in() {
    for b in backends() {
        let w = World::new(&b).await;
        let (beta, carol) = new_org(&w, "Beta", "carol@beta.test").await;
        let b_ws = active_ws(&carol).await;
        let r = carol
            .post("/chatflows", json!({"name": "secret", "data": {}}))
            .await;
        assert_eq!(r.status, 201);
        let flow = r.id();
        let carol_id = me(&carol).await["user"]["id"].as_str().unwrap().to_string();

        let ghost = w
            .admin
            .in_workspace(&uuid::Uuid::new_v4().to_string())
            .get("/users")
            .await;
        assert_eq!(ghost.status, 404);
        let inside = w.admin.in_workspace(&b_ws);
        for p in [
            "/users".to_string(),
            "/chatflows".to_string(),
            format!("/chatflows/{flow}"),
            "/roles".to_string(),
            "/organization".to_string(),
            "/organization/members".to_string(),
            "/audit-events".to_string(),
            "/login-activity".to_string(),
        ] {
            let r = inside.get(&p).await;
            assert_eq!((r.status, &r.body), (404, &ghost.body), "{p}");
        }
        for p in [
            format!("/workspace/{b_ws}"),
            format!("/workspace/{b_ws}/users"),
            format!("/chatflows/{flow}"),
            format!("/users/{carol_id}"),
        ] {
            let r = w.admin.get(&p).await;
            assert_eq!(r.status, 404, "{p}: {}", r.body);
        }
        let r = w
            .admin
            .post("/auth/switch-organization", json!({"organizationId": beta}))
            .await;
        assert_eq!(r.status, 404, "{}", r.body);
        let r = w
            .admin
            .post("/auth/switch-workspace", json!({"workspaceId": b_ws}))
            .await;
        assert_eq!(r.status, 404, "{}", r.body);
        // Its own lists hold nothing of Beta.
        let users = w.admin.get("/users").await;
        assert!(!users.text.contains("carol@beta.test"), "{}", users.body);
        let wss = w.admin.get("/workspaces").await;
        assert!(!wss.text.contains(&b_ws), "{}", wss.body);
        // But it lists Beta, and may suspend it.
        assert_eq!(all_orgs(&w.admin).await.len(), 2);
    }
}

#[tokio::test]
async fn switching_organization_lands_in_the_last_workspace_used_there() {
    for b in backends() {
        let w = World::new(&b).await;
        let north = w.workspace("North").await;
        let bob = w.user("bob@example.com").await;
        w.add(&w.default_ws, &bob, "Viewer").await;
        w.add(&north, &bob, "Developer").await;
        let r = w
            .admin
            .post(
                "/organizations",
                json!({"name": "Bravo", "ownerEmail": "bob@example.com"}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let bravo = r.id();
        let acme = me(&w.admin).await["activeOrganization"]
            .as_str()
            .unwrap()
            .to_string();
        let (charlie, carol) = new_org(&w, "Charlie", "carol@charlie.test").await;
        let c_ws = active_ws(&carol).await;

        let bob_c = w.server.login("bob@example.com", PASSWORD).await;
        let r = bob_c
            .post("/auth/switch-workspace", json!({"workspaceId": north}))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let r = bob_c
            .post(
                "/auth/switch-organization",
                json!({"organizationId": bravo}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["activeWorkspace"]["name"], "Default");
        let r = bob_c.post("/workspace", json!({"name": "Bravo Two"})).await;
        assert_eq!(r.status, 201, "{}", r.body);
        let b2 = r.id();
        let r = bob_c
            .post("/auth/switch-workspace", json!({"workspaceId": b2}))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);

        let r = bob_c
            .post(
                "/auth/switch-organization",
                json!({"organizationId": acme.clone()}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["activeOrganization"], acme.as_str());
        assert_eq!(
            r.body["activeWorkspace"]["id"],
            north.as_str(),
            "{}",
            r.body
        );
        assert_eq!(r.body["isAccountAdmin"], false);
        // `me` agrees, and the next request acts there.
        assert_eq!(active_ws(&bob_c).await, north);
        assert_eq!(bob_c.get("/users").await.status, 403);
        let r = bob_c
            .post(
                "/auth/switch-organization",
                json!({"organizationId": bravo}),
            )
            .await;
        assert_eq!(r.body["activeWorkspace"]["id"], b2.as_str(), "{}", r.body);
        assert_eq!(r.body["isAccountAdmin"], true);
        assert_eq!(bob_c.get("/users").await.status, 200);
        // A new sign-in lands where they were last.
        let again = w.server.login("bob@example.com", PASSWORD).await;
        assert_eq!(active_ws(&again).await, b2);

        // An organization they are not in, or none: 404, nothing changes.
        for id in [
            charlie.clone(),
            uuid::Uuid::new_v4().to_string(),
            "nope".to_string(),
        ] {
            let r = bob_c
                .post("/auth/switch-organization", json!({"organizationId": id}))
                .await;
            assert_eq!(r.status, 404, "{id}: {}", r.body);
        }
        assert_eq!(active_ws(&bob_c).await, b2);

        // X-Workspace-Id: a workspace of an organization they are not in answers 404 like
        // one that does not exist; one of another organization they are in acts there.
        let ghost = bob_c
            .in_workspace(&uuid::Uuid::new_v4().to_string())
            .get("/chatflows")
            .await;
        let r = bob_c.in_workspace(&c_ws).get("/chatflows").await;
        assert_eq!((r.status, &r.body), (404, &ghost.body));
        let r = bob_c
            .in_workspace(&north)
            .post("/chatflows", json!({"name": "from bravo", "data": {}}))
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(r.body["workspaceId"], north.as_str());
        // As a plain member of Acme there: no users list; as owner of Bravo: yes.
        assert_eq!(bob_c.in_workspace(&north).get("/users").await.status, 403);
        let r = bob_c.in_workspace(&b2).get("/users").await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(!r.text.contains(ADMIN_EMAIL), "{}", r.body);
        let r = w.admin.in_workspace(&north).get("/chatflows").await;
        assert_eq!(r.body["items"].as_array().unwrap().len(), 1, "{}", r.body);
    }
}

#[tokio::test]
async fn owners_and_admins_and_the_last_active_owner() {
    for b in backends() {
        let w = World::new(&b).await;
        let admin_id = me(&w.admin).await["user"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let xavier = w.user("xavier@example.com").await;
        let yara = w.user("yara@example.com").await;
        let zed = w.user("zed@example.com").await;
        let role = |id: &str| format!("/organization/members/{id}");

        // Several admins; an admin manages members and admins, never owners.
        let r = w
            .admin
            .patch(&role(&xavier), json!({"role": "admin"}))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let x = w.server.login("xavier@example.com", PASSWORD).await;
        assert_eq!(x.get("/users").await.status, 200);
        let r = x.patch(&role(&yara), json!({"role": "admin"})).await;
        assert_eq!(r.status, 200, "{}", r.body);
        for (target, body) in [
            (&zed, json!({"role": "owner"})),
            (&admin_id, json!({"role": "member"})),
        ] {
            let r = x.patch(&role(target), body).await;
            assert_eq!(r.status, 403, "{}", r.body);
        }
        assert_eq!(x.delete(&role(&admin_id)).await.status, 403);
        let r = x
            .patch(&format!("/users/{admin_id}"), json!({"status": "disabled"}))
            .await;
        assert_eq!(r.status, 403, "{}", r.body);
        let r = x.patch(&role(&zed), json!({"role": "boss"})).await;
        assert_eq!(r.status, 422, "{}", r.body);
        let r = x
            .patch(
                &role(&uuid::Uuid::new_v4().to_string()),
                json!({"role": "admin"}),
            )
            .await;
        assert_eq!(r.status, 404, "{}", r.body);
        // A member is no manager.
        let z = w.server.login("zed@example.com", PASSWORD).await;
        assert_eq!(z.get("/organization/members").await.status, 403);
        assert_eq!(
            z.patch(&role(&zed), json!({"role": "admin"})).await.status,
            403
        );

        // The last active owner is never demoted, disabled nor removed.
        let before = members(&w.admin).await;
        assert_eq!(owners(&before), 1);
        let r = w
            .admin
            .patch(&role(&admin_id), json!({"role": "admin"}))
            .await;
        assert_eq!((r.status, r.code()), (409, "last_owner"), "{}", r.body);
        let r = w
            .admin
            .patch(&format!("/users/{admin_id}"), json!({"status": "disabled"}))
            .await;
        assert_eq!((r.status, r.code()), (409, "last_owner"), "{}", r.body);
        for p in [role(&admin_id), format!("/users/{admin_id}")] {
            let r = w.admin.delete(&p).await;
            assert_eq!((r.status, r.code()), (409, "last_owner"), "{p}: {}", r.body);
        }
        assert_eq!(members(&w.admin).await, before);

        // Handing over: make another member owner, then step down.
        let r = w
            .admin
            .patch(&role(&xavier), json!({"role": "owner"}))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let r = w
            .admin
            .patch(&role(&admin_id), json!({"role": "member"}))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(w.admin.get("/users").await.status, 403);
        let m = members(&x).await;
        assert_eq!(owners(&m), 1);
        assert!(m.contains(&("xavier@example.com".into(), "owner".into(), "active".into())));
        assert!(m.contains(&(ADMIN_EMAIL.into(), "member".into(), "active".into())));
        // The instance admin is still the instance admin, without managing this organization.
        let m = me(&w.admin).await;
        assert_eq!(
            (m["isInstanceAdmin"].clone(), m["isAccountAdmin"].clone()),
            (json!(true), json!(false))
        );

        // Two owners: one may disable the other, then is the last.
        let r = x.patch(&role(&yara), json!({"role": "owner"})).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let r = x
            .patch(&format!("/users/{yara}"), json!({"status": "disabled"}))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let xavier_self = x.patch(&role(&xavier), json!({"role": "admin"})).await;
        assert_eq!(
            (xavier_self.status, xavier_self.code()),
            (409, "last_owner"),
            "a disabled owner does not keep the organization: {}",
            xavier_self.body
        );
        // A disabled owner may be removed while an active one remains.
        assert_eq!(x.delete(&role(&yara)).await.status, 204);
        assert_eq!(owners(&members(&x).await), 1);
    }
}

#[tokio::test]
async fn two_owners_demoting_each_other_at_once_leave_one() {
    for b in backends() {
        let w = World::new(&b).await;
        let p = w.user("p@example.com").await;
        let q = w.user("q@example.com").await;
        let admin_id = me(&w.admin).await["user"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        for id in [&p, &q] {
            let r = w
                .admin
                .patch(
                    &format!("/organization/members/{id}"),
                    json!({"role": "owner"}),
                )
                .await;
            assert_eq!(r.status, 200, "{}", r.body);
        }
        let pc = w.server.login("p@example.com", PASSWORD).await;
        let qc = w.server.login("q@example.com", PASSWORD).await;
        let r = pc
            .patch(
                &format!("/organization/members/{admin_id}"),
                json!({"role": "member"}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let mut outcomes = std::collections::BTreeSet::new();
        for round in 0..8 {
            let (to_q, to_p) = (
                format!("/organization/members/{q}"),
                format!("/organization/members/{p}"),
            );
            let (a, b2) = tokio::join!(
                pc.patch(&to_q, json!({"role": "member"})),
                qc.patch(&to_p, json!({"role": "member"})),
            );
            outcomes.insert((a.status, b2.status));
            let ok = [&a, &b2].iter().filter(|r| r.status == 200).count();
            assert_eq!(
                ok, 1,
                "round {round}: {} {} / {} {}",
                a.status, a.body, b2.status, b2.body
            );
            for r in [&a, &b2] {
                assert!(
                    r.status == 200 || r.status == 409 || r.status == 403,
                    "round {round}: {} {}",
                    r.status,
                    r.body
                );
            }
            // Read by the instance admin's account? No: by the remaining owner.
            let (winner, loser_id) = if a.status == 200 {
                (&pc, &q)
            } else {
                (&qc, &p)
            };
            let m = members(winner).await;
            assert_eq!(owners(&m), 1, "round {round}: {m:?}");
            let r = winner
                .patch(
                    &format!("/organization/members/{loser_id}"),
                    json!({"role": "owner"}),
                )
                .await;
            assert_eq!(r.status, 200, "{}", r.body);
            assert_eq!(owners(&members(winner).await), 2);
        }
        eprintln!("{}: outcomes {outcomes:?}", b.name());
    }
}

/// `v` with every string, number and boolean replaced by its type: the shape of an answer.
fn shape(v: &Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
        Value::Array(a) => Value::Array(a.iter().map(shape).collect()),
        Value::String(_) => json!("string"),
        Value::Number(_) => json!("number"),
        Value::Bool(_) => json!("bool"),
        Value::Null => Value::Null,
    }
}

#[tokio::test]
async fn inviting_an_account_of_another_organization_reveals_nothing_and_takes_its_password() {
    for b in backends() {
        let w = World::new(&b).await;
        let bob = w.user("bob@example.com").await;
        w.add(&w.default_ws, &bob, "Viewer").await;
        let (_beta, carol) = new_org(&w, "Beta", "carol@beta.test").await;
        let b_ws = active_ws(&carol).await;
        // Bob signs in (and fails once) in Acme: Beta must not see it.
        w.server.login("bob@example.com", PASSWORD).await;
        let r = w
            .server
            .client()
            .post(
                "/auth/login",
                json!({"email": "bob@example.com", "password": "wrong wrong wrong"}),
            )
            .await;
        assert_eq!(r.status, 401);

        let invite = |email: &str| {
            carol.post(
                "/invitations",
                json!({"email": email, "workspaceId": b_ws, "role": "Developer"}),
            )
        };
        let existing = invite("bob@example.com").await;
        let fresh = invite("newcomer@example.com").await;
        assert_eq!(
            existing.status, fresh.status,
            "{} / {}",
            existing.body, fresh.body
        );
        assert_eq!(existing.status, 201);
        assert_eq!(shape(&existing.body), shape(&fresh.body));
        for f in ["status", "mail"] {
            assert_eq!(existing.body[f], fresh.body[f], "{f}");
        }
        assert_eq!(existing.body["status"], "invited");
        for f in [
            "status",
            "roleName",
            "workspaceName",
            "organizationName",
            "invitedBy",
        ] {
            assert_eq!(
                existing.body["invitation"][f], fresh.body["invitation"][f],
                "{f}"
            );
        }
        assert!(!existing.text.contains("\"added\""), "{}", existing.body);
        // Beta's lists show both alike: invited members, open invitations.
        let users = carol.get("/users").await;
        let row = |email: &str| {
            users.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|u| u["email"] == email)
                .cloned()
                .unwrap_or_else(|| panic!("{email} not in {}", users.body))
        };
        let (ub, un) = (row("bob@example.com"), row("newcomer@example.com"));
        assert_eq!(shape(&ub), shape(&un));
        assert_eq!(ub["status"], "invited");
        assert_eq!(ub["status"], un["status"]);
        assert_eq!(
            ub["name"], "bob@example.com",
            "Bob's name is not shown: {ub}"
        );
        let r = carol
            .get(&format!("/users/{}", ub["id"].as_str().unwrap()))
            .await;
        let r2 = carol
            .get(&format!("/users/{}", un["id"].as_str().unwrap()))
            .await;
        assert_eq!((r.status, shape(&r.body)), (r2.status, shape(&r2.body)));
        assert!(!r.text.contains(&w.default_ws), "{}", r.body);
        // Nor his sign-ins in Acme.
        let acts = carol.get("/login-activity?email=bob@example.com").await;
        assert_eq!(acts.status, 200);
        assert_eq!(acts.body["items"], json!([]), "{}", acts.body);
        let acts = carol.get("/login-activity").await;
        assert!(!acts.text.contains("bob@example.com"), "{}", acts.body);
        // The public look-up of both links reads alike.
        let (lb, ln) = (
            existing.body["link"].as_str().unwrap().to_string(),
            fresh.body["link"].as_str().unwrap().to_string(),
        );
        let anon = w.server.client();
        let pb = anon
            .get(&format!("/invitations/{}", token_of(&lb).unwrap()))
            .await;
        let pn = anon
            .get(&format!("/invitations/{}", token_of(&ln).unwrap()))
            .await;
        assert_eq!((pb.status, shape(&pb.body)), (pn.status, shape(&pn.body)));

        // Accepting takes the account's own password: a wrong one changes nothing.
        let bad = register(&w.server, &lb, "Robert", "some other passphrase").await;
        assert_eq!(
            (bad.status, bad.code()),
            (401, "invalid_credentials"),
            "{}",
            bad.body
        );
        // That guess was a sign-in attempt: counted by the lockout and in the login activity
        // of Bob's organization.
        let acts = w
            .admin
            .get("/login-activity?email=bob@example.com&outcome=failure")
            .await;
        assert_eq!(
            acts.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["reason"] == "wrong_password")
                .count(),
            2,
            "the failed sign-in and the failed acceptance: {}",
            acts.body
        );
        let bob_c = w.server.login("bob@example.com", PASSWORD).await;
        assert_eq!(
            orgs_of(&me(&bob_c).await),
            vec![("Acme".to_string(), "member".to_string())]
        );
        assert!(members(&carol).await.contains(&(
            "bob@example.com".into(),
            "member".into(),
            "invited".into()
        )));
        let ok = register(&w.server, &lb, "Robert", PASSWORD).await;
        assert_eq!(ok.status, 201, "{}", ok.body);
        let m = me(&signed_in(&w.server, &ok)).await;
        assert_eq!(
            orgs_of(&m),
            vec![
                ("Acme".to_string(), "member".to_string()),
                ("Beta".to_string(), "member".to_string())
            ]
        );
        assert_eq!(m["user"]["name"], "bob", "the account keeps its name");
        // Beta may not rename an account that is Acme's too; Acme's admin neither.
        let bob_id = m["user"]["id"].as_str().unwrap().to_string();
        for admin in [&carol, &w.admin] {
            let r = admin
                .patch(&format!("/users/{bob_id}"), json!({"name": "Bobby"}))
                .await;
            assert_eq!((r.status, r.code()), (409, "shared_account"), "{}", r.body);
        }
        assert_eq!(m["activeWorkspace"]["id"], b_ws.as_str());
        // His password is unchanged; the link is spent.
        w.server.login("bob@example.com", PASSWORD).await;
        let r = w
            .server
            .client()
            .post(
                "/auth/login",
                json!({"email": "bob@example.com", "password": "some other passphrase"}),
            )
            .await;
        assert_eq!(r.status, 401);
        assert_eq!(register(&w.server, &lb, "x", PASSWORD).await.status, 404);
        // The new email signs up with a password of its own.
        let r = register(&w.server, &ln, "Newcomer", "a newcomer passphrase").await;
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(
            orgs_of(&me(&signed_in(&w.server, &r)).await),
            vec![("Beta".to_string(), "member".to_string())]
        );
    }
}

/// `POST /users` with the email of an account of another organization answers exactly as for
/// a new email (201, the member, the same shape), never 409 `email_taken` (rule 17); the
/// account is invited (it keeps its password and name), and nothing of its organization
/// changes.
#[tokio::test]
async fn creating_a_user_whose_email_has_an_account_elsewhere_answers_like_a_new_email() {
    for b in backends() {
        let w = World::new(&b).await;
        let bob = w.user("bob@example.com").await;
        w.add(&w.default_ws, &bob, "Viewer").await;
        let (_beta, carol) = new_org(&w, "Beta", "carol@beta.test").await;
        let acme_user = w.admin.get(&format!("/users/{bob}")).await;
        let acme_events = w.admin.get("/audit-events?limit=200").await;
        assert_eq!(acme_events.status, 200, "{}", acme_events.body);

        let create = |email: &str| {
            carol.post(
                "/users",
                json!({"email": email, "name": "Robert", "password": "carol's chosen passphrase"}),
            )
        };
        let existing = create("Bob@Example.com").await;
        let fresh = create("newcomer@example.com").await;
        assert_eq!(existing.status, 201, "{}: {}", b.name(), existing.body);
        assert_eq!(existing.status, fresh.status);
        assert_eq!(
            shape(&existing.body),
            shape(&fresh.body),
            "{} / {}",
            existing.body,
            fresh.body
        );
        for f in ["isAccountAdmin", "workspaces", "lastLoginAt"] {
            assert_eq!(existing.body[f], fresh.body[f], "{f}");
        }
        assert!(!existing.text.contains(&w.default_ws), "{}", existing.body);
        assert!(
            !existing.text.contains("\"bob\""),
            "Bob's name is not shown: {}",
            existing.body
        );
        // A member of Beta already is Beta's own business: 409 there.
        let again = create("bob@example.com").await;
        assert_eq!(
            (again.status, again.code()),
            (409, "email_taken"),
            "{}",
            again.body
        );
        // Bob is invited into Beta, as an invitation would have made him.
        let open = carol.get("/invitations").await;
        assert!(open.text.contains("Bob@Example.com"), "{}", open.body);

        // Nothing of Acme changed, and the account is Bob's alone.
        assert_eq!(
            w.admin.get(&format!("/users/{bob}")).await.body,
            acme_user.body
        );
        assert_eq!(
            w.admin.get("/audit-events?limit=200").await.body["items"],
            acme_events.body["items"]
        );
        let bob_c = w.server.login("bob@example.com", PASSWORD).await;
        assert_eq!(
            orgs_of(&me(&bob_c).await),
            vec![("Acme".to_string(), "member".to_string())]
        );
        let r = w
            .server
            .client()
            .post(
                "/auth/login",
                json!({"email": "bob@example.com", "password": "carol's chosen passphrase"}),
            )
            .await;
        assert_eq!(r.status, 401, "Beta's password is not Bob's");
        // The new email's account works with the password Beta chose.
        w.server
            .login("newcomer@example.com", "carol's chosen passphrase")
            .await;
    }
}

/// Rule 17 in time: inviting an email whose account belongs to another organization takes as
/// long as inviting a new email. Both do the same work but one statement (the new email's
/// `invited` account row): interleaved runs, medians within a factor of 2 (a generous bound,
/// so that a loaded machine does not fail it; a path that sent mail, hashed a password or
/// read the other organization would exceed it).
#[tokio::test]
async fn inviting_an_account_elsewhere_takes_as_long_as_inviting_a_new_email() {
    const N: usize = 21;
    for b in backends() {
        let w = World::new(&b).await;
        let (_beta, carol) = new_org(&w, "Beta", "carol@beta.test").await;
        let b_ws = active_ws(&carol).await;
        for i in 0..N {
            w.user(&format!("known{i}@example.com")).await;
        }
        let invite = |email: String| {
            let carol = carol.clone();
            let b_ws = b_ws.clone();
            async move {
                let start = std::time::Instant::now();
                let r = carol
                    .post(
                        "/invitations",
                        json!({"email": email, "workspaceId": b_ws, "role": "Developer"}),
                    )
                    .await;
                let took = start.elapsed();
                assert_eq!(r.status, 201, "{email}: {}", r.body);
                assert_eq!(r.body["status"], "invited", "{email}: {}", r.body);
                took
            }
        };
        // One of each first, not counted: the first request of a kind warms caches.
        invite("warm-new@example.com".into()).await;
        w.user("warm-elsewhere@example.com").await;
        invite("warm-elsewhere@example.com".into()).await;
        let (mut known, mut fresh) = (Vec::new(), Vec::new());
        for i in 0..N {
            let k = format!("known{i}@example.com");
            let f = format!("fresh{i}@example.com");
            if i % 2 == 0 {
                known.push(invite(k).await);
                fresh.push(invite(f).await);
            } else {
                fresh.push(invite(f).await);
                known.push(invite(k).await);
            }
        }
        known.sort();
        fresh.sort();
        let (mk, mf) = (known[N / 2].as_secs_f64(), fresh[N / 2].as_secs_f64());
        eprintln!(
            "{}: median invitation of an account elsewhere {:.2} ms, of a new email {:.2} ms",
            b.name(),
            mk * 1e3,
            mf * 1e3
        );
        assert!(
            mk < 2.0 * mf && mf < 2.0 * mk,
            "{}: medians {mk:.4} s (account elsewhere) and {mf:.4} s (new email)",
            b.name()
        );
    }
}

/// The ids of a list answer.
fn item_ids(r: &Resp) -> Vec<String> {
    r.body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items: {}", r.body))
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn audit_events_and_login_activity_stay_in_their_organization() {
    for b in backends() {
        let w = World::new(&b).await;
        let (_beta, carol) = new_org(&w, "Beta", "carol@beta.test").await;
        let alice = w.user("alice@example.com").await;
        w.add(&w.default_ws, &alice, "Viewer").await;
        w.role("Acme only", &["tools:view"]).await;
        let r = carol
            .post(
                "/roles",
                json!({"name": "Beta only", "permissions": ["tools:view"]}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let anon = w.server.client();
        for (email, pw) in [
            ("alice@example.com", PASSWORD),
            ("alice@example.com", "not her password"),
            ("carol@beta.test", PASSWORD),
            ("carol@beta.test", "not her password"),
            ("nobody@nowhere.test", "whatever it is"),
        ] {
            anon.post("/auth/login", json!({"email": email, "password": pw}))
                .await;
        }

        let a_events = w.admin.get("/audit-events?limit=200").await;
        let b_events = carol.get("/audit-events?limit=200").await;
        assert_eq!((a_events.status, b_events.status), (200, 200));
        let (ai, bi) = (item_ids(&a_events), item_ids(&b_events));
        assert!(!ai.is_empty() && !bi.is_empty());
        assert!(ai.iter().all(|i| !bi.contains(i)), "shared audit events");
        assert!(a_events.text.contains("Acme only"));
        assert!(!a_events.text.contains("Beta only"), "{}", a_events.body);
        assert!(
            !a_events.text.contains("carol@beta.test"),
            "{}",
            a_events.body
        );
        assert!(b_events.text.contains("Beta only"));
        assert!(!b_events.text.contains("Acme only"), "{}", b_events.body);
        assert!(
            !b_events.text.contains("alice@example.com"),
            "{}",
            b_events.body
        );
        // Each trail verifies on its own.
        for c in [&w.admin, &carol] {
            let r = c.get("/audit-events/verify").await;
            assert_eq!(r.status, 200, "{}", r.body);
            assert_eq!(r.body["valid"], true, "{}", r.body);
        }

        let a_logins = w.admin.get("/login-activity?limit=200").await;
        let b_logins = carol.get("/login-activity?limit=200").await;
        assert_eq!((a_logins.status, b_logins.status), (200, 200));
        let emails = |r: &Resp| -> std::collections::BTreeSet<String> {
            r.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|e| e["email"].as_str().map(str::to_string))
                .collect()
        };
        let (ae, be) = (emails(&a_logins), emails(&b_logins));
        assert!(ae.contains("alice@example.com"), "{ae:?}");
        assert!(!ae.contains("carol@beta.test"), "{ae:?}");
        assert!(be.contains("carol@beta.test"), "{be:?}");
        assert!(!be.contains("alice@example.com"), "{be:?}");
        assert!(
            !be.contains("nobody@nowhere.test"),
            "an unknown email is the installation's: {be:?}"
        );
        let (ai, bi) = (item_ids(&a_logins), item_ids(&b_logins));
        assert!(ai.iter().all(|i| !bi.contains(i)), "shared login events");
    }
}

/// The newest audit event of `action` in the caller's organization.
async fn last_event(c: &Client, action: &str) -> Option<Value> {
    let r = c.get(&format!("/audit-events?action={action}")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["items"].as_array().unwrap().first().cloned()
}

#[tokio::test]
async fn settings_are_audited_validated_and_owners_alone_set_the_policies() {
    for b in backends() {
        let w = World::new(&b).await;
        let before = w.admin.get("/organization").await;
        assert_eq!(before.status, 200, "{}", before.body);
        assert_eq!(before.body["minPasswordLength"], 8);
        assert_eq!(before.body["allowedEmailDomains"], json!([]));

        let r = w
            .admin
            .patch(
                "/organization",
                json!({"name": "Acme Two", "minPasswordLength": 12, "allowedEmailDomains": ["Example.com"]}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["name"], "Acme Two");
        assert_eq!(r.body["allowedEmailDomains"], json!(["example.com"]));
        let ev = last_event(&w.admin, "organization.update")
            .await
            .expect("audited");
        assert_eq!(
            ev["summary"]["minPasswordLength"],
            json!({"from": 8, "to": 12}),
            "{ev}"
        );
        assert_eq!(
            ev["summary"]["name"],
            json!({"from": "Acme", "to": "Acme Two"})
        );
        assert_eq!(
            ev["summary"]["allowedEmailDomains"],
            json!({"from": [], "to": ["example.com"]})
        );
        assert!(ev["summary"].get("ssoRequired").is_none(), "{ev}");

        // Invalid values: 422, nothing changed, nothing audited.
        let now = w.admin.get("/organization").await.body;
        for body in [
            json!({"minPasswordLength": 7}),
            json!({"minPasswordLength": 129}),
            json!({"allowedEmailDomains": ["not a domain"]}),
            json!({"allowedEmailDomains": ["@"]}),
            json!({"sessionLifetimeMinutes": 1}),
            json!({"name": ""}),
            json!({"minPasswordLength": "twelve"}),
            json!({"name": "Fine", "minPasswordLength": 3}),
        ] {
            let r = w.admin.patch("/organization", body.clone()).await;
            assert_eq!(r.status, 422, "{body}: {}", r.body);
        }
        assert_eq!(w.admin.get("/organization").await.body, now);
        assert_eq!(
            last_event(&w.admin, "organization.update").await.unwrap()["id"],
            ev["id"]
        );

        // Allowed domains: other domains are refused, allowed ones invited.
        let invite = |email: &str| {
            w.admin.post(
                "/invitations",
                json!({"email": email, "workspaceId": w.default_ws, "role": "Viewer"}),
            )
        };
        let r = invite("someone@other.org").await;
        assert_eq!(
            (r.status, r.body["error"]["field"].as_str()),
            (422, Some("email")),
            "{}",
            r.body
        );
        let r = invite("someone@EXAMPLE.com").await;
        assert_eq!(r.status, 201, "{}", r.body);
        let r = w
            .admin
            .patch("/organization", json!({"allowedEmailDomains": []}))
            .await;
        assert_eq!(r.status, 200);
        assert_eq!(invite("someone@other.org").await.status, 201);

        // SSO and MFA policy: owners only.
        let x = w.user("xavier@example.com").await;
        let r = w
            .admin
            .patch(
                &format!("/organization/members/{x}"),
                json!({"role": "admin"}),
            )
            .await;
        assert_eq!(r.status, 200);
        let xc = w.server.login("xavier@example.com", PASSWORD).await;
        for body in [
            json!({"ssoRequired": true}),
            json!({"mfaRequired": true}),
            json!({"name": "By admin", "mfaRequired": false}),
        ] {
            let r = xc.patch("/organization", body.clone()).await;
            assert_eq!(r.status, 403, "{body}: {}", r.body);
        }
        let r = xc.patch("/organization", json!({"name": "By admin"})).await;
        assert_eq!(r.status, 200, "{}", r.body);
        // Requiring MFA takes an owner who has it (it would lock them out otherwise).
        let r = w
            .admin
            .patch("/organization", json!({"mfaRequired": true}))
            .await;
        assert_eq!((r.status, r.code()), (409, "mfa_not_enabled"), "{}", r.body);
        crate::mfa::enable_totp(&w.admin).await;
        let r = w
            .admin
            .patch(
                "/organization",
                json!({"ssoRequired": true, "mfaRequired": true}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(
            (r.body["ssoRequired"].clone(), r.body["mfaRequired"].clone()),
            (json!(true), json!(true))
        );
        let ev = last_event(&w.admin, "organization.update").await.unwrap();
        assert_eq!(
            ev["summary"]["ssoRequired"],
            json!({"from": false, "to": true})
        );
        assert_eq!(ev["summary"]["name"], Value::Null);
        let r = w
            .admin
            .patch(
                "/organization",
                json!({"ssoRequired": false, "mfaRequired": false}),
            )
            .await;
        assert_eq!(r.status, 200);
        // A plain member reads the settings, changes nothing.
        let z = w.user("zed@example.com").await;
        w.add(&w.default_ws, &z, "Viewer").await;
        let zc = w.server.login("zed@example.com", PASSWORD).await;
        assert_eq!(zc.get("/organization").await.status, 200);
        assert_eq!(
            zc.patch("/organization", json!({"name": "Zed's"}))
                .await
                .status,
            403
        );
    }
}

/// The `Max-Age` of the refresh cookie an answer sets.
fn refresh_max_age(r: &Resp) -> i64 {
    r.headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("fs_refresh="))
        .and_then(|c| {
            c.split(';')
                .find_map(|p| p.trim().strip_prefix("Max-Age=").map(str::to_string))
        })
        .unwrap_or_else(|| panic!("no refresh cookie: {:?}", r.headers))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn a_sign_in_lasts_as_long_as_its_organization_says() {
    for b in backends() {
        let w = World::new(&b).await;
        let default = i64::from(w.server.state.config.jwt_refresh_token_expiry_in_minutes) * 60;
        let (_beta, carol) = new_org(&w, "Beta", "carol@beta.test").await;
        let alice = w.user("alice@example.com").await;
        w.add(&w.default_ws, &alice, "Viewer").await;
        let r = w
            .admin
            .patch("/organization", json!({"sessionLifetimeMinutes": 5}))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["sessionLifetimeMinutes"], 5);
        let ev = last_event(&w.admin, "organization.update").await.unwrap();
        assert_eq!(
            ev["summary"]["sessionLifetimeMinutes"],
            json!({"from": null, "to": 5})
        );
        let anon = w.server.client();
        let login = |email: &'static str| {
            anon.post("/auth/login", json!({"email": email, "password": PASSWORD}))
        };
        let r = login("alice@example.com").await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(refresh_max_age(&r), 300);
        // A refresh keeps the organization's lifetime.
        let rr = w
            .server
            .client()
            .post(
                "/auth/refresh",
                json!({"refreshToken": r.body["refreshToken"]}),
            )
            .await;
        assert_eq!(rr.status, 200, "{}", rr.body);
        assert_eq!(refresh_max_age(&rr), 300);
        // Beta has none set: the installation's default.
        let r = login("carol@beta.test").await;
        assert_eq!(refresh_max_age(&r), default);
        assert_ne!(default, 300);
        // Back to the default.
        let r = carol
            .patch("/organization", json!({"sessionLifetimeMinutes": 60}))
            .await;
        assert_eq!(r.status, 200);
        assert_eq!(refresh_max_age(&login("carol@beta.test").await), 3600);
        let r = w
            .admin
            .patch("/organization", json!({"sessionLifetimeMinutes": null}))
            .await;
        assert_eq!(
            (r.status, &r.body["sessionLifetimeMinutes"]),
            (200, &Value::Null)
        );
        assert_eq!(refresh_max_age(&login("alice@example.com").await), default);

        // An expired refresh token is refused: the lifetime is what the database keeps.
        let r = login("carol@beta.test").await;
        expire_refresh_tokens(&w.server).await;
        let rr = w
            .server
            .client()
            .post(
                "/auth/refresh",
                json!({"refreshToken": r.body["refreshToken"]}),
            )
            .await;
        assert_eq!(rr.status, 401, "{}", rr.body);
    }
}

async fn expire_refresh_tokens(server: &TestServer) {
    let store = server.store();
    if let Some(p) = store.sqlite_pool() {
        sqlx::query("UPDATE refresh_tokens SET expires_at = 1")
            .execute(p)
            .await
            .unwrap();
    } else {
        sqlx::query("UPDATE refresh_tokens SET expires_at = now() - interval '1 minute'")
            .execute(store.postgres_pool().unwrap())
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn the_minimum_password_length_applies_to_sign_up_reset_and_change() {
    for b in backends() {
        let sink = SmtpSink::start().await;
        let port = sink.port;
        let server = TestServer::start_with(&b, |c| {
            c.smtp_host = Some("127.0.0.1".into());
            c.smtp_port = Some(port);
            c.smtp_secure = Some("none".into());
            c.sender_email = Some("flowspace@example.com".into());
        })
        .await;
        let admin = server.setup().await;
        let ws = active_ws(&admin).await;
        let r = admin
            .patch("/organization", json!({"minPasswordLength": 16}))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        const SHORT: &str = "twelve chars"; // 12
        const LONG: &str = "sixteen chars ok!"; // 17

        // Sign-up from an invitation.
        let r = admin
            .post(
                "/invitations",
                json!({"email": "new@example.com", "workspaceId": ws, "role": "Viewer"}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let msg = sink.next_message(WAIT).await;
        let link = msg.text_link(REGISTER).expect("link");
        let r = register(&server, &link, "New", SHORT).await;
        assert_eq!(
            (r.status, r.body["error"]["field"].as_str()),
            (422, Some("password")),
            "{}",
            r.body
        );
        let r = register(&server, &link, "New", LONG).await;
        assert_eq!(r.status, 201, "{}", r.body);
        let newbie = signed_in(&server, &r);

        // Changing one's own password.
        let r = newbie
            .patch(
                "/auth/me",
                json!({"password": SHORT, "currentPassword": LONG}),
            )
            .await;
        assert_eq!(r.status, 422, "{}", r.body);
        server.login("new@example.com", LONG).await;
        let r = newbie
            .patch(
                "/auth/me",
                json!({"password": "another long passphrase", "currentPassword": LONG}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);

        // Resetting it.
        let r = server
            .client()
            .post("/auth/forgot-password", json!({"email": "new@example.com"}))
            .await;
        assert_eq!(r.status, 202);
        let msg = sink.next_message(WAIT).await;
        let token = token_of(&msg.text_link(RESET).expect("reset link")).unwrap();
        let r = server
            .client()
            .post(
                "/auth/reset-password",
                json!({"token": token, "password": SHORT}),
            )
            .await;
        assert_eq!(r.status, 422, "{}", r.body);
        let r = server
            .client()
            .post(
                "/auth/reset-password",
                json!({"token": token, "password": LONG}),
            )
            .await;
        assert!(r.status < 300, "{}", r.body);
        server.login("new@example.com", LONG).await;
        // Back at the installation's floor, a shorter one is fine again.
        let r = admin
            .patch("/organization", json!({"minPasswordLength": 8}))
            .await;
        assert_eq!(r.status, 200);
        let r = server
            .login("new@example.com", LONG)
            .await
            .patch(
                "/auth/me",
                json!({"password": SHORT, "currentPassword": LONG}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
}

#[tokio::test]
async fn a_removed_member_of_one_organization_keeps_their_other() {
    for b in backends() {
        let w = World::new(&b).await;
        let bob = w.user("bob@example.com").await;
        w.add(&w.default_ws, &bob, "Viewer").await;
        let r = w
            .admin
            .post(
                "/organizations",
                json!({"name": "Bravo", "ownerEmail": "bob@example.com"}),
            )
            .await;
        assert_eq!(r.status, 201);
        let bob_c = w.server.login("bob@example.com", PASSWORD).await;
        let r = w
            .admin
            .delete(&format!("/organization/members/{bob}"))
            .await;
        assert_eq!(r.status, 204, "{}", r.body);
        // Still signed in, now in Bravo only.
        let m = me(&bob_c).await;
        assert_eq!(
            orgs_of(&m),
            vec![("Bravo".to_string(), "owner".to_string())]
        );
        assert_eq!(m["organization"]["name"], "Bravo");
        assert_eq!(
            w.server
                .login("bob@example.com", PASSWORD)
                .await
                .get("/users")
                .await
                .status,
            200
        );
        let users = w.admin.get("/users").await;
        assert!(!users.text.contains("bob@example.com"), "{}", users.body);
        let r = w.admin.get(&format!("/users/{bob}")).await;
        assert_eq!(r.status, 404);
    }
}
