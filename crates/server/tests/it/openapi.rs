//! The API contract: the OpenAPI document the server serves is the committed `openapi.json`
//! (run with `UPDATE_OPENAPI=1` to accept a deliberate change), it is OpenAPI 3.1, and it
//! describes every route of the route table with its guard.

use flowspace_server::auth::Guard;
use flowspace_testkit::{Backend, TestServer};
use serde_json::Value;
use std::path::PathBuf;

fn committed_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../openapi.json")
}

/// The JSON pointer of the first place where `a` and `b` differ, with both values there.
fn first_difference(a: &Value, b: &Value, at: &str) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys()) {
                let p = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                match (x.get(k), y.get(k)) {
                    (Some(v), Some(w)) => {
                        if let Some(d) = first_difference(v, w, &p) {
                            return Some(d);
                        }
                    }
                    (v, w) => return Some(format!("{p}: served {v:?}, committed {w:?}")),
                }
            }
            None
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (v, w))| first_difference(v, w, &format!("{at}/{i}"))),
        _ if a == b => None,
        _ => Some(format!("{at}: served {a}, committed {b}")),
    }
}

#[tokio::test]
async fn the_served_document_is_the_committed_openapi_json() {
    let mut s = TestServer::start(&Backend::Sqlite).await;
    let r = s.client().get("/openapi.json").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let served = r.body;
    assert!(served.is_object(), "not JSON: {}", r.text);
    // What is served is what the library builds: no second source of the contract.
    let built = serde_json::to_value(flowspace_server::openapi_document()).unwrap();
    assert_eq!(first_difference(&served, &built, ""), None);

    let path = committed_path();
    if std::env::var("UPDATE_OPENAPI").is_ok_and(|v| v == "1") {
        let mut text = serde_json::to_string_pretty(&served).unwrap();
        text.push('\n');
        std::fs::write(&path, text).unwrap();
        eprintln!("wrote {}", path.display());
    } else {
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; generate it with UPDATE_OPENAPI=1 cargo test -p flowspace-server --test it openapi::",
                path.display()
            )
        });
        let committed: Value = serde_json::from_str(&text).unwrap();
        if let Some(d) = first_difference(&served, &committed, "") {
            panic!(
                "the API contract changed: {d}\nIf this is deliberate, run \
                 UPDATE_OPENAPI=1 cargo test -p flowspace-server --test it openapi:: and commit openapi.json"
            );
        }
        assert_eq!(served, committed);
    }
    s.shutdown().await;
}

#[tokio::test]
async fn the_document_describes_every_route_and_its_security() {
    let doc = serde_json::to_value(flowspace_server::openapi_document()).unwrap();
    let version = doc["openapi"].as_str().unwrap_or_default();
    assert!(version.starts_with("3.1"), "openapi version {version:?}");
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer",
        "the bearer scheme the operations refer to is defined"
    );
    let paths = doc["paths"].as_object().expect("paths");
    let table = flowspace_server::routes::table();
    assert!(!table.is_empty());
    let mut operations = 0;
    for def in &table {
        let path = format!("/api/v1{}", def.path);
        let m = def.method.as_str().to_lowercase();
        let op = &paths
            .get(&path)
            .unwrap_or_else(|| panic!("{path} is missing from the document"))[&m];
        assert!(
            op.is_object(),
            "{} {path} is missing from the document",
            def.method
        );
        operations += 1;
        assert!(
            !op["summary"].as_str().unwrap_or_default().is_empty(),
            "{} {path} has no summary",
            def.method
        );
        let security = op["security"].as_array();
        if def.guard.is_public() {
            assert!(
                security.is_none_or(|s| s.is_empty()),
                "{} {path} is public but asks for credentials",
                def.method
            );
        } else {
            let security = security.unwrap_or_else(|| {
                panic!(
                    "{} {path} ({:?}) has no security requirement",
                    def.method, def.guard
                )
            });
            assert!(
                security.iter().any(|req| req.get("bearer").is_some()),
                "{} {path} does not require the bearer scheme: {security:?}",
                def.method
            );
            assert!(
                op["responses"]["401"].is_object() && op["responses"]["403"].is_object(),
                "{} {path} documents neither 401 nor 403",
                def.method
            );
        }
        if matches!(def.guard, Guard::Workspace(_)) {
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            assert!(
                params.iter().any(|p| p["name"] == "X-Workspace-Id"),
                "{} {path} acts in a workspace but does not document X-Workspace-Id",
                def.method
            );
        }
    }
    // Nothing in the document that the router does not have.
    let documented: usize = paths
        .values()
        .map(|p| p.as_object().map_or(0, |o| o.len()))
        .sum();
    assert_eq!(
        documented, operations,
        "the document lists routes the table does not have"
    );
}
