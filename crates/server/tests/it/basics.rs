//! Setup (rule 1), health, and the error shapes of rule 14.

use flowspace_testkit::{ADMIN_EMAIL, PASSWORD, TestServer, backends};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn first_run_requires_setup_then_refuses_a_second() {
    for b in backends() {
        let s = TestServer::start(&b).await;
        let anon = s.client();
        assert_eq!(anon.get("/ping").await.status, 200);
        assert_eq!(anon.get("/health/ready").await.status, 200);
        let st = anon.get("/setup").await;
        assert_eq!(st.body["setupRequired"], true, "{}", b.name());
        for path in ["/chatflows", "/workspaces", "/auth/me"] {
            let r = anon.get(path).await;
            assert_eq!(
                (r.status, r.code()),
                (428, "setup_required"),
                "{path} on {}",
                b.name()
            );
        }
        let r = anon
            .post(
                "/auth/login",
                json!({"email": ADMIN_EMAIL, "password": PASSWORD}),
            )
            .await;
        assert_eq!(r.code(), "setup_required");

        let bad = anon
            .post("/setup", json!({"organizationName": "Acme", "name": "A", "email": "nope", "password": PASSWORD}))
            .await;
        assert_eq!(
            (bad.status, bad.body["error"]["field"].as_str()),
            (422, Some("email"))
        );
        let weak = anon
            .post("/setup", json!({"organizationName": "Acme", "name": "A", "email": ADMIN_EMAIL, "password": "password1"}))
            .await;
        assert_eq!(
            (weak.status, weak.body["error"]["field"].as_str()),
            (422, Some("password"))
        );
        assert_eq!(
            anon.get("/setup").await.body["setupRequired"],
            true,
            "a refused setup changes nothing"
        );

        let admin = s.setup().await;
        assert_eq!(anon.get("/setup").await.body["setupRequired"], false);
        let again = anon
            .post("/setup", json!({"organizationName": "Other", "name": "B", "email": "b@example.com", "password": PASSWORD}))
            .await;
        assert_eq!(again.status, 409);
        let me = admin.get("/auth/me").await;
        assert_eq!(me.status, 200);
        assert_eq!(me.body["isAccountAdmin"], true);
        assert_eq!(me.body["activeWorkspace"]["name"], "Default");
        assert_eq!(me.body["organization"]["name"], "Acme");
        let ws = admin.get("/workspaces").await;
        assert_eq!(ws.body["items"].as_array().unwrap().len(), 1);
        assert_eq!(ws.body["items"][0]["isDefault"], true);
    }
}

#[tokio::test]
async fn error_shapes_for_bad_input() {
    for b in backends() {
        let s = TestServer::start(&b).await;
        let admin = s.setup().await;
        // 400 malformed JSON
        let r = admin
            .send_raw(
                Method::POST,
                "/chatflows",
                "application/json",
                b"{\"name\": ".to_vec(),
            )
            .await;
        assert_eq!((r.status, r.code()), (400, "bad_request"));
        // 422 wrong type, naming the field
        let r = admin.post("/chatflows", json!({"name": 42})).await;
        assert_eq!(
            (r.status, r.body["error"]["field"].as_str()),
            (422, Some("name"))
        );
        // 422 data not an object
        let r = admin
            .post("/chatflows", json!({"name": "x", "data": [1, 2]}))
            .await;
        assert_eq!(
            (r.status, r.body["error"]["field"].as_str()),
            (422, Some("data"))
        );
        // 413 over 2 MiB
        let big = format!(
            "{{\"name\": \"x\", \"data\": {{\"blob\": \"{}\"}}}}",
            "a".repeat(2 * 1024 * 1024 + 10)
        );
        let r = admin
            .send_raw(
                Method::POST,
                "/chatflows",
                "application/json",
                big.into_bytes(),
            )
            .await;
        assert_eq!((r.status, r.code()), (413, "payload_too_large"));
        // 415 not JSON
        let r = admin
            .send_raw(Method::POST, "/chatflows", "text/plain", b"name=x".to_vec())
            .await;
        assert_eq!(r.status, 415);
        // 404 unknown route, 405 with Allow
        let r = admin.get("/no-such-thing").await;
        assert_eq!((r.status, r.code()), (404, "not_found"));
        let r = admin.send(Method::DELETE, "/ping", None, &[]).await;
        assert_eq!((r.status, r.code()), (405, "method_not_allowed"));
        assert!(
            r.headers
                .get("allow")
                .is_some_and(|v| v.to_str().unwrap().contains("GET")),
            "{:?}",
            r.headers
        );
        // A malformed id is "not found", like any missing id.
        assert_eq!(admin.get("/chatflows/not-a-uuid").await.status, 404);
        // Nothing was created by any of the refused requests.
        let list = admin.get("/chatflows").await;
        assert_eq!(list.body["items"].as_array().unwrap().len(), 0);
        // Every answer carries a request id.
        assert!(list.headers.get("x-request-id").is_some());
    }
}
