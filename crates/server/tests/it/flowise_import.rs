//! `flowspace import-flowise` (SPEC §10) on a database made by a real Flowise 3.1.4
//! (tests/fixtures/flowise-3.1.4, see its README): the binary imports it, then everything is
//! checked through HTTP only, on SQLite and PostgreSQL.

use flowspace_testkit::{Backend, Client, Prepared, TestServer, backends};
use serde_json::{Value, json};
use sqlx::Connection;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/flowise-3.1.4")
        .join(name)
}

fn expected() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture("expected.json")).unwrap()).unwrap()
}

/// A copy of the fixture database in `dir` (the import opens it read only; tests that add
/// rows change their copy).
fn copy_database(dir: &Path) -> PathBuf {
    let to = dir.join("flowise.sqlite");
    std::fs::copy(fixture("database.sqlite"), &to).unwrap();
    to
}

/// Runs `flowspace import-flowise` on `prepared`'s database and data directory.
fn import(prepared: &Prepared, from: &str, extra: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_flowspace"))
        .arg("import-flowise")
        .args(["--from", from])
        .arg("--data-dir")
        .arg(prepared.data_dir())
        .args(["--database-url", &prepared.database_url])
        .args(extra)
        .env_remove("FLOWISE_SECRETKEY_OVERWRITE")
        .env_remove("DATABASE_URL")
        .env_remove("FLOWSPACE_ENCRYPTION_KEY")
        .output()
        .unwrap();
    eprintln!(
        "--- import-flowise {extra:?}\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn key_file() -> String {
    fixture("encryption.key").display().to_string()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Every item of a list route, by name.
async fn by_name(c: &Client, path: &str) -> HashMap<String, Value> {
    let r = c.get(&format!("{path}?limit=100")).await;
    assert_eq!(r.status, 200, "{path}: {}", r.body);
    r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["name"].as_str().unwrap().to_string(), i.clone()))
        .collect()
}

/// Flowise's own rows of `table`, as text, by id.
async fn flowise_rows(db: &Path, sql: &str) -> Vec<Vec<Option<String>>> {
    use sqlx::Row;
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_all(&mut conn)
        .await
        .unwrap();
    let out = rows
        .iter()
        .map(|r| {
            (0..r.len())
                .map(|i| r.get::<Option<String>, _>(i))
                .collect()
        })
        .collect();
    conn.close().await.unwrap();
    out
}

/// Replaces every string that is a key of `back` by its value.
fn map_back(v: &mut Value, back: &HashMap<String, String>) {
    match v {
        Value::String(s) => {
            if let Some(old) = back.get(s.as_str()) {
                *s = old.clone();
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| map_back(x, back)),
        Value::Object(m) => m.values_mut().for_each(|x| map_back(x, back)),
        _ => {}
    }
}

async fn counts(c: &Client) -> Vec<usize> {
    let mut out = Vec::new();
    for path in [
        "/chatflows",
        "/agentflows",
        "/assistants",
        "/tools",
        "/variables",
        "/credentials",
        "/apikeys",
        "/document-stores",
    ] {
        out.push(by_name(c, path).await.len());
    }
    out
}

#[tokio::test]
async fn a_flowise_installation_comes_over_whole() {
    let exp = expected();
    let email = exp["admin"]["email"].as_str().unwrap();
    let password = exp["admin"]["password"].as_str().unwrap();
    for b in backends() {
        let prepared = Prepared::new(&b).await;
        let db = copy_database(prepared.data_dir());
        let from = db.display().to_string();

        let dry = import(
            &prepared,
            &from,
            &["--secret-key-file", &key_file(), "--dry-run"],
        );
        assert!(dry.status.success());
        assert!(stdout(&dry).contains("Dry run: nothing written"));
        assert!(stdout(&dry).contains("chat_flow"), "counts per table");

        let out = import(&prepared, &from, &["--secret-key-file", &key_file()]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(
            stdout(&out).contains("Imported: 2 user(s)"),
            "{}",
            stdout(&out)
        );

        let mut server = TestServer::start_prepared(&b, &prepared).await;
        let setup = server.client().get("/setup").await;
        assert_eq!(setup.body["setupRequired"], false, "{}", b.name());
        // The admin signs in with the Flowise password (the bcrypt hash came over).
        let admin = server.login(email, password).await;
        let me = admin.get("/auth/me").await;
        assert_eq!(me.body["isAccountAdmin"], true, "{}", me.body);

        // Credentials: each resolves to exactly Flowise's plaintext.
        let creds = by_name(&admin, "/credentials").await;
        assert_eq!(creds.len(), 3);
        let mut back: HashMap<String, String> = HashMap::new();
        for (old_id, c) in exp["credentials"].as_object().unwrap() {
            let name = c["name"].as_str().unwrap();
            let mine = &creds[name];
            assert_eq!(mine["credentialName"], c["credentialName"]);
            let id = mine["id"].as_str().unwrap();
            let r = admin
                .post(&format!("/credentials/{id}/resolve"), json!({}))
                .await;
            assert_eq!(r.status, 200, "{}", r.body);
            assert_eq!(r.body["data"], c["plainData"], "{name} on {}", b.name());
            back.insert(id.to_string(), old_id.clone());
        }
        let keys = by_name(&admin, "/apikeys").await;
        for k in exp["apiKeys"].as_array().unwrap() {
            let mine = &keys[k["keyName"].as_str().unwrap()];
            back.insert(
                mine["id"].as_str().unwrap().to_string(),
                k["id"].as_str().unwrap().to_string(),
            );
        }

        // Flows: by type, each flowData equal to Flowise's once the new ids are mapped back.
        let flowise_flows = flowise_rows(
            &db,
            "SELECT id, name, type, flowData, apikeyid FROM chat_flow",
        )
        .await;
        let chatflows = by_name(&admin, "/chatflows").await;
        let agentflows = by_name(&admin, "/agentflows").await;
        let assistants = by_name(&admin, "/assistants").await;
        assert_eq!(
            (chatflows.len(), agentflows.len(), assistants.len()),
            (6, 2, 2)
        );
        for f in exp["flows"].as_array().unwrap() {
            let name = f["name"].as_str().unwrap();
            let (path, list) = match f["type"].as_str().unwrap() {
                "CHATFLOW" => ("chatflows", &chatflows),
                "AGENTFLOW" | "MULTIAGENT" => ("agentflows", &agentflows),
                _ => ("assistants", &assistants),
            };
            let listed = list.get(name).unwrap_or_else(|| panic!("{name} missing"));
            let id = listed["id"].as_str().unwrap();
            let mine = admin.get(&format!("/{path}/{id}")).await;
            assert_eq!(mine.status, 200);
            let row = flowise_flows
                .iter()
                .find(|r| r[0].as_deref() == f["id"].as_str())
                .unwrap();
            let theirs: Value = serde_json::from_str(row[3].as_deref().unwrap()).unwrap();
            let mut data = mine.body["data"]["flowData"].clone();
            assert_ne!(data, Value::Null, "{name}");
            map_back(&mut data, &back);
            assert_eq!(data, theirs, "{name} on {}", b.name());
            assert_eq!(mine.body["data"]["type"], f["type"]);
            if let Some(apikey) = row[4].as_deref().filter(|s| !s.is_empty()) {
                let mut k = mine.body["data"]["apikeyid"].clone();
                assert_ne!(k.as_str(), Some(apikey), "rewritten to the new id");
                map_back(&mut k, &back);
                assert_eq!(k.as_str(), Some(apikey));
            }
        }
        let tools = by_name(&admin, "/tools").await;
        for t in exp["tools"].as_array().unwrap() {
            assert!(tools.contains_key(t.as_str().unwrap()));
        }
        let vars = by_name(&admin, "/variables").await;
        for v in exp["variables"].as_array().unwrap() {
            let mine = &vars[v["name"].as_str().unwrap()];
            let full = admin
                .get(&format!("/variables/{}", mine["id"].as_str().unwrap()))
                .await;
            assert_eq!(full.body["data"]["value"], v["value"]);
            assert_eq!(full.body["data"]["type"], v["type"]);
        }
        let stores = by_name(&admin, "/document-stores").await;
        let store = &stores["Product Handbook"];
        let store = admin
            .get(&format!(
                "/document-stores/{}",
                store["id"].as_str().unwrap()
            ))
            .await;
        assert_eq!(store.body["data"]["chunks"].as_array().unwrap().len(), 3);

        // The unverified Flowise user is invited here.
        let users = admin.get("/users?limit=100").await;
        let bob = users.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["email"] == "bob.builder@fixture-a.test")
            .cloned()
            .unwrap();
        assert_eq!(bob["status"], "invited", "{bob}");
        // Flowise sent them no usable invitation: inviting them here does.
        let ws = me.body["activeWorkspace"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let r = admin
            .post(
                "/invitations",
                json!({"email": "bob.builder@fixture-a.test", "workspaceId": ws, "role": "Viewer"}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let token = r.body["link"]
            .as_str()
            .unwrap()
            .split("token=")
            .nth(1)
            .unwrap()
            .to_string();
        let r = server
            .client()
            .post(
                "/auth/register",
                json!({"token": token, "name": "Bob", "password": "Bob's new password 9"}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);

        // API keys: the same clear keys work, within their permissions.
        let anon = server.client();
        for k in exp["apiKeys"].as_array().unwrap() {
            let c = anon.with_token(k["apiKey"].as_str().unwrap());
            let perms: Vec<String> =
                serde_json::from_str(k["permissions"].as_str().unwrap()).unwrap();
            for (path, perm) in [
                ("/chatflows", "chatflows:view"),
                ("/assistants", "assistants:view"),
                ("/credentials", "credentials:view"),
                ("/tools", "tools:view"),
            ] {
                let r = c.get(path).await;
                let allowed = perms.iter().any(|p| p == perm);
                assert_eq!(
                    r.status,
                    if allowed { 200 } else { 403 },
                    "{} {path}: {}",
                    k["keyName"],
                    r.body
                );
            }
            let r = c
                .post("/chatflows", json!({"name": "by key", "data": {}}))
                .await;
            let allowed = perms.iter().any(|p| p == "chatflows:create");
            assert_eq!(
                r.status,
                if allowed { 201 } else { 403 },
                "{}: {}",
                k["keyName"],
                r.body
            );
        }

        let audit = admin.get("/audit-events?limit=100").await;
        let event = audit.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["action"] == "organization.import")
            .cloned()
            .unwrap_or_else(|| panic!("no import event: {}", audit.body));
        assert_eq!(event["summary"]["credentials"], 3, "{event}");
        assert_eq!(admin.get("/audit-events/verify").await.body["valid"], true);

        // A second run writes nothing and says what is already here.
        let before = counts(&admin).await;
        let again = import(&prepared, &from, &["--secret-key-file", &key_file()]);
        assert!(again.status.success());
        assert!(
            stdout(&again).contains("imported already"),
            "{}",
            stdout(&again)
        );
        assert!(stdout(&again).contains("chat_flow                   10 of 10 already here"));
        assert_eq!(counts(&admin).await, before);
        server.shutdown().await;
    }
}

#[tokio::test]
async fn a_wrong_or_truncated_key_writes_nothing() {
    for b in backends() {
        let key = std::fs::read(fixture("encryption.key")).unwrap();
        let prepared = Prepared::new(&b).await;
        let db = copy_database(prepared.data_dir());
        let from = db.display().to_string();
        let truncated = prepared.data_dir().join("truncated.key");
        std::fs::write(&truncated, &key[..key.len() - 1]).unwrap();
        let with_newline = prepared.data_dir().join("newline.key");
        std::fs::write(&with_newline, [key.as_slice(), b"\n"].concat()).unwrap();
        for args in [
            vec!["--secret-key", "not-the-flowise-key"],
            vec!["--secret-key-file", truncated.to_str().unwrap()],
            vec!["--secret-key-file", with_newline.to_str().unwrap()],
        ] {
            let out = import(&prepared, &from, &args);
            assert!(!out.status.success());
            let err = stderr(&out);
            // The oldest credential is the first to fail.
            assert!(
                err.contains("credential `OpenAI prod`") && err.contains("nothing was written"),
                "{err}"
            );
        }
        let mut server = TestServer::start_prepared(&b, &prepared).await;
        let setup = server.client().get("/setup").await;
        assert_eq!(
            setup.body["setupRequired"],
            true,
            "nothing written on {}",
            b.name()
        );
        server.shutdown().await;

        // The right key, from Flowise's own variable, byte for byte.
        let out = Command::new(env!("CARGO_BIN_EXE_flowspace"))
            .args([
                "import-flowise",
                "--from",
                &from,
                "--database-url",
                &prepared.database_url,
            ])
            .arg("--data-dir")
            .arg(prepared.data_dir())
            .env(
                "FLOWISE_SECRETKEY_OVERWRITE",
                String::from_utf8(key.clone()).unwrap(),
            )
            .env_remove("DATABASE_URL")
            .env_remove("FLOWSPACE_ENCRYPTION_KEY")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        let server = TestServer::start_prepared(&b, &prepared).await;
        assert_eq!(
            server.client().get("/setup").await.body["setupRequired"],
            false
        );
    }
}

/// Runs SQL on a copy of the fixture (rows the test adds in Flowise's schema).
async fn alter(db: &Path, sql: &str) {
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=rwc", db.display()))
        .await
        .unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
}

#[tokio::test]
async fn bad_sources_are_refused_by_name() {
    let b = Backend::Sqlite;
    let prepared = Prepared::new(&b).await;
    let dir = prepared.data_dir().to_path_buf();
    let key = ["--secret-key-file".to_string(), key_file()];
    let key: Vec<&str> = key.iter().map(String::as_str).collect();

    let text_file = dir.join("notes.txt");
    std::fs::write(
        &text_file,
        "hello, this is not a database at all, it is some text",
    )
    .unwrap();
    let out = import(&prepared, text_file.to_str().unwrap(), &key);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("is not a Flowise database"),
        "{}",
        stderr(&out)
    );

    let other = dir.join("other.sqlite");
    alter(&other, "CREATE TABLE things (id TEXT)").await;
    let out = import(&prepared, other.to_str().unwrap(), &key);
    assert!(
        stderr(&out).contains("not a Flowise database: it has no `chat_flow` table"),
        "{}",
        stderr(&out)
    );

    let missing = import(&prepared, dir.join("nope.sqlite").to_str().unwrap(), &key);
    assert!(stderr(&missing).contains("no such file"));

    let changed = dir.join("changed.sqlite");
    std::fs::copy(fixture("database.sqlite"), &changed).unwrap();
    alter(
        &changed,
        "ALTER TABLE credential RENAME COLUMN encryptedData TO sealedData",
    )
    .await;
    let out = import(&prepared, changed.to_str().unwrap(), &key);
    assert!(
        stderr(&out).contains("table `credential` has no column `encryptedData`"),
        "{}",
        stderr(&out)
    );
    alter(&changed, "ALTER TABLE credential RENAME COLUMN sealedData TO encryptedData; DROP TABLE workspace_shared").await;
    let out = import(&prepared, changed.to_str().unwrap(), &key);
    assert!(
        stderr(&out).contains("table `workspace_shared` is missing"),
        "{}",
        stderr(&out)
    );

    let out = import(&prepared, "postgres://nobody@127.0.0.1:1/flowise", &key);
    assert!(!out.status.success());
    assert!(
        stderr(&out)
            .contains("cannot connect to the PostgreSQL at postgres://nobody@127.0.0.1:1/flowise"),
        "{}",
        stderr(&out)
    );

    let out = import(&prepared, &copy_database(&dir).display().to_string(), &[]);
    assert!(
        stderr(&out).contains("give Flowise's credential key"),
        "{}",
        stderr(&out)
    );

    let server = TestServer::start_prepared(&b, &prepared).await;
    assert_eq!(
        server.client().get("/setup").await.body["setupRequired"],
        true
    );
}

#[tokio::test]
async fn an_email_clash_is_refused_unless_merged() {
    let exp = expected();
    let email = exp["admin"]["email"].as_str().unwrap();
    for b in backends() {
        let prepared = Prepared::new(&b).await;
        let db = copy_database(prepared.data_dir());
        let from = db.display().to_string();
        // Flowspace is set up first, by the same person under a different password.
        let mut server = TestServer::start_prepared(&b, &prepared).await;
        let r = server
            .client()
            .post(
                "/setup",
                json!({"organizationName": "Acme", "name": "Ada", "email": email, "password": "a Flowspace password 1"}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        server.shutdown().await;

        let out = import(&prepared, &from, &["--secret-key-file", &key_file()]);
        assert!(!out.status.success());
        assert!(
            stderr(&out).contains("--merge-users") && stderr(&out).contains(email),
            "{}",
            stderr(&out)
        );

        let out = import(
            &prepared,
            &from,
            &["--secret-key-file", &key_file(), "--merge-users"],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        let server = TestServer::start_prepared(&b, &prepared).await;
        // The account keeps its own password, and now holds Flowise's flows.
        let ada = server.login(email, "a Flowspace password 1").await;
        assert_eq!(by_name(&ada, "/chatflows").await.len(), 6);
        let r = server
            .client()
            .post(
                "/auth/login",
                json!({"email": email, "password": exp["admin"]["password"]}),
            )
            .await;
        assert_eq!(r.status, 401);
    }
}

#[tokio::test]
async fn rows_added_in_flowise_schema_become_workspaces_roles_members_and_shares() {
    let exp = expected();
    for b in backends() {
        let prepared = Prepared::new(&b).await;
        let db = copy_database(prepared.data_dir());
        // What an enterprise Flowise would hold: a second workspace, a custom role, a second
        // member with it there, and the OpenAI credential shared into it.
        alter(&db, r#"
            INSERT INTO workspace (id, name, description, organizationId, createdBy, updatedBy, createdDate)
              VALUES ('11111111-1111-4111-8111-111111111111', 'Research', 'second one', '248c0fb4-7481-4e2f-af14-1f93bda09c8b',
                      '06d15f65-55be-4395-8aed-acb1999b6bc1', '06d15f65-55be-4395-8aed-acb1999b6bc1', '2026-12-02 05:00:00');
            INSERT INTO role (id, organizationId, name, description, permissions)
              VALUES ('22222222-2222-4222-8222-222222222222', '248c0fb4-7481-4e2f-af14-1f93bda09c8b', 'Flow Editor', 'edits flows',
                      '["chatflows:view","chatflows:update","chatflows:config","credentials:view","evaluations:run","teleport:now"]');
            INSERT INTO user (id, name, email, credential, status, createdBy, updatedBy)
              VALUES ('33333333-3333-4333-8333-333333333333', 'Cleo Member', 'cleo@fixture-a.test',
                      (SELECT credential FROM user WHERE email = 'ada.admin@fixture-a.test'), 'active',
                      '06d15f65-55be-4395-8aed-acb1999b6bc1', '06d15f65-55be-4395-8aed-acb1999b6bc1');
            INSERT INTO organization_user (organizationId, userId, roleId, status, createdBy, updatedBy)
              VALUES ('248c0fb4-7481-4e2f-af14-1f93bda09c8b', '33333333-3333-4333-8333-333333333333', '4ca7727b-221f-19c2-82c6-ef03e18f08c1', 'active',
                      '06d15f65-55be-4395-8aed-acb1999b6bc1', '06d15f65-55be-4395-8aed-acb1999b6bc1');
            INSERT INTO workspace_user (workspaceId, userId, roleId, status, createdBy, updatedBy)
              VALUES ('11111111-1111-4111-8111-111111111111', '33333333-3333-4333-8333-333333333333', '22222222-2222-4222-8222-222222222222', 'active',
                      '06d15f65-55be-4395-8aed-acb1999b6bc1', '06d15f65-55be-4395-8aed-acb1999b6bc1');
            INSERT INTO dataset (id, name, description, workspaceId)
              VALUES ('55555555-5555-4555-8555-555555555555', 'Eval set', 'questions', '11111111-1111-4111-8111-111111111111');
            INSERT INTO dataset_row (id, datasetId, input, output, sequence_no)
              VALUES ('66666666-6666-4666-8666-666666666662', '55555555-5555-4555-8555-555555555555', 'second?', 'two', 2),
                     ('66666666-6666-4666-8666-666666666661', '55555555-5555-4555-8555-555555555555', 'first?', 'one', 1);
            INSERT INTO workspace_shared (id, workspaceId, sharedItemId, itemType)
              VALUES ('44444444-4444-4444-8444-444444444444', '11111111-1111-4111-8111-111111111111', '54c27968-a2d8-4e48-bf26-7d2968f06597', 'credential');
        "#).await;
        let out = import(
            &prepared,
            &db.display().to_string(),
            &["--secret-key-file", &key_file()],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        let said = stdout(&out);
        assert!(
            said.contains("`teleport:now` is not a Flowise permission"),
            "{said}"
        );
        assert!(said.contains("permission `evaluations:run`"), "{said}");

        let server = TestServer::start_prepared(&b, &prepared).await;
        let admin = server
            .login(
                exp["admin"]["email"].as_str().unwrap(),
                exp["admin"]["password"].as_str().unwrap(),
            )
            .await;
        let ws = admin.get("/workspaces").await;
        let research = ws.body["items"]
            .as_array()
            .or(ws.body.as_array())
            .unwrap()
            .iter()
            .find(|w| w["name"] == "Research")
            .cloned()
            .unwrap_or_else(|| panic!("{}", ws.body));
        let research_id = research["id"].as_str().unwrap().to_string();
        let roles = admin.get("/roles").await;
        let role = roles.body["items"]
            .as_array()
            .or(roles.body.as_array())
            .unwrap()
            .iter()
            .find(|r| r["name"] == "Flow Editor")
            .cloned()
            .unwrap_or_else(|| panic!("{}", roles.body));
        let mut perms: Vec<&str> = role["permissions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap())
            .collect();
        perms.sort();
        assert_eq!(
            perms,
            ["chatflows:update", "chatflows:view", "credentials:view"]
        );

        // Cleo signs in with her Flowise password and works in Research with that role.
        let cleo = server
            .login(
                "cleo@fixture-a.test",
                exp["admin"]["password"].as_str().unwrap(),
            )
            .await
            .in_workspace(&research_id);
        assert_eq!(cleo.get("/chatflows").await.status, 200);
        let denied = cleo.get("/tools").await;
        assert_eq!(denied.status, 403);
        // The shared credential is listed there, shared and read-only.
        let creds = by_name(&cleo, "/credentials").await;
        assert_eq!(creds["OpenAI prod"]["shared"], true, "{creds:?}");
        assert_eq!(creds.len(), 1);
        let sets = by_name(&admin.in_workspace(&research_id), "/datasets").await;
        let set = admin
            .in_workspace(&research_id)
            .get(&format!(
                "/datasets/{}",
                sets["Eval set"]["id"].as_str().unwrap()
            ))
            .await;
        assert_eq!(set.body["description"], "questions");
        assert_eq!(
            set.body["data"]["rows"],
            json!([{"input": "first?", "output": "one", "sequenceNo": 1},
                   {"input": "second?", "output": "two", "sequenceNo": 2}])
        );
        let members = admin.get(&format!("/workspace/{research_id}/users")).await;
        assert!(
            members.text.contains("cleo@fixture-a.test"),
            "{}",
            members.body
        );
    }
}

/// Flowise's PostgreSQL column types for the tables the importer reads (its PostgreSQL
/// migrations: uuid ids, varchar names, text JSON, boolean flags, timestamp dates).
const FLOWISE_POSTGRES_SCHEMA: &str = r#"
CREATE TABLE "user" (id uuid PRIMARY KEY, name varchar(100) NOT NULL, email varchar(255) NOT NULL UNIQUE,
  credential text, "tempToken" text, "tokenExpiry" timestamp, status varchar(20) NOT NULL DEFAULT 'unverified',
  "createdDate" timestamp NOT NULL DEFAULT now(), "updatedDate" timestamp NOT NULL DEFAULT now(),
  "createdBy" uuid NOT NULL, "updatedBy" uuid NOT NULL);
CREATE TABLE organization (id uuid PRIMARY KEY, name varchar(100) NOT NULL, "customerId" varchar(100),
  "subscriptionId" varchar(100), "createdDate" timestamp NOT NULL DEFAULT now(), "updatedDate" timestamp NOT NULL DEFAULT now(),
  "createdBy" uuid NOT NULL, "updatedBy" uuid NOT NULL);
CREATE TABLE organization_user ("organizationId" uuid NOT NULL, "userId" uuid NOT NULL, "roleId" uuid NOT NULL,
  status varchar(20) NOT NULL DEFAULT 'active', "createdDate" timestamp NOT NULL DEFAULT now(),
  "updatedDate" timestamp NOT NULL DEFAULT now(), "createdBy" uuid NOT NULL, "updatedBy" uuid NOT NULL,
  PRIMARY KEY ("organizationId", "userId"));
CREATE TABLE workspace (id uuid PRIMARY KEY, name varchar(100) NOT NULL, description text,
  "createdDate" timestamp NOT NULL DEFAULT now(), "updatedDate" timestamp NOT NULL DEFAULT now(),
  "organizationId" uuid NOT NULL, "createdBy" uuid NOT NULL, "updatedBy" uuid NOT NULL);
CREATE TABLE workspace_user ("workspaceId" uuid NOT NULL, "userId" uuid NOT NULL, "roleId" uuid NOT NULL,
  status varchar(20) NOT NULL DEFAULT 'invited', "lastLogin" timestamp, "createdDate" timestamp NOT NULL DEFAULT now(),
  "updatedDate" timestamp NOT NULL DEFAULT now(), "createdBy" uuid NOT NULL, "updatedBy" uuid NOT NULL,
  PRIMARY KEY ("workspaceId", "userId"));
CREATE TABLE role (id uuid PRIMARY KEY, "organizationId" uuid, name varchar(100) NOT NULL, description text,
  permissions text NOT NULL, "createdDate" timestamp NOT NULL DEFAULT now(), "updatedDate" timestamp NOT NULL DEFAULT now(),
  "createdBy" uuid, "updatedBy" uuid);
CREATE TABLE chat_flow (id uuid PRIMARY KEY, name varchar NOT NULL, "flowData" text NOT NULL, deployed boolean,
  "isPublic" boolean, apikeyid varchar, "chatbotConfig" text, "createdDate" timestamp NOT NULL DEFAULT now(),
  "updatedDate" timestamp NOT NULL DEFAULT now(), "apiConfig" text, analytic text, category text, "speechToText" text,
  type varchar(20) NOT NULL DEFAULT 'CHATFLOW', "workspaceId" text, "followUpPrompts" text, "textToSpeech" text,
  "mcpServerConfig" text, "webhookSecret" text, "webhookSecretConfigured" boolean DEFAULT false);
CREATE TABLE assistant (id uuid PRIMARY KEY, details text NOT NULL, credential uuid NOT NULL, "iconSrc" varchar,
  "createdDate" timestamp NOT NULL DEFAULT now(), "updatedDate" timestamp NOT NULL DEFAULT now(), "workspaceId" text, type text);
CREATE TABLE tool (id uuid PRIMARY KEY, name varchar NOT NULL, description text NOT NULL, color varchar NOT NULL,
  "iconSrc" varchar, schema text, func text, "createdDate" timestamp NOT NULL DEFAULT now(),
  "updatedDate" timestamp NOT NULL DEFAULT now(), "workspaceId" text);
CREATE TABLE credential (id uuid PRIMARY KEY, name varchar NOT NULL, "credentialName" varchar NOT NULL,
  "encryptedData" text NOT NULL, "createdDate" timestamp NOT NULL DEFAULT now(),
  "updatedDate" timestamp NOT NULL DEFAULT now(), "workspaceId" text);
CREATE TABLE variable (id uuid PRIMARY KEY, name text NOT NULL, value text NOT NULL, type text,
  "createdDate" timestamp NOT NULL DEFAULT now(), "updatedDate" timestamp NOT NULL DEFAULT now(), "workspaceId" text);
CREATE TABLE apikey (id uuid PRIMARY KEY, "apiKey" varchar NOT NULL, "apiSecret" varchar NOT NULL, "keyName" varchar NOT NULL,
  "createdDate" timestamp NOT NULL DEFAULT now(), "updatedDate" timestamp NOT NULL DEFAULT now(), "workspaceId" text,
  permissions text NOT NULL DEFAULT '[]');
CREATE TABLE document_store (id uuid PRIMARY KEY, name varchar NOT NULL, description varchar, status varchar NOT NULL,
  loaders text, "whereUsed" text, "updatedDate" timestamp NOT NULL DEFAULT now(), "createdDate" timestamp NOT NULL DEFAULT now(),
  "vectorStoreConfig" text, "embeddingConfig" text, "recordManagerConfig" text, "workspaceId" text);
CREATE TABLE document_store_file_chunk (id uuid PRIMARY KEY, "docId" uuid NOT NULL, "storeId" uuid NOT NULL,
  "chunkNo" integer NOT NULL, "pageContent" text, metadata text);
CREATE TABLE dataset (id uuid PRIMARY KEY, name varchar NOT NULL, description varchar,
  "createdDate" timestamp NOT NULL DEFAULT now(), "updatedDate" timestamp NOT NULL DEFAULT now(), "workspaceId" text);
CREATE TABLE dataset_row (id uuid PRIMARY KEY, "datasetId" varchar NOT NULL, input text NOT NULL, output text NOT NULL,
  "updatedDate" timestamp NOT NULL DEFAULT now(), sequence_no integer DEFAULT -1);
CREATE TABLE workspace_shared (id uuid PRIMARY KEY, "workspaceId" varchar NOT NULL, "sharedItemId" varchar NOT NULL,
  "itemType" varchar NOT NULL, "createdDate" timestamp NOT NULL DEFAULT now(), "updatedDate" timestamp NOT NULL DEFAULT now());
"#;

/// The fixture's rows loaded into a fresh schema of the PostgreSQL at `base`, in Flowise's
/// PostgreSQL column types: the URL of that schema.
async fn flowise_on_postgres(base: &str) -> String {
    use sqlx::Row;
    let schema = format!("flowise_src_{}", uuid::Uuid::new_v4().simple());
    let mut pg = sqlx::PgConnection::connect(base).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE SCHEMA {schema}; SET search_path = {schema}; {FLOWISE_POSTGRES_SCHEMA}"
    )))
    .execute(&mut pg)
    .await
    .unwrap();
    let mut lite = sqlx::SqliteConnection::connect(&format!(
        "sqlite://{}",
        fixture("database.sqlite").display()
    ))
    .await
    .unwrap();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT table_name::text FROM information_schema.columns WHERE table_schema = $1",
    )
    .bind(&schema)
    .fetch_all(&mut pg)
    .await
    .unwrap();
    let mut loaded = 0;
    for table in tables {
        let cols: Vec<(String, String)> = sqlx::query_as(
            "SELECT column_name::text, data_type::text FROM information_schema.columns
              WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position",
        )
        .bind(&schema)
        .bind(&table)
        .fetch_all(&mut pg)
        .await
        .unwrap();
        let names: Vec<String> = cols.iter().map(|(c, _)| format!("\"{c}\"")).collect();
        let select = names
            .iter()
            .map(|c| format!("CAST({c} AS TEXT)"))
            .collect::<Vec<_>>()
            .join(", ");
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {select} FROM \"{table}\""
        )))
        .fetch_all(&mut lite)
        .await
        .unwrap();
        let marks: Vec<String> = cols
            .iter()
            .enumerate()
            .map(|(i, (_, t))| format!("CAST(${} AS {t})", i + 1))
            .collect();
        let insert = format!(
            "INSERT INTO {schema}.\"{table}\" ({}) VALUES ({})",
            names.join(", "),
            marks.join(", ")
        );
        for r in rows {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(insert.clone()));
            for i in 0..cols.len() {
                q = q.bind(r.get::<Option<String>, _>(i));
            }
            q.execute(&mut pg).await.unwrap();
            loaded += 1;
        }
    }
    assert!(loaded > 30, "the fixture's rows are in PostgreSQL");
    pg.close().await.unwrap();
    lite.close().await.unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-c%20search_path%3D{schema}")
}

/// A PostgreSQL source: the fixture's rows in Flowise's PostgreSQL column types. Needs
/// `TEST_DATABASE_URL` for the source itself; imported into each Flowspace backend.
#[tokio::test]
async fn a_flowise_on_postgresql_comes_over_too() {
    let Ok(base) = std::env::var("TEST_DATABASE_URL") else {
        eprintln!("TEST_DATABASE_URL is not set: no PostgreSQL to hold the Flowise source");
        return;
    };
    let exp = expected();
    let from = flowise_on_postgres(base.trim()).await;
    for b in backends() {
        let prepared = Prepared::new(&b).await;
        let out = import(&prepared, &from, &["--secret-key-file", &key_file()]);
        assert!(out.status.success(), "{}", stderr(&out));
        let server = TestServer::start_prepared(&b, &prepared).await;
        let admin = server
            .login(
                exp["admin"]["email"].as_str().unwrap(),
                exp["admin"]["password"].as_str().unwrap(),
            )
            .await;
        assert_eq!(counts(&admin).await, vec![6, 2, 2, 2, 3, 3, 2, 1]);
        let creds = by_name(&admin, "/credentials").await;
        for c in exp["credentials"].as_object().unwrap().values() {
            let id = creds[c["name"].as_str().unwrap()]["id"].as_str().unwrap();
            let r = admin
                .post(&format!("/credentials/{id}/resolve"), json!({}))
                .await;
            assert_eq!(r.body["data"], c["plainData"]);
        }
        let flows = by_name(&admin, "/chatflows").await;
        let bot = admin
            .get(&format!(
                "/chatflows/{}",
                flows["Support Bot - Conversation Chain"]["id"]
                    .as_str()
                    .unwrap()
            ))
            .await;
        assert_eq!(
            bot.body["data"]["deployed"], true,
            "a PostgreSQL boolean: {}",
            bot.body["data"]
        );
        assert_eq!(bot.body["data"]["isPublic"], true);
        let key = exp["apiKeys"][1]["apiKey"].as_str().unwrap();
        assert_eq!(
            server
                .client()
                .with_token(key)
                .get("/assistants")
                .await
                .status,
            200
        );
    }
}

/// An installation that holds data already takes the import only into a new organization.
#[tokio::test]
async fn a_used_installation_takes_it_as_a_new_organization() {
    let exp = expected();
    for b in backends() {
        let prepared = Prepared::new(&b).await;
        let db = copy_database(prepared.data_dir());
        let from = db.display().to_string();
        let mut server = TestServer::start_prepared(&b, &prepared).await;
        let boss = server.setup().await;
        let r = boss
            .post("/chatflows", json!({"name": "ours", "data": {}}))
            .await;
        assert_eq!(r.status, 201);
        server.shutdown().await;

        let out = import(&prepared, &from, &["--secret-key-file", &key_file()]);
        assert!(!out.status.success());
        assert!(
            stderr(&out).contains("--organization <name>"),
            "{}",
            stderr(&out)
        );

        let out = import(
            &prepared,
            &from,
            &[
                "--secret-key-file",
                &key_file(),
                "--organization",
                "Flowise Co",
            ],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        let server = TestServer::start_prepared(&b, &prepared).await;
        let ada = server
            .login(
                exp["admin"]["email"].as_str().unwrap(),
                exp["admin"]["password"].as_str().unwrap(),
            )
            .await;
        let me = ada.get("/auth/me").await;
        assert_eq!(
            me.body["isAccountAdmin"], true,
            "owner of the new organization: {}",
            me.body
        );
        let flows = by_name(&ada, "/chatflows").await;
        assert_eq!(flows.len(), 6);
        assert!(!flows.contains_key("ours"), "the organizations stay apart");
    }
}

#[test]
fn the_readme_lists_the_permission_mapping() {
    let readme =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
            .unwrap();
    for (from, to) in flowspace_core::flowise::mapping_table() {
        let line = readme
            .lines()
            .find(|l| l.starts_with(&format!("| `{from}` |")))
            .unwrap_or_else(|| panic!("README has no row for {from}"));
        let to = to
            .strip_prefix("dropped: ")
            .map_or(format!("`{to}`"), |why| format!("dropped: {why}"));
        assert!(line.contains(&to), "{line} should say {to}");
    }
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn a_dry_run_writes_nothing_anywhere() {
    for b in backends() {
        // A data directory that does not exist yet, and (PostgreSQL) a fresh database.
        let tmp = tempfile::tempdir().unwrap();
        let data_dir = tmp.path().join("data");
        let database_url = match &b {
            Backend::Sqlite => format!("sqlite://{}", data_dir.join("flowspace.db").display()),
            Backend::Postgres(_) => Prepared::new(&b).await.database_url.clone(),
        };
        let source = tmp.path().join("source");
        std::fs::create_dir(&source).unwrap();
        let db = copy_database(&source);
        let before = files_under(tmp.path());
        let out = Command::new(env!("CARGO_BIN_EXE_flowspace"))
            .arg("import-flowise")
            .args(["--from", &db.display().to_string()])
            .args(["--secret-key-file", &key_file(), "--dry-run"])
            .arg("--data-dir")
            .arg(&data_dir)
            .args(["--database-url", &database_url])
            .env_remove("FLOWISE_SECRETKEY_OVERWRITE")
            .env_remove("DATABASE_URL")
            .env_remove("FLOWSPACE_ENCRYPTION_KEY")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}: {}", b.name(), stderr(&out));
        assert!(stdout(&out).contains("Dry run: nothing written"));
        assert!(
            stdout(&out).contains("3 credential(s) decrypted"),
            "the plan decrypts every credential: {}",
            stdout(&out)
        );
        assert!(
            !data_dir.exists(),
            "{}: the dry run created DATA_DIR: {:?}",
            b.name(),
            files_under(&data_dir)
        );
        assert_eq!(files_under(tmp.path()), before, "{}", b.name());
        if let Backend::Postgres(_) = &b {
            let mut conn = sqlx::PgConnection::connect(&database_url).await.unwrap();
            let tables: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()",
            )
            .fetch_one(&mut conn)
            .await
            .unwrap();
            assert_eq!(tables, 0, "the dry run created tables");
            conn.close().await.unwrap();
        }

        // An existing, empty DATA_DIR gets no secrets.json either.
        std::fs::create_dir(&data_dir).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_flowspace"))
            .arg("import-flowise")
            .args(["--from", &db.display().to_string()])
            .args(["--secret-key-file", &key_file(), "--dry-run"])
            .arg("--data-dir")
            .arg(&data_dir)
            .args(["--database-url", &database_url])
            .env_remove("FLOWISE_SECRETKEY_OVERWRITE")
            .env_remove("DATABASE_URL")
            .env_remove("FLOWSPACE_ENCRYPTION_KEY")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}: {}", b.name(), stderr(&out));
        assert_eq!(
            files_under(&data_dir),
            Vec::<PathBuf>::new(),
            "{}",
            b.name()
        );
    }
}
