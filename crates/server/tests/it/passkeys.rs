//! Passkeys as a second factor (SPEC §9) through HTTP, on both backends, with webauthn-rs's
//! software authenticator as the user's device: registration (the password again), sign-in
//! with the passkey (a session only after the assertion), forged, replayed and misdirected
//! assertions refused, removal with the password and a proof of a second factor, the
//! signature counter (a cloned authenticator), and the organization's `mfaRequired` policy.
//! Also what guards the password asked for again (it is limited like sign-ins), changing
//! second factors (a proof of one), and accepting an invitation with an account that has a
//! second factor.

use crate::mfa::enable_totp;
use crate::organizations::{active_ws, new_org, register};
use flowspace_testkit::{Client, PASSWORD, Resp, TestServer, World, backends};
use serde_json::{Value, json};
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::prelude::{
    CreationChallengeResponse, PublicKeyCredential, RequestChallengeResponse, Url,
};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_authenticator_rs::softtoken::{SoftToken, SoftTokenFile};

/// The origin the test servers' APP_URL names (`flowspace_testkit::test_config`).
const ORIGIN: &str = "http://localhost:3000";

/// A passkey device: webauthn-rs's software authenticator (it verifies its user).
pub(crate) struct Device(WebauthnAuthenticator<SoftPasskey>);

impl Device {
    pub(crate) fn new() -> Self {
        Self(WebauthnAuthenticator::new(SoftPasskey::new(true)))
    }

    /// The browser's answer to registration options, as `navigator.credentials.create`.
    fn create(&mut self, options: &Value) -> Value {
        let ccr: CreationChallengeResponse =
            serde_json::from_value(json!({"publicKey": options})).expect("creation options");
        let cred = self
            .0
            .do_registration(Url::parse(ORIGIN).unwrap(), ccr)
            .expect("the authenticator registers");
        serde_json::to_value(cred).unwrap()
    }

    /// The browser's answer to sign-in options, as `navigator.credentials.get`.
    pub(crate) fn get(&mut self, options: &Value) -> Value {
        let rcr: RequestChallengeResponse =
            serde_json::from_value(json!({"publicKey": options})).expect("request options");
        let cred = self
            .0
            .do_authentication(Url::parse(ORIGIN).unwrap(), rcr)
            .expect("the authenticator signs");
        serde_json::to_value(cred).unwrap()
    }
}

/// Registers a passkey of `device` named `name` for the signed-in `c`, who has no second
/// factor yet: its id.
pub(crate) async fn add_passkey(c: &Client, device: &mut Device, name: &str) -> String {
    add_passkey_proved(c, device, name, json!({})).await
}

/// `add_passkey` with `proof` (`code`, `recoveryCode` or `passkey`) of a second factor.
async fn add_passkey_proved(c: &Client, device: &mut Device, name: &str, proof: Value) -> String {
    let mut body = json!({"password": PASSWORD});
    body.as_object_mut()
        .unwrap()
        .extend(proof.as_object().unwrap().clone());
    let r = c.post("/auth/mfa/passkeys/registration", body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let credential = device.create(&r.body["publicKey"]);
    let r = c
        .post(
            "/auth/mfa/passkeys",
            json!({"name": name, "credential": credential}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.id()
}

/// `device`'s answer to the options of a confirmation of the signed-in `c` (a proof of one of
/// their passkeys before their second factors change).
pub(crate) async fn confirm(c: &Client, device: &mut Device) -> Value {
    let r = c.post("/auth/mfa/passkeys/confirmation", json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    device.get(&r.body["publicKey"])
}

/// `DELETE path` with a JSON body.
async fn del(c: &Client, path: &str, body: Value) -> Resp {
    c.send(reqwest::Method::DELETE, path, Some(body), &[]).await
}

async fn login(s: &TestServer, email: &str) -> Resp {
    s.client()
        .post("/auth/login", json!({"email": email, "password": PASSWORD}))
        .await
}

/// Signs in up to the second step: its `mfaToken`, after checking that there is no session.
async fn first_step(s: &TestServer, email: &str, methods: Value) -> String {
    let r = login(s, email).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["mfaRequired"], true, "{}", r.body);
    assert_eq!(r.body["methods"], methods, "{}", r.body);
    assert!(r.body.get("accessToken").is_none(), "{}", r.body);
    assert!(r.headers.get("set-cookie").is_none(), "no cookies yet");
    r.body["mfaToken"].as_str().unwrap().to_string()
}

/// The sign-in options for `token`.
async fn options(s: &TestServer, token: &str) -> Resp {
    s.client()
        .post("/auth/mfa/passkey/options", json!({"mfaToken": token}))
        .await
}

async fn verify(s: &TestServer, token: &str, passkey: &Value) -> Resp {
    s.client()
        .post(
            "/auth/mfa/verify",
            json!({"mfaToken": token, "passkey": passkey}),
        )
        .await
}

/// `assertion` with one byte of its signature changed.
fn forged(assertion: &Value) -> Value {
    let mut cred: PublicKeyCredential = serde_json::from_value(assertion.clone()).unwrap();
    let mut sig: Vec<u8> = cred.response.signature.clone().into();
    let last = sig.len() - 1;
    sig[last] ^= 0x01;
    cred.response.signature = sig.into();
    serde_json::to_value(cred).unwrap()
}

/// How many login events of `email` have this outcome and reason.
async fn events(admin: &Client, email: &str, outcome: &str, reason: Option<&str>) -> usize {
    let r = admin
        .get(&format!("/login-activity?email={email}&limit=200"))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["outcome"] == outcome && e["reason"].as_str() == reason)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn passkey_registration_and_sign_in() {
    for b in backends() {
        let name = b.name();
        let w = World::new(&b).await;
        let s = &w.server;
        let (_, pat) = w.member("pat@example.com", &w.default_ws, "Viewer").await;
        let mut laptop = Device::new();

        // Registration needs the password, again, and a registration under way.
        assert_eq!(pat.get("/auth/mfa/passkeys").await.body["items"], json!([]));
        let r = pat.post("/auth/mfa/passkeys/registration", json!({})).await;
        assert_eq!(r.status, 422, "{name}: {}", r.body);
        let r = pat
            .post(
                "/auth/mfa/passkeys/registration",
                json!({"password": "not it at all"}),
            )
            .await;
        assert_eq!((r.status, r.code()), (401, "invalid_credentials"), "{name}");
        let r = pat
            .post(
                "/auth/mfa/passkeys",
                json!({"name": "Laptop", "credential": {"id": "x"}}),
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (409, "passkey_registration_expired"),
            "{name}: {}",
            r.body
        );

        // A malformed answer is refused, and spends the registration.
        let r = pat
            .post(
                "/auth/mfa/passkeys/registration",
                json!({"password": PASSWORD}),
            )
            .await;
        assert_eq!(r.status, 200, "{name}: {}", r.body);
        let r = pat
            .post(
                "/auth/mfa/passkeys",
                json!({"name": "Laptop", "credential": {"id": "x"}}),
            )
            .await;
        assert_eq!(r.status, 422, "{name}: {}", r.body);
        let r = pat
            .post(
                "/auth/mfa/passkeys/registration",
                json!({"password": PASSWORD}),
            )
            .await;
        assert_eq!(r.status, 200, "{name}: {}", r.body);
        // The relying party is APP_URL's host; the user handle is the account's.
        assert_eq!(r.body["publicKey"]["rp"]["id"], "localhost", "{}", r.body);
        assert_eq!(r.body["publicKey"]["user"]["name"], "pat@example.com");
        let credential = laptop.create(&r.body["publicKey"]);
        let r = pat
            .post(
                "/auth/mfa/passkeys",
                json!({"name": "Laptop", "credential": credential}),
            )
            .await;
        assert_eq!(r.status, 201, "{name}: {}", r.body);
        let laptop_id = r.id();
        assert_eq!(r.body["name"], "Laptop");
        // The registration's challenge answers once.
        let r = pat
            .post(
                "/auth/mfa/passkeys",
                json!({"name": "Again", "credential": credential}),
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (409, "passkey_registration_expired"),
            "{name}: {}",
            r.body
        );
        let r = pat.get("/auth/mfa").await;
        assert_eq!(
            (r.body["passkeys"].clone(), r.body["totp"].clone()),
            (json!(1), json!(false))
        );

        // Signing in now stops after the password: no session until the passkey answers.
        let token = first_step(s, "pat@example.com", json!(["passkey"])).await;
        let r = options(s, "not-a-token").await;
        assert_eq!((r.status, r.code()), (401, "invalid_mfa_token"), "{name}");
        let r = options(s, &token).await;
        assert_eq!(r.status, 200, "{name}: {}", r.body);
        let allowed = r.body["publicKey"]["allowCredentials"].as_array().unwrap();
        assert_eq!(allowed.len(), 1, "{}", r.body);
        let first = laptop.get(&r.body["publicKey"]);

        // A forged assertion (its signature changed) is refused, and spends those options:
        // the genuine answer to them is refused after it.
        let r = verify(s, &token, &forged(&first)).await;
        assert_eq!(
            (r.status, r.code()),
            (401, "invalid_passkey"),
            "{name}: {}",
            r.body
        );
        assert!(r.body.get("accessToken").is_none());
        let r = verify(s, &token, &first).await;
        assert_eq!(
            (r.status, r.code()),
            (401, "invalid_passkey"),
            "{name}: {}",
            r.body
        );
        // Not the shape of an assertion: 422.
        let r = verify(s, &token, &json!({"id": "x"})).await;
        assert_eq!(r.status, 422, "{name}: {}", r.body);

        // New options, a genuine answer: the session.
        let r = options(s, &token).await;
        let answer = laptop.get(&r.body["publicKey"]);
        let r = verify(s, &token, &answer).await;
        assert_eq!(r.status, 200, "{name}: {}", r.body);
        let signed_in = s
            .client()
            .with_token(r.body["accessToken"].as_str().expect("a session"));
        assert_eq!(signed_in.get("/auth/me").await.status, 200, "{name}");
        // The mfaToken is spent; and replaying the answer on a new sign-in is refused.
        let r = verify(s, &token, &answer).await;
        assert_eq!((r.status, r.code()), (401, "invalid_mfa_token"), "{name}");
        let again = first_step(s, "pat@example.com", json!(["passkey"])).await;
        assert_eq!(options(s, &again).await.status, 200);
        let r = verify(s, &again, &answer).await;
        assert_eq!(
            (r.status, r.code()),
            (401, "invalid_passkey"),
            "{name}: {}",
            r.body
        );
        let listed = pat.get("/auth/mfa/passkeys").await;
        assert!(
            listed.body["items"][0]["lastUsedAt"].is_string(),
            "{}",
            listed.body
        );

        // Another user's mfaToken: Sam's sign-in does not take Pat's passkey.
        let (_, sam) = w.member("sam@example.com", &w.default_ws, "Viewer").await;
        add_passkey(&sam, &mut Device::new(), "Sam's key").await;
        let sams = first_step(s, "sam@example.com", json!(["passkey"])).await;
        assert_eq!(options(s, &sams).await.status, 200);
        let mine = first_step(s, "pat@example.com", json!(["passkey"])).await;
        let r = options(s, &mine).await;
        let pats_answer = laptop.get(&r.body["publicKey"]);
        let r = verify(s, &sams, &pats_answer).await;
        assert_eq!(
            (r.status, r.code()),
            (401, "invalid_passkey"),
            "{name}: {}",
            r.body
        );
        assert!(r.body.get("accessToken").is_none());
        // (Pat's own sign-in still takes it.)
        let r = verify(s, &mine, &pats_answer).await;
        assert_eq!(r.status, 200, "{name}: {}", r.body);
        assert_eq!(
            r.body["user"]["email"], "pat@example.com",
            "{name}: {}",
            r.body
        );

        // Every attempt is in the login activity.
        assert_eq!(
            events(
                &w.admin,
                "pat@example.com",
                "mfa_failure",
                Some("wrong_passkey")
            )
            .await,
            3,
            "{name}"
        );
        assert_eq!(
            events(
                &w.admin,
                "sam@example.com",
                "mfa_failure",
                Some("wrong_passkey")
            )
            .await,
            1,
            "{name}"
        );

        // Removal needs the password and a proof of a second factor: here an answer of the
        // passkey to the options of a confirmation. Each bad input is a clear error and
        // removes nothing.
        let path = format!("/auth/mfa/passkeys/{laptop_id}");
        let r = del(&pat, &path, json!({})).await;
        assert_eq!(r.status, 422, "{name}: {}", r.body);
        let r = del(&pat, &path, json!({"password": "wrong"})).await;
        assert_eq!((r.status, r.code()), (401, "invalid_credentials"), "{name}");
        let r = del(&pat, &path, json!({"password": PASSWORD})).await;
        assert_eq!(r.status, 422, "{name}: the proof is missing: {}", r.body);
        let r = del(
            &pat,
            &path,
            json!({"password": PASSWORD, "passkey": {"id": "x"}}),
        )
        .await;
        assert_eq!(r.status, 422, "{name}: not an answer: {}", r.body);
        let answer = confirm(&pat, &mut laptop).await;
        let r = del(
            &pat,
            &path,
            json!({"password": PASSWORD, "passkey": answer, "code": "123456"}),
        )
        .await;
        assert_eq!(r.status, 422, "{name}: two proofs: {}", r.body);
        let r = del(&sam, &path, json!({"password": PASSWORD, "code": "123456"})).await;
        assert_eq!(r.status, 404, "{name}: not Sam's: {}", r.body);
        // No authenticator app: no code proves anything; a forged answer neither, and it
        // spends the options.
        let r = del(&pat, &path, json!({"password": PASSWORD, "code": "123456"})).await;
        assert_eq!((r.status, r.code()), (401, "invalid_mfa_code"), "{name}");
        let r = del(
            &pat,
            &path,
            json!({"password": PASSWORD, "passkey": forged(&answer)}),
        )
        .await;
        assert_eq!((r.status, r.code()), (401, "invalid_passkey"), "{name}");
        let r = del(
            &pat,
            &path,
            json!({"password": PASSWORD, "passkey": answer}),
        )
        .await;
        assert_eq!((r.status, r.code()), (401, "invalid_passkey"), "{name}");
        assert_eq!(
            pat.get("/auth/mfa/passkeys").await.body["items"]
                .as_array()
                .unwrap()
                .len(),
            1,
            "{name}: nothing removed"
        );
        // The right proof, then: removed.
        let answer = confirm(&pat, &mut laptop).await;
        let r = del(
            &pat,
            &path,
            json!({"password": PASSWORD, "passkey": answer}),
        )
        .await;
        assert_eq!(r.status, 204, "{name}: {}", r.body);
        assert_eq!(pat.get("/auth/mfa/passkeys").await.body["items"], json!([]));
        let r = login(s, "pat@example.com").await;
        assert!(r.body["accessToken"].is_string(), "{name}: {}", r.body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_passkey_counts_for_the_organization_policy() {
    for b in backends() {
        let name = b.name();
        let w = World::new(&b).await;
        let (_, pat) = w.member("pat@example.com", &w.default_ws, "Viewer").await;
        // The owner may require MFA once a passkey is theirs.
        let r = w
            .admin
            .patch("/organization", json!({"mfaRequired": true}))
            .await;
        assert_eq!((r.status, r.code()), (409, "mfa_not_enabled"), "{name}");
        add_passkey(&w.admin, &mut Device::new(), "Owner's key").await;
        let r = w
            .admin
            .patch("/organization", json!({"mfaRequired": true}))
            .await;
        assert_eq!(r.status, 200, "{name}: {}", r.body);
        // A member without one may only enrol, and a passkey is enrolling.
        let r = pat.get("/chatflows").await;
        assert_eq!((r.status, r.code()), (403, "mfa_enrollment_required"));
        add_passkey(&pat, &mut Device::new(), "Phone").await;
        assert_eq!(pat.get("/chatflows").await.status, 200, "{name}");
        assert_eq!(pat.get("/auth/mfa").await.body["enrollmentRequired"], false);
        // An owner's reset removes passkeys too: the member must enrol again.
        let pat_id = pat.get("/auth/me").await.body["user"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let r = w
            .admin
            .delete(&format!("/organization/members/{pat_id}/mfa"))
            .await;
        assert_eq!(r.status, 200, "{name}: {}", r.body);
        assert_eq!(pat.get("/auth/mfa").await.body["passkeys"], 0);
        assert_eq!(
            pat.get("/chatflows").await.code(),
            "mfa_enrollment_required"
        );
        // An account holds at most 20 passkeys: the 21st registration is refused before the
        // browser is asked. (From the second on, the first proves a second factor.)
        let mut first = Device::new();
        add_passkey(&pat, &mut first, "Key 0").await;
        for i in 1..20 {
            let proof = json!({"passkey": confirm(&pat, &mut first).await});
            add_passkey_proved(&pat, &mut Device::new(), &format!("Key {i}"), proof).await;
        }
        assert_eq!(pat.get("/auth/mfa").await.body["passkeys"], 20, "{name}");
        let proof = confirm(&pat, &mut first).await;
        let r = pat
            .post(
                "/auth/mfa/passkeys/registration",
                json!({"password": PASSWORD, "passkey": proof}),
            )
            .await;
        assert_eq!((r.status, r.code()), (409, "passkey_limit"), "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_password_asked_again_is_limited_like_sign_ins() {
    for b in backends() {
        let name = b.name();
        let w = World::new(&b).await;
        let s = &w.server;
        let (_, pat) = w.member("pat@example.com", &w.default_ws, "Viewer").await;
        // A right password asked again is no sign-in: nothing is recorded.
        let before = events(&w.admin, "pat@example.com", "success", None).await;
        let r = pat
            .post("/auth/mfa/totp/enroll", json!({"password": PASSWORD}))
            .await;
        assert_eq!(r.status, 201, "{name}: {}", r.body);
        assert_eq!(
            events(&w.admin, "pat@example.com", "success", None).await,
            before
        );
        // Five wrong passwords (LOGIN_MAX_FAILURES), on any of the routes that ask again.
        let wrong = json!({"password": "a wrong guess"});
        for (method, path) in [
            ("POST", "/auth/mfa/totp/enroll"),
            ("POST", "/auth/mfa/passkeys/registration"),
            ("POST", "/auth/mfa/totp/enroll"),
            ("POST", "/auth/mfa/passkeys/registration"),
            ("DELETE", "/auth/mfa/totp"),
        ] {
            let r = match method {
                "POST" => pat.post(path, wrong.clone()).await,
                _ => del(&pat, path, wrong.clone()).await,
            };
            assert_eq!(
                (r.status, r.code()),
                (401, "invalid_credentials"),
                "{name}: {path}"
            );
        }
        // Locked like sign-ins of that email: even the right password, there and at sign-in.
        for r in [
            pat.post("/auth/mfa/totp/enroll", json!({"password": PASSWORD}))
                .await,
            pat.post(
                "/auth/mfa/passkeys/registration",
                json!({"password": PASSWORD}),
            )
            .await,
            del(
                &pat,
                "/auth/mfa/passkeys/00000000-0000-0000-0000-000000000000",
                json!({"password": PASSWORD}),
            )
            .await,
            login(s, "pat@example.com").await,
        ] {
            assert_eq!(
                (r.status, r.code()),
                (429, "too_many_attempts"),
                "{name}: {}",
                r.body
            );
            let secs: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
            assert!(secs > 0, "{secs}");
        }
        assert_eq!(
            events(
                &w.admin,
                "pat@example.com",
                "failure",
                Some("wrong_password")
            )
            .await,
            5,
            "{name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn accepting_an_invitation_asks_for_the_second_factor() {
    for b in backends() {
        let name = b.name();
        let w = World::new(&b).await;
        let s = &w.server;
        let (_, bob) = w.member("bob@example.com", &w.default_ws, "Viewer").await;
        let (mut app, _) = enable_totp(&bob).await;
        let (_, carol) = new_org(&w, "Beta", "carol@example.com").await;
        let beta_ws = active_ws(&carol).await;
        let r = carol
            .post(
                "/invitations",
                json!({"email": "bob@example.com", "workspaceId": beta_ws, "role": "Developer"}),
            )
            .await;
        assert_eq!(r.status, 201, "{name}: {}", r.body);
        let link = r.body["link"].as_str().unwrap().to_string();

        // The password accepts the invitation, but opens no session: the second step is asked.
        let r = register(s, &link, "Robert", PASSWORD).await;
        assert!(r.status == 200 || r.status == 201, "{name}: {}", r.body);
        assert_eq!(r.body["mfaRequired"], true, "{name}: {}", r.body);
        assert!(r.body.get("accessToken").is_none(), "{name}: {}", r.body);
        assert!(r.body.get("refreshToken").is_none(), "{name}: {}", r.body);
        assert!(r.headers.get("set-cookie").is_none(), "{name}: no cookies");
        let token = r.body["mfaToken"].as_str().unwrap().to_string();
        // A wrong code opens nothing either; the right one signs in, into the invited workspace.
        let r = s
            .client()
            .post(
                "/auth/mfa/verify",
                json!({"mfaToken": token, "code": app.wrong_code()}),
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (401, "invalid_mfa_code"),
            "{name}: {}",
            r.body
        );
        let r = s
            .client()
            .post(
                "/auth/mfa/verify",
                json!({"mfaToken": token, "code": app.code().await}),
            )
            .await;
        assert_eq!(r.status, 200, "{name}: {}", r.body);
        let signed_in = s
            .client()
            .with_token(r.body["accessToken"].as_str().unwrap());
        assert_eq!(active_ws(&signed_in).await, beta_ws, "{name}");
    }
}

/// Changing the second factors of an account that has one takes the password and a proof of
/// one of them (a code, a recovery code, or a passkey's answer to a confirmation's options):
/// adding a passkey, removing one, and turning the authenticator app off. Each bad input is a
/// clear error and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn changing_second_factors_needs_a_proof_of_one() {
    for b in backends() {
        let name = b.name();
        let w = World::new(&b).await;
        let (_, pat) = w.member("pat@example.com", &w.default_ws, "Viewer").await;
        let (mut app, codes) = enable_totp(&pat).await;
        let count = |c: &Client| {
            let c = c.clone();
            async move { c.get("/auth/mfa").await.body["passkeys"].clone() }
        };

        // With an authenticator app, the password alone starts no registration.
        let start = |body: Value| {
            let pat = pat.clone();
            async move { pat.post("/auth/mfa/passkeys/registration", body).await }
        };
        let r = start(json!({"password": PASSWORD})).await;
        assert_eq!(r.status, 422, "{name}: {}", r.body);
        assert_eq!(r.body["error"]["field"], "code", "{}", r.body);
        let r = start(json!({"password": PASSWORD, "code": "12ab"})).await;
        assert_eq!(r.status, 422, "{name}: {}", r.body);
        let r = start(json!({"password": PASSWORD, "code": app.wrong_code()})).await;
        assert_eq!((r.status, r.code()), (401, "invalid_mfa_code"), "{name}");
        let r = start(json!({"password": "wrong", "code": app.code().await})).await;
        assert_eq!((r.status, r.code()), (401, "invalid_credentials"), "{name}");
        // (None of these started one.)
        let r = pat
            .post(
                "/auth/mfa/passkeys",
                json!({"name": "Laptop", "credential": {"id": "x"}}),
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (409, "passkey_registration_expired"),
            "{name}"
        );
        // And no passkey means no confirmation options.
        let r = pat.post("/auth/mfa/passkeys/confirmation", json!({})).await;
        assert_eq!((r.status, r.code()), (409, "no_passkey"), "{name}");

        // A code of the app proves it, once.
        let mut laptop = Device::new();
        let code = app.code().await;
        let laptop_id =
            add_passkey_proved(&pat, &mut laptop, "Laptop", json!({"code": code})).await;
        let r = start(json!({"password": PASSWORD, "code": code})).await;
        assert_eq!((r.status, r.code()), (401, "mfa_code_reused"), "{name}");
        // A recovery code proves it, once.
        let mut phone = Device::new();
        let phone_id =
            add_passkey_proved(&pat, &mut phone, "Phone", json!({"recoveryCode": codes[0]})).await;
        let r = start(json!({"password": PASSWORD, "recoveryCode": codes[0]})).await;
        assert_eq!(
            (r.status, r.code()),
            (401, "invalid_recovery_code"),
            "{name}"
        );
        assert_eq!(count(&pat).await, 2, "{name}");

        // Removing a passkey: with a recovery code.
        let r = del(
            &pat,
            &format!("/auth/mfa/passkeys/{laptop_id}"),
            json!({"password": PASSWORD, "recoveryCode": codes[1]}),
        )
        .await;
        assert_eq!(r.status, 204, "{name}: {}", r.body);
        assert_eq!(count(&pat).await, 1, "{name}");

        // Turning the app off: the password and a passkey's answer also do (a code alone is
        // asked for otherwise, and nothing changes without one).
        let r = del(&pat, "/auth/mfa/totp", json!({"password": PASSWORD})).await;
        assert_eq!(r.status, 422, "{name}: {}", r.body);
        let answer = confirm(&pat, &mut phone).await;
        let r = del(
            &pat,
            "/auth/mfa/totp",
            json!({"password": PASSWORD, "passkey": forged(&answer)}),
        )
        .await;
        assert_eq!((r.status, r.code()), (401, "invalid_passkey"), "{name}");
        assert_eq!(pat.get("/auth/mfa").await.body["totp"], true, "{name}");
        let answer = confirm(&pat, &mut phone).await;
        let r = del(
            &pat,
            "/auth/mfa/totp",
            json!({"password": PASSWORD, "passkey": answer}),
        )
        .await;
        assert_eq!(r.status, 204, "{name}: {}", r.body);
        assert_eq!(pat.get("/auth/mfa").await.body["totp"], false, "{name}");

        // With a passkey only, another is added with its answer; a code proves nothing.
        let r = start(json!({"password": PASSWORD})).await;
        assert_eq!(r.status, 422, "{name}: {}", r.body);
        let r = start(json!({"password": PASSWORD, "code": app.code().await})).await;
        assert_eq!((r.status, r.code()), (401, "invalid_mfa_code"), "{name}");
        let proof = json!({"passkey": confirm(&pat, &mut phone).await});
        let mut key = Device::new();
        add_passkey_proved(&pat, &mut key, "Key", proof).await;
        assert_eq!(count(&pat).await, 2, "{name}");
        // A passkey's answer proves its own removal too.
        let answer = confirm(&pat, &mut phone).await;
        let r = del(
            &pat,
            &format!("/auth/mfa/passkeys/{phone_id}"),
            json!({"password": PASSWORD, "passkey": answer}),
        )
        .await;
        assert_eq!(r.status, 204, "{name}: {}", r.body);
        assert_eq!(count(&pat).await, 1, "{name}");

        // Setting up an authenticator app beside a passkey takes its answer too.
        let enroll = |body: Value| {
            let pat = pat.clone();
            async move { pat.post("/auth/mfa/totp/enroll", body).await }
        };
        let r = enroll(json!({"password": PASSWORD})).await;
        assert_eq!(r.status, 422, "{name}: {}", r.body);
        let answer = confirm(&pat, &mut key).await;
        let r = enroll(json!({"password": PASSWORD, "passkey": forged(&answer)})).await;
        assert_eq!((r.status, r.code()), (401, "invalid_passkey"), "{name}");
        assert_eq!(pat.get("/auth/mfa").await.body["totp"], false, "{name}");
        let answer = confirm(&pat, &mut key).await;
        let r = enroll(json!({"password": PASSWORD, "passkey": answer})).await;
        assert_eq!(r.status, 201, "{name}: {}", r.body);
        assert!(r.body["otpauthUri"].is_string(), "{name}: {}", r.body);
    }
}

/// A passkey device whose whole state can be copied: the copy is a cloned authenticator (the
/// same key, the same signature counter). webauthn-rs's soft token, kept in a file between
/// ceremonies.
struct Cloneable {
    state: Vec<u8>,
    path: std::path::PathBuf,
}

impl Cloneable {
    fn new() -> Self {
        let (token, _) = SoftToken::new(true).expect("a soft token");
        Self::of(token.to_cbor().unwrap())
    }

    fn of(state: Vec<u8>) -> Self {
        let path = std::env::temp_dir().join(format!("flowspace-token-{}", uuid::Uuid::new_v4()));
        Self { state, path }
    }

    fn copy(&self) -> Self {
        Self::of(self.state.clone())
    }

    fn with<R>(&mut self, f: impl FnOnce(&mut WebauthnAuthenticator<SoftTokenFile>) -> R) -> R {
        let token = SoftToken::from_cbor(&self.state).unwrap();
        let file = std::fs::File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&self.path)
            .unwrap();
        let mut device = WebauthnAuthenticator::new(SoftTokenFile::new(token, file));
        let out = f(&mut device);
        drop(device); // saves the token
        self.state = std::fs::read(&self.path).unwrap();
        out
    }

    fn create(&mut self, options: &Value) -> Value {
        let ccr: CreationChallengeResponse =
            serde_json::from_value(json!({"publicKey": options})).unwrap();
        let cred = self.with(|d| d.do_registration(Url::parse(ORIGIN).unwrap(), ccr));
        serde_json::to_value(cred.expect("the authenticator registers")).unwrap()
    }

    fn get(&mut self, options: &Value) -> Value {
        let rcr: RequestChallengeResponse =
            serde_json::from_value(json!({"publicKey": options})).unwrap();
        let cred = self.with(|d| d.do_authentication(Url::parse(ORIGIN).unwrap(), rcr));
        serde_json::to_value(cred.expect("the authenticator signs")).unwrap()
    }
}

impl Drop for Cloneable {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The signature counter only moves forward (WebAuthn: a counter not above the stored one may
/// be a cloned authenticator): of two answers with one counter, one at most signs in, whether
/// they come one after the other or at once; and an answer whose counter is below one already
/// counted is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_passkey_counter_that_does_not_move_forward_is_refused() {
    for b in backends() {
        let name = b.name();
        let w = World::new(&b).await;
        let s = &w.server;
        let (_, pat) = w.member("pat@example.com", &w.default_ws, "Viewer").await;
        let mut original = Cloneable::new();
        let r = pat
            .post(
                "/auth/mfa/passkeys/registration",
                json!({"password": PASSWORD}),
            )
            .await;
        assert_eq!(r.status, 200, "{name}: {}", r.body);
        let credential = original.create(&r.body["publicKey"]);
        let r = pat
            .post(
                "/auth/mfa/passkeys",
                json!({"name": "Key", "credential": credential}),
            )
            .await;
        assert_eq!(r.status, 201, "{name}: {}", r.body);
        let mut clone = original.copy();
        // Two sign-ins, each with its options.
        let two = || async {
            let mut out = Vec::new();
            for _ in 0..2 {
                let token = first_step(s, "pat@example.com", json!(["passkey"])).await;
                let r = options(s, &token).await;
                assert_eq!(r.status, 200, "{}", r.body);
                out.push((token, r.body["publicKey"].clone()));
            }
            out
        };

        // One after the other: the original's answer (counter 1) signs in, the clone's (also
        // 1) is refused.
        let o = two().await;
        let first = original.get(&o[0].1);
        let cloned = clone.get(&o[1].1);
        let r = verify(s, &o[0].0, &first).await;
        assert_eq!(r.status, 200, "{name}: {}", r.body);
        let r = verify(s, &o[1].0, &cloned).await;
        assert_eq!(
            (r.status, r.code()),
            (401, "invalid_passkey"),
            "{name}: {}",
            r.body
        );
        assert!(r.body.get("accessToken").is_none());
        assert_eq!(
            events(
                &w.admin,
                "pat@example.com",
                "mfa_failure",
                Some("passkey_counter")
            )
            .await,
            1,
            "{name}"
        );

        // At once (both counters 2, both above the stored 1): one signs in.
        let o = two().await;
        let first = original.get(&o[0].1);
        let cloned = clone.get(&o[1].1);
        let (a, b) = tokio::join!(verify(s, &o[0].0, &first), verify(s, &o[1].0, &cloned));
        let mut statuses = [a.status, b.status];
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 401], "{name}: {} / {}", a.body, b.body);

        // Backwards: the original answers two sign-ins (3, then 4); the later answer is
        // counted first, and the earlier one is then refused.
        let o = two().await;
        let earlier = original.get(&o[0].1);
        let later = original.get(&o[1].1);
        let r = verify(s, &o[1].0, &later).await;
        assert_eq!(r.status, 200, "{name}: {}", r.body);
        let r = verify(s, &o[0].0, &earlier).await;
        assert_eq!(
            (r.status, r.code()),
            (401, "invalid_passkey"),
            "{name}: {}",
            r.body
        );
        // The original goes on signing in.
        let o = two().await;
        let next = original.get(&o[0].1);
        assert_eq!(verify(s, &o[0].0, &next).await.status, 200, "{name}");
    }
}
