//! What the hostile-input tests send: a plausible body for each route, built from the schema
//! the OpenAPI document gives its request, the paths of the texts and objects in it, real ids
//! for the routes' `{id}`, and a snapshot of everything the Account Admin can list.

use flowspace_server::routes::RouteDef;
use flowspace_testkit::{Client, World};
use reqwest::Method;
use serde_json::{Value, json};

/// One step of a path into a body.
#[derive(Clone, Debug)]
pub(super) enum Step {
    Key(String),
    Index(usize),
}

/// The field name the API gives a path (`a.b[0].c`).
pub(super) fn field_name(path: &[Step]) -> String {
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

pub(super) fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => {
            let name = r.rsplit('/').next().unwrap_or("");
            resolve(doc, &doc["components"]["schemas"][name])
        }
        None => schema,
    }
}

/// The first non-null type of a schema (`oneOf` alternatives and type lists included).
pub(super) fn schema_type<'a>(doc: &'a Value, schema: &'a Value) -> (&'a Value, String) {
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
pub(super) fn sample(doc: &Value, schema: &Value, name: &str, ws: &str, depth: usize) -> Value {
    sample_of(doc, schema, name, ws, depth, false)
}

/// `sample`, but a field with a fixed set of values (a bundle's format and version) gets one
/// of them, so that the body is refused for what a test changes in it and nothing else.
pub(super) fn valid_sample(doc: &Value, schema: &Value, ws: &str) -> Value {
    sample_of(doc, schema, "", ws, 0, true)
}

fn sample_of(
    doc: &Value,
    schema: &Value,
    name: &str,
    ws: &str,
    depth: usize,
    enums: bool,
) -> Value {
    let (s, t) = schema_type(doc, schema);
    if let Some(first) = s["enum"]
        .as_array()
        .and_then(|e| e.first())
        .filter(|_| enums)
    {
        return first.clone();
    }
    match t.as_str() {
        "object" if depth < 4 => match s["properties"].as_object() {
            Some(props) => props
                .iter()
                .map(|(k, v)| (k.clone(), sample_of(doc, v, k, ws, depth + 1, enums)))
                .collect::<serde_json::Map<_, _>>()
                .into(),
            None => free_form(),
        },
        "object" => json!({}),
        "array" => json!([sample_of(doc, &s["items"], name, ws, depth + 1, enums)]),
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
pub(super) fn strings(v: &Value, at: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
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
pub(super) fn free_form() -> Value {
    json!({"note": "sweep"})
}

/// The paths of every object with a schema of its own nested in `v` (not `v` itself).
pub(super) fn objects(v: &Value, at: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
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

pub(super) fn with_value(v: &Value, path: &[Step], new: Value) -> Value {
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

pub(super) fn with_text(v: &Value, path: &[Step], text: &str) -> Value {
    with_value(v, path, Value::String(text.to_string()))
}

pub(super) fn at_path<'a>(v: &'a Value, path: &[Step]) -> &'a Value {
    path.iter().fold(v, |at, s| match s {
        Step::Key(k) => &at[k.as_str()],
        Step::Index(i) => &at[*i],
    })
}

/// Real ids for the `{id}` of each kind of path, so that a body reaches the handler's work
/// on an existing row; a random id elsewhere.
pub(super) struct Ids {
    ws: String,
    by_prefix: Vec<(String, String)>,
}

impl Ids {
    pub(super) async fn seed(w: &World, ws: &str) -> Self {
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
    pub(super) fn path(&self, def: &RouteDef, id: Option<&str>) -> String {
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
pub(super) async fn snapshot(admin: &Client, workspaces: &[&str]) -> Vec<(String, Value)> {
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

pub(super) fn strip(v: &mut Value, keys: &[&str]) {
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

pub(super) async fn raw(
    c: &Client,
    method: &Method,
    path: &str,
    body: &str,
) -> flowspace_testkit::Resp {
    c.send_raw(
        method.clone(),
        path,
        "application/json",
        body.as_bytes().to_vec(),
    )
    .await
}
