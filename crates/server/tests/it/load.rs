//! Concurrency under load (issue 6): many sign-ins at once, mixed with writes, give no 5xx
//! but a deliberate 503, and lose nothing. Timings are for `bench/run`; this only checks
//! outcomes.

use flowspace_testkit::{PASSWORD, TestServer, World, backends};
use futures_util::future::join_all;
use serde_json::json;

const USERS: usize = 8;
const LOGINS_PER_USER: usize = 8;
const WRITES: usize = 64;

async fn success_logins(w: &World) -> usize {
    let mut n = 0;
    let mut cursor = String::new();
    loop {
        let r = w
            .admin
            .get(&format!(
                "/login-activity?outcome=success&limit=200{cursor}"
            ))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        n += r.body["items"].as_array().map_or(0, Vec::len);
        match r.body["nextCursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => return n,
        }
    }
}

#[tokio::test]
async fn sixty_four_sign_ins_mixed_with_writes_lose_nothing() {
    for backend in backends() {
        let w = World::new(&backend).await;
        let mut emails = Vec::new();
        for i in 0..USERS {
            let email = format!("user{i}@acme.test");
            let id = w.user(&email).await;
            w.add(&w.default_ws, &id, "Developer").await;
            emails.push(email);
        }
        let before = success_logins(&w).await;

        let server = &w.server;
        let logins = emails.iter().flat_map(|email| {
            (0..LOGINS_PER_USER).map(move |_| {
                let c = server.client();
                async move {
                    c.post("/auth/login", json!({"email": email, "password": PASSWORD}))
                        .await
                }
            })
        });
        let writes = (0..WRITES).map(|i| {
            let admin = w.admin.clone();
            async move {
                admin
                    .post(
                        "/chatflows",
                        json!({"name": format!("flow {i}"), "data": {"n": i}}),
                    )
                    .await
            }
        });
        let (logins, writes) = tokio::join!(join_all(logins), join_all(writes));

        for r in &logins {
            assert_eq!(r.status, 200, "{}: {}", backend.name(), r.body);
        }
        for r in &writes {
            assert_eq!(r.status, 201, "{}: {}", backend.name(), r.body);
        }
        let mut names: Vec<String> = Vec::new();
        let mut cursor = String::new();
        loop {
            let r = w.admin.get(&format!("/chatflows?limit=200{cursor}")).await;
            names.extend(
                r.body["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i["name"].as_str().unwrap().to_string()),
            );
            match r.body["nextCursor"].as_str() {
                Some(c) => cursor = format!("&cursor={c}"),
                None => break,
            }
        }
        names.sort();
        let mut expected: Vec<String> = (0..WRITES).map(|i| format!("flow {i}")).collect();
        expected.sort();
        assert_eq!(
            names,
            expected,
            "{}: every write is there once",
            backend.name()
        );
        assert_eq!(
            success_logins(&w).await - before,
            USERS * LOGINS_PER_USER,
            "{}: every sign-in is recorded",
            backend.name()
        );
    }
}

#[tokio::test]
async fn beyond_the_hashing_queue_sign_ins_get_503_with_retry_after() {
    let backend = &backends()[0];
    let server = TestServer::start_with(backend, |c| {
        c.password_hash_queue = 1;
        // Slow enough hashing that the queue fills.
        c.argon2_memory_kib = 19456;
        c.argon2_iterations = 2;
    })
    .await;
    server.setup().await;
    let (ok, busy) = burst_of_sign_ins(&server).await;
    assert!(ok >= 1, "the queue still serves");
    assert!(busy >= 1, "a full queue answers 503");
}

/// 32 sign-ins of the Account Admin at once: only 200s or 503 `busy` with `Retry-After`;
/// how many of each.
async fn burst_of_sign_ins(server: &TestServer) -> (usize, usize) {
    let attempts = (0..32).map(|_| {
        let c = server.client();
        async move {
            c.post(
                "/auth/login",
                json!({"email": flowspace_testkit::ADMIN_EMAIL, "password": PASSWORD}),
            )
            .await
        }
    });
    let answers = join_all(attempts).await;
    let ok = answers.iter().filter(|r| r.status == 200).count();
    let busy: Vec<_> = answers.iter().filter(|r| r.status == 503).collect();
    assert_eq!(ok + busy.len(), answers.len(), "only 200 or 503");
    for r in &busy {
        assert_eq!(r.code(), "busy");
        assert!(r.headers.contains_key("retry-after"));
    }
    (ok, busy.len())
}

#[tokio::test]
async fn a_sign_in_that_would_wait_too_long_gets_503_at_once() {
    let backend = &backends()[0];
    let server = TestServer::start_with(backend, |c| {
        // No wait allowed: once every worker has a check, the next is refused.
        c.password_hash_max_wait_ms = 0;
        c.argon2_memory_kib = 19456;
        c.argon2_iterations = 2;
    })
    .await;
    // Setting up hashes a password: the hash's time is known from here on.
    server.setup().await;
    let (ok, busy) = burst_of_sign_ins(&server).await;
    assert!(ok >= 1, "a free worker still serves");
    assert!(busy >= 1, "a check that would wait is refused");
    // Refused ones were not counted as attempts: the account is not locked, and a sign-in
    // alone goes through.
    let r = server
        .client()
        .post(
            "/auth/login",
            json!({"email": flowspace_testkit::ADMIN_EMAIL, "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}
