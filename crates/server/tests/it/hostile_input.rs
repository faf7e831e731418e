//! Hostile text and shapes in every route (rule 14, issue 17): every route of the route table
//! gets, as the Account Admin, a NUL character, a lone surrogate escape and an over-long
//! string in each string field of its request body (found from the schema the OpenAPI
//! document gives the route), in its query parameters and in its path; and a JSON array (or
//! another non-object) where its body object belongs. Nothing answers 5xx, the bad text is
//! refused alike on both backends, and nothing the Account Admin can list changes.

use flowspace_server::routes::table;
use flowspace_testkit::{World, backends};
use reqwest::Method;
use serde_json::{Value, json};

mod bodies;
use bodies::{
    Ids, at_path, field_name, objects, raw, sample, snapshot, strings, valid_sample, with_text,
    with_value,
};

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
            let base = valid_sample(&doc, schema, &ws);
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
