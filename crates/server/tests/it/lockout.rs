//! Rule 15 under concurrency: parallel wrong guesses, sent at two replicas on one database,
//! check at most the limit of passwords (per email and per IP); the rest, and the right
//! password sent while they are in flight, are refused with 429 and `Retry-After`. The count
//! is read twice: from the answers (401 means a password was checked) and from the login
//! activity the server recorded.

use flowspace_testkit::{ADMIN_EMAIL, Client, PASSWORD, Resp, TestServer, World, backends};
use reqwest::Method;
use serde_json::{Value, json};
use std::sync::Arc;
use tokio::sync::{Barrier, Notify};

/// Parallel wrong guesses per test.
const GUESSES: usize = 50;

/// PASSWORD_HASH_MAX_WAIT_MS for the bursts: long enough that a busy machine's waits are
/// never refused as busy (503), so that what is counted is the lockout alone.
const PATIENT_MS: u64 = 10_000;

async fn login(c: &Client, email: &str, password: &str, ip: Option<&str>) -> Resp {
    let headers: Vec<(&str, &str)> = ip.map(|ip| ("x-forwarded-for", ip)).into_iter().collect();
    c.send(
        Method::POST,
        "/auth/login",
        Some(json!({"email": email, "password": password})),
        &headers,
    )
    .await
}

fn retry_after(r: &Resp) -> u64 {
    assert_eq!(
        (r.status, r.code()),
        (429, "too_many_attempts"),
        "{}",
        r.body
    );
    let secs: u64 = r
        .headers
        .get("retry-after")
        .expect("Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(secs > 0);
    secs
}

/// What a burst did: the answers of the wrong guesses, and the right password's answer.
struct Burst {
    guesses: Vec<Resp>,
    right: Resp,
}

/// Sends `GUESSES` wrong guesses at once, alternately at the two replicas (`guess(i)` is the
/// email and password of the i-th), and the right password of `email` at the second replica
/// as soon as any guess was refused, while the others are still being answered.
async fn burst(
    replicas: [&TestServer; 2],
    guess: impl Fn(usize) -> (String, String),
    email: &str,
    ip: Option<&'static str>,
) -> Burst {
    let start = Arc::new(Barrier::new(GUESSES));
    let locked = Arc::new(Notify::new());
    let mut set = tokio::task::JoinSet::new();
    for i in 0..GUESSES {
        let c = replicas[i % 2].client();
        let (e, p) = guess(i);
        let (start, locked) = (start.clone(), locked.clone());
        set.spawn(async move {
            start.wait().await;
            let r = login(&c, &e, &p, ip).await;
            if r.status == 429 {
                locked.notify_one();
            }
            r
        });
    }
    let right = {
        let c = replicas[1].client();
        let email = email.to_string();
        tokio::spawn(async move {
            // Sent anyway after a while, so that a lockout that never comes fails the test.
            let _ =
                tokio::time::timeout(std::time::Duration::from_secs(30), locked.notified()).await;
            login(&c, &email, PASSWORD, ip).await
        })
    };
    let mut guesses = Vec::new();
    while let Some(r) = set.join_next().await {
        guesses.push(r.unwrap());
    }
    Burst {
        guesses,
        right: right.await.unwrap(),
    }
}

/// The failure reasons the server recorded for a login-activity query, counted.
async fn reasons(admin: &Client, query: &str) -> std::collections::BTreeMap<String, usize> {
    let r = admin
        .get(&format!("/login-activity?limit=200&{query}"))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mut counts = std::collections::BTreeMap::new();
    for e in r.body["items"].as_array().unwrap() {
        let key = format!(
            "{}/{}",
            e["outcome"].as_str().unwrap_or(""),
            e["reason"].as_str().unwrap_or("")
        );
        *counts.entry(key).or_insert(0) += 1;
    }
    counts
}

fn statuses(b: &Burst) -> (usize, usize) {
    let checked = b.guesses.iter().filter(|r| r.status == 401).count();
    let refused: Vec<&Resp> = b.guesses.iter().filter(|r| r.status == 429).collect();
    for r in &refused {
        retry_after(r);
    }
    let other: Vec<(u16, &Value)> = b
        .guesses
        .iter()
        .filter(|r| r.status != 401 && r.status != 429)
        .map(|r| (r.status, &r.body))
        .collect();
    assert!(other.is_empty(), "only 401 and 429 are answered: {other:?}");
    (checked, refused.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_guesses_at_two_replicas_check_at_most_the_email_limit() {
    for b in backends() {
        let name = b.name();
        let w = World::new_with(&b, |c| c.password_hash_max_wait_ms = PATIENT_MS).await;
        w.user("pat@example.com").await;
        let second = w
            .server
            .replica_with(|c| c.password_hash_max_wait_ms = PATIENT_MS)
            .await;
        let max = w.server.state.config.login_max_failures;
        assert_eq!(max, 5, "the default limit");

        let result = burst(
            [&w.server, &second],
            |i| ("pat@example.com".into(), format!("wrong guess number {i}")),
            "pat@example.com",
            None,
        )
        .await;
        let (checked, refused) = statuses(&result);
        assert_eq!(
            (checked, refused),
            (5, GUESSES - 5),
            "{name}: exactly the limit of guesses is checked"
        );
        let secs = retry_after(&result.right);
        assert!(secs <= 60, "{name}: the first lock lasts a minute: {secs}");
        // Still locked, one at a time, on either replica.
        retry_after(&login(&w.server.client(), "pat@example.com", PASSWORD, None).await);

        let recorded = reasons(&w.admin, "email=pat@example.com").await;
        let expected: std::collections::BTreeMap<String, usize> = [
            ("failure/wrong_password".to_string(), 5),
            ("failure/locked_out".to_string(), GUESSES - 5 + 2),
        ]
        .into_iter()
        .collect();
        assert_eq!(recorded, expected, "{name}: no attempt is left unfinished");
        // Another account on the same IP is not locked (5 failures are below the IP's 20).
        assert_eq!(
            login(&second.client(), ADMIN_EMAIL, PASSWORD, None)
                .await
                .status,
            200,
            "{name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_guesses_from_one_ip_check_at_most_the_ip_limit() {
    const IP: &str = "198.51.100.7";
    for b in backends() {
        let name = b.name();
        let patient = |c: &mut flowspace_server::config::Config| {
            c.trust_proxy = true;
            c.password_hash_max_wait_ms = PATIENT_MS;
        };
        let first = TestServer::start_with(&b, patient).await;
        let admin = first.setup().await;
        let second = first.replica_with(patient).await;
        let max = first.state.config.login_max_failures_per_ip;
        assert_eq!(max, 20, "the default limit");

        // Every guess at another (unknown) email: only the IP's limit can stop them.
        let result = burst(
            [&first, &second],
            |i| {
                (
                    format!("guess{i}@example.com"),
                    "some wrong password".into(),
                )
            },
            ADMIN_EMAIL,
            Some(IP),
        )
        .await;
        let (checked, refused) = statuses(&result);
        assert_eq!(
            (checked, refused),
            (20, GUESSES - 20),
            "{name}: exactly the IP's limit of guesses is checked"
        );
        retry_after(&result.right);
        retry_after(&login(&first.client(), ADMIN_EMAIL, PASSWORD, Some(IP)).await);

        let r = admin.get("/login-activity?limit=200&outcome=failure").await;
        assert_eq!(r.status, 200, "{}", r.body);
        let from_ip: Vec<&Value> = r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["ip"] == IP)
            .collect();
        let count = |reason: &str| from_ip.iter().filter(|e| e["reason"] == reason).count();
        assert_eq!(count("unknown_email"), 20, "{name}");
        assert_eq!(count("locked_out"), GUESSES - 20 + 2, "{name}");
        assert_eq!(
            from_ip.len(),
            GUESSES + 2,
            "{name}: nothing left unfinished"
        );
        // The lock is the IP's: the same account from another address signs in.
        let r = login(
            &second.client(),
            ADMIN_EMAIL,
            PASSWORD,
            Some("203.0.113.50"),
        )
        .await;
        assert_eq!(r.status, 200, "{name}: {}", r.body);
    }
}

/// Once a lock is over, the next sign-in is checked at once (one at a time): neither held for
/// the whole window while the failures that caused the lock are still in it, nor told to
/// retry in a second after waiting (rule 15); a wrong one then locks again, for longer.
#[tokio::test]
async fn when_a_lock_is_over_the_next_sign_in_is_checked_at_once() {
    for b in backends() {
        let name = b.name();
        let w = World::new_with(&b, |c| c.login_lockout_secs = 1).await;
        let c = w.server.client();
        for _ in 0..5 {
            let r = login(&c, ADMIN_EMAIL, "a wrong password", None).await;
            assert_eq!(r.status, 401, "{name}: {}", r.body);
        }
        let r = login(&c, ADMIN_EMAIL, PASSWORD, None).await;
        assert!(
            retry_after(&r) <= 1,
            "{name}: the first lock lasts a second"
        );
        tokio::time::sleep(std::time::Duration::from_millis(1_200)).await;
        let started = std::time::Instant::now();
        let r = login(&c, ADMIN_EMAIL, "still a wrong password", None).await;
        assert_eq!(r.status, 401, "{name}: checked, not held: {}", r.body);
        assert!(
            started.elapsed().as_secs() < 5,
            "{name}: {:?}",
            started.elapsed()
        );
        let r = login(&c, ADMIN_EMAIL, PASSWORD, None).await;
        assert!(retry_after(&r) >= 1, "{name}: locked again");
        tokio::time::sleep(std::time::Duration::from_millis(2_200)).await;
        let started = std::time::Instant::now();
        let r = login(&c, ADMIN_EMAIL, PASSWORD, None).await;
        assert_eq!(r.status, 200, "{name}: {}", r.body);
        assert!(
            started.elapsed().as_secs() < 5,
            "{name}: {:?}",
            started.elapsed()
        );
    }
}

/// Checks of one email in flight on another replica (here five attempts reserved in the
/// database, as that replica's sign-ins hold them while they hash) make a sign-in wait for
/// them, but only for PASSWORD_HASH_MAX_WAIT_MS: then it is answered 503 with `Retry-After`,
/// as a busy server, and nothing is recorded (it is no lockout). One whose wait ends sooner,
/// when those checks end, signs in.
#[tokio::test]
async fn checks_in_flight_on_another_replica_hold_a_sign_in_at_most_the_wait_bound() {
    use flowspace_store::{LoginOutcome, NewLoginEvent, Reservation, login_reason};
    const EMAIL: &str = "pat@example.com";
    for b in backends() {
        let name = b.name();
        let w = World::new_with(&b, |c| c.password_hash_max_wait_ms = 2_000).await;
        w.user(EMAIL).await;
        let state = &w.server.state;
        let policy = state.config.lockout_policy();
        let elsewhere = NewLoginEvent {
            organization: None,
            user: None,
            email: Some(EMAIL.into()),
            outcome: LoginOutcome::Failure,
            reason: Some(login_reason::UNFINISHED),
            ip: Some("203.0.113.9".into()),
            user_agent: None,
            method: Some("password"),
            provider: None,
        };
        let mut held = Vec::new();
        for _ in 0..policy.max_failures {
            match state.store.reserve_login_attempt(&elsewhere, &policy).await {
                Ok(Reservation::Reserved(attempt)) => held.push(attempt),
                _ => panic!("{name}: the checks elsewhere are reserved"),
            }
        }
        let recorded = reasons(&w.admin, &format!("email={EMAIL}")).await;

        let c = w.server.client();
        let started = std::time::Instant::now();
        let r = login(&c, EMAIL, PASSWORD, None).await;
        let waited = started.elapsed();
        assert_eq!((r.status, r.code()), (503, "busy"), "{name}: {}", r.body);
        assert_eq!(
            r.headers.get("retry-after").map(|v| v.to_str().unwrap()),
            Some("1"),
            "{name}"
        );
        assert!(
            waited >= std::time::Duration::from_millis(2_000),
            "{name}: it waited for the checks elsewhere first: {waited:?}"
        );
        assert_eq!(
            reasons(&w.admin, &format!("email={EMAIL}")).await,
            recorded,
            "{name}: a busy refusal records nothing"
        );

        // The checks elsewhere end while a sign-in waits for them: it is checked.
        let waiting = tokio::spawn(async move { login(&c, EMAIL, PASSWORD, None).await });
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert!(
            !waiting.is_finished(),
            "{name}: it waits, it is not refused"
        );
        for attempt in held {
            state.store.release_login_attempt(attempt).await.unwrap();
        }
        let r = waiting.await.unwrap();
        assert_eq!(r.status, 200, "{name}: {}", r.body);
    }
}
