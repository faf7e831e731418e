//! Login activity (SPEC: Login activity; §4 `GET /login-activity`) and the lockout of rule 15,
//! through real HTTP: what is recorded, filters, pagination and CSV, and failed sign-ins
//! counted in the database (so that replicas agree).

use flowspace_testkit::{ADMIN_EMAIL, Backend, PASSWORD, Resp, TestServer, World, backends};
use reqwest::Method;
use serde_json::{Value, json};

const UA: &str = "FlowTest/1.0 (integration)";

async fn login_as(s: &TestServer, email: &str, password: &str, ua: &str) -> Resp {
    s.client()
        .send(
            Method::POST,
            "/auth/login",
            Some(json!({"email": email, "password": password})),
            &[("user-agent", ua)],
        )
        .await
}

async fn login(s: &TestServer, email: &str, password: &str) -> Resp {
    login_as(s, email, password, UA).await
}

async fn refresh(s: &TestServer, token: &str) -> Resp {
    s.client()
        .send(
            Method::POST,
            "/auth/refresh",
            Some(json!({ "refreshToken": token })),
            &[("user-agent", UA)],
        )
        .await
}

fn items(r: &Resp) -> Vec<Value> {
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["items"].as_array().unwrap().clone()
}

/// (outcome, reason, email) of each event, newest first.
fn summary(events: &[Value]) -> Vec<(String, String, String)> {
    events
        .iter()
        .map(|e| {
            (
                e["outcome"].as_str().unwrap_or("").to_string(),
                e["reason"].as_str().unwrap_or("").to_string(),
                e["email"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn ev(outcome: &str, reason: &str, email: &str) -> (String, String, String) {
    (outcome.into(), reason.into(), email.into())
}

#[tokio::test]
async fn sign_in_events_are_recorded_with_ip_and_user_agent() {
    for b in backends() {
        let w = World::new(&b).await;
        let s = &w.server;
        let ann = w.user("ann@example.com").await;

        let ok = login(s, "Ann@Example.com", PASSWORD).await;
        assert_eq!(ok.status, 200, "{}", ok.body);
        assert_eq!(
            login(s, "ann@example.com", "wrong password!").await.status,
            401
        );
        assert_eq!(login(s, "nobody@example.com", PASSWORD).await.status, 401);
        let dis = w.user("dis@example.com").await;
        let r = w
            .admin
            .patch(&format!("/users/{dis}"), json!({"status": "disabled"}))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(login(s, "dis@example.com", PASSWORD).await.status, 401);

        // Refresh once, then present the spent token again: reuse.
        let first = ok.body["refreshToken"].as_str().unwrap().to_string();
        let second = refresh(s, &first).await;
        assert_eq!(second.status, 200, "{}", second.body);
        assert_eq!(refresh(s, &first).await.code(), "refresh_token_reused");
        assert_eq!(refresh(s, "no-such-token").await.status, 401);

        let again = login(s, "ann@example.com", PASSWORD).await;
        let c = s
            .client()
            .with_token(again.body["accessToken"].as_str().unwrap());
        let out = c
            .send(Method::POST, "/auth/logout", None, &[("user-agent", UA)])
            .await;
        assert_eq!(out.status, 204, "{}", out.body);

        let events = items(&w.admin.get("/login-activity").await);
        assert_eq!(
            summary(&events),
            vec![
                ev("logout", "", "ann@example.com"),
                ev("success", "", "ann@example.com"),
                ev("refresh_failure", "", ""),
                ev("refresh_reuse", "", "ann@example.com"),
                ev("failure", "disabled", "dis@example.com"),
                ev("failure", "unknown_email", "nobody@example.com"),
                ev("failure", "wrong_password", "ann@example.com"),
                ev("success", "", "ann@example.com"),
            ],
            "{}",
            b.name()
        );
        for e in &events {
            assert_eq!(e["ip"], "127.0.0.1", "{e}");
            assert_eq!(e["userAgent"], UA, "{e}");
            assert!(
                e["createdAt"].as_str().is_some_and(|t| t.ends_with('Z')),
                "{e}"
            );
        }
        assert_eq!(events[0]["userId"], ann.as_str());
        assert_eq!(events[5]["userId"], Value::Null);

        // The Account Admin's only.
        let (_, boss) = w.member("boss@example.com", &w.default_ws, "Admin").await;
        assert_eq!(boss.get("/login-activity").await.status, 403);
        assert_eq!(s.client().get("/login-activity").await.status, 401);
    }
}

#[tokio::test]
async fn filters_pagination_and_csv() {
    for b in backends() {
        let w = World::new(&b).await;
        let s = &w.server;
        w.user("ann@example.com").await;
        let odd = "Agent \"X\", v2";
        assert_eq!(
            login_as(s, "ann@example.com", "bad one", odd).await.status,
            401
        );
        assert_eq!(login(s, "bob@example.com", "bad two").await.status, 401);
        assert_eq!(login(s, "ann@example.com", PASSWORD).await.status, 200);
        assert_eq!(login(s, "bob@example.com", "bad three").await.status, 401);
        assert_eq!(login(s, ADMIN_EMAIL, PASSWORD).await.status, 200);

        let all = items(&w.admin.get("/login-activity").await);
        assert_eq!(all.len(), 5, "{}", b.name());
        let r = w.admin.get("/login-activity?email=ANN@example.com").await;
        assert_eq!(
            summary(&items(&r)),
            vec![
                ev("success", "", "ann@example.com"),
                ev("failure", "wrong_password", "ann@example.com"),
            ]
        );
        let r = w.admin.get("/login-activity?outcome=failure").await;
        assert_eq!(items(&r).len(), 3);
        let r = w
            .admin
            .get("/login-activity?outcome=failure&email=bob@example.com")
            .await;
        assert_eq!(items(&r).len(), 2);
        // Time range: the oldest event's time bounds it on both sides.
        let oldest = all[4]["createdAt"].as_str().unwrap();
        let enc = |t: &str| t.replace('+', "%2B");
        let r = w
            .admin
            .get(&format!("/login-activity?to={}", enc(oldest)))
            .await;
        assert_eq!(items(&r).len(), 1, "{}", r.body);
        let r = w
            .admin
            .get(&format!("/login-activity?from={}", enc(oldest)))
            .await;
        assert_eq!(items(&r).len(), 5);
        let r = w
            .admin
            .get("/login-activity?from=2999-01-01T00:00:00Z")
            .await;
        assert!(items(&r).is_empty());
        // Bad filters are 422 naming the field.
        for (q, field) in [
            ("from=yesterday", "from"),
            ("to=2026-13-01T00:00:00Z", "to"),
            ("outcome=maybe", "outcome"),
            ("limit=0", "limit"),
            ("cursor=garbage", "cursor"),
        ] {
            let r = w.admin.get(&format!("/login-activity?{q}")).await;
            assert_eq!(
                (r.status, r.body["error"]["field"].as_str()),
                (422, Some(field)),
                "{q}: {}",
                r.body
            );
        }

        // Pages of two, newest first, together the whole list.
        let mut seen = Vec::new();
        let mut url = "/login-activity?limit=2".to_string();
        loop {
            let r = w.admin.get(&url).await;
            let page = items(&r);
            assert!(page.len() <= 2);
            seen.extend(page);
            match r.body["nextCursor"].as_str() {
                Some(c) => url = format!("/login-activity?limit=2&cursor={c}"),
                None => break,
            }
        }
        assert_eq!(seen, all, "{}", b.name());

        // CSV of the filtered rows: a header row, then one quoted row per event.
        let r = w
            .admin
            .send(
                Method::GET,
                "/login-activity?email=ann@example.com",
                None,
                &[("accept", "text/csv")],
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert!(
            r.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/csv"),
            "{:?}",
            r.headers
        );
        let lines: Vec<&str> = r.text.split("\r\n").filter(|l| !l.is_empty()).collect();
        assert_eq!(
            lines[0],
            "createdAt,email,outcome,reason,ip,userAgent,userId"
        );
        assert_eq!(lines.len(), 3, "{}", r.text);
        assert!(
            lines[2].contains(
                ",ann@example.com,failure,wrong_password,127.0.0.1,\"Agent \"\"X\"\", v2\","
            ),
            "{}",
            lines[2]
        );
        assert!(lines[1].contains(",success,,127.0.0.1,"), "{}", lines[1]);
    }
}

async fn locked(s: &TestServer, email: &str, password: &str, ctx: &str) -> u64 {
    let r = login(s, email, password).await;
    assert_eq!(
        (r.status, r.code()),
        (429, "too_many_attempts"),
        "{ctx}: {}",
        r.body
    );
    let secs: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(secs > 0, "{ctx}");
    secs
}

#[tokio::test]
async fn the_sixth_failure_is_refused_even_with_the_right_password() {
    for b in backends() {
        let w = World::new(&b).await;
        let s = &w.server;
        w.user("lee@example.com").await;
        for i in 0..5 {
            let r = login(s, "lee@example.com", "not the password").await;
            assert_eq!(r.status, 401, "{} attempt {i}: {}", b.name(), r.body);
        }
        let first = locked(s, "lee@example.com", "still not it", b.name()).await;
        assert!(first <= 60, "{first}");
        locked(
            s,
            "LEE@example.com",
            PASSWORD,
            "right password while locked",
        )
        .await;
        // An unknown email is locked the same way (no enumeration through the lockout).
        for _ in 0..5 {
            assert_eq!(login(s, "ghost@example.com", "whatever").await.status, 401);
        }
        locked(s, "ghost@example.com", "whatever", "unknown email").await;
        // Other emails from the same IP still sign in.
        assert_eq!(login(s, ADMIN_EMAIL, PASSWORD).await.status, 200);
        let r = w
            .admin
            .get("/login-activity?email=lee@example.com&outcome=failure")
            .await;
        let reasons: Vec<String> = summary(&items(&r)).into_iter().map(|e| e.1).collect();
        assert_eq!(
            reasons,
            vec![
                "locked_out",
                "locked_out",
                "wrong_password",
                "wrong_password",
                "wrong_password",
                "wrong_password",
                "wrong_password"
            ]
        );
    }
}

#[tokio::test]
async fn a_success_before_the_limit_resets_the_count() {
    for b in backends() {
        let w = World::new(&b).await;
        let s = &w.server;
        w.user("max@example.com").await;
        for _ in 0..4 {
            assert_eq!(login(s, "max@example.com", "nope nope").await.status, 401);
        }
        assert_eq!(login(s, "max@example.com", PASSWORD).await.status, 200);
        for i in 0..4 {
            let r = login(s, "max@example.com", "nope nope").await;
            assert_eq!(r.status, 401, "{} after reset {i}: {}", b.name(), r.body);
        }
        assert_eq!(login(s, "max@example.com", PASSWORD).await.status, 200);
    }
}

#[tokio::test]
async fn limits_are_settings_and_count_per_ip_too() {
    for b in backends() {
        let s = TestServer::start_with(&b, |c| {
            c.login_max_failures = 2;
            c.login_max_failures_per_ip = 3;
        })
        .await;
        let _admin = s.setup().await;
        assert_eq!(login(&s, "a@example.com", "x-wrong-x").await.status, 401);
        assert_eq!(login(&s, "a@example.com", "x-wrong-x").await.status, 401);
        locked(&s, "a@example.com", "x-wrong-x", "per email at 2").await;
        assert_eq!(login(&s, "b@example.com", "x-wrong-x").await.status, 401);
        // Three failures from this IP: every email is refused from here now.
        locked(&s, "c@example.com", "x-wrong-x", "per ip at 3").await;
        locked(&s, ADMIN_EMAIL, PASSWORD, "per ip, right password").await;
    }
}

#[tokio::test]
async fn replicas_share_the_failure_count() {
    for b in backends() {
        if !matches!(b, Backend::Postgres(_)) {
            continue;
        }
        let w = World::new(&b).await;
        let server = &w.server;
        w.user("rex@example.com").await;
        let r2 = server.replica().await;
        for _ in 0..5 {
            assert_eq!(
                login(server, "rex@example.com", "wrong pass").await.status,
                401
            );
        }
        locked(&r2, "rex@example.com", "wrong pass", "second replica").await;
        locked(
            &r2,
            "rex@example.com",
            PASSWORD,
            "second replica, right password",
        )
        .await;
    }
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_last_forwarded_ip_counts() {
    for b in backends() {
        let server = flowspace_testkit::TestServer::start_with(&b, |c| c.trust_proxy = true).await;
        let admin = server.setup().await;
        let anon = server.client();
        let login = |xff: &'static str| {
            let anon = anon.clone();
            async move {
                anon.send(
                    reqwest::Method::POST,
                    "/auth/login",
                    Some(serde_json::json!({"email": "nobody@example.com", "password": "wrong guess 1"})),
                    &[("x-forwarded-for", xff)],
                )
                .await
                .status
            }
        };
        // The client writes the first entries; the proxy appends the address it saw.
        assert_eq!(login("6.6.6.6, 203.0.113.9").await, 401);
        // Not an IP: the socket's address is used.
        assert_eq!(login("not-an-ip").await, 401);
        let events = admin.get("/login-activity?email=nobody@example.com").await;
        let ips: Vec<&str> = events.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["ip"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(ips, vec!["127.0.0.1", "203.0.113.9"], "{}", events.body);
    }
}
