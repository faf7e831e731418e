//! Issue 12's upgrade guarantee: a one-organization installation made by the first release
//! (tests/fixtures/one-org-v1, made by scripts/make-one-org-fixture through the HTTP API) keeps
//! every user, item, credential, API key, session, membership, role, group, login event and its
//! audit chain when a newer server starts on it and migrates it, on SQLite and PostgreSQL.
//!
//! Everything is checked through the public HTTP API, never SQL, and only through fields that
//! mean the same with several organizations, so that the same test proves the migration.

use flowspace_testkit::{Backend, Client, Resp, Seed, TestServer, backends};
use secrecy::SecretString;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::PathBuf;

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/one-org-v1")
}

fn manifest() -> Value {
    let text = std::fs::read_to_string(fixture_dir().join("manifest.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

/// A server of this checkout on a copy of the fixture, with the secrets it was made with.
async fn start(b: &Backend, m: &Value) -> TestServer {
    let dir = fixture_dir();
    let (sqlite, dump) = (dir.join("flowspace.db"), dir.join("postgres.sql"));
    let seed = Seed {
        sqlite: &sqlite,
        postgres_dump: &dump,
        postgres_schema: s(&m["postgresSchema"]),
    };
    let secrets = m["secrets"].clone();
    TestServer::start_seeded(b, &seed, move |c| {
        let secret = |k: &str| Some(SecretString::from(s(&secrets[k]).to_string()));
        c.jwt_auth_token_secret = secret("jwtAuthTokenSecret");
        c.jwt_refresh_token_secret = secret("jwtRefreshTokenSecret");
        c.token_hash_secret = secret("tokenHashSecret");
        c.flowspace_encryption_key = secret("encryptionKey");
    })
    .await
}

/// Every item of a paginated list.
async fn all(c: &Client, path: &str) -> Vec<Value> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let (mut items, mut cursor) = (Vec::new(), None::<String>);
    loop {
        let page = match &cursor {
            None => c.get(&format!("{path}{sep}limit=100")).await,
            Some(cur) => c.get(&format!("{path}{sep}limit=100&cursor={cur}")).await,
        };
        assert_eq!(page.status, 200, "{path}: {}", page.body);
        items.extend(page.body["items"].as_array().unwrap().iter().cloned());
        match page.body["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return items,
        }
    }
}

fn field_set(items: &[Value], field: &str) -> BTreeSet<String> {
    items.iter().map(|i| s(&i[field]).to_string()).collect()
}

fn str_set(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| s(x).to_string())
        .collect()
}

async fn login(server: &TestServer, email: &str, password: &str) -> Resp {
    server
        .client()
        .post("/auth/login", json!({"email": email, "password": password}))
        .await
}

async fn verify_chain(admin: &Client, name: &str) -> u64 {
    let r = admin.get("/audit-events/verify").await;
    assert_eq!(r.status, 200, "{name}: {}", r.body);
    assert_eq!(r.body["valid"], true, "{name}: {}", r.body);
    assert!(r.body["firstBrokenEventId"].is_null(), "{name}: {}", r.body);
    r.body["checked"].as_u64().unwrap()
}

#[tokio::test]
async fn a_one_organization_database_of_the_first_release_keeps_working() {
    let m = manifest();
    for b in backends() {
        let name = b.name();
        let fx = &m["backends"][name];
        let server = start(&b, &m).await;
        let anon = server.client();
        let ws = |k: &str| s(&fx["workspaces"][k]).to_string();
        let user = |k: &str| s(&m["users"][k]["email"]).to_string();

        // The Account Admin's session survives: the access token issued before the upgrade is
        // still accepted, and so is the CSRF token of its cookies.
        let sess = &fx["sessions"]["admin"];
        let admin = anon.with_token(s(&sess["accessToken"]));
        let me = admin.get("/auth/me").await;
        assert_eq!(me.status, 200, "{name}: {}", me.body);
        assert_eq!(me.body["user"]["email"], user("admin"), "{name}");
        let cookie = format!(
            "fs_access={}; fs_csrf={}",
            s(&sess["accessToken"]),
            s(&sess["csrfToken"])
        );

        // Nothing written yet: the chain the first release left is intact, with every event.
        let checked = verify_chain(&admin, name).await;
        assert!(
            checked >= fx["auditChecked"].as_u64().unwrap(),
            "{name}: {checked} events checked"
        );
        let to = s(&fx["generatedAt"]);
        let events = all(&admin, &format!("/audit-events?to={to}")).await;
        assert_eq!(
            field_set(&events, "id"),
            str_set(&fx["auditEventIds"]),
            "{name}: the audit events of the fixture"
        );
        let logins = all(&admin, &format!("/login-activity?to={to}")).await;
        assert_eq!(
            field_set(&logins, "id"),
            str_set(&fx["loginEventIds"]),
            "{name}: the login activity of the fixture"
        );

        // Refresh tokens: the live one rotates; the one it replaced is still known as spent
        // (checked at the end: presenting it ends the session).
        let refreshed = anon
            .post(
                "/auth/refresh",
                json!({"refreshToken": s(&sess["refreshToken"])}),
            )
            .await;
        assert_eq!(refreshed.status, 200, "{name}: {}", refreshed.body);
        let admin = anon.with_token(s(&refreshed.body["accessToken"]));
        let me = admin.get("/auth/me").await;
        assert_eq!(me.body["user"]["email"], user("admin"), "{name}");

        // The Account Admin still administers: users, workspaces, roles, groups; every item,
        // the credential and the API key are where they were.
        check_users(&admin, &m, fx, name).await;
        check_workspaces(&admin, &m, fx, name).await;
        check_role_and_group(&admin, &m, fx, name).await;
        check_items(&admin, fx, name).await;
        check_credential(&admin, &m, fx, name).await;
        check_api_key(&server, &admin, &m, fx, name).await;

        // A cookie-authenticated write (with the session's CSRF token) extends the chain by
        // exactly its one event, and the chain still holds.
        let before = verify_chain(&admin, name).await;
        let created = anon
            .in_workspace(&ws("default"))
            .send(
                reqwest::Method::POST,
                "/chatflows",
                Some(json!({"name": "After the upgrade"})),
                &[("cookie", &cookie), ("x-csrf-token", s(&sess["csrfToken"]))],
            )
            .await;
        assert_eq!(created.status, 201, "{name}: {}", created.body);
        assert_eq!(verify_chain(&admin, name).await, before + 1, "{name}");
        let newest = admin
            .get("/audit-events?action=chatflow.create&limit=1")
            .await;
        assert_eq!(newest.body["items"][0]["targetId"], created.id(), "{name}");
        assert_eq!(
            newest.body["items"][0]["actorUserId"], fx["users"]["admin"],
            "{name}"
        );

        // Every active user signs in with their password; the disabled one is refused.
        for k in ["admin", "dana", "eve"] {
            let r = login(&server, &user(k), s(&m["users"][k]["password"])).await;
            assert_eq!(r.status, 200, "{name}: {k}: {}", r.body);
        }
        let frank = login(&server, &user("frank"), s(&m["users"]["frank"]["password"])).await;
        assert_eq!(frank.status, 401, "{name}: {}", frank.body);
        let wrong = login(&server, &user("dana"), "not-the-password").await;
        assert_eq!(wrong.status, 401, "{name}: {}", wrong.body);

        // Dana's session (the dashboard's refresh cookie) survives and acts in Research;
        // Frank's does not, since he is disabled.
        let dana = anon
            .send(
                reqwest::Method::POST,
                "/auth/refresh",
                None,
                &[(
                    "cookie",
                    &format!("fs_refresh={}", s(&fx["sessions"]["dana"]["refreshToken"])),
                )],
            )
            .await;
        assert_eq!(dana.status, 200, "{name}: {}", dana.body);
        let dana = anon
            .with_token(s(&dana.body["accessToken"]))
            .in_workspace(&ws("research"));
        let flows = all(&dana, "/chatflows").await;
        assert_eq!(
            field_set(&flows, "name"),
            BTreeSet::from(["Paper Summarizer".to_string(), "Eve Draft".to_string()]),
            "{name}"
        );
        let frank = anon
            .post(
                "/auth/refresh",
                json!({"refreshToken": s(&fx["sessions"]["frank"]["refreshToken"])}),
            )
            .await;
        assert_eq!(frank.status, 401, "{name}: {}", frank.body);

        // Eve's permissions in Research come from her group's custom role: she still creates
        // chatflows there and still may not delete them.
        let eve = login(&server, &user("eve"), s(&m["users"]["eve"]["password"])).await;
        let eve = anon
            .with_token(s(&eve.body["accessToken"]))
            .in_workspace(&ws("research"));
        let draft = eve
            .post("/chatflows", json!({"name": "Eve after the upgrade"}))
            .await;
        assert_eq!(draft.status, 201, "{name}: {}", draft.body);
        let denied = eve.delete(&format!("/chatflows/{}", draft.id())).await;
        assert_eq!(denied.status, 403, "{name}: {}", denied.body);
        assert_eq!(
            denied.body["error"]["missingPermission"], "chatflows:delete",
            "{name}"
        );

        // The invitation still signs Grace up, into Operations as a Developer.
        let token = s(&fx["invitationToken"]);
        let preview = anon.get(&format!("/invitations/{token}")).await;
        assert_eq!(preview.status, 200, "{name}: {}", preview.body);
        assert_eq!(preview.body["email"], user("grace"), "{name}");
        assert_eq!(preview.body["workspaceName"], "Operations", "{name}");
        let signed = anon
            .post(
                "/auth/register",
                json!({"token": token, "name": "Grace", "password": "Grace-after-upgrade-1"}),
            )
            .await;
        assert_eq!(signed.status, 201, "{name}: {}", signed.body);
        let grace = anon.with_token(s(&signed.body["accessToken"]));
        let me = grace.get("/auth/me").await;
        assert_eq!(me.body["activeWorkspace"]["id"], ws("operations"), "{name}");
        assert_eq!(me.body["activeWorkspace"]["role"], "Developer", "{name}");

        // The refresh token the live one replaced was spent before the upgrade: presenting it
        // is a reuse, which ends that session (its newest refresh token stops working too).
        let reused = anon
            .post(
                "/auth/refresh",
                json!({"refreshToken": s(&sess["spentRefreshToken"])}),
            )
            .await;
        assert_eq!(
            (reused.status, reused.code()),
            (401, "refresh_token_reused"),
            "{name}: {}",
            reused.body
        );
        let after = anon
            .post(
                "/auth/refresh",
                json!({"refreshToken": s(&refreshed.body["refreshToken"])}),
            )
            .await;
        assert_eq!(after.status, 401, "{name}: {}", after.body);

        // After all these writes the chain still verifies.
        let admin = anon.with_token(s(&login(
            &server,
            &user("admin"),
            s(&m["users"]["admin"]["password"]),
        )
        .await
        .body["accessToken"]));
        assert!(verify_chain(&admin, name).await > before + 1, "{name}");
    }
}

/// Every user, with their status; the invited one is still invited.
async fn check_users(admin: &Client, m: &Value, fx: &Value, name: &str) {
    let users = all(admin, "/users").await;
    assert_eq!(users.len(), 5, "{name}: {users:?}");
    for (k, u) in m["users"].as_object().unwrap() {
        let id = s(&fx["users"][k]);
        let listed = users
            .iter()
            .find(|x| x["id"] == id)
            .unwrap_or_else(|| panic!("{name}: {k} is not listed"));
        assert_eq!(listed["email"], u["email"], "{name}: {k}");
        assert_eq!(listed["status"], u["status"], "{name}: {k}");
        if let Some(n) = u.get("name") {
            assert_eq!(&listed["name"], n, "{name}: {k}");
        }
        let one = admin.get(&format!("/users/{id}")).await;
        assert_eq!(one.status, 200, "{name}: {}", one.body);
        assert_eq!(one.body["status"], u["status"], "{name}: {k}");
    }
}

/// The three workspaces with their settings, and each one's members with their roles.
async fn check_workspaces(admin: &Client, m: &Value, fx: &Value, name: &str) {
    let listed = all(admin, "/workspaces").await;
    assert_eq!(listed.len(), 3, "{name}: {listed:?}");
    for (k, want) in m["workspaces"].as_object().unwrap() {
        let id = s(&fx["workspaces"][k]);
        let w = admin.get(&format!("/workspace/{id}")).await;
        assert_eq!(w.status, 200, "{name}: {}", w.body);
        for (field, v) in want.as_object().unwrap() {
            assert_eq!(&w.body[field], v, "{name}: {k}.{field}");
        }
        assert_eq!(w.body["isDefault"], k == "default", "{name}: {k}");
        let members = all(admin, &format!("/workspace/{id}/users")).await;
        let mut got: Vec<Value> = members
            .iter()
            .map(|x| json!({"email": x["email"], "role": x["roleName"]}))
            .collect();
        got.sort_by(|a, b| s(&a["email"]).cmp(s(&b["email"])));
        assert_eq!(Value::from(got), fx["members"][k], "{name}: members of {k}");
    }
}

async fn check_role_and_group(admin: &Client, m: &Value, fx: &Value, name: &str) {
    let role = admin.get(&format!("/roles/{}", s(&fx["roleId"]))).await;
    assert_eq!(role.status, 200, "{name}: {}", role.body);
    assert_eq!(role.body["name"], m["role"]["name"], "{name}");
    assert_eq!(role.body["builtin"], false, "{name}");
    assert_eq!(
        str_set(&role.body["permissions"]),
        str_set(&m["role"]["permissions"]),
        "{name}"
    );
    let roles = all(admin, "/roles").await;
    for builtin in ["Admin", "Developer", "Viewer", "Flow Editor"] {
        assert!(
            roles.iter().any(|r| r["name"] == builtin),
            "{name}: {builtin} in {roles:?}"
        );
    }

    let group = admin.get(&format!("/groups/{}", s(&fx["groupId"]))).await;
    assert_eq!(group.status, 200, "{name}: {}", group.body);
    assert_eq!(group.body["name"], m["group"]["name"], "{name}");
    let members: Vec<&Value> = group.body["members"].as_array().unwrap().iter().collect();
    assert_eq!(members.len(), 1, "{name}: {}", group.body);
    assert_eq!(members[0]["userId"], fx["users"]["eve"], "{name}");
    let linked = group.body["workspaces"].as_array().unwrap();
    assert_eq!(linked.len(), 1, "{name}: {}", group.body);
    assert_eq!(
        linked[0]["workspaceId"], fx["workspaces"]["research"],
        "{name}"
    );
    assert_eq!(linked[0]["roleId"], fx["roleId"], "{name}");
}

/// Every item in its workspace with its id, name and version, invisible from the others; the
/// deleted one stays deleted.
async fn check_items(admin: &Client, fx: &Value, name: &str) {
    for item in fx["items"].as_array().unwrap() {
        let (kind, id) = (s(&item["kind"]), s(&item["id"]));
        let home = s(&fx["workspaces"][s(&item["workspace"])]);
        let r = admin.in_workspace(home).get(&format!("/{kind}/{id}")).await;
        assert_eq!(r.status, 200, "{name}: {kind} {id}: {}", r.body);
        assert_eq!(r.body["name"], item["name"], "{name}");
        assert_eq!(r.body["version"], item["version"], "{name}");
        assert_eq!(r.body["workspaceId"], home, "{name}");
        for (k, other) in fx["workspaces"].as_object().unwrap() {
            if other != home {
                let r = admin
                    .in_workspace(s(other))
                    .get(&format!("/{kind}/{id}"))
                    .await;
                assert_eq!(r.status, 404, "{name}: {kind} {id} seen from {k}");
            }
        }
    }
    // The lists hold exactly these.
    for (k, id) in fx["workspaces"].as_object().unwrap() {
        let c = admin.in_workspace(s(id));
        for kind in [
            "chatflows",
            "agentflows",
            "tools",
            "variables",
            "assistants",
            "document-stores",
            "datasets",
        ] {
            let want: BTreeSet<String> = fx["items"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|i| i["workspace"] == k.as_str() && i["kind"] == kind)
                .map(|i| s(&i["id"]).to_string())
                .collect();
            let got = field_set(&all(&c, &format!("/{kind}")).await, "id");
            assert_eq!(got, want, "{name}: {kind} of {k}");
        }
    }
    let gone = &fx["deletedItem"];
    let r = admin
        .in_workspace(s(&fx["workspaces"][s(&gone["workspace"])]))
        .get(&format!("/{}/{}", s(&gone["kind"]), s(&gone["id"])))
        .await;
    assert_eq!(r.status, 404, "{name}: {}", r.body);
}

/// The credential reads without its secret, is still shared, and still decrypts (in its own
/// workspace and in the one it is shared into).
async fn check_credential(admin: &Client, m: &Value, fx: &Value, name: &str) {
    let id = s(&fx["credential"]["id"]);
    let owner = admin.in_workspace(s(&fx["workspaces"]["default"]));
    let r = owner.get(&format!("/credentials/{id}")).await;
    assert_eq!(r.status, 200, "{name}: {}", r.body);
    assert_eq!(r.body["name"], m["credential"]["name"], "{name}");
    assert_eq!(
        r.body["credentialName"], m["credential"]["credentialName"],
        "{name}"
    );
    assert_eq!(r.body["shared"], false, "{name}");
    let secret = s(&m["credential"]["data"]["apiKey"]);
    assert!(!r.text.contains(secret), "{name}: {}", r.text);
    let shares = owner.get(&format!("/credentials/{id}/shares")).await;
    assert_eq!(shares.status, 200, "{name}: {}", shares.body);
    let shared: Vec<&Value> = shares.body["workspaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| &w["id"])
        .collect();
    assert_eq!(shared, vec![&fx["workspaces"]["research"]], "{name}");
    for ws in ["default", "research"] {
        let c = admin.in_workspace(s(&fx["workspaces"][ws]));
        let resolved = c
            .post(&format!("/credentials/{id}/resolve"), json!({}))
            .await;
        assert_eq!(resolved.status, 200, "{name}: {ws}: {}", resolved.body);
        assert_eq!(
            resolved.body["data"], m["credential"]["data"],
            "{name}: {ws}"
        );
    }
    let in_research = all(
        &admin.in_workspace(s(&fx["workspaces"]["research"])),
        "/credentials",
    )
    .await;
    let listed = in_research.iter().find(|c| c["id"] == id).unwrap();
    assert_eq!(listed["shared"], true, "{name}");
    let ops = admin.in_workspace(s(&fx["workspaces"]["operations"]));
    assert_eq!(
        ops.get(&format!("/credentials/{id}")).await.status,
        404,
        "{name}"
    );
}

/// The API key still lists what its permissions allow in its workspace, and nothing else.
async fn check_api_key(server: &TestServer, admin: &Client, m: &Value, fx: &Value, name: &str) {
    let key = server.client().with_token(s(&fx["apiKey"]["key"]));
    let flows = all(&key, "/chatflows").await;
    assert_eq!(
        field_set(&flows, "name"),
        BTreeSet::from(["Paper Summarizer".to_string(), "Eve Draft".to_string()]),
        "{name}"
    );
    let stores = all(&key, "/document-stores").await;
    assert_eq!(
        field_set(&stores, "name"),
        BTreeSet::from(["Papers".to_string()]),
        "{name}"
    );
    let denied = key.get("/datasets").await;
    assert_eq!(denied.status, 403, "{name}: {}", denied.body);
    let read = admin
        .in_workspace(s(&fx["workspaces"]["research"]))
        .get(&format!("/apikeys/{}", s(&fx["apiKey"]["id"])))
        .await;
    assert_eq!(read.status, 200, "{name}: {}", read.body);
    assert_eq!(read.body["name"], m["apiKey"]["name"], "{name}");
    assert_eq!(
        str_set(&read.body["permissions"]),
        str_set(&m["apiKey"]["permissions"]),
        "{name}"
    );
    assert!(read.body["lastUsedAt"].is_string(), "{name}: {}", read.body);
}
