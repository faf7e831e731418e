//! The document's bounds are the server's: for each constrained field, the `maxLength`,
//! `maximum` or `maxItems` the served OpenAPI document gives it is accepted through HTTP and
//! one more is refused with a 422 naming the field; what its `minLength` or `minItems` leaves
//! out is refused too. So a validator and the document cannot disagree unnoticed.

use flowspace_testkit::{Backend, Client, World, backends};
use serde_json::{Value, json};

/// The schema of `field` in the JSON body of `method path`, references resolved.
fn field_schema(doc: &Value, method: &str, path: &str, field: &str) -> Value {
    let op = &doc["paths"][format!("/api/v1{path}")][method];
    let mut schema = &op["requestBody"]["content"]["application/json"]["schema"];
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.rsplit('/').next().unwrap();
        schema = &doc["components"]["schemas"][name];
    }
    let s = schema["properties"][field].clone();
    assert!(s.is_object(), "{method} {path} documents no field {field}");
    s
}

fn bound(schema: &Value, key: &str) -> usize {
    schema[key]
        .as_u64()
        .unwrap_or_else(|| panic!("no {key} in {schema}")) as usize
}

/// A text of `n` characters that the field's pattern admits, unique per `tag`.
fn text(tag: &str, n: usize, email: bool) -> String {
    if email {
        let domain = "@example.com";
        format!("{tag}{}{domain}", "a".repeat(n - tag.len() - domain.len()))
    } else {
        format!("{tag}{}", "é".repeat(n - tag.len()))
    }
}

struct Case {
    method: &'static str,
    path: &'static str,
    field: &'static str,
    body: fn(&str) -> Value,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            method: "post",
            path: "/workspace",
            field: "name",
            body: |v| json!({"name": v}),
        },
        Case {
            method: "post",
            path: "/workspace",
            field: "description",
            body: |v| json!({"name": format!("d{}", v.len()), "description": v}),
        },
        Case {
            method: "post",
            path: "/workspace",
            field: "icon",
            body: |v| json!({"name": format!("i{}", v.len()), "icon": v}),
        },
        Case {
            method: "post",
            path: "/chatflows",
            field: "name",
            body: |v| json!({"name": v}),
        },
        Case {
            method: "post",
            path: "/tools",
            field: "description",
            body: |v| json!({"name": "t", "description": v}),
        },
        Case {
            method: "post",
            path: "/roles",
            field: "name",
            body: |v| json!({"name": v, "permissions": []}),
        },
        Case {
            method: "post",
            path: "/groups",
            field: "name",
            body: |v| json!({"name": v}),
        },
        Case {
            method: "post",
            path: "/users",
            field: "name",
            body: |v| json!({"name": v, "email": format!("n{}@example.com", v.len()), "password": "Correct-horse-9"}),
        },
        Case {
            method: "post",
            path: "/users",
            field: "email",
            body: |v| json!({"name": "E", "email": v, "password": "Correct-horse-9"}),
        },
        Case {
            method: "post",
            path: "/users",
            field: "password",
            body: |v| json!({"name": "P", "email": format!("p{}@example.com", v.len()), "password": v}),
        },
        Case {
            method: "post",
            path: "/credentials",
            field: "credentialName",
            body: |v| json!({"name": "c", "credentialName": v, "data": {"k": "v"}}),
        },
    ]
}

async fn send(c: &Client, method: &str, path: &str, body: Value) -> flowspace_testkit::Resp {
    match method {
        "post" => c.post(path, body).await,
        "put" => c.put(path, body).await,
        _ => c.patch(path, body).await,
    }
}

async fn bounds_hold(backend: &Backend) {
    let w = World::new(backend).await;
    let doc = w.admin.get("/openapi.json").await.body;
    let mut checked = 0;
    for case in cases() {
        let schema = field_schema(&doc, case.method, case.path, case.field);
        let max = bound(&schema, "maxLength");
        let email = case.field == "email";
        let tag = format!("{}{}", checked, if email { "m" } else { "" });
        let at_max = text(&tag, max, email);
        let r = send(&w.admin, case.method, case.path, (case.body)(&at_max)).await;
        assert!(
            (200..300).contains(&r.status),
            "{} {} {}: {max} characters, the documented maxLength, refused: {} {}",
            case.method,
            case.path,
            case.field,
            r.status,
            r.body
        );
        let over = text(&tag, max + 1, email);
        let r = send(&w.admin, case.method, case.path, (case.body)(&over)).await;
        assert_eq!(
            (r.status, r.body["error"]["field"].as_str()),
            (422, Some(case.field)),
            "{} {} {}: {} characters, one over the documented maxLength, not refused: {}",
            case.method,
            case.path,
            case.field,
            max + 1,
            r.body
        );
        if let Some(min) = schema["minLength"].as_u64().filter(|m| *m > 0) {
            let short = "x".repeat(min as usize - 1);
            let r = send(&w.admin, case.method, case.path, (case.body)(&short)).await;
            assert_eq!(
                r.status, 422,
                "{} {}: under minLength: {}",
                case.path, case.field, r.body
            );
        }
        checked += 1;
    }

    // `limit` of every list: the documented maximum answers, one more is refused.
    let op = &doc["paths"]["/api/v1/chatflows"]["get"];
    let limit = op["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "limit")
        .unwrap()["schema"]
        .clone();
    let (min, max) = (bound(&limit, "minimum"), bound(&limit, "maximum"));
    for (n, ok) in [(min - 1, false), (min, true), (max, true), (max + 1, false)] {
        let r = w.admin.get(&format!("/chatflows?limit={n}")).await;
        assert_eq!(r.status == 200, ok, "limit={n}: {} {}", r.status, r.body);
        if !ok {
            assert_eq!(r.body["error"]["field"], "limit", "{}", r.body);
        }
    }

    // A bulk move's ids: one more than the documented maxItems is refused, and none.
    let ids = field_schema(&doc, "post", "/admin/flows/move", "ids");
    let (min, max) = (bound(&ids, "minItems"), bound(&ids, "maxItems"));
    for n in [min - 1, max + 1] {
        let list: Vec<String> = (0..n).map(|_| uuid::Uuid::new_v4().to_string()).collect();
        let r = w
            .admin
            .post(
                "/admin/flows/move",
                json!({"ids": list, "targetWorkspaceId": w.default_ws}),
            )
            .await;
        assert_eq!(
            (r.status, r.body["error"]["field"].as_str()),
            (422, Some("ids")),
            "{n} ids"
        );
    }
    let list: Vec<String> = (0..max).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    let r = w
        .admin
        .post(
            "/admin/flows/move",
            json!({"ids": list, "targetWorkspaceId": w.default_ws}),
        )
        .await;
    assert_ne!(
        r.body["error"]["field"], "ids",
        "{max} ids refused: {}",
        r.body
    );
    assert!(checked >= 10);
}

#[tokio::test]
async fn documented_bounds_are_the_servers() {
    for b in backends() {
        bounds_hold(&b).await;
    }
}
