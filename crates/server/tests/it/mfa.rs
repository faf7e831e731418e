//! Two-factor sign-in (SPEC §9) through HTTP, on both backends: TOTP enrolment with the
//! password, activation and its recovery codes, the two-step sign-in and every bad input of
//! it, removal, the lock after five wrong codes under parallel guesses, and the organization's
//! `mfaRequired` policy with an owner's reset.

use flowspace_core::ids::UserId;
use flowspace_core::time::Timestamp;
use flowspace_store::MfaChallenge;
use flowspace_testkit::smtp::SmtpSink;
use flowspace_testkit::{ADMIN_EMAIL, Client, PASSWORD, Resp, TestServer, World, backends};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use totp_rs::TOTP;

/// An authenticator app: the secret read from the enrolment, and the last step it gave a
/// code of (a step is accepted once, so each code is of a later one).
pub(crate) struct Authenticator {
    totp: TOTP,
    last: i64,
}

fn step_now() -> i64 {
    Timestamp::now().unix_seconds().div_euclid(30)
}

impl Authenticator {
    pub(crate) fn from_uri(uri: &str) -> Self {
        Self {
            totp: TOTP::from_url(uri).expect("an otpauth URI"),
            last: i64::MIN,
        }
    }

    /// The code of the current step, or of the next one when the current one was used; waits
    /// for a step when both were.
    pub(crate) async fn code(&mut self) -> String {
        loop {
            let now = step_now();
            let step = (self.last + 1).max(now);
            if step <= now + 1 {
                self.last = step;
                return self.totp.generate((step * 30) as u64);
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// A code of the right shape that is none of the acceptable steps' codes.
    pub(crate) fn wrong_code(&self) -> String {
        let now = step_now();
        let right: Vec<String> = (now - 2..=now + 2)
            .map(|s| self.totp.generate((s * 30) as u64))
            .collect();
        (0..)
            .map(|n: u32| format!("{:06}", (n * 7919) % 1_000_000))
            .find(|c| !right.contains(c))
            .unwrap()
    }
}

/// Enrols and activates TOTP for the signed-in `c`: the authenticator and the recovery codes.
pub(crate) async fn enable_totp(c: &Client) -> (Authenticator, Vec<String>) {
    let r = c
        .post("/auth/mfa/totp/enroll", json!({"password": PASSWORD}))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let mut app = Authenticator::from_uri(r.body["otpauthUri"].as_str().unwrap());
    let r = c
        .post("/auth/mfa/totp/activate", json!({"code": app.code().await}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let codes = r.body["recoveryCodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    (app, codes)
}

async fn login(s: &TestServer, email: &str) -> Resp {
    s.client()
        .post("/auth/login", json!({"email": email, "password": PASSWORD}))
        .await
}

/// Signs in up to the second step: its `mfaToken`.
async fn first_step(s: &TestServer, email: &str) -> String {
    let r = login(s, email).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["mfaRequired"], true, "{}", r.body);
    assert!(
        r.body.get("accessToken").is_none(),
        "no session yet: {}",
        r.body
    );
    assert!(r.headers.get("set-cookie").is_none(), "no cookies yet");
    r.body["mfaToken"].as_str().unwrap().to_string()
}

async fn verify(s: &TestServer, body: Value) -> Resp {
    s.client().post("/auth/mfa/verify", body).await
}

/// A signed-in client from a verify answer.
fn session(s: &TestServer, r: &Resp) -> Client {
    assert_eq!(r.status, 200, "{}", r.body);
    s.client()
        .with_token(r.body["accessToken"].as_str().expect("a session"))
}

/// The login activity of `email` (as the Account Admin reads it), oldest first: outcome and
/// reason of each event.
async fn activity(admin: &Client, email: &str) -> Vec<(String, String)> {
    let r = admin
        .get(&format!("/login-activity?email={email}&limit=200"))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mut v: Vec<(String, String)> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["outcome"].as_str().unwrap().to_string(),
                e["reason"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    v.reverse();
    v
}

fn count(events: &[(String, String)], outcome: &str, reason: &str) -> usize {
    events
        .iter()
        .filter(|(o, r)| o == outcome && r == reason)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn totp_enrolment_and_two_step_sign_in() {
    for b in backends() {
        let name = b.name();
        let w = World::new(&b).await;
        let s = &w.server;
        let (pat_id, pat) = w.member("pat@example.com", &w.default_ws, "Viewer").await;

        // Enrolment needs the password, again.
        let r = pat.post("/auth/mfa/totp/enroll", json!({})).await;
        assert_eq!(r.status, 422, "{name}: {}", r.body);
        let r = pat
            .post(
                "/auth/mfa/totp/enroll",
                json!({"password": "not it at all"}),
            )
            .await;
        assert_eq!((r.status, r.code()), (401, "invalid_credentials"), "{name}");
        let r = pat
            .post("/auth/mfa/totp/activate", json!({"code": "123456"}))
            .await;
        assert_eq!((r.status, r.code()), (409, "mfa_not_enrolled"), "{name}");
        assert_eq!(pat.get("/auth/mfa").await.body["totp"], false);

        let r = pat
            .post("/auth/mfa/totp/enroll", json!({"password": PASSWORD}))
            .await;
        assert_eq!(r.status, 201, "{name}: {}", r.body);
        let uri = r.body["otpauthUri"].as_str().unwrap();
        assert!(
            uri.starts_with("otpauth://totp/Flowspace:pat%40example.com?"),
            "{uri}"
        );
        let secret = r.body["secret"].as_str().unwrap();
        assert!(uri.contains(&format!("secret={secret}")), "{uri}");
        let svg = r.body["qrSvg"].as_str().unwrap();
        assert!(svg.contains("<svg") && svg.contains("</svg>"), "{svg}");
        let mut app = Authenticator::from_uri(uri);
        // The secret is sealed at rest: the stored bytes are not the secret's.
        let stored = s
            .store()
            .totp(UserId(pat_id.parse().unwrap()))
            .await
            .unwrap()
            .unwrap();
        assert!(!stored.active);
        assert!(
            !stored
                .sealed
                .ciphertext
                .windows(app.totp.secret.len())
                .any(|w| w == app.totp.secret.as_slice()),
            "{name}: the secret is stored in clear"
        );
        // Not on until a code proves the app has it: signing in is one step still.
        let r = login(s, "pat@example.com").await;
        assert!(r.body["accessToken"].is_string(), "{name}: {}", r.body);

        for (bad, status, code) in [
            ("12345", 422, "validation_failed"),
            ("12a456", 422, "validation_failed"),
            (app.wrong_code().as_str(), 401, "invalid_mfa_code"),
        ] {
            let r = pat
                .post("/auth/mfa/totp/activate", json!({"code": bad}))
                .await;
            assert_eq!(
                (r.status, r.code()),
                (status, code),
                "{name}: {bad}: {}",
                r.body
            );
        }
        let r = pat
            .post("/auth/mfa/totp/activate", json!({"code": app.code().await}))
            .await;
        assert_eq!(r.status, 200, "{name}: {}", r.body);
        let recovery: Vec<String> = r.body["recoveryCodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_string())
            .collect();
        assert_eq!(recovery.len(), 10);
        let unique: std::collections::HashSet<_> = recovery.iter().collect();
        assert_eq!(unique.len(), 10);
        assert!(recovery.iter().all(|c| c.len() == 11 && &c[5..6] == "-"));
        let st = pat.get("/auth/mfa").await;
        assert_eq!(
            (
                st.body["totp"].clone(),
                st.body["recoveryCodesLeft"].clone()
            ),
            (json!(true), json!(10)),
            "{name}"
        );
        // Once on, neither enrolment nor activation starts over.
        let r = pat
            .post("/auth/mfa/totp/enroll", json!({"password": PASSWORD}))
            .await;
        assert_eq!((r.status, r.code()), (409, "mfa_already_enabled"), "{name}");
        let r = pat
            .post("/auth/mfa/totp/activate", json!({"code": "123456"}))
            .await;
        assert_eq!(r.status, 409, "{name}");

        // Two steps: the password answers a token and no session.
        let token = first_step(s, "pat@example.com").await;
        // Bad input, each a clear error and no session.
        for (body, status, code) in [
            (json!({"mfaToken": token}), 422, "validation_failed"),
            (
                json!({"mfaToken": token, "code": "123456", "recoveryCode": recovery[0]}),
                422,
                "validation_failed",
            ),
            (
                json!({"mfaToken": token, "code": "12 34"}),
                422,
                "validation_failed",
            ),
            (
                json!({"mfaToken": token, "recoveryCode": "nope"}),
                422,
                "validation_failed",
            ),
            (json!({"code": "123456"}), 422, "validation_failed"),
            (
                json!({"mfaToken": "not-a-token", "code": "123456"}),
                401,
                "invalid_mfa_token",
            ),
        ] {
            let r = verify(s, body.clone()).await;
            assert_eq!(
                (r.status, r.code()),
                (status, code),
                "{name}: {body}: {}",
                r.body
            );
            assert!(r.body.get("accessToken").is_none());
        }
        // An expired token (five minutes are not waited for: one is stored already expired).
        let hash = s.state.token_hash("mfa", "expired-token");
        let challenge = MfaChallenge {
            user: UserId(pat_id.parse().unwrap()),
            workspace: None,
        };
        s.store()
            .create_mfa_challenge(&hash, challenge, Timestamp::now().plus_seconds(-1))
            .await
            .unwrap();
        let code = app.code().await;
        let r = verify(s, json!({"mfaToken": "expired-token", "code": code})).await;
        assert_eq!((r.status, r.code()), (401, "invalid_mfa_token"), "{name}");
        // The right code signs in, once.
        let r = verify(s, json!({"mfaToken": token, "code": code})).await;
        let signed_in = session(s, &r);
        assert_eq!(signed_in.get("/auth/me").await.status, 200);
        assert!(
            r.headers.get("set-cookie").is_some(),
            "the dashboard's cookies"
        );
        let again = verify(s, json!({"mfaToken": token, "code": code})).await;
        assert_eq!(
            (again.status, again.code()),
            (401, "invalid_mfa_token"),
            "{name}"
        );
        // The code of an accepted step is refused (no replay).
        let token = first_step(s, "pat@example.com").await;
        let r = verify(s, json!({"mfaToken": token, "code": code})).await;
        assert_eq!(
            (r.status, r.code()),
            (401, "mfa_code_reused"),
            "{name}: {}",
            r.body
        );

        // Another user's token does not take this user's proof.
        let (_, sam) = w.member("sam@example.com", &w.default_ws, "Viewer").await;
        let (_, sam_recovery) = enable_totp(&sam).await;
        let sams = first_step(s, "sam@example.com").await;
        let r = verify(s, json!({"mfaToken": sams, "recoveryCode": recovery[0]})).await;
        assert_eq!(
            (r.status, r.code()),
            (401, "invalid_recovery_code"),
            "{name}"
        );
        // A recovery code works once (typed in capitals, without its dash, too).
        let typed = recovery[0].replace('-', "").to_uppercase();
        let r = verify(s, json!({"mfaToken": token, "recoveryCode": typed})).await;
        session(s, &r);
        let token = first_step(s, "pat@example.com").await;
        let r = verify(s, json!({"mfaToken": token, "recoveryCode": recovery[0]})).await;
        assert_eq!(
            (r.status, r.code()),
            (401, "invalid_recovery_code"),
            "{name}"
        );
        let r = verify(
            s,
            json!({"mfaToken": sams, "recoveryCode": sam_recovery[0]}),
        )
        .await;
        session(s, &r);
        assert_eq!(pat.get("/auth/mfa").await.body["recoveryCodesLeft"], 9);

        // Every attempt is in the login activity.
        let events = activity(&w.admin, "pat@example.com").await;
        assert_eq!(count(&events, "mfa_required", ""), 3, "{name}: {events:?}");
        assert_eq!(
            count(&events, "mfa_failure", "malformed_code"),
            4,
            "{events:?}"
        );
        assert_eq!(
            count(&events, "mfa_failure", "invalid_mfa_token"),
            2,
            "{events:?}"
        );
        assert_eq!(
            count(&events, "mfa_failure", "reused_code"),
            1,
            "{events:?}"
        );
        assert_eq!(
            count(&events, "mfa_failure", "wrong_recovery_code"),
            1,
            "{events:?}"
        );
        // Two-step successes, after the one-step sign-ins before MFA was on.
        assert_eq!(count(&events, "success", ""), 2 + 2, "{events:?}");

        // Removal needs the password and a code.
        let r = pat
            .send(
                reqwest::Method::DELETE,
                "/auth/mfa/totp",
                Some(json!({"password": PASSWORD})),
                &[],
            )
            .await;
        assert_eq!(r.status, 422, "{name}: {}", r.body);
        // Without the password nothing else is judged: no code and a wrong password is a 401.
        let r = pat
            .send(
                reqwest::Method::DELETE,
                "/auth/mfa/totp",
                Some(json!({"password": "wrong password"})),
                &[],
            )
            .await;
        assert_eq!((r.status, r.code()), (401, "invalid_credentials"), "{name}");
        let r = pat
            .send(
                reqwest::Method::DELETE,
                "/auth/mfa/totp",
                Some(json!({"password": "wrong password", "code": app.code().await})),
                &[],
            )
            .await;
        assert_eq!((r.status, r.code()), (401, "invalid_credentials"), "{name}");
        let r = pat
            .send(
                reqwest::Method::DELETE,
                "/auth/mfa/totp",
                Some(json!({"password": PASSWORD, "code": app.wrong_code()})),
                &[],
            )
            .await;
        assert_eq!((r.status, r.code()), (401, "invalid_mfa_code"), "{name}");
        assert_eq!(pat.get("/auth/mfa").await.body["totp"], true);
        let r = pat
            .send(
                reqwest::Method::DELETE,
                "/auth/mfa/totp",
                Some(json!({"password": PASSWORD, "code": app.code().await})),
                &[],
            )
            .await;
        assert_eq!(r.status, 204, "{name}: {}", r.body);
        let r = login(s, "pat@example.com").await;
        assert!(
            r.body["accessToken"].is_string(),
            "{name}: one step again: {}",
            r.body
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_parallel_guesses_check_at_most_five_codes() {
    for b in backends() {
        let name = b.name();
        let w = World::new(&b).await;
        let second = w.server.replica().await;
        let (_, pat) = w.member("pat@example.com", &w.default_ws, "Viewer").await;
        let (mut app, recovery) = enable_totp(&pat).await;
        let token = first_step(&w.server, "pat@example.com").await;
        let wrong = app.wrong_code();
        let start = Arc::new(tokio::sync::Barrier::new(20));
        let mut set = tokio::task::JoinSet::new();
        for i in 0..20 {
            let c = [&w.server, &second][i % 2].client();
            let body = json!({"mfaToken": token, "code": wrong});
            let start = start.clone();
            set.spawn(async move {
                start.wait().await;
                c.post("/auth/mfa/verify", body).await
            });
        }
        let answers: Vec<Resp> = set.join_all().await;
        let checked = answers.iter().filter(|r| r.status == 401).count();
        let locked: Vec<&Resp> = answers.iter().filter(|r| r.status == 429).collect();
        assert_eq!((checked, locked.len()), (5, 15), "{name}: {answers:?}");
        for r in locked {
            assert_eq!(r.code(), "too_many_attempts");
            let secs: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
            assert!(secs > 0 && secs <= 300, "{secs}");
        }
        // Locked for this user: the right code and a recovery code are refused too, and
        // nothing was spent by them.
        let r = verify(
            &w.server,
            json!({"mfaToken": token, "code": app.code().await}),
        )
        .await;
        assert_eq!(r.status, 429, "{name}: {}", r.body);
        let r = verify(
            &w.server,
            json!({"mfaToken": token, "recoveryCode": recovery[1]}),
        )
        .await;
        assert_eq!(r.status, 429, "{name}: {}", r.body);
        assert_eq!(pat.get("/auth/mfa").await.body["recoveryCodesLeft"], 10);
        let events = activity(&w.admin, "pat@example.com").await;
        assert_eq!(
            count(&events, "mfa_failure", "wrong_code"),
            5,
            "{name}: {events:?}"
        );
        assert_eq!(
            count(&events, "mfa_failure", "locked_out"),
            17,
            "{name}: {events:?}"
        );
    }
}

/// A server whose mail goes to `sink`.
async fn world_with_mail(b: &flowspace_testkit::Backend, sink: &SmtpSink) -> World {
    let port = sink.port;
    World::new_with(b, |c| {
        c.smtp_host = Some("127.0.0.1".into());
        c.smtp_port = Some(port);
        c.smtp_secure = Some("none".into());
        c.sender_email = Some("flowspace@example.com".into());
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn organization_policy_lets_members_without_mfa_only_enrol() {
    for b in backends() {
        let name = b.name();
        let sink = SmtpSink::start().await;
        let w = world_with_mail(&b, &sink).await;
        let s = &w.server;
        let (pat_id, pat) = w
            .member("pat@example.com", &w.default_ws, "Developer")
            .await;
        let key = pat
            .post(
                "/apikeys",
                json!({"name": "ci", "permissions": ["chatflows:view"]}),
            )
            .await;
        assert_eq!(key.status, 201, "{}", key.body);
        let key = s.client().with_token(key.body["key"].as_str().unwrap());
        assert_eq!(pat.get("/chatflows").await.status, 200);

        // An admin without MFA is held by the policy too.
        let (ada_id, ada) = w.member("ada@example.com", &w.default_ws, "Viewer").await;
        let r = w
            .admin
            .patch(
                &format!("/organization/members/{ada_id}"),
                json!({"role": "admin"}),
            )
            .await;
        assert_eq!(r.status, 200, "{name}: {}", r.body);

        // The owner turns the policy on, having MFA themselves (or they would lock
        // themselves out); it holds from the next request.
        let r = w
            .admin
            .patch("/organization", json!({"mfaRequired": true}))
            .await;
        assert_eq!(
            (r.status, r.code()),
            (409, "mfa_not_enabled"),
            "{name}: {}",
            r.body
        );
        enable_totp(&w.admin).await;
        let r = w
            .admin
            .patch("/organization", json!({"mfaRequired": true}))
            .await;
        assert_eq!(r.status, 200, "{name}: {}", r.body);
        assert_eq!(w.admin.get("/organization").await.status, 200, "{name}");
        for c in [&pat, &ada] {
            for path in ["/chatflows", "/workspaces", "/organization"] {
                let r = c.get(path).await;
                assert_eq!(
                    (r.status, r.code()),
                    (403, "mfa_enrollment_required"),
                    "{name}: {path}: {}",
                    r.body
                );
            }
            let r = c.post("/chatflows", json!({"name": "x"})).await;
            assert_eq!(
                (r.status, r.code()),
                (403, "mfa_enrollment_required"),
                "{name}"
            );
            // What enrolling needs still answers.
            assert_eq!(c.get("/auth/me").await.status, 200, "{name}");
            assert_eq!(c.get("/auth/mfa").await.body["enrollmentRequired"], true);
        }
        // A program's key is not a sign-in: the policy is on people.
        assert_eq!(key.get("/chatflows").await.status, 200, "{name}");
        // A fresh sign-in of a member without MFA is a session that can only enrol.
        let fresh = s
            .login("pat@example.com", PASSWORD)
            .await
            .in_workspace(&w.default_ws);
        assert_eq!(
            fresh.get("/chatflows").await.code(),
            "mfa_enrollment_required"
        );

        let (mut app, _) = enable_totp(&pat).await;
        assert_eq!(pat.get("/chatflows").await.status, 200, "{name}: enrolled");
        assert_eq!(
            ada.get("/organization").await.code(),
            "mfa_enrollment_required",
            "{name}"
        );
        assert_eq!(pat.get("/auth/mfa").await.body["enrollmentRequired"], false);

        // Only an owner resets a member's MFA.
        let path = format!("/organization/members/{pat_id}/mfa");
        let r = pat.delete(&path).await;
        assert_eq!(r.status, 403, "{name}: {}", r.body);
        let r = w
            .admin
            .delete(&format!(
                "/organization/members/{}/mfa",
                uuid::Uuid::new_v4()
            ))
            .await;
        assert_eq!(r.status, 404, "{name}: {}", r.body);
        // An account that also belongs to another organization keeps its second factor: one
        // organization's owner must not weaken another's member (409, nothing removed).
        let other = w
            .admin
            .post(
                "/organizations",
                json!({"name": "Other", "ownerEmail": "pat@example.com"}),
            )
            .await;
        assert_eq!(other.status, 201, "{name}: {}", other.body);
        let r = w.admin.delete(&path).await;
        assert_eq!(
            (r.status, r.code()),
            (409, "mfa_reset_not_allowed"),
            "{name}: {}",
            r.body
        );
        assert_eq!(pat.get("/auth/mfa").await.body["totp"], true, "{name}");
        let gone = w
            .admin
            .delete(&format!(
                "/organizations/{}",
                other.body["id"].as_str().unwrap()
            ))
            .await;
        assert_eq!(gone.status, 204, "{name}: {}", gone.body);
        let r = w.admin.delete(&path).await;
        assert_eq!(r.status, 200, "{name}: {}", r.body);
        assert_eq!(r.body["mail"]["sent"], true, "{name}: {}", r.body);
        let msg = sink.next_message(Duration::from_secs(10)).await;
        assert_eq!(msg.subject(), "Your Flowspace two-factor sign-in was reset");
        assert!(
            msg.text().unwrap().contains("Admin, an owner of Acme"),
            "{:?}",
            msg.text()
        );
        assert_eq!(msg.header("to").as_deref(), Some("pat@example.com"));
        let audit = w.admin.get("/audit-events?action=member.mfa_reset").await;
        assert_eq!(audit.status, 200, "{}", audit.body);
        let ev = &audit.body["items"][0];
        assert_eq!(ev["action"], "member.mfa_reset", "{name}: {}", audit.body);
        assert_eq!(ev["targetId"], pat_id.as_str());

        // Reset: the member signs in with the password alone and must enrol again.
        assert_eq!(
            pat.get("/chatflows").await.code(),
            "mfa_enrollment_required"
        );
        let r = login(s, "pat@example.com").await;
        assert!(r.body["accessToken"].is_string(), "{name}: {}", r.body);
        let _ = app.code().await;
        // The owner, with MFA on, signs in in two steps.
        let r = login(s, ADMIN_EMAIL).await;
        assert_eq!(r.body["mfaRequired"], true, "{name}: {}", r.body);
    }
}

/// A password change (`PATCH /auth/me`) checks the current password as a sign-in checks one:
/// wrong ones count with the sign-ins of that email, and after five the change is refused
/// with 429 and `Retry-After`, even with the right one (and so is signing in).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wrong_current_passwords_are_limited_like_sign_ins() {
    for b in backends() {
        let name = b.name();
        let w = World::new(&b).await;
        let (_, pat) = w.member("pat@example.com", &w.default_ws, "Viewer").await;
        let change = |current: &'static str| {
            let pat = pat.clone();
            async move {
                pat.patch(
                    "/auth/me",
                    json!({"password": "a new long passphrase", "currentPassword": current}),
                )
                .await
            }
        };
        for _ in 0..5 {
            let r = change("not the password").await;
            assert_eq!(
                (r.status, r.code()),
                (401, "invalid_credentials"),
                "{name}: {}",
                r.body
            );
            assert_eq!(r.body["error"]["field"], "currentPassword", "{}", r.body);
        }
        let locked = change(PASSWORD).await;
        let at_sign_in = login(&w.server, "pat@example.com").await;
        for r in [locked, at_sign_in] {
            assert_eq!(
                (r.status, r.code()),
                (429, "too_many_attempts"),
                "{name}: {}",
                r.body
            );
            let secs: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
            assert!(secs > 0, "{name}: {secs}");
        }
        // Each wrong one is a failed sign-in in the login activity.
        let r = w
            .admin
            .get("/login-activity?email=pat@example.com&limit=50")
            .await;
        let wrong = r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["outcome"] == "failure" && e["reason"] == "wrong_password")
            .count();
        assert_eq!(wrong, 5, "{name}: {}", r.body);
        let r = pat.patch("/auth/me", json!({"name": "Still Pat"})).await;
        assert_eq!(r.status, 200, "{name}: a name change asks for no password");
    }
}
