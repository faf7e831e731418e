//! The nine resource kinds over HTTP (SPEC §4, rules 2, 3, 4, 11, 13, 14): the representation,
//! read, list and its pagination, optimistic concurrency, delete, duplicate; credentials never
//! showing (nor storing in clear) their secrets; API keys shown once and acting within their
//! permissions; a Viewer's denials.

use flowspace_core::time::Timestamp;
use flowspace_testkit::{Backend, Client, Resp, TestServer, World, backends};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// One of the nine kinds, as the API names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Kind {
    /// The path segment under `/api/v1`.
    pub path: &'static str,
    /// The resource of its permissions (`documentStores:create`).
    pub resource: &'static str,
}

pub(crate) const KINDS: [Kind; 9] = [
    Kind {
        path: "chatflows",
        resource: "chatflows",
    },
    Kind {
        path: "agentflows",
        resource: "agentflows",
    },
    Kind {
        path: "assistants",
        resource: "assistants",
    },
    Kind {
        path: "tools",
        resource: "tools",
    },
    Kind {
        path: "credentials",
        resource: "credentials",
    },
    Kind {
        path: "variables",
        resource: "variables",
    },
    Kind {
        path: "apikeys",
        resource: "apikeys",
    },
    Kind {
        path: "document-stores",
        resource: "documentStores",
    },
    Kind {
        path: "datasets",
        resource: "datasets",
    },
];

/// Fields every resource reads with (SPEC §4), `data` aside.
const COMMON_FIELDS: [&str; 9] = [
    "id",
    "workspaceId",
    "name",
    "description",
    "version",
    "createdBy",
    "createdAt",
    "updatedBy",
    "updatedAt",
];

impl Kind {
    pub fn base(self) -> String {
        format!("/{}", self.path)
    }
    pub fn one(self, id: &str) -> String {
        format!("/{}/{id}", self.path)
    }
    pub fn is_flow(self) -> bool {
        matches!(self.path, "chatflows" | "agentflows")
    }
    pub fn perm(self, action: &str) -> String {
        format!("{}:{action}", self.resource)
    }
    /// Credentials and API keys have a shape of their own; the others read with `data`.
    pub fn is_plain(self) -> bool {
        !matches!(self.path, "credentials" | "apikeys")
    }

    /// The `data` a plain item is written with (a variable's is `{value, type}`).
    pub fn data(self, tag: &str) -> Value {
        match self.path {
            "variables" => json!({"value": format!("value {tag}"), "type": "static"}),
            _ => json!({"nodes": [{"id": "n1", "tag": tag}], "edges": [], "n": 1}),
        }
    }

    /// A valid create body.
    pub fn create_body(self, name: &str) -> Value {
        match self.path {
            "credentials" => json!({
                "name": name,
                "description": "a credential",
                "credentialName": "openAIApi",
                "data": {"apiKey": format!("sk-{}", uuid::Uuid::new_v4().simple())},
            }),
            "apikeys" => json!({
                "name": name,
                "description": "a key",
                "permissions": ["chatflows:view"],
            }),
            _ => json!({"name": name, "description": "about it", "data": self.data(name)}),
        }
    }

    /// A valid update body, with `version` when given.
    pub fn update_body(self, name: &str, version: Option<i64>) -> Value {
        let mut b = match self.path {
            "credentials" => json!({"name": name, "description": "changed"}),
            "apikeys" => json!({
                "name": name,
                "description": "changed",
                "permissions": ["chatflows:view", "tools:view"],
            }),
            _ => json!({"name": name, "description": "changed", "data": self.data(name)}),
        };
        if let Some(v) = version {
            b["version"] = json!(v);
        }
        b
    }
}

/// The id of the signed-in user behind `c`.
pub(crate) async fn user_id(c: &Client) -> String {
    let me = c.get("/auth/me").await;
    assert_eq!(me.status, 200, "{}", me.body);
    me.body["user"]["id"].as_str().expect("user id").to_string()
}

/// Every id of a list, walking its pages.
pub(crate) async fn list_all(c: &Client, kind: Kind, limit: u32) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..1000 {
        let path = match &cursor {
            Some(cur) => format!("{}?limit={limit}&cursor={cur}", kind.base()),
            None => format!("{}?limit={limit}", kind.base()),
        };
        let r = c.get(&path).await;
        assert_eq!(r.status, 200, "list {path}: {}", r.body);
        let items = r.body["items"].as_array().expect("items").clone();
        assert!(
            items.len() <= limit as usize,
            "a page holds at most `limit`"
        );
        out.extend(items);
        match r.body["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => {
                assert!(r.body["nextCursor"].is_null(), "{}", r.body);
                return out;
            }
        }
    }
    panic!("the list of {} never ended", kind.path);
}

pub(crate) fn ids(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|i| i["id"].as_str().expect("id").to_string())
        .collect()
}

/// Checks the SPEC §4 representation of `v`.
fn assert_representation(kind: Kind, v: &Value, ws: &str, user: &str, version: i64) {
    let obj = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"));
    for f in COMMON_FIELDS {
        assert!(obj.contains_key(f), "{}: no {f} in {v}", kind.path);
    }
    assert_eq!(v["workspaceId"], ws, "{}", kind.path);
    assert_eq!(v["version"], version, "{}", kind.path);
    assert_eq!(v["createdBy"], user, "{}", kind.path);
    assert_eq!(v["updatedBy"], user, "{}", kind.path);
    for f in ["createdAt", "updatedAt"] {
        let t = v[f].as_str().unwrap_or("");
        assert!(
            Timestamp::parse_rfc3339(t).is_some(),
            "{}: {f} = {t:?}",
            kind.path
        );
    }
    assert!(
        v["id"]
            .as_str()
            .is_some_and(|s| s.parse::<uuid::Uuid>().is_ok()),
        "{v}"
    );
    match kind.path {
        "credentials" => {
            for f in ["credentialName", "dataKeys", "shared", "ownerWorkspace"] {
                assert!(obj.contains_key(f), "credential without {f}: {v}");
            }
            assert!(
                !obj.contains_key("data"),
                "a credential reads without data: {v}"
            );
            assert_eq!(v["shared"], false);
            assert_eq!(v["ownerWorkspace"]["id"], ws);
        }
        "apikeys" => {
            for f in ["prefix", "permissions", "expiresAt", "lastUsedAt"] {
                assert!(obj.contains_key(f), "API key without {f}: {v}");
            }
            for f in ["keyHash", "key_hash", "hash"] {
                assert!(!obj.contains_key(f), "API key shows {f}: {v}");
            }
        }
        _ => {
            let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
            keys.sort_unstable();
            let mut want: Vec<&str> = COMMON_FIELDS.to_vec();
            want.push("data");
            want.sort_unstable();
            assert_eq!(keys, want, "{}: exactly the fields of §4", kind.path);
            assert!(v["data"].is_object(), "{v}");
        }
    }
}

/// `v` without the fields that may change between two reads of an unchanged resource.
fn stable(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("key");
        o.remove("lastUsedAt");
    }
    v
}

fn assert_field_error(r: &Resp, status: u16, field: &str, what: &str) {
    assert_eq!(
        (r.status, r.body["error"]["field"].as_str()),
        (status, Some(field)),
        "{what}: {}",
        r.body
    );
}

#[tokio::test]
async fn every_kind_creates_reads_updates_and_deletes_with_versions() {
    for b in backends() {
        let w = World::new(&b).await;
        let uid = user_id(&w.admin).await;
        let ws = w.workspace("Team").await;
        let admin = w.admin.in_workspace(&ws);
        for k in KINDS {
            let what = format!("{} on {}", k.path, b.name());
            let c = admin.post(&k.base(), k.create_body("first")).await;
            assert_eq!(c.status, 201, "create {what}: {}", c.body);
            assert_representation(k, &c.body, &ws, &uid, 1);
            assert_eq!(c.body["name"], "first", "{what}");
            assert_eq!(c.body["createdAt"], c.body["updatedAt"], "{what}");
            if k.is_plain() {
                assert_eq!(c.body["data"], k.data("first"), "{what}");
                assert_eq!(c.body["description"], "about it", "{what}");
            }
            let id = c.id();
            let one = k.one(&id);

            let r = admin.get(&one).await;
            assert_eq!(r.status, 200, "read {what}: {}", r.body);
            assert_representation(k, &r.body, &ws, &uid, 1);
            assert_eq!(
                stable(&r.body),
                stable(&c.body),
                "read = create answer, {what}"
            );

            let l = admin.get(&k.base()).await;
            assert_eq!(l.status, 200, "{what}");
            assert_eq!(
                ids(l.body["items"].as_array().unwrap()),
                vec![id.clone()],
                "{what}"
            );
            assert_eq!(stable(&l.body["items"][0]), stable(&c.body), "{what}");
            assert!(l.body["nextCursor"].is_null(), "{what}");

            // Update with the version read: version 2.
            let u = admin.put(&one, k.update_body("second", Some(1))).await;
            assert_eq!(u.status, 200, "update {what}: {}", u.body);
            assert_representation(k, &u.body, &ws, &uid, 2);
            assert_eq!(
                (u.body["id"].as_str(), &u.body["name"]),
                (Some(id.as_str()), &json!("second"))
            );
            assert_eq!(u.body["createdAt"], c.body["createdAt"], "{what}");
            assert_eq!(u.body["description"], "changed", "{what}");
            if k.is_plain() {
                assert_eq!(u.body["data"], k.data("second"), "{what}");
            }
            if k.path == "apikeys" {
                let perms: BTreeSet<&str> = u.body["permissions"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(Value::as_str)
                    .collect();
                assert_eq!(
                    perms,
                    BTreeSet::from(["chatflows:view", "tools:view"]),
                    "{what}"
                );
            }

            // A stale version: 409, and nothing changed.
            let s = admin.put(&one, k.update_body("stale", Some(1))).await;
            assert_eq!(
                (s.status, s.code()),
                (409, "version_conflict"),
                "stale {what}: {}",
                s.body
            );
            let r = admin.get(&one).await;
            assert_eq!(
                (&r.body["name"], &r.body["version"]),
                (&json!("second"), &json!(2)),
                "{what}"
            );
            // A version from the future is just as stale.
            let s = admin.put(&one, k.update_body("future", Some(7))).await;
            assert_eq!(s.status, 409, "{what}: {}", s.body);

            // If-Match works the same way, bare or quoted like an ETag.
            let body = Some(k.update_body("third", None));
            let u = admin
                .send(Method::PUT, &one, body.clone(), &[("if-match", "2")])
                .await;
            assert_eq!(u.status, 200, "If-Match {what}: {}", u.body);
            assert_eq!(
                (&u.body["name"], &u.body["version"]),
                (&json!("third"), &json!(3)),
                "{what}"
            );
            let stale_body = Some(k.update_body("stale", None));
            let s = admin
                .send(
                    Method::PUT,
                    &one,
                    stale_body.clone(),
                    &[("if-match", "\"2\"")],
                )
                .await;
            assert_eq!(
                (s.status, s.code()),
                (409, "version_conflict"),
                "If-Match stale {what}: {}",
                s.body
            );
            let u = admin
                .send(
                    Method::PUT,
                    &one,
                    Some(k.update_body("fourth", None)),
                    &[("if-match", "\"3\"")],
                )
                .await;
            assert_eq!(
                (u.status, &u.body["version"]),
                (200, &json!(4)),
                "{what}: {}",
                u.body
            );
            // If-Match and a body version that disagree are refused.
            let s = admin
                .send(
                    Method::PUT,
                    &one,
                    Some(k.update_body("x", Some(4))),
                    &[("if-match", "3")],
                )
                .await;
            assert_eq!(s.status, 422, "{what}: {}", s.body);

            // No version at all: 422 naming it, and nothing changed.
            let n = admin.put(&one, k.update_body("unversioned", None)).await;
            assert_field_error(&n, 422, "version", &what);
            let r = admin.get(&one).await;
            assert_eq!(
                (&r.body["name"], &r.body["version"]),
                (&json!("fourth"), &json!(4)),
                "{what}"
            );
            assert_eq!(r.body["updatedBy"], uid, "{what}");

            // A conditional delete with a stale version changes nothing either.
            let d = admin
                .send(Method::DELETE, &one, None, &[("if-match", "3")])
                .await;
            assert_eq!(d.status, 409, "stale delete {what}: {}", d.body);
            assert_eq!(admin.get(&one).await.status, 200, "{what}");

            let d = admin.delete(&one).await;
            assert_eq!(d.status, 204, "delete {what}: {}", d.body);
            assert!(d.body.is_null(), "{what}");
            let r = admin.get(&one).await;
            assert_eq!((r.status, r.code()), (404, "not_found"), "{what}");
            assert_eq!(admin.delete(&one).await.status, 404, "{what}");
            assert_eq!(
                admin.put(&one, k.update_body("gone", Some(4))).await.status,
                404,
                "{what}"
            );
            let l = admin.get(&k.base()).await;
            assert_eq!(l.body["items"], json!([]), "{what}");
        }
    }
}

#[tokio::test]
async fn lists_are_newest_first_and_pages_walk_every_item_once() {
    for b in backends() {
        let w = World::new(&b).await;
        let ws = w.workspace("Pages").await;
        let admin = w.admin.in_workspace(&ws);
        for k in KINDS {
            let what = format!("{} on {}", k.path, b.name());
            let mut created = Vec::new();
            for i in 0..7 {
                let r = admin.post(&k.base(), k.create_body(&format!("p{i}"))).await;
                assert_eq!(r.status, 201, "{what}: {}", r.body);
                created.push(r.id());
            }
            let newest_first: Vec<String> = created.iter().rev().cloned().collect();

            let whole = admin.get(&k.base()).await;
            assert_eq!(
                ids(whole.body["items"].as_array().unwrap()),
                newest_first,
                "{what}"
            );
            assert!(whole.body["nextCursor"].is_null(), "{what}");

            for limit in [1, 3, 6, 7] {
                let walked = list_all(&admin, k, limit).await;
                assert_eq!(ids(&walked), newest_first, "limit {limit}, {what}");
                let times: Vec<Timestamp> = walked
                    .iter()
                    .map(|i| Timestamp::parse_rfc3339(i["createdAt"].as_str().unwrap()).unwrap())
                    .collect();
                assert!(times.windows(2).all(|p| p[0] >= p[1]), "{what}: {times:?}");
            }
            let first = admin.get(&format!("{}?limit=3", k.base())).await;
            assert_eq!(first.body["items"].as_array().unwrap().len(), 3, "{what}");
            let cursor = first.body["nextCursor"]
                .as_str()
                .expect("a next cursor")
                .to_string();
            let exact = admin.get(&format!("{}?limit=7", k.base())).await;
            assert!(
                exact.body["nextCursor"].is_null(),
                "a full last page has no next, {what}"
            );

            for bad in ["garbage", "AAAA", "%25%25", &format!("{cursor}x")] {
                let r = admin.get(&format!("{}?cursor={bad}", k.base())).await;
                assert_field_error(&r, 422, "cursor", &format!("cursor {bad}, {what}"));
            }
            for bad in ["0", "201"] {
                let r = admin.get(&format!("{}?limit={bad}", k.base())).await;
                assert_field_error(&r, 422, "limit", &format!("limit {bad}, {what}"));
            }
            let r = admin.get(&format!("{}?limit=abc", k.base())).await;
            assert_eq!(r.status, 422, "{what}: {}", r.body);
        }
    }
}

#[tokio::test]
async fn flows_duplicate_into_the_same_workspace() {
    for b in backends() {
        let w = World::new(&b).await;
        let uid = user_id(&w.admin).await;
        let ws = w.workspace("Flows").await;
        let admin = w.admin.in_workspace(&ws);
        for k in KINDS.into_iter().filter(|k| k.is_flow()) {
            let what = format!("{} on {}", k.path, b.name());
            let src = admin.post(&k.base(), k.create_body("Support bot")).await;
            assert_eq!(src.status, 201, "{what}");
            let id = src.id();
            // Make the source version 2, to see that the copy starts over.
            let u = admin
                .put(&k.one(&id), k.update_body("Support bot", Some(1)))
                .await;
            assert_eq!(u.status, 200, "{what}: {}", u.body);

            let d = admin
                .post(&format!("{}/duplicate", k.one(&id)), json!({}))
                .await;
            assert_eq!(d.status, 201, "duplicate {what}: {}", d.body);
            assert_representation(k, &d.body, &ws, &uid, 1);
            assert_ne!(d.id(), id, "{what}");
            assert_eq!(d.body["name"], "Support bot (copy)", "{what}");
            assert_eq!(d.body["data"], u.body["data"], "{what}");
            assert_eq!(d.body["description"], u.body["description"], "{what}");
            let r = admin.get(&k.one(&d.id())).await;
            assert_eq!(r.status, 200, "{what}");
            let all = ids(admin.get(&k.base()).await.body["items"].as_array().unwrap());
            assert_eq!(all, vec![d.id(), id.clone()], "{what}");
            // The source is untouched.
            let s = admin.get(&k.one(&id)).await;
            assert_eq!(
                (&s.body["name"], &s.body["version"]),
                (&json!("Support bot"), &json!(2))
            );

            // From another workspace, the flow does not exist.
            let other = w.admin.in_workspace(&w.default_ws);
            let r = other
                .post(&format!("{}/duplicate", k.one(&id)), json!({}))
                .await;
            assert_eq!((r.status, r.code()), (404, "not_found"), "{what}");
            let r = admin
                .post(
                    &format!("{}/duplicate", k.one(&uuid::Uuid::new_v4().to_string())),
                    json!({}),
                )
                .await;
            assert_eq!(r.status, 404, "{what}");
            assert_eq!(
                other.get(&k.base()).await.body["items"],
                json!([]),
                "{what}"
            );
        }
        // A name at the longest keeps its beginning and gets the suffix, within the limit.
        let long = format!("Start{}", "x".repeat(195));
        let src = admin.post("/chatflows", json!({"name": long})).await;
        assert_eq!(src.status, 201, "{}", src.body);
        let d = admin
            .post(&format!("/chatflows/{}/duplicate", src.id()), json!({}))
            .await;
        assert_eq!(d.status, 201, "{}", d.body);
        let name = d.body["name"].as_str().unwrap();
        assert!(
            name.starts_with("Startxxx") && name.ends_with(" (copy)"),
            "{name}"
        );
        assert_eq!(name.chars().count(), 200, "{name}");
        // Only flows duplicate.
        let _ = admin.delete(&format!("/chatflows/{}", d.id())).await;
        let t = admin.post("/tools", KINDS[3].create_body("t")).await;
        let r = admin
            .post(&format!("/tools/{}/duplicate", t.id()), json!({}))
            .await;
        assert_eq!(r.status, 404, "{}", r.body);
        assert_eq!(
            admin.get("/tools").await.body["items"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
    }
}

/// Every file under `dir`, concatenated.
fn all_bytes(dir: &std::path::Path) -> Vec<u8> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(bytes) = std::fs::read(&p) {
                out.extend(bytes);
            }
        }
    }
    out
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// The text of every column of every row of a PostgreSQL table (bytea in the `escape`
/// encoding, which keeps printable bytes as they are).
async fn postgres_table_text(server: &TestServer, table: &str) -> String {
    let pool = server.store().postgres_pool().expect("a PostgreSQL store");
    let cols: Vec<(String, String)> = sqlx::query_as(
        "SELECT column_name::text, data_type::text FROM information_schema.columns
         WHERE table_schema = current_schema() AND table_name = $1",
    )
    .bind(table)
    .fetch_all(pool)
    .await
    .expect("columns");
    assert!(cols.len() >= 10, "{table}: {cols:?}");
    let mut text = String::new();
    for (col, ty) in cols {
        let expr = if ty == "bytea" {
            format!("encode(\"{col}\", 'escape')")
        } else {
            format!("\"{col}\"::text")
        };
        let vals: Vec<(Option<String>,)> =
            sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {expr} FROM {table}")))
                .fetch_all(pool)
                .await
                .expect("column text");
        for (v,) in vals {
            text.push_str(&v.unwrap_or_default());
            text.push('\n');
        }
    }
    text
}

/// Asserts that `secret` is nowhere in the server's stored data (every file of a SQLite data
/// directory, or every column of `table` in PostgreSQL) while `present` is (so that the right
/// data was searched).
async fn assert_not_stored(server: &TestServer, table: &str, present: &str, secrets: &[&str]) {
    match &server.backend {
        Backend::Sqlite => {
            let bytes = all_bytes(server.data_dir());
            assert!(
                contains(&bytes, present),
                "the database files hold {present:?}"
            );
            for s in secrets {
                assert!(
                    !contains(&bytes, s),
                    "{s:?} is in the SQLite files in clear"
                );
            }
        }
        Backend::Postgres(_) => {
            let text = postgres_table_text(server, table).await;
            assert!(text.contains(present), "{table} holds {present:?}: {text}");
            for s in secrets {
                assert!(
                    !text.contains(s),
                    "{s:?} is in PostgreSQL's {table} in clear"
                );
            }
        }
    }
}

#[tokio::test]
async fn credentials_never_show_nor_store_their_secrets_in_clear() {
    for b in backends() {
        let w = World::new(&b).await;
        let ws = w.workspace("Secrets").await;
        let admin = w.admin.in_workspace(&ws);
        let tag = uuid::Uuid::new_v4().simple().to_string();
        let name = format!("cred-name-{tag}");
        let secrets = [
            format!("sk-live-{tag}-one"),
            format!("org-{tag}-two"),
            format!("rotated-{tag}-three"),
        ];
        let c = admin
            .post(
                "/credentials",
                json!({"name": name, "credentialName": "openAIApi",
                       "data": {"apiKey": secrets[0], "organization": secrets[1]}}),
            )
            .await;
        assert_eq!(c.status, 201, "{}", c.body);
        assert_eq!(c.body["dataKeys"], json!(["apiKey", "organization"]));
        assert_eq!(c.body["credentialName"], "openAIApi");
        let id = c.id();
        let u = admin
            .put(
                &format!("/credentials/{id}"),
                json!({"name": name, "version": 1, "data": {"token": secrets[2]}}),
            )
            .await;
        assert_eq!(u.status, 200, "{}", u.body);
        assert_eq!(u.body["dataKeys"], json!(["token"]));
        assert_eq!(u.body["credentialName"], "openAIApi", "kept when not sent");
        // An update without data keeps the secret's fields.
        let u = admin
            .put(
                &format!("/credentials/{id}"),
                json!({"name": name, "version": 2}),
            )
            .await;
        assert_eq!(
            (u.status, &u.body["dataKeys"]),
            (200, &json!(["token"])),
            "{}",
            u.body
        );

        let answers = [
            c.text.clone(),
            u.text.clone(),
            admin.get(&format!("/credentials/{id}")).await.text,
            admin.get("/credentials").await.text,
            admin.get("/credentials?limit=1").await.text,
        ];
        for a in &answers {
            assert!(a.contains(&name), "the answer is about the credential: {a}");
            for s in &secrets {
                assert!(!a.contains(s.as_str()), "{} leaks a secret: {a}", b.name());
            }
        }
        let listed = admin.get("/credentials").await;
        assert!(
            listed.body["items"][0].get("data").is_none(),
            "{}",
            listed.body
        );

        // Bad secret data is refused and changes nothing.
        for data in [json!({}), json!("plain"), json!([1])] {
            let r = admin
                .post(
                    "/credentials",
                    json!({"name": "bad", "credentialName": "x", "data": data}),
                )
                .await;
            assert_field_error(&r, 422, "data", "bad credential data");
        }
        let r = admin
            .post("/credentials", json!({"name": "bad", "data": {"k": "v"}}))
            .await;
        assert_field_error(&r, 422, "credentialName", "no credentialName");
        assert_eq!(
            admin.get("/credentials").await.body["items"]
                .as_array()
                .unwrap()
                .len(),
            1
        );

        let secret_refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
        assert_not_stored(&w.server, "credentials", &name, &secret_refs).await;
    }
}

/// An API key created by `c` in its workspace: (id, key).
async fn api_key(c: &Client, permissions: &[&str], expires_at: Option<String>) -> (String, String) {
    let mut body = json!({"name": "key", "permissions": permissions});
    if let Some(t) = expires_at {
        body["expiresAt"] = json!(t);
    }
    let r = c.post("/apikeys", body).await;
    assert_eq!(r.status, 201, "create API key: {}", r.body);
    let key = r.body["key"].as_str().expect("key").to_string();
    (r.id(), key)
}

#[tokio::test]
async fn api_keys_are_shown_once_and_act_only_within_their_permissions() {
    for b in backends() {
        let w = World::new(&b).await;
        let uid = user_id(&w.admin).await;
        let ws = w.workspace("Keys").await;
        let admin = w.admin.in_workspace(&ws);
        let c = admin
            .post(
                "/apikeys",
                json!({"name": "ci", "permissions": ["chatflows:create"]}),
            )
            .await;
        assert_eq!(c.status, 201, "{}", c.body);
        let key = c.body["key"].as_str().expect("the key, once").to_string();
        let id = c.id();
        assert!(key.starts_with("fsk_") && key.len() > 30, "{key}");
        let prefix = c.body["prefix"].as_str().unwrap();
        assert!(
            key.starts_with(prefix) && prefix.len() < key.len(),
            "{prefix}"
        );
        let perms: BTreeSet<&str> = c.body["permissions"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(
            perms,
            BTreeSet::from(["chatflows:create", "chatflows:view"]),
            "create implies view"
        );
        for text in [
            admin.get(&format!("/apikeys/{id}")).await.text,
            admin.get("/apikeys").await.text,
        ] {
            assert!(text.contains(&id), "{text}");
            assert!(!text.contains(&key), "the key is shown only once: {text}");
            assert!(!text.contains("\"key\""), "{text}");
        }

        // Only a hash of the key is kept.
        assert_not_stored(&w.server, "api_keys", prefix, &[&key, &key[prefix.len()..]]).await;

        let k = w.server.client().with_token(&key);
        let l = k.get("/chatflows").await;
        assert_eq!(l.status, 200, "{}", l.body);
        let made = k.post("/chatflows", json!({"name": "by key"})).await;
        assert_eq!(made.status, 201, "{}", made.body);
        assert_eq!(made.body["workspaceId"], ws);
        assert_eq!(
            made.body["createdBy"], uid,
            "attributed to the key's creator"
        );
        assert_eq!(
            k.in_workspace(&ws)
                .get(&format!("/chatflows/{}", made.id()))
                .await
                .status,
            200
        );

        for (method, path, missing) in [
            (Method::GET, "/tools".to_string(), "tools:view"),
            (Method::POST, "/tools".to_string(), "tools:create"),
            (
                Method::DELETE,
                format!("/chatflows/{}", made.id()),
                "chatflows:delete",
            ),
            (
                Method::PUT,
                format!("/chatflows/{}", made.id()),
                "chatflows:update",
            ),
            (Method::GET, "/apikeys".to_string(), "apikeys:view"),
        ] {
            let body = (method != Method::GET && method != Method::DELETE)
                .then(|| json!({"name": "x", "version": 1}));
            let r = k.send(method.clone(), &path, body, &[]).await;
            assert_eq!(r.status, 403, "{method} {path}: {}", r.body);
            assert_eq!(r.body["error"]["missingPermission"], missing, "{}", r.body);
        }
        assert_eq!(
            admin.get(&format!("/chatflows/{}", made.id())).await.body["version"],
            1
        );

        // Another workspace, named or not, is out of the key's reach.
        let r = k.in_workspace(&w.default_ws).get("/chatflows").await;
        assert_eq!((r.status, r.code()), (404, "not_found"), "{}", r.body);
        let r = k
            .in_workspace(&w.default_ws)
            .post("/chatflows", json!({"name": "x"}))
            .await;
        assert_eq!(r.status, 404, "{}", r.body);
        let elsewhere = w
            .admin
            .in_workspace(&w.default_ws)
            .post("/chatflows", json!({"name": "d"}))
            .await;
        assert_eq!(
            k.get(&format!("/chatflows/{}", elsewhere.id()))
                .await
                .status,
            404
        );
        let listed = ids(k.get("/chatflows").await.body["items"].as_array().unwrap());
        assert_eq!(listed, vec![made.id()]);
        assert_eq!(
            w.admin
                .in_workspace(&w.default_ws)
                .get("/chatflows")
                .await
                .body["items"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        // An API key is not a signed-in user.
        assert_eq!(k.get("/auth/me").await.status, 403);
        assert_eq!(k.get("/users").await.status, 403);

        // The key's use is recorded.
        let mut last_used = Value::Null;
        for _ in 0..50 {
            last_used = admin.get(&format!("/apikeys/{id}")).await.body["lastUsedAt"].clone();
            if !last_used.is_null() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert!(
            last_used
                .as_str()
                .and_then(Timestamp::parse_rfc3339)
                .is_some(),
            "{last_used}"
        );
    }
}

#[tokio::test]
async fn api_key_permissions_are_a_subset_of_the_creators() {
    for b in backends() {
        let w = World::new(&b).await;
        let ws = w.workspace("Subset").await;
        let admin = w.admin.in_workspace(&ws);
        let (_, dev) = w.member("dev@example.com", &ws, "Developer").await;
        let past = Timestamp::now().plus_seconds(-60).to_string();
        let cases: Vec<(&Client, Value, &str)> = vec![
            (
                &dev,
                json!({"name": "k", "permissions": ["credentials:share"]}),
                "permissions",
            ),
            (
                &dev,
                json!({"name": "k", "permissions": ["chatflows:view", "auditLogs:view"]}),
                "permissions",
            ),
            (
                &admin,
                json!({"name": "k", "permissions": ["workspace:view"]}),
                "permissions",
            ),
            (
                &dev,
                json!({"name": "k", "permissions": ["workspace:view"]}),
                "permissions",
            ),
            (
                &admin,
                json!({"name": "k", "permissions": ["workspace:add-user"]}),
                "permissions",
            ),
            (
                &admin,
                json!({"name": "k", "permissions": ["chatflows:fly"]}),
                "permissions",
            ),
            (
                &admin,
                json!({"name": "k", "permissions": []}),
                "permissions",
            ),
            (
                &admin,
                json!({"name": "k", "permissions": ["chatflows:view"], "expiresAt": past}),
                "expiresAt",
            ),
            (
                &admin,
                json!({"name": "", "permissions": ["chatflows:view"]}),
                "name",
            ),
        ];
        for (c, body, field) in cases {
            let r = c.post("/apikeys", body.clone()).await;
            assert_field_error(&r, 422, field, &format!("{body} on {}", b.name()));
        }
        assert_eq!(
            admin.get("/apikeys").await.body["items"],
            json!([]),
            "nothing was created"
        );
        // Within the creator's permissions it works, and an update cannot climb either.
        let r = dev
            .post(
                "/apikeys",
                json!({"name": "k", "permissions": ["chatflows:view", "tools:create"]}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let u = dev
            .put(
                &format!("/apikeys/{}", r.id()),
                json!({"name": "k", "version": 1, "permissions": ["credentials:share"]}),
            )
            .await;
        assert_field_error(&u, 422, "permissions", "update above the creator");
        assert_eq!(
            dev.get(&format!("/apikeys/{}", r.id())).await.body["version"],
            1
        );
    }
}

#[tokio::test]
async fn api_keys_stop_at_once_when_deleted_expired_or_their_creator_loses_standing() {
    for b in backends() {
        let w = World::new(&b).await;
        let ws = w.workspace("Revocation").await;
        let admin = w.admin.in_workspace(&ws);
        let anon = w.server.client();
        let ok = |r: &Resp, what: &str| assert_eq!(r.status, 200, "{what} works first: {}", r.body);
        let gone = |r: &Resp, what: &str| {
            assert_eq!(
                (r.status, r.code()),
                (401, "unauthorized"),
                "{what}: {}",
                r.body
            )
        };

        let (id, deleted) = api_key(&admin, &["chatflows:view"], None).await;
        ok(
            &anon.with_token(&deleted).get("/chatflows").await,
            "deleted",
        );
        assert_eq!(admin.delete(&format!("/apikeys/{id}")).await.status, 204);
        gone(
            &anon.with_token(&deleted).get("/chatflows").await,
            "deleted key",
        );

        let soon = Timestamp::now().plus_seconds(2).to_string();
        let (_, expiring) = api_key(&admin, &["chatflows:view"], Some(soon)).await;
        ok(
            &anon.with_token(&expiring).get("/chatflows").await,
            "expiring",
        );

        let (m1, c1) = w.member("removed@example.com", &ws, "Developer").await;
        let (_, removed) = api_key(&c1, &["chatflows:view"], None).await;
        ok(
            &anon.with_token(&removed).get("/chatflows").await,
            "removed creator",
        );
        let r = w
            .admin
            .post(
                &format!("/workspace/{ws}/remove-user"),
                json!({"userId": m1}),
            )
            .await;
        assert_eq!(r.status, 204, "{}", r.body);
        gone(
            &anon.with_token(&removed).get("/chatflows").await,
            "creator removed",
        );

        let (m2, c2) = w.member("disabled@example.com", &ws, "Developer").await;
        let (_, disabled) = api_key(&c2, &["chatflows:view"], None).await;
        ok(
            &anon.with_token(&disabled).get("/chatflows").await,
            "disabled creator",
        );
        let r = w
            .admin
            .patch(&format!("/users/{m2}"), json!({"status": "disabled"}))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        gone(
            &anon.with_token(&disabled).get("/chatflows").await,
            "creator disabled",
        );

        // A creator whose role changes takes the key down with them (rule 3).
        let (m3, c3) = w.member("demoted@example.com", &ws, "Developer").await;
        let (_, demoted) = api_key(&c3, &["chatflows:create"], None).await;
        let r = anon
            .with_token(&demoted)
            .post("/chatflows", json!({"name": "x"}))
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        w.add(&ws, &m3, "Viewer").await;
        let r = anon
            .with_token(&demoted)
            .post("/chatflows", json!({"name": "y"}))
            .await;
        assert_eq!(
            (r.status, &r.body["error"]["missingPermission"]),
            (403, &json!("chatflows:create")),
            "{}",
            r.body
        );

        let wait = Timestamp::now();
        tokio::time::sleep(std::time::Duration::from_millis(2300)).await;
        assert!(Timestamp::now() > wait.plus_seconds(2));
        gone(
            &anon.with_token(&expiring).get("/chatflows").await,
            "expired key",
        );
        gone(
            &anon.with_token("fsk_not-a-key").get("/chatflows").await,
            "unknown key",
        );
    }
}

#[tokio::test]
async fn a_viewer_lists_but_every_create_is_denied_with_the_reason() {
    for b in backends() {
        let w = World::new(&b).await;
        let ws = w.workspace("Viewing").await;
        let admin = w.admin.in_workspace(&ws);
        let (_, viewer) = w.member("viewer@example.com", &ws, "Viewer").await;
        for k in KINDS {
            let what = format!("{} on {}", k.path, b.name());
            let seen = admin.post(&k.base(), k.create_body("seen")).await;
            assert_eq!(seen.status, 201, "{what}");
            let l = viewer.get(&k.base()).await;
            assert_eq!(l.status, 200, "{what}: {}", l.body);
            assert_eq!(
                ids(l.body["items"].as_array().unwrap()),
                vec![seen.id()],
                "{what}"
            );
            assert_eq!(viewer.get(&k.one(&seen.id())).await.status, 200, "{what}");

            let r = viewer.post(&k.base(), k.create_body("denied")).await;
            assert_eq!(
                (r.status, r.code()),
                (403, "forbidden"),
                "{what}: {}",
                r.body
            );
            assert_eq!(
                r.body["error"]["missingPermission"],
                k.perm("create"),
                "{what}"
            );
            assert_eq!(r.body["error"]["role"], "Viewer", "{what}");
            let r = viewer
                .put(&k.one(&seen.id()), k.update_body("denied", Some(1)))
                .await;
            assert_eq!(
                (r.status, &r.body["error"]["missingPermission"]),
                (403, &json!(k.perm("update"))),
                "{what}"
            );
            let r = viewer.delete(&k.one(&seen.id())).await;
            assert_eq!(
                (r.status, &r.body["error"]["missingPermission"]),
                (403, &json!(k.perm("delete"))),
                "{what}"
            );

            let after = admin.get(&k.base()).await;
            assert_eq!(
                ids(after.body["items"].as_array().unwrap()),
                vec![seen.id()],
                "{what}"
            );
            assert_eq!(after.body["items"][0]["version"], 1, "{what}");
        }
    }
}

#[tokio::test]
async fn bad_bodies_are_refused_per_kind_and_change_nothing() {
    for b in backends() {
        let w = World::new(&b).await;
        let ws = w.workspace("Bad").await;
        let admin = w.admin.in_workspace(&ws);
        let cases = [
            ("variables", json!({"name": "v"}), "data"),
            (
                "variables",
                json!({"name": "v", "data": {"value": "x", "type": "dynamic"}}),
                "data.type",
            ),
            (
                "variables",
                json!({"name": "v", "data": {"value": 3, "type": "static"}}),
                "data.value",
            ),
            (
                "variables",
                json!({"name": "v", "data": {"value": "x", "type": "static", "extra": 1}}),
                "data.extra",
            ),
            ("chatflows", json!({"name": ""}), "name"),
            ("tools", json!({"name": "t", "data": "text"}), "data"),
            (
                "assistants",
                json!({"name": "a", "version": "one"}),
                "version",
            ),
            (
                "apikeys",
                json!({"name": "k", "permissions": "chatflows:view"}),
                "permissions",
            ),
            ("datasets", json!({"name": ["n"]}), "name"),
        ];
        for (path, body, field) in cases {
            let r = admin.post(&format!("/{path}"), body.clone()).await;
            assert_field_error(&r, 422, field, &format!("{path} {body} on {}", b.name()));
        }
        // A NUL cannot be stored in PostgreSQL text: refused (not a 500) on every backend;
        // a multi-line description is fine.
        for k in KINDS {
            let mut body = k.create_body("nul");
            body["description"] = json!("a\u{0}b");
            let r = admin.post(&k.base(), body).await;
            assert_field_error(
                &r,
                422,
                "description",
                &format!("{} on {}", k.path, b.name()),
            );
        }
        for k in KINDS {
            assert_eq!(
                admin.get(&k.base()).await.body["items"],
                json!([]),
                "{}",
                k.path
            );
        }
        let mut body = KINDS[0].create_body("lines");
        body["description"] = json!("line one\n\tline two");
        let r = admin.post("/chatflows", body).await;
        assert_eq!(
            (r.status, &r.body["description"]),
            (201, &json!("line one\n\tline two")),
            "{}",
            r.body
        );
        // A refused update changes nothing.
        let v = admin.post("/variables", KINDS[5].create_body("v")).await;
        let r = admin
            .put(
                &format!("/variables/{}", v.id()),
                json!({"name": "v2", "version": 1, "data": {"value": "x"}}),
            )
            .await;
        assert_eq!(r.status, 422, "{}", r.body);
        let now = admin.get(&format!("/variables/{}", v.id())).await;
        assert_eq!(
            (&now.body["name"], &now.body["version"]),
            (&json!("v"), &json!(1))
        );
    }
}

#[tokio::test]
async fn a_missing_required_field_is_named_in_the_error() {
    for b in backends() {
        let w = World::new(&b).await;
        let admin = w.admin.in_workspace(&w.default_ws);
        for (path, body, field) in [
            ("datasets", json!({"description": "no name"}), "name"),
            ("apikeys", json!({"name": "k"}), "permissions"),
            (
                "credentials",
                json!({"credentialName": "x", "data": {"k": "v"}}),
                "name",
            ),
        ] {
            let r = admin.post(&format!("/{path}"), body.clone()).await;
            assert_field_error(&r, 422, field, &format!("{path} {body} on {}", b.name()));
            assert_eq!(
                admin.get(&format!("/{path}")).await.body["items"],
                json!([])
            );
        }
    }
}

#[tokio::test]
async fn concurrent_updates_of_one_version_let_exactly_one_through() {
    for b in backends() {
        let w = World::new(&b).await;
        let ws = w.workspace("Race").await;
        let admin = w.admin.in_workspace(&ws);
        for k in KINDS {
            let what = format!("{} on {}", k.path, b.name());
            let id = admin.post(&k.base(), k.create_body("race")).await.id();
            let tasks: Vec<_> = (0..8)
                .map(|i| {
                    let c = admin.clone();
                    let (path, body) = (k.one(&id), k.update_body(&format!("editor {i}"), Some(1)));
                    tokio::spawn(async move { c.put(&path, body).await })
                })
                .collect();
            let mut statuses = Vec::new();
            let mut winner = None;
            for t in tasks {
                let r = t.await.unwrap();
                if r.status == 200 {
                    winner = Some(r.body["name"].clone());
                }
                statuses.push(r.status);
            }
            statuses.sort_unstable();
            assert_eq!(
                statuses,
                vec![200, 409, 409, 409, 409, 409, 409, 409],
                "{what}"
            );
            let r = admin.get(&k.one(&id)).await;
            assert_eq!(r.body["version"], 2, "{what}");
            assert_eq!(
                Some(r.body["name"].clone()),
                winner,
                "{what}: the winner's write is the one kept"
            );
        }
    }
}
