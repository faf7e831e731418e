//! Hostile text and shapes in every route (rule 14, issue 17): every route of the route table
//! gets, as the Account Admin, a NUL character, a lone surrogate escape and an over-long
//! string in each string field of its request body (found from the schema the OpenAPI
//! document gives the route), in its query parameters and in its path; and a JSON array (or
//! another non-object) where its body object belongs. Nothing answers 5xx, the bad text is
//! refused alike on both backends, and nothing the Account Admin can list changes.

use flowspace_server::routes::{RouteDef, table};
use flowspace_testkit::{Client, World, backends};
use reqwest::Method;
use serde_json::{Value, json};

/// Longer than any text the API keeps (the largest, an item's `data`, is at most 1 MiB),
/// and within the 2 MiB body limit.
const OVER_LONG_BODY: usize = 1_100_000;
/// Longer than any query value or path id the API keeps, and within the URI limits.
const OVER_LONG_URI: usize = 10_000;
/// Stands for a lone surrogate, replaced by `\ud800` in the JSON text (a `Value` cannot hold
/// one).
const SURROGATE_MARK: &str = "\u{e000}surrogate\u{e000}";
/// Every query parameter a route reads (the list routes' and the log filters').
const QUERY_NAMES: [&str; 10] = [
    "limit",
    "cursor",
    "workspaceId",
    "actor",
    "action",
    "from",
    "to",
    "email",
    "outcome",
    "format",
];

/// One step of a path into a body.
#[derive(Clone, Debug)]
enum Step {
    Key(String),
    Index(usize),
}

/// The field name the API gives a path (`a.b[0].c`).
fn field_name(path: &[Step]) -> String {
    let mut out = String::new();
    for s in path {
        match s {
            Step::Key(k) if out.is_empty() => out.push_str(k),
            Step::Key(k) => {
                out.push('.');
                out.push_str(k);
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => {
            let name = r.rsplit('/').next().unwrap_or("");
            resolve(doc, &doc["components"]["schemas"][name])
        }
        None => schema,
    }
}

/// The first non-null type of a schema (`oneOf` alternatives and type lists included).
fn schema_type<'a>(doc: &'a Value, schema: &'a Value) -> (&'a Value, String) {
    let s = resolve(doc, schema);
    if let Some(alts) = s["oneOf"].as_array().or(s["anyOf"].as_array()) {
        for a in alts {
            let (a, t) = schema_type(doc, a);
            if t != "null" {
                return (a, t);
            }
        }
    }
    let t = match &s["type"] {
        Value::String(t) => t.clone(),
        Value::Array(ts) => ts
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("null")
            .to_string(),
        _ if s["properties"].is_object() => "object".into(),
        _ => "object".into(),
    };
    (s, t)
}

/// A plausible value of a schema, so that a body is valid but for the one bad text put in it.
fn sample(doc: &Value, schema: &Value, name: &str, ws: &str, depth: usize) -> Value {
    let (s, t) = schema_type(doc, schema);
    match t.as_str() {
        "object" if depth < 4 => match s["properties"].as_object() {
            Some(props) => props
                .iter()
                .map(|(k, v)| (k.clone(), sample(doc, v, k, ws, depth + 1)))
                .collect::<serde_json::Map<_, _>>()
                .into(),
            None => free_form(),
        },
        "object" => json!({}),
        "array" => json!([sample(doc, &s["items"], name, ws, depth + 1)]),
        "integer" | "number" => json!(1),
        "boolean" => json!(false),
        _ => {
            let lower = name.to_lowercase();
            let text = if s["format"] == "date-time" {
                "2030-01-01T00:00:00Z".to_string()
            } else if lower.contains("email") {
                "sweep@example.com".into()
            } else if lower.contains("password") {
                "a fine long password 123".into()
            } else if lower.contains("workspace") {
                ws.into()
            } else if lower.ends_with("id") || lower.ends_with("ids") || lower == "members" {
                uuid::Uuid::new_v4().to_string()
            } else if lower == "role" {
                "Viewer".into()
            } else {
                "sweep".into()
            };
            Value::String(text)
        }
    }
}

/// The paths of every string in `v`.
fn strings(v: &Value, at: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    match v {
        Value::String(_) => out.push(at.clone()),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                at.push(Step::Index(i));
                strings(item, at, out);
                at.pop();
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                at.push(Step::Key(k.clone()));
                strings(item, at, out);
                at.pop();
            }
        }
        _ => {}
    }
}

/// The sample of an object of any shape (an item's `data`): a JSON value to the type that
/// reads it, so that its own rules, not its shape, decide what it may be.
fn free_form() -> Value {
    json!({"note": "sweep"})
}

/// The paths of every object with a schema of its own nested in `v` (not `v` itself).
fn objects(v: &Value, at: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    match v {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                at.push(Step::Index(i));
                objects(item, at, out);
                at.pop();
            }
        }
        Value::Object(map) => {
            if !at.is_empty() && *v != free_form() {
                out.push(at.clone());
            }
            for (k, item) in map {
                at.push(Step::Key(k.clone()));
                objects(item, at, out);
                at.pop();
            }
        }
        _ => {}
    }
}

fn with_value(v: &Value, path: &[Step], new: Value) -> Value {
    let mut v = v.clone();
    let mut at = &mut v;
    for s in path {
        at = match s {
            Step::Key(k) => &mut at[k.as_str()],
            Step::Index(i) => &mut at[*i],
        };
    }
    *at = new;
    v
}

fn with_text(v: &Value, path: &[Step], text: &str) -> Value {
    with_value(v, path, Value::String(text.to_string()))
}

fn at_path<'a>(v: &'a Value, path: &[Step]) -> &'a Value {
    path.iter().fold(v, |at, s| match s {
        Step::Key(k) => &at[k.as_str()],
        Step::Index(i) => &at[*i],
    })
}

/// Real ids for the `{id}` of each kind of path, so that a body reaches the handler's work
/// on an existing row; a random id elsewhere.
struct Ids {
    ws: String,
    by_prefix: Vec<(String, String)>,
}

impl Ids {
    async fn seed(w: &World, ws: &str) -> Self {
        let c = w.admin.in_workspace(ws);
        let mut by_prefix = Vec::new();
        for kind in [
            "chatflows",
            "agentflows",
            "assistants",
            "tools",
            "document-stores",
            "datasets",
        ] {
            let r = c.post(&format!("/{kind}"), json!({"name": "seed"})).await;
            assert_eq!(r.status, 201, "{kind}: {}", r.body);
            by_prefix.push((format!("/{kind}/"), r.id()));
        }
        let r = c
            .post(
                "/variables",
                json!({"name": "seed", "data": {"type": "static", "value": "v"}}),
            )
            .await;
        if r.status == 201 {
            by_prefix.push(("/variables/".into(), r.id()));
        }
        let r = c
            .post(
                "/credentials",
                json!({"name": "seed", "credentialName": "openAIApi", "data": {"apiKey": "k"}}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        by_prefix.push(("/credentials/".into(), r.id()));
        let r = c
            .post(
                "/apikeys",
                json!({"name": "seed", "permissions": ["chatflows:view"]}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        by_prefix.push(("/apikeys/".into(), r.id()));
        by_prefix.push(("/roles/".into(), w.role("Seed", &["chatflows:view"]).await));
        by_prefix.push(("/users/".into(), w.user("seed@example.com").await));
        let r = w.admin.post("/groups", json!({"name": "Seed"})).await;
        assert_eq!(r.status, 201, "{}", r.body);
        by_prefix.push(("/groups/".into(), r.id()));
        Ids {
            ws: ws.to_string(),
            by_prefix,
        }
    }

    /// The route's path with its `{id}` filled in by `id` (or a real id when `None`).
    fn path(&self, def: &RouteDef, id: Option<&str>) -> String {
        let real = if def.path.starts_with("/workspace/") {
            self.ws.clone()
        } else {
            self.by_prefix
                .iter()
                .find(|(p, _)| def.path.starts_with(p.as_str()))
                .map_or_else(|| uuid::Uuid::new_v4().to_string(), |(_, id)| id.clone())
        };
        def.path.replace("{id}", id.unwrap_or(&real))
    }
}

/// Everything the Account Admin can list, to prove that nothing changed.
async fn snapshot(admin: &Client, workspaces: &[&str]) -> Vec<(String, Value)> {
    let mut paths: Vec<(String, Option<&str>)> = [
        "/workspaces",
        "/users",
        "/roles",
        "/groups",
        "/invitations",
        "/auth/me",
    ]
    .into_iter()
    .map(|p| (p.to_string(), None))
    .collect();
    for ws in workspaces {
        for kind in [
            "chatflows",
            "agentflows",
            "assistants",
            "tools",
            "variables",
            "document-stores",
            "datasets",
            "credentials",
            "apikeys",
        ] {
            paths.push((format!("/{kind}?limit=200"), Some(ws)));
        }
        paths.push((format!("/workspace/{ws}/users"), None));
    }
    let mut out = Vec::new();
    for (p, ws) in paths {
        let c = match ws {
            Some(ws) => admin.in_workspace(ws),
            None => admin.clone(),
        };
        let r = c.get(&p).await;
        assert_eq!(r.status, 200, "{p}: {}", r.body);
        let mut body = r.body;
        // The admin's own last sign-in and active workspace are the session's, not data.
        strip(
            &mut body,
            &["lastLoginAt", "lastLogin", "activeWorkspaceId"],
        );
        out.push((p, body));
    }
    out
}

fn strip(v: &mut Value, keys: &[&str]) {
    match v {
        Value::Object(map) => {
            for k in keys {
                map.remove(*k);
            }
            map.values_mut().for_each(|x| strip(x, keys));
        }
        Value::Array(items) => items.iter_mut().for_each(|x| strip(x, keys)),
        _ => {}
    }
}

async fn raw(c: &Client, method: &Method, path: &str, body: &str) -> flowspace_testkit::Resp {
    c.send_raw(
        method.clone(),
        path,
        "application/json",
        body.as_bytes().to_vec(),
    )
    .await
}

#[tokio::test]
async fn no_text_in_any_field_of_any_route_answers_5xx_or_changes_anything() {
    let over_long_body = "x".repeat(OVER_LONG_BODY);
    let over_long_uri = "x".repeat(OVER_LONG_URI);
    for b in backends() {
        let name = b.name();
        let w = World::new(&b).await;
        let ws = w.workspace("Sweep").await;
        let ids = Ids::seed(&w, &ws).await;
        let admin = w.admin.in_workspace(&ws);
        let doc = admin.get("/openapi.json").await.body;
        let before = snapshot(&w.admin, &[&ws, &w.default_ws]).await;
        let mut sent = 0;

        for def in table() {
            let what = |v: &str| format!("{name}: {} {} {v}", def.method, def.path);
            let path = ids.path(&def, None);
            let op =
                &doc["paths"][format!("/api/v1{}", def.path)][def.method.as_str().to_lowercase()];
            let schema = &op["requestBody"]["content"]["application/json"]["schema"];
            let base = (!schema.is_null()).then(|| sample(&doc, schema, "", &ws, 0));
            assert_eq!(base.is_some(), def.request.is_some(), "{}", what("schema"));

            // Each string field of the body.
            if let Some(base) = &base {
                let mut leaves = Vec::new();
                strings(base, &mut Vec::new(), &mut leaves);
                for leaf in &leaves {
                    let field = field_name(leaf);
                    let r = admin
                        .send(
                            def.method.clone(),
                            &path,
                            Some(with_text(base, leaf, "a\u{0}b")),
                            &[],
                        )
                        .await;
                    assert_eq!(
                        (r.status, r.body["error"]["field"].as_str()),
                        (422, Some(field.as_str())),
                        "{}: {}",
                        what(&format!("NUL in {field}")),
                        r.body
                    );
                    let text = serde_json::to_string(&with_text(base, leaf, SURROGATE_MARK))
                        .unwrap()
                        .replace(SURROGATE_MARK, "\\ud800");
                    let r = raw(&admin, &def.method, &path, &text).await;
                    assert_eq!(
                        r.status,
                        400,
                        "{}: {}",
                        what(&format!("lone surrogate in {field}")),
                        r.body
                    );
                    let r = admin
                        .send(
                            def.method.clone(),
                            &path,
                            Some(with_text(base, leaf, &over_long_body)),
                            &[],
                        )
                        .await;
                    assert!(
                        r.status < 500,
                        "{}: {} {}",
                        what(&format!("over-long {field}")),
                        r.status,
                        r.body
                    );
                    sent += 3;
                }
            }

            // Each query parameter, on the routes that read one.
            if def.method == Method::GET {
                for q in QUERY_NAMES {
                    for (label, value) in [
                        ("NUL", "a%00b".to_string()),
                        ("lone surrogate", "%ED%A0%80".to_string()),
                        ("over-long", over_long_uri.clone()),
                    ] {
                        let r = admin.get(&format!("{path}?{q}={value}")).await;
                        assert!(
                            r.status < 500,
                            "{}: {} {}",
                            what(&format!("{label} in ?{q}")),
                            r.status,
                            r.body
                        );
                        if label == "NUL" && r.status == 422 {
                            assert_eq!(r.body["error"]["field"], q, "{}", what(q));
                        }
                        sent += 1;
                    }
                }
            }

            // The path's id.
            if def.path.contains("{id}") {
                for (label, id) in [
                    ("NUL", "a%00b"),
                    ("lone surrogate", "%ED%A0%80"),
                    ("over-long", over_long_uri.as_str()),
                ] {
                    let r = admin
                        .send(
                            def.method.clone(),
                            &ids.path(&def, Some(id)),
                            base.clone(),
                            &[],
                        )
                        .await;
                    assert!(
                        r.status < 500,
                        "{}: {} {}",
                        what(&format!("{label} as the id")),
                        r.status,
                        r.body
                    );
                    sent += 1;
                }
            }
        }
        assert!(sent > 1000, "{name}: only {sent} requests were sent");
        let after = snapshot(&w.admin, &[&ws, &w.default_ws]).await;
        for ((p, x), (_, y)) in before.iter().zip(&after) {
            assert_eq!(x, y, "{name}: {p} changed");
        }
    }
}

#[tokio::test]
async fn only_an_object_is_a_body_on_every_route() {
    for b in backends() {
        let name = b.name();
        let w = World::new(&b).await;
        let ws = w.workspace("Shapes").await;
        let ids = Ids::seed(&w, &ws).await;
        let admin = w.admin.in_workspace(&ws);
        let before = snapshot(&w.admin, &[&ws]).await;
        let mut walked = 0;
        for def in table().iter().filter(|d| d.request.is_some()) {
            let path = ids.path(def, None);
            for (body, found) in [
                (json!(["Renamed", "sweep@example.com", 1]), "an array"),
                (json!([]), "an array"),
                (json!("Renamed"), "a string"),
                (json!(7), "a number"),
                (Value::Null, "null"),
            ] {
                let text = body.to_string();
                let r = raw(&admin, &def.method, &path, &text).await;
                let what = format!("{name}: {} {path} with {text}", def.method);
                assert_eq!(
                    (r.status, r.body["error"]["field"].as_str()),
                    (422, Some("body")),
                    "{what}: {}",
                    r.body
                );
                let message = r.body["error"]["message"].as_str().unwrap_or("");
                assert!(
                    message.contains("expected a JSON object") && message.contains(found),
                    "{what}: {message}"
                );
            }
            walked += 1;
        }
        assert!(walked >= 40, "{name}: {walked} routes with a body");

        // Every object inside a body too: the same object as an array of its values.
        let doc = admin.get("/openapi.json").await.body;
        let mut nested = 0;
        for def in table().iter().filter(|d| d.request.is_some()) {
            let path = ids.path(def, None);
            let op =
                &doc["paths"][format!("/api/v1{}", def.path)][def.method.as_str().to_lowercase()];
            let schema = &op["requestBody"]["content"]["application/json"]["schema"];
            let base = sample(&doc, schema, "", &ws, 0);
            let mut inner = Vec::new();
            objects(&base, &mut Vec::new(), &mut inner);
            for at in inner {
                let values: Vec<Value> = at_path(&base, &at)
                    .as_object()
                    .unwrap()
                    .values()
                    .cloned()
                    .collect();
                let body = with_value(&base, &at, Value::Array(values));
                let field = field_name(&at);
                let r = admin.send(def.method.clone(), &path, Some(body), &[]).await;
                assert_eq!(
                    (r.status, r.body["error"]["field"].as_str()),
                    (422, Some(field.as_str())),
                    "{name}: {} {path} with an array as {field}: {}",
                    def.method,
                    r.body
                );
                nested += 1;
            }
        }
        // The import bundle's source workspace, items and credentials.
        assert!(nested >= 3, "{name}: {nested} nested objects");

        // The two the issue found: a rename by array, a sign-in by array.
        let r = raw(
            &admin,
            &Method::PATCH,
            &format!("/workspace/{ws}"),
            r#"["Renamed"]"#,
        )
        .await;
        assert_eq!(r.status, 422, "{name}: {}", r.body);
        let r = raw(
            &w.server.client(),
            &Method::POST,
            "/auth/login",
            &json!([flowspace_testkit::ADMIN_EMAIL, flowspace_testkit::PASSWORD]).to_string(),
        )
        .await;
        assert_eq!(r.status, 422, "{name}: {}", r.body);
        assert!(r.body["accessToken"].is_null());
        let after = snapshot(&w.admin, &[&ws]).await;
        assert_eq!(before, after, "{name}: nothing changed");
        assert_eq!(
            w.admin.get(&format!("/workspace/{ws}")).await.body["name"],
            "Shapes",
            "{name}"
        );
    }
}
