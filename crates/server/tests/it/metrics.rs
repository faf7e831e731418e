//! `/metrics`: what a scrape shows changes with what the server did. Every server has a
//! recorder of its own, so the figures below are exactly those of the requests each test
//! sends (`flowspace_server::metrics`). Who may scrape is walked in `route_walk`.

use super::route_walk::METRICS_TOKEN;
use flowspace_testkit::{Backend, Client, PASSWORD, TestServer, World, backends};
use reqwest::Method;
use serde_json::json;

/// The value of the sample `series` (a name and its labels, as rendered), if shown.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

fn requests(route: &str, method: &str, status: u16) -> String {
    format!(
        r#"flowspace_http_requests_total{{route="{route}",method="{method}",status="{status}"}}"#
    )
}

async fn scrape(c: &Client) -> String {
    let r = c.get("//metrics").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let ct = r.headers["content-type"].to_str().unwrap();
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    r.text
}

fn value(text: &str, series: &str) -> f64 {
    sample(text, series).unwrap_or_else(|| panic!("no {series} in\n{text}"))
}

#[tokio::test]
async fn a_scrape_counts_requests_by_route_template_sign_ins_caches_and_the_pool() {
    for b in backends() {
        let w = World::new_with(&b, |c| c.metrics_token = Some(METRICS_TOKEN.into())).await;
        let scraper = w.server.client().with_token(METRICS_TOKEN);
        let ws = w.workspace("Metered").await;
        let admin = w.admin.in_workspace(&ws);
        let before = scrape(&scraper).await;
        let lists = "/api/v1/chatflows";
        assert_eq!(
            sample(&before, &requests(lists, "GET", 200)),
            None,
            "{before}"
        );
        // Sign-in outcomes are shown at 0 before any happens.
        let success = r#"flowspace_sign_ins_total{outcome="success"}"#;
        let wrong = r#"flowspace_sign_ins_total{outcome="failure",reason="wrong_password"}"#;
        let unknown = r#"flowspace_sign_ins_total{outcome="failure",reason="unknown_email"}"#;
        let signed_in = value(&before, success);
        assert_eq!(value(&before, wrong), 0.0, "{before}");
        assert_eq!(value(&before, unknown), 0.0, "{before}");
        let list_hits = value(
            &before,
            r#"flowspace_cache_requests_total{cache="lists",result="hit"}"#,
        );

        // Three lists (the first fills the cache, the others are answered from it), a read of
        // an item that is not there, a wrong method, a path nothing serves.
        for _ in 0..3 {
            assert_eq!(admin.get("/chatflows").await.status, 200);
        }
        let missing = uuid::Uuid::new_v4().to_string();
        assert_eq!(
            admin.get(&format!("/chatflows/{missing}")).await.status,
            404
        );
        assert_eq!(admin.delete("/ping").await.status, 405);
        let stray = uuid::Uuid::new_v4().to_string();
        let r = w
            .server
            .client()
            .send(Method::GET, &format!("//no/such/{stray}"), None, &[])
            .await;
        assert_eq!(r.status, 404);
        // Sign-ins: one wrong password, one unknown email, one success.
        let anon = w.server.client();
        for (email, password, status) in [
            (flowspace_testkit::ADMIN_EMAIL, "not the password", 401),
            ("nobody@example.com", PASSWORD, 401),
            (flowspace_testkit::ADMIN_EMAIL, PASSWORD, 200),
        ] {
            let r = anon
                .post("/auth/login", json!({"email": email, "password": password}))
                .await;
            assert_eq!(r.status, status, "{}", r.body);
        }

        let after = scrape(&scraper).await;
        let what = format!("on {}:\n{after}", b.name());
        assert_eq!(value(&after, &requests(lists, "GET", 200)), 3.0, "{what}");
        // The route template, never the path: no id reaches a label.
        assert_eq!(
            value(&after, &requests("/api/v1/chatflows/{id}", "GET", 404)),
            1.0,
            "{what}"
        );
        assert!(!after.contains(&missing), "{what}");
        assert!(!after.contains(&stray), "{what}");
        assert_eq!(
            value(&after, &requests("unmatched", "GET", 404)),
            1.0,
            "{what}"
        );
        assert_eq!(
            value(&after, &requests("/api/v1/ping", "DELETE", 405)),
            1.0,
            "{what}"
        );
        assert_eq!(
            value(&after, &requests("/api/v1/auth/login", "POST", 401)),
            2.0,
            "{what}"
        );
        // The previous scrape was counted too, under its own route.
        assert!(
            value(&after, &requests("/metrics", "GET", 200)) >= 1.0,
            "{what}"
        );
        // The latency histogram: every list in its count, and in the +Inf bucket.
        let latency = r#"flowspace_http_request_duration_seconds_count{route="/api/v1/chatflows",method="GET"}"#;
        assert_eq!(value(&after, latency), 3.0, "{what}");
        assert_eq!(
            value(
                &after,
                r#"flowspace_http_request_duration_seconds_bucket{route="/api/v1/chatflows",method="GET",le="+Inf"}"#
            ),
            3.0,
            "{what}"
        );
        assert!(
            value(
                &after,
                r#"flowspace_http_request_duration_seconds_sum{route="/api/v1/chatflows",method="GET"}"#
            ) > 0.0,
            "{what}"
        );
        // Sign-in outcomes.
        assert_eq!(value(&after, wrong), 1.0, "{what}");
        assert_eq!(value(&after, unknown), 1.0, "{what}");
        assert_eq!(value(&after, success), signed_in + 1.0, "{what}");
        // The cache: the second and third lists were hits; the sessions cache answered the
        // admin's repeated requests.
        assert!(
            value(
                &after,
                r#"flowspace_cache_requests_total{cache="lists",result="hit"}"#
            ) >= list_hits + 2.0,
            "{what}"
        );
        assert!(
            value(
                &after,
                r#"flowspace_cache_requests_total{cache="lists",result="miss"}"#
            ) >= 1.0,
            "{what}"
        );
        assert!(
            value(
                &after,
                r#"flowspace_cache_requests_total{cache="sessions",result="hit"}"#
            ) >= 3.0,
            "{what}"
        );
        // The pool, as of the scrape: DATABASE_MAX_CONNECTIONS (16 by default), on SQLite at
        // most the number of cores, but no fewer than 4 and no more than 8.
        let max = match b {
            Backend::Sqlite => f64::from(flowspace_store::sqlite_readers()),
            Backend::Postgres(_) => 16.0,
        };
        assert_eq!(
            value(&after, "flowspace_db_pool_max_connections"),
            max,
            "{what}"
        );
        let open = value(&after, r#"flowspace_db_pool_connections{state="idle"}"#)
            + value(&after, r#"flowspace_db_pool_connections{state="in_use"}"#);
        assert!((1.0..=max).contains(&open), "{what}");
    }
}

/// A server of its own per test: figures never mix between servers in one process.
#[tokio::test]
async fn each_server_counts_only_its_own_requests() {
    for b in backends() {
        let tweak = |c: &mut flowspace_server::config::Config| {
            c.metrics_token = Some(METRICS_TOKEN.into());
        };
        let one = TestServer::start_with(&b, tweak).await;
        let two = TestServer::start_with(&b, tweak).await;
        for _ in 0..2 {
            assert_eq!(one.client().get("/ping").await.status, 200);
        }
        let ping = requests("/api/v1/ping", "GET", 200);
        let text = scrape(&one.client().with_token(METRICS_TOKEN)).await;
        assert_eq!(value(&text, &ping), 2.0, "{text}");
        let text = scrape(&two.client().with_token(METRICS_TOKEN)).await;
        assert_eq!(sample(&text, &ping), None, "{text}");
    }
}

/// METRICS_ADDR: `/metrics` on its own listener (open there without METRICS_TOKEN, behind it
/// with one) and not on the main one, which it still counts.
#[tokio::test]
async fn metrics_addr_serves_them_on_another_address_only() {
    for b in backends() {
        for token in [None, Some(METRICS_TOKEN)] {
            let server = TestServer::start_with(&b, |c| {
                c.metrics_addr = Some("127.0.0.1:0".parse().unwrap());
                c.metrics_token = token.map(Into::into);
            })
            .await;
            let at = server.metrics_addr.expect("a metrics listener");
            assert_ne!(at, server.addr);
            let what = format!("token {token:?} on {}", b.name());
            let main = server.client();
            assert_eq!(main.get("/ping").await.status, 200);
            let r = main.get("//metrics").await;
            assert_eq!(r.status, 404, "the main listener: {what}");
            if let Some(t) = token {
                let r = main.with_token(t).get("//metrics").await;
                assert_eq!(r.status, 404, "the main listener, with the token: {what}");
            }

            let side = Client::new(&format!("http://{at}"));
            let side = match token {
                Some(t) => {
                    let r = side.get("//metrics").await;
                    assert_eq!(r.status, 401, "no token on METRICS_ADDR: {what}");
                    side.with_token(t)
                }
                None => side,
            };
            let text = scrape(&side).await;
            assert_eq!(
                value(&text, &requests("/api/v1/ping", "GET", 200)),
                1.0,
                "{what}: {text}"
            );
            assert_eq!(
                value(&text, &requests("unmatched", "GET", 404)),
                if token.is_some() { 2.0 } else { 1.0 },
                "the main listener's 404s: {what}: {text}"
            );
            // Only the operator routes are there; scrapes of it are not counted.
            assert_eq!(side.get("/ping").await.status, 404, "{what}");
            let text = scrape(&side).await;
            assert_eq!(
                sample(&text, &requests("/metrics", "GET", 200)),
                None,
                "{text}"
            );
        }
    }
}

/// A sign-in refused while its email is locked counts as a `locked_out` failure.
#[tokio::test]
async fn a_locked_out_sign_in_counts_as_such() {
    for b in backends() {
        let server = TestServer::start_with(&b, |c| {
            c.metrics_token = Some(METRICS_TOKEN.into());
            c.login_max_failures = 1;
        })
        .await;
        let _admin = server.setup().await;
        let anon = server.client();
        let wrong = json!({"email": flowspace_testkit::ADMIN_EMAIL, "password": "not it"});
        assert_eq!(anon.post("/auth/login", wrong.clone()).await.status, 401);
        let r = anon.post("/auth/login", wrong).await;
        assert_eq!(r.status, 429, "{}", r.body);
        let text = scrape(&anon.with_token(METRICS_TOKEN)).await;
        let failed = |reason: &str| {
            value(
                &text,
                &format!(r#"flowspace_sign_ins_total{{outcome="failure",reason="{reason}"}}"#),
            )
        };
        assert_eq!(failed("wrong_password"), 1.0, "{text}");
        assert_eq!(failed("locked_out"), 1.0, "{text}");
    }
}
