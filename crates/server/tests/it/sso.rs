//! Single sign-on with OpenID Connect (SPEC §8), through HTTP on both backends, against a real
//! OpenID provider (panva's oidc-provider on Node.js, started per test): the owner's provider
//! API and its secret, the sign-in flow and each way it fails (never a session), identities and
//! linking, invitations, just-in-time provisioning, group mapping, `ssoRequired` with
//! break-glass owners, key rotation, and the login activity and audit rows each leaves.

use flowspace_testkit::oidc::{OidcClient, OidcProvider};
use flowspace_testkit::{ADMIN_EMAIL, Client, PASSWORD, TestServer, backends};
use reqwest::header::{LOCATION, SET_COOKIE};
use serde_json::{Value, json};

struct Sso {
    server: TestServer,
    admin: Client,
    idp: OidcProvider,
    client: OidcClient,
    default_ws: String,
    /// The provider's id in Flowspace.
    id: String,
    /// The browser-binding cookie of the latest flow started.
    binder: std::sync::Mutex<Option<String>>,
}

/// A raw answer of the browser-facing routes (redirects are not followed).
struct Hop {
    status: u16,
    location: Option<String>,
    cookies: Vec<String>,
    body: String,
}

impl Hop {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
    fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or("")
            .to_string()
    }
    /// The `name=value` of the flow's browser-binding cookie the start set.
    fn binder(&self) -> Option<String> {
        self.cookies
            .iter()
            .find(|c| c.starts_with("fs_sso_state="))
            .map(|c| c.split(';').next().unwrap_or("").to_string())
    }
    fn access_token(&self) -> Option<String> {
        self.cookies.iter().find_map(|c| {
            c.strip_prefix("fs_access=")
                .map(|v| v.split(';').next().unwrap_or("").to_string())
        })
    }
}

async fn hop(url: &str) -> Hop {
    hop_with(url, None).await
}

/// A GET sending `cookie` (a `name=value` pair), as the browser that holds it would.
async fn hop_with(url: &str, cookie: Option<&str>) -> Hop {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut req = http.get(url);
    if let Some(c) = cookie {
        req = req.header(reqwest::header::COOKIE, c);
    }
    let res = req.send().await.unwrap();
    Hop {
        status: res.status().as_u16(),
        location: res
            .headers()
            .get(LOCATION)
            .map(|v| v.to_str().unwrap().to_string()),
        cookies: res
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect(),
        body: res.text().await.unwrap(),
    }
}

impl Sso {
    async fn new(backend: &flowspace_testkit::Backend, jit: Value) -> Self {
        let server = TestServer::start_at_own_url(backend, |_| {}).await;
        let admin = server.setup().await;
        let me = admin.get("/auth/me").await;
        let default_ws = me.body["activeWorkspace"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let idp = OidcProvider::start().await;
        let client = idp
            .register_client(&format!("{}/api/v1/auth/oidc/callback", server.base_url))
            .await;
        let jit = if jit.is_null() {
            Value::Null
        } else {
            let mut j = jit;
            j["workspaceId"] = json!(default_ws);
            j
        };
        let r = admin
            .post(
                "/organization/sso/providers",
                json!({
                    "displayName": "Test IdP", "issuer": idp.issuer, "clientId": client.client_id,
                    "clientSecret": client.client_secret, "scopes": ["openid", "email", "profile", "groups"],
                    "allowedDomains": ["example.com"], "jit": jit,
                }),
            )
            .await;
        assert_eq!(r.status, 201, "create provider: {}", r.body);
        let id = r.id();
        Self {
            server,
            admin,
            idp,
            client,
            default_ws,
            id,
            binder: std::sync::Mutex::new(None),
        }
    }

    /// Starts a sign-in (to `next`) and answers the provider's authorization URL.
    async fn start(&self) -> String {
        let h = hop(&format!(
            "{}/api/v1/auth/oidc/{}/start?next=/chatflows",
            self.server.base_url, self.id
        ))
        .await;
        assert_eq!(h.status, 303, "start: {}", h.body);
        *self.binder.lock().unwrap() =
            Some(h.binder().expect("the start binds the flow to the browser"));
        let to = h.location.unwrap();
        assert!(to.starts_with(&self.idp.issuer), "{to}");
        assert!(to.contains("code_challenge_method=S256"), "{to}");
        assert!(to.contains("nonce="), "{to}");
        to
    }

    /// Signs in at the provider as `login` and answers the callback URL (not yet requested).
    async fn callback_url(&self, login: &str) -> String {
        let auth = self.start().await;
        let cb = self.idp.sign_in(&auth, login).await;
        assert!(
            cb.starts_with(&format!(
                "{}/api/v1/auth/oidc/callback?",
                self.server.base_url
            )),
            "{cb}"
        );
        cb
    }

    async fn sign_in(&self, login: &str) -> Hop {
        let cb = self.callback_url(login).await;
        self.back(&cb).await
    }

    /// The provider's redirect back, from the browser that started the latest flow.
    async fn back(&self, cb: &str) -> Hop {
        let binder = self.binder.lock().unwrap().clone();
        hop_with(cb, binder.as_deref()).await
    }

    fn as_user(&self, h: &Hop) -> Client {
        assert_eq!(h.status, 303, "SSO sign-in: {}", h.body);
        assert_eq!(h.location.as_deref(), Some("/chatflows"));
        self.server
            .client()
            .with_token(&h.access_token().expect("an access cookie"))
    }

    /// The newest login event of `email`.
    async fn last_login(&self, email: &str) -> Value {
        let r = self
            .admin
            .get(&format!(
                "/login-activity?email={}",
                email.replace('@', "%40")
            ))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["items"][0].clone()
    }

    /// The newest login event of the organization.
    async fn newest_login(&self) -> Value {
        let r = self.admin.get("/login-activity?limit=1").await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["items"][0].clone()
    }

    /// The organization's members and the default workspace's, to compare before and after.
    async fn members(&self) -> Value {
        let org = self.admin.get("/organization/members").await;
        assert_eq!(org.status, 200, "{}", org.body);
        let ws = self
            .admin
            .get(&format!("/workspace/{}/users", self.default_ws))
            .await;
        assert_eq!(ws.status, 200, "{}", ws.body);
        let users = self.admin.get("/users").await;
        assert_eq!(users.status, 200, "{}", users.body);
        json!([org.body["items"], ws.body, users.body["items"]])
    }

    /// A refused callback recorded its failure, with `reason`, for this provider.
    async fn recorded(&self, reason: &str) {
        let ev = self.newest_login().await;
        assert_eq!(
            (
                ev["outcome"].as_str(),
                ev["reason"].as_str(),
                ev["method"].as_str(),
                ev["provider"].as_str()
            ),
            (
                Some("failure"),
                Some(reason),
                Some("oidc"),
                Some("Test IdP")
            ),
            "{ev}"
        );
    }

    async fn audit_actions(&self) -> Vec<String> {
        let r = self.admin.get("/audit-events?limit=200").await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap().to_string())
            .collect()
    }
}

/// The value of `name` in a URL's query.
fn param(url: &str, name: &str) -> String {
    reqwest::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.to_string())
        .unwrap_or_else(|| panic!("no {name} in {url}"))
}

fn refused(h: &Hop, status: u16, code: &str) {
    assert_eq!(h.status, status, "{}", h.body);
    assert_eq!(h.code(), code, "{}", h.body);
    assert!(h.access_token().is_none(), "no session on a refusal");
    assert!(
        h.cookies.is_empty(),
        "no cookie on a refusal: {:?}",
        h.cookies
    );
}

#[tokio::test]
async fn owners_configure_providers_and_the_secret_never_comes_back() {
    for backend in backends() {
        let s = Sso::new(&backend, Value::Null).await;
        let secret = s.client.client_secret.clone();
        let list = s.admin.get("/organization/sso/providers").await;
        assert_eq!(list.status, 200, "{}", list.body);
        assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
        assert!(!list.text.contains(&secret), "the secret is never answered");
        assert_eq!(
            list.body["items"][0]["redirectUri"],
            json!(format!("{}/api/v1/auth/oidc/callback", s.server.base_url))
        );
        assert_eq!(list.body["items"][0]["scopes"][0], "openid");
        // The secret is sealed at rest, not stored as sent.
        let stored = s
            .server
            .store()
            .sso_login(s.id.parse().unwrap())
            .await
            .unwrap()
            .unwrap();
        assert!(!String::from_utf8_lossy(&stored.secret.ciphertext).contains(&secret));

        // Bad input: a clear error and nothing created.
        for (body, field) in [
            (
                json!({"displayName": "X", "issuer": "ftp://x", "clientId": "a", "clientSecret": "b"}),
                "issuer",
            ),
            (
                json!({"displayName": "X", "issuer": "https://x.example", "clientId": "a"}),
                "clientSecret",
            ),
            (
                json!({"displayName": "X", "issuer": "https://x.example", "clientId": "a", "clientSecret": "b",
                    "jit": {"enabled": true, "workspaceId": null, "role": "Viewer"}}),
                "jit",
            ),
        ] {
            let r = s.admin.post("/organization/sso/providers", body).await;
            assert_eq!(r.status, 422, "{}", r.body);
            let named = r.body["error"]["field"].as_str().unwrap_or("").to_string();
            assert!(named.starts_with(field), "{field}: {}", r.body);
        }
        let n = s.admin.get("/organization/sso/providers").await;
        assert_eq!(n.body["items"].as_array().unwrap().len(), 1);

        // PATCH changes what is sent; a new secret is audited as changed, never shown.
        let p = s
            .admin
            .patch(
                &format!("/organization/sso/providers/{}", s.id),
                json!({"displayName": "Renamed", "clientSecret": "new-secret-value"}),
            )
            .await;
        assert_eq!(p.status, 200, "{}", p.body);
        assert_eq!(p.body["displayName"], "Renamed");
        assert_eq!(p.body["clientId"], json!(s.client.client_id));
        assert!(!p.text.contains("new-secret-value"));
        let ev = s
            .admin
            .get("/audit-events?action=sso_provider.update")
            .await;
        let ev = &ev.body["items"][0];
        assert_eq!(ev["summary"]["clientSecret"], "changed", "{ev}");
        assert_eq!(ev["summary"]["displayName"]["to"], "Renamed", "{ev}");
        assert!(!ev.to_string().contains("new-secret-value"));
        let actions = s.audit_actions().await;
        assert!(
            actions.contains(&"sso_provider.create".to_string()),
            "{actions:?}"
        );

        // The test button: discovery and keys of the real provider; a dead issuer says why.
        let t = s
            .admin
            .post(
                &format!("/organization/sso/providers/{}/test", s.id),
                json!({}),
            )
            .await;
        assert_eq!(t.status, 200, "{}", t.body);
        assert_eq!(t.body["ok"], true, "{}", t.body);
        let dead = s
            .admin
            .post(
                "/organization/sso/providers",
                json!({"displayName": "Dead", "issuer": "http://127.0.0.1:9", "clientId": "a", "clientSecret": "b"}),
            )
            .await;
        assert_eq!(dead.status, 201, "{}", dead.body);
        let t = s
            .admin
            .post(
                &format!("/organization/sso/providers/{}/test", dead.id()),
                json!({}),
            )
            .await;
        assert_eq!(t.status, 200, "{}", t.body);
        assert_eq!(t.body["ok"], false);
        assert_eq!(t.body["discovery"]["ok"], false);
        assert!(
            t.body["discovery"]["message"]
                .as_str()
                .unwrap()
                .contains("discovery failed"),
            "{}",
            t.body
        );
        // Starting a sign-in with a provider that is down: a clear 502, never a 500.
        let h = hop(&format!(
            "{}/api/v1/auth/oidc/{}/start",
            s.server.base_url,
            dead.id()
        ))
        .await;
        refused(&h, 502, "sso_provider_unavailable");

        // Only owners: a member of the organization is refused, another organization's id is
        // not found.
        let m = s
            .admin
            .post(
                "/users",
                json!({"email": "m@example.com", "name": "M", "password": PASSWORD}),
            )
            .await;
        assert_eq!(m.status, 201, "{}", m.body);
        let mc = s.server.login("m@example.com", PASSWORD).await;
        assert_eq!(mc.get("/organization/sso/providers").await.status, 403);
        let d = s
            .admin
            .delete(&format!("/organization/sso/providers/{}", dead.id()))
            .await;
        assert_eq!(d.status, 204);
        assert_eq!(
            s.admin
                .get(&format!("/organization/sso/providers/{}", dead.id()))
                .await
                .status,
            404
        );
        assert!(
            s.audit_actions()
                .await
                .contains(&"sso_provider.delete".to_string())
        );

        // The sign-in page's buttons: the provider shows for the organization's members.
        let b = s
            .server
            .client()
            .get("/auth/sso-providers?email=m%40example.com")
            .await;
        assert_eq!(b.status, 200, "{}", b.body);
        assert_eq!(b.body["items"][0]["displayName"], "Renamed");
        let b = s
            .server
            .client()
            .get("/auth/sso-providers?email=nobody%40elsewhere.org")
            .await;
        assert_eq!(b.body["items"], json!([]));
    }
}

#[tokio::test]
async fn sso_sign_in_succeeds_only_where_the_rules_allow() {
    for backend in backends() {
        let s = Sso::new(&backend, Value::Null).await;
        // No account and no provisioning: refused, recorded, no session.
        s.idp.set_account("jit", "jit@example.com", true, &[]).await;
        refused(&s.sign_in("jit").await, 403, "jit_disabled");
        let ev = s.last_login("jit@example.com").await;
        assert_eq!(ev["outcome"], "failure", "{ev}");
        assert_eq!(ev["reason"], "jit_disabled", "{ev}");
        assert_eq!(ev["method"], "oidc", "{ev}");
        assert_eq!(ev["provider"], "Test IdP", "{ev}");

        // Provisioning on: a new account, in the JIT workspace with the JIT role.
        let p = s
            .admin
            .patch(
                &format!("/organization/sso/providers/{}", s.id),
                json!({"jit": {"enabled": true, "workspaceId": s.default_ws, "role": "Viewer"}}),
            )
            .await;
        assert_eq!(p.status, 200, "{}", p.body);
        // Someone else's callback link (login CSRF): the browser that did not start the flow
        // is refused, and the flow is spent.
        let cb = s.callback_url("jit").await;
        let h = hop(&cb).await;
        refused(&h, 400, "sso_browser_mismatch");
        assert!(h.access_token().is_none());
        refused(&s.back(&cb).await, 400, "sso_invalid_state");
        let cb = s.callback_url("jit").await;
        let h = s.back(&cb).await;
        let c = s.as_user(&h);
        let me = c.get("/auth/me").await;
        assert_eq!(me.status, 200, "{}", me.body);
        assert_eq!(me.body["user"]["email"], "jit@example.com");
        assert_eq!(me.body["activeWorkspace"]["id"], json!(s.default_ws));
        assert_eq!(me.body["activeWorkspace"]["role"], "Viewer", "{}", me.body);
        let ev = s.last_login("jit@example.com").await;
        assert_eq!(
            (ev["outcome"].as_str(), ev["method"].as_str()),
            (Some("success"), Some("oidc")),
            "{ev}"
        );
        let actions = s.audit_actions().await;
        for a in [
            "user.provision",
            "sso_identity.link",
            "member.join",
            "membership.add",
        ] {
            assert!(actions.contains(&a.to_string()), "{a} in {actions:?}");
        }
        // The same answer replayed (state and code spent): refused.
        refused(&s.back(&cb).await, 400, "sso_invalid_state");
        // A made-up state: refused.
        let bad = format!(
            "{}/api/v1/auth/oidc/callback?state=forged&code=x",
            s.server.base_url
        );
        refused(&hop(&bad).await, 400, "sso_invalid_state");
        // A browser gets a page, not JSON.
        let page = reqwest::Client::new()
            .get(&bad)
            .header("accept", "text/html")
            .send()
            .await
            .unwrap();
        assert_eq!(page.status().as_u16(), 400);
        assert!(page.text().await.unwrap().contains("Single sign-on failed"));

        // The provider's signing key rotates between two sign-ins: the second still works
        // (the keys are fetched again for the unknown kid).
        s.idp.rotate_keys().await;
        let again = s.sign_in("jit").await;
        let c2 = s.as_user(&again);
        assert_eq!(
            c2.get("/auth/me").await.body["user"]["email"],
            "jit@example.com"
        );

        // A domain the provider does not allow.
        s.idp.set_account("out", "out@other.org", true, &[]).await;
        refused(&s.sign_in("out").await, 403, "domain_not_allowed");
        // An email the provider does not call verified.
        s.idp
            .set_account("unv", "unv@example.com", false, &[])
            .await;
        refused(&s.sign_in("unv").await, 403, "email_not_verified");
        // An existing password account whose email was never verified is not taken over.
        let u = s
            .admin
            .post(
                "/users",
                json!({"email": "pw@example.com", "name": "Pw", "password": PASSWORD}),
            )
            .await;
        assert_eq!(u.status, 201);
        s.idp.set_account("pw", "pw@example.com", true, &[]).await;
        refused(&s.sign_in("pw").await, 403, "account_email_not_verified");
        // The instance admin's account is never claimed by an organization's provider.
        s.idp.set_account("boss", ADMIN_EMAIL, true, &[]).await;
        refused(
            &s.sign_in("boss").await,
            403,
            "account_in_other_organization",
        );
        // Nor is an account of another organization, even one only invited there: this
        // organization's owners control what their provider says (review finding: takeover).
        let other = s
            .admin
            .post(
                "/organizations",
                json!({"name": "Elsewhere", "ownerEmail": "elsewhere@example.com"}),
            )
            .await;
        assert_eq!(other.status, 201, "{}", other.body);
        s.idp
            .set_account("elsewhere", "elsewhere@example.com", true, &[])
            .await;
        refused(
            &s.sign_in("elsewhere").await,
            403,
            "account_in_other_organization",
        );
        let me = s.admin.get("/users").await;
        assert!(
            !me.body.to_string().contains("elsewhere@example.com"),
            "the refused sign-in joined nobody: {}",
            me.body
        );

        // An invited user is activated by their first SSO sign-in, into the invitation's
        // workspace and role.
        let ws2 = s
            .admin
            .post("/workspace", json!({"name": "Second"}))
            .await
            .id();
        let inv = s
            .admin
            .post(
                "/invitations",
                json!({"email": "inv@example.com", "workspaceId": ws2, "role": "Developer"}),
            )
            .await;
        assert_eq!(inv.status, 201, "{}", inv.body);
        s.idp.set_account("inv", "inv@example.com", true, &[]).await;
        let c3 = s.as_user(&s.sign_in("inv").await);
        let me = c3.get("/auth/me").await;
        assert_eq!(me.body["activeWorkspace"]["id"], json!(ws2), "{}", me.body);
        assert_eq!(
            me.body["activeWorkspace"]["role"], "Developer",
            "{}",
            me.body
        );
        let users = s.admin.get("/users").await;
        let row = users.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["email"] == "inv@example.com")
            .cloned()
            .unwrap();
        assert_eq!(row["status"], "active", "{row}");

        // An expired flow: refused.
        let cb = s.callback_url("jit").await;
        s.server.store().expire_sso_flows().await.unwrap();
        refused(&s.back(&cb).await, 400, "sso_flow_expired");

        // The provider goes down between the start and the callback: a clear 502.
        let cb = s.callback_url("jit").await;
        let binder = s.binder.lock().unwrap().clone();
        s.idp.stop().await;
        // The discovery document is kept, so the token request is what fails.
        let h = hop_with(&cb, binder.as_deref()).await;
        refused(&h, 502, "sso_provider_unavailable");
    }
}

/// Microsoft Entra ID sends no `email_verified`; its optional claim `xms_edov` (the email's
/// domain owner verified it) stands for it when true, and for nothing else: absent or false
/// is unverified, and an `email_verified: false` stays unverified whatever `xms_edov` says.
#[tokio::test]
async fn entra_xms_edov_verifies_an_email_only_without_email_verified() {
    for backend in backends() {
        let s = Sso::new(&backend, json!({"enabled": true, "role": "Viewer"})).await;
        let account = |login: &str, claims: Value| {
            let mut a =
                json!({"login": login, "email": format!("{login}@example.com"), "groups": []});
            a.as_object_mut()
                .unwrap()
                .extend(claims.as_object().unwrap().clone());
            a
        };
        for (login, claims) in [
            ("edov-none", json!({})),
            ("edov-false", json!({"xms_edov": false})),
            (
                "edov-overruled",
                json!({"email_verified": false, "xms_edov": true}),
            ),
        ] {
            s.idp.set_account_claims(account(login, claims)).await;
            let before = s.members().await;
            refused(&s.sign_in(login).await, 403, "email_not_verified");
            assert_eq!(s.members().await, before, "{login}: nobody provisioned");
            let ev = s.last_login(&format!("{login}@example.com")).await;
            assert_eq!(
                (ev["outcome"].as_str(), ev["reason"].as_str()),
                (Some("failure"), Some("email_not_verified")),
                "{login}: {ev}"
            );
        }
        s.idp
            .set_account_claims(account("entra", json!({"xms_edov": true})))
            .await;
        let c = s.as_user(&s.sign_in("entra").await);
        let me = c.get("/auth/me").await;
        assert_eq!(me.status, 200, "{}", me.body);
        assert_eq!(me.body["user"]["email"], "entra@example.com");
        assert_eq!(me.body["activeWorkspace"]["id"], json!(s.default_ws));
        assert_eq!(me.body["activeWorkspace"]["role"], "Viewer", "{}", me.body);
        let ev = s.last_login("entra@example.com").await;
        assert_eq!(
            (
                ev["outcome"].as_str(),
                ev["method"].as_str(),
                ev["provider"].as_str()
            ),
            (Some("success"), Some("oidc"), Some("Test IdP")),
            "{ev}"
        );
        assert!(
            s.audit_actions()
                .await
                .contains(&"user.provision".to_string())
        );
    }
}

#[tokio::test]
async fn groups_map_to_roles_at_every_sign_in_and_sso_required_keeps_passwords_out() {
    for backend in backends() {
        let s = Sso::new(&backend, json!({"enabled": true, "role": "Viewer"})).await;
        let eng = s
            .admin
            .post("/workspace", json!({"name": "Engineering"}))
            .await
            .id();
        let p = s
            .admin
            .patch(
                &format!("/organization/sso/providers/{}", s.id),
                json!({"groupMappings": [
                    {"group": "eng", "workspaceId": eng, "role": "Viewer"},
                    {"group": "leads", "workspaceId": eng, "role": "Developer"},
                ]}),
            )
            .await;
        assert_eq!(p.status, 200, "{}", p.body);
        s.idp
            .set_account("dev", "dev@example.com", true, &["eng", "leads"])
            .await;
        let c = s.as_user(&s.sign_in("dev").await);
        let roles = c.in_workspace(&eng).get("/auth/me").await;
        // The most privileged of the two mapped roles wins.
        assert_eq!(
            roles.body["activeWorkspace"]["role"], "Developer",
            "{}",
            roles.body
        );
        let ev = s.admin.get("/audit-events?action=membership.add").await;
        assert!(
            ev.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["summary"]["via"] == "sso_group_mapping"),
            "{}",
            ev.body
        );
        // The group is gone at the next sign-in: so is the membership it gave.
        s.idp.set_account("dev", "dev@example.com", true, &[]).await;
        let c = s.as_user(&s.sign_in("dev").await);
        assert_eq!(c.in_workspace(&eng).get("/auth/me").await.status, 404);
        let ev = s.admin.get("/audit-events?action=membership.remove").await;
        assert_eq!(
            ev.body["items"][0]["summary"]["via"], "sso_group_mapping",
            "{}",
            ev.body
        );

        // ssoRequired: a member's password sign-in is refused naming where to sign in.
        s.admin
            .post(
                "/users",
                json!({"email": "pw2@example.com", "name": "Pw", "password": PASSWORD}),
            )
            .await;
        let r = s
            .admin
            .patch("/organization", json!({"ssoRequired": true}))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let r = s
            .server
            .client()
            .post(
                "/auth/login",
                json!({"email": "pw2@example.com", "password": PASSWORD}),
            )
            .await;
        assert_eq!(r.status, 403, "{}", r.body);
        assert_eq!(r.code(), "sso_required");
        assert_eq!(
            r.body["error"]["startUrl"],
            json!(format!("/api/v1/auth/oidc/{}/start", s.id)),
            "{}",
            r.body
        );
        assert!(r.body.get("accessToken").is_none());
        // So is the owner's, until marked break-glass.
        let r = s
            .server
            .client()
            .post(
                "/auth/login",
                json!({"email": ADMIN_EMAIL, "password": PASSWORD}),
            )
            .await;
        assert_eq!(r.code(), "sso_required", "{}", r.body);
        let me = s.admin.get("/auth/me").await;
        let owner = me.body["user"]["id"].as_str().unwrap().to_string();
        let b = s
            .admin
            .put(
                &format!("/organization/members/{owner}/break-glass"),
                json!({"breakGlass": true}),
            )
            .await;
        assert_eq!(b.status, 200, "{}", b.body);
        let r = s
            .server
            .client()
            .post(
                "/auth/login",
                json!({"email": ADMIN_EMAIL, "password": PASSWORD}),
            )
            .await;
        assert_eq!(r.status, 200, "break-glass owner: {}", r.body);
        let ev = s.last_login(ADMIN_EMAIL).await;
        assert_eq!(ev["method"], "password", "{ev}");
        // Both policy changes are audited, and the members list says who is break-glass.
        let actions = s.audit_actions().await;
        for a in ["organization.update", "member.break_glass"] {
            assert!(actions.contains(&a.to_string()), "{a} in {actions:?}");
        }
        let ev = s.admin.get("/audit-events?action=member.break_glass").await;
        assert_eq!(
            ev.body["items"][0]["summary"]["breakGlass"], true,
            "{}",
            ev.body
        );
        let members = s.admin.get("/organization/members").await;
        let flags: Vec<(String, bool)> = members.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["email"].as_str().unwrap().to_string(),
                    m["breakGlass"].as_bool().unwrap(),
                )
            })
            .collect();
        assert!(
            flags.contains(&(ADMIN_EMAIL.to_string(), true))
                && flags.contains(&("pw2@example.com".to_string(), false)),
            "{flags:?}"
        );
        // Only an owner can be break-glass.
        let pw2 = s.admin.get("/users").await.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["email"] == "pw2@example.com")
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        let b = s
            .admin
            .put(
                &format!("/organization/members/{pw2}/break-glass"),
                json!({"breakGlass": true}),
            )
            .await;
        assert_eq!(b.status, 409, "{}", b.body);
        // SSO still signs members in.
        s.as_user(&s.sign_in("dev").await);
    }
}

#[tokio::test]
async fn the_environment_provider_serves_the_first_organization() {
    for backend in backends() {
        let idp = OidcProvider::start().await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let client = idp
            .register_client(&format!("{base}/api/v1/auth/oidc/callback"))
            .await;
        let (issuer, cid, secret) = (
            idp.issuer.clone(),
            client.client_id.clone(),
            client.client_secret.clone(),
        );
        let server = TestServer::start_on(&backend, listener, move |c| {
            c.oidc_issuer = Some(issuer);
            c.oidc_client_id = Some(cid);
            c.oidc_client_secret = Some(secret.into());
            c.oidc_display_name = "Company SSO".into();
            c.oidc_jit_workspace = Some("Default".into());
            c.oidc_jit_role = "Viewer".into();
        })
        .await;
        let admin = server.setup().await;
        let list = admin.get("/organization/sso/providers").await;
        assert_eq!(list.status, 200, "{}", list.body);
        let p = list.body["items"][0].clone();
        assert_eq!(
            (p["displayName"].as_str(), p["fromEnv"].as_bool()),
            (Some("Company SSO"), Some(true)),
            "{p}"
        );
        assert_eq!(p["jit"]["enabled"], true, "{p}");
        let id = p["id"].as_str().unwrap().to_string();
        // Changed in the environment, not through the API.
        let r = admin
            .patch(
                &format!("/organization/sso/providers/{id}"),
                json!({"displayName": "X"}),
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (409, "provider_from_environment"),
            "{}",
            r.body
        );

        idp.set_account("envy", "envy@corp.example", true, &[])
            .await;
        let h = hop(&format!("{base}/api/v1/auth/oidc/{id}/start")).await;
        assert_eq!(h.status, 303, "{}", h.body);
        let binder = h.binder();
        let cb = idp.sign_in(&h.location.unwrap(), "envy").await;
        let h = hop_with(&cb, binder.as_deref()).await;
        assert_eq!(h.status, 303, "{}", h.body);
        assert_eq!(h.location.as_deref(), Some("/"));
        let c = server.client().with_token(&h.access_token().unwrap());
        let me = c.get("/auth/me").await;
        assert_eq!(me.body["user"]["email"], "envy@corp.example");
        assert_eq!(me.body["activeWorkspace"]["role"], "Viewer", "{}", me.body);
    }
}

/// SPEC §9: an SSO sign-in whose ID token's `amr` names no second factor counts as one factor
/// only. An account with two-factor sign-in goes on to the code page (its token in the page's
/// cookie), with no session yet; the code then signs it in.
#[tokio::test]
async fn an_sso_sign_in_still_asks_an_account_with_two_factor_sign_in_for_its_code() {
    for backend in backends() {
        let s = Sso::new(&backend, Value::Null).await;
        // An account whose email is verified: it accepted an invitation with a password.
        let inv = s
            .admin
            .post(
                "/invitations",
                json!({"email": "two@example.com", "workspaceId": s.default_ws, "role": "Viewer"}),
            )
            .await;
        assert_eq!(inv.status, 201, "{}", inv.body);
        let link = inv.body["link"].as_str().unwrap().to_string();
        let token = link.split("token=").nth(1).unwrap().to_string();
        let r = s
            .server
            .client()
            .post(
                "/auth/register",
                json!({"token": token, "name": "Two", "password": PASSWORD}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let me = s.server.login("two@example.com", PASSWORD).await;
        let (mut app, _) = crate::mfa::enable_totp(&me).await;

        s.idp.set_account("two", "two@example.com", true, &[]).await;
        let h = s.sign_in("two").await;
        assert_eq!(h.status, 303, "{}", h.body);
        assert!(
            h.location.as_deref().unwrap().starts_with("/login/mfa?"),
            "{:?}",
            h.location
        );
        assert!(h.access_token().is_none(), "no session before the code");
        let mfa_token = h
            .cookies
            .iter()
            .find_map(|c| c.strip_prefix("fs_mfa="))
            .map(|v| v.split(';').next().unwrap().to_string())
            .expect("the code page's cookie");
        let ev = s.last_login("two@example.com").await;
        assert_eq!(
            (ev["outcome"].as_str(), ev["method"].as_str()),
            (Some("mfa_required"), Some("oidc")),
            "{ev}"
        );
        let v = s
            .server
            .client()
            .post(
                "/auth/mfa/verify",
                json!({"mfaToken": mfa_token, "code": app.code().await}),
            )
            .await;
        assert_eq!(v.status, 200, "{}", v.body);
        assert!(v.body["accessToken"].is_string(), "{}", v.body);
    }
}

/// SPEC §9: under `mfaRequired`, a member with no second factor here is signed in only to
/// enrol, unless the sign-in itself was MFA: an SSO sign-in whose ID token's `amr` names a
/// second factor opens a session with full access (kept across refreshes). Without that `amr`
/// the SSO session may only enrol, and so may a password session of the same account.
#[tokio::test]
async fn an_sso_sign_in_with_mfa_in_its_amr_satisfies_the_organization_policy() {
    for backend in backends() {
        let name = backend.name();
        let s = Sso::new(&backend, Value::Null).await;
        // An account with a password and a verified email, and no second factor.
        let inv = s
            .admin
            .post(
                "/invitations",
                json!({"email": "mia@example.com", "workspaceId": s.default_ws, "role": "Viewer"}),
            )
            .await;
        assert_eq!(inv.status, 201, "{}", inv.body);
        let link = inv.body["link"].as_str().unwrap().to_string();
        let token = link.split("token=").nth(1).unwrap().to_string();
        let r = s
            .server
            .client()
            .post(
                "/auth/register",
                json!({"token": token, "name": "Mia", "password": PASSWORD}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        // The owner turns the policy on (with a second factor of their own first).
        crate::mfa::enable_totp(&s.admin).await;
        let r = s
            .admin
            .patch("/organization", json!({"mfaRequired": true}))
            .await;
        assert_eq!(r.status, 200, "{name}: {}", r.body);
        let enrol_only = |c: Client, how: &'static str| async move {
            let r = c.get("/chatflows").await;
            assert_eq!(
                (r.status, r.code()),
                (403, "mfa_enrollment_required"),
                "{name}: {how}: {}",
                r.body
            );
            let r = c.get("/auth/mfa").await;
            assert_eq!(r.status, 200, "{name}: {how}: {}", r.body);
            assert_eq!(r.body["enrollmentRequired"], true, "{name}: {how}");
        };

        // The provider says it checked a second factor: full access, with no code page.
        s.idp
            .set_account_amr("mia", "mia@example.com", &["pwd", "otp"])
            .await;
        let h = s.sign_in("mia").await;
        let mia = s.as_user(&h);
        let r = mia.get("/chatflows").await;
        assert_eq!(r.status, 200, "{name}: {}", r.body);
        assert_eq!(mia.get("/auth/mfa").await.body["enrollmentRequired"], false);
        assert_eq!(
            s.last_login("mia@example.com").await["outcome"],
            "success",
            "{name}"
        );
        // A refresh keeps the session, and what it counts as.
        let refresh = h
            .cookies
            .iter()
            .find_map(|c| c.strip_prefix("fs_refresh="))
            .map(|v| v.split(';').next().unwrap().to_string())
            .expect("a refresh cookie");
        let r = s
            .server
            .client()
            .post("/auth/refresh", json!({"refreshToken": refresh}))
            .await;
        assert_eq!(r.status, 200, "{name}: {}", r.body);
        let refreshed = s
            .server
            .client()
            .with_token(r.body["accessToken"].as_str().unwrap());
        assert_eq!(refreshed.get("/chatflows").await.status, 200, "{name}");

        // The same account, the provider saying nothing of a second factor: enrol only.
        s.idp.set_account("mia", "mia@example.com", true, &[]).await;
        let h = s.sign_in("mia").await;
        enrol_only(s.as_user(&h), "SSO without amr").await;
        // A factor that is no second one (RFC 8176 `pwd`, `kba`) does not count either.
        s.idp
            .set_account_amr("mia", "mia@example.com", &["pwd", "kba"])
            .await;
        let h = s.sign_in("mia").await;
        enrol_only(s.as_user(&h), "SSO with amr pwd kba").await;
        // A password sign-in never counts: enrol only.
        let password = s.server.login("mia@example.com", PASSWORD).await;
        enrol_only(password, "password").await;
        // (The MFA session opened first is unaffected by the later ones.)
        assert_eq!(mia.get("/chatflows").await.status, 200, "{name}");
    }
}

/// Every way the callback fails (SPEC §8), each through a real sequence with the real
/// provider: a clear error, no session or cookie, no account or membership made or changed,
/// and a login-activity row naming the reason (none for a state that names no flow: it names
/// no organization either).
#[tokio::test]
async fn every_sso_failure_is_clear_changes_nothing_and_is_recorded() {
    for backend in backends() {
        // Provisioning on: each refusal below would otherwise have created an account.
        let mut s = Sso::new(&backend, json!({"enabled": true, "role": "Viewer"})).await;
        s.idp.set_account("vic", "vic@example.com", true, &[]).await;
        let before = s.members().await;

        // Nonce mismatch: two sign-ins started in one browser, and flow B's authorization
        // request reaches the provider carrying flow A's nonce (rewritten on the way). The
        // provider signs a real ID token with A's nonce for B's code, which B's PKCE verifier
        // redeems: B's callback refuses the token.
        let auth_a = s.start().await;
        let auth_b = s.start().await;
        let tampered = auth_b.replace(
            &format!("nonce={}", param(&auth_b, "nonce")),
            &format!("nonce={}", param(&auth_a, "nonce")),
        );
        assert_ne!(tampered, auth_b);
        let cb = s.idp.sign_in(&tampered, "vic").await;
        let h = s.back(&cb).await;
        refused(&h, 401, "sso_nonce_mismatch");
        s.recorded("sso_nonce_mismatch").await;
        assert_eq!(s.members().await, before);
        // The spent flow B cannot be tried again.
        refused(&s.back(&cb).await, 400, "sso_invalid_state");

        // Wrong audience: the provider issues the ID token to another of its clients (a real
        // token of the provider, signed by its key, with the other client's `aud`).
        let other = s
            .idp
            .register_client("https://other-app.example.com/callback")
            .await;
        let cb = s.callback_url("vic").await;
        s.idp.misissue_next_id_token_to(&other.client_id).await;
        let h = s.back(&cb).await;
        refused(&h, 401, "sso_wrong_audience");
        s.recorded("sso_wrong_audience").await;
        assert_eq!(s.members().await, before);

        // A forged state, and a replayed one: refused, and recorded nowhere (they name no
        // flow, so no organization); nothing else happens.
        let newest = s.newest_login().await;
        let cb = s.callback_url("vic").await;
        let binder = s.binder.lock().unwrap().clone();
        let forged = cb.replace(
            &format!("state={}", param(&cb, "state")),
            "state=forged-state-value",
        );
        refused(
            &hop_with(&forged, binder.as_deref()).await,
            400,
            "sso_invalid_state",
        );
        assert_eq!(s.newest_login().await, newest);
        // The real state still works once; its replay is refused.
        s.as_user(&s.back(&cb).await);
        let before = s.members().await;
        let newest = s.newest_login().await;
        assert_eq!(newest["outcome"], "success", "{newest}");
        refused(&s.back(&cb).await, 400, "sso_invalid_state");
        assert_eq!(s.newest_login().await, newest);
        assert_eq!(s.members().await, before);

        // A replayed code: the spent code of that sign-in, brought to the callback with the
        // state of a new flow of the same browser. The provider refuses it.
        let auth = s.start().await;
        let replay = format!(
            "{}/api/v1/auth/oidc/callback?code={}&state={}",
            s.server.base_url,
            param(&cb, "code"),
            param(&auth, "state")
        );
        let h = s.back(&replay).await;
        refused(&h, 400, "sso_code_rejected");
        s.recorded("sso_code_rejected").await;
        assert_eq!(s.members().await, before);

        // An expired flow (its deadline moved into the past).
        let cb = s.callback_url("vic").await;
        s.server.store().expire_sso_flows().await.unwrap();
        refused(&s.back(&cb).await, 400, "sso_flow_expired");
        s.recorded("sso_flow_expired").await;

        // An email the provider does not call verified; a domain the provider does not allow.
        s.idp
            .set_account("unv", "unv@example.com", false, &[])
            .await;
        refused(&s.sign_in("unv").await, 403, "email_not_verified");
        s.recorded("email_not_verified").await;
        assert_eq!(
            s.last_login("unv@example.com").await["reason"],
            "email_not_verified"
        );
        s.idp.set_account("out", "out@other.org", true, &[]).await;
        refused(&s.sign_in("out").await, 403, "domain_not_allowed");
        s.recorded("domain_not_allowed").await;
        assert_eq!(s.members().await, before);

        // Provisioning off: an unknown account is refused.
        let p = s
            .admin
            .patch(
                &format!("/organization/sso/providers/{}", s.id),
                json!({"jit": {"enabled": false, "workspaceId": s.default_ws, "role": "Viewer"}}),
            )
            .await;
        assert_eq!(p.status, 200, "{}", p.body);
        s.idp.set_account("new", "new@example.com", true, &[]).await;
        refused(&s.sign_in("new").await, 403, "jit_disabled");
        s.recorded("jit_disabled").await;
        assert_eq!(s.members().await, before);

        // The provider goes down between the start and the callback: a clear 502 that names
        // what failed, without the client's internals.
        let cb = s.callback_url("vic").await;
        let binder = s.binder.lock().unwrap().clone();
        s.idp.kill().await;
        let h = hop_with(&cb, binder.as_deref()).await;
        refused(&h, 502, "sso_provider_unavailable");
        let message = h.json()["error"]["message"].as_str().unwrap().to_string();
        assert!(message.contains("(token request failed)"), "{message}");
        assert!(!message.contains("127.0.0.1"), "no internals: {message}");
        s.recorded("sso_provider_unavailable").await;
        assert_eq!(s.members().await, before);
    }
}

/// A small HTTP server that plays a hostile or broken issuer (the provider is the subject of
/// these tests: what the server does with what an owner points it at).
async fn hostile_issuer() -> String {
    use axum::routing::get;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let doc = |issuer: String, jwks: &str| {
        json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/auth"),
            "token_endpoint": format!("{issuer}/token"),
            "jwks_uri": jwks,
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        })
    };
    let (meta, private) = (
        doc(
            format!("{base}/meta"),
            "http://169.254.169.254/latest/meta-data/keys",
        ),
        doc(format!("{base}/private"), "https://10.1.2.3/keys"),
    );
    let app = axum::Router::new()
        .route(
            "/missing/.well-known/openid-configuration",
            get(|| async {
                (
                    axum::http::StatusCode::NOT_FOUND,
                    "INTERNAL-SECRET-BODY db=10.0.0.7",
                )
            }),
        )
        .route(
            "/big/.well-known/openid-configuration",
            get(|| async { "x".repeat(2 * 1024 * 1024) }),
        )
        .route(
            "/meta/.well-known/openid-configuration",
            get(move || async move { axum::Json(meta) }),
        )
        .route(
            "/private/.well-known/openid-configuration",
            get(move || async move { axum::Json(private) }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

/// SSRF: an owner's issuer URL, and every URL its discovery document names, may reach only
/// https at a public address (or this machine with OIDC_ALLOW_LOOPBACK, which the tests set);
/// refusals say why to the owner and never echo the provider's answer.
#[tokio::test]
async fn provider_urls_cannot_reach_the_servers_own_network() {
    for backend in backends() {
        let server = TestServer::start(&backend).await;
        let admin = server.setup().await;
        let create = |issuer: &str| json!({"displayName": "X", "issuer": issuer, "clientId": "a", "clientSecret": "b"});
        let count = || async {
            admin.get("/organization/sso/providers").await.body["items"]
                .as_array()
                .unwrap()
                .len()
        };
        // Addresses refused when configured: 422 on `issuer`, nothing created.
        for issuer in [
            "https://169.254.169.254",
            "http://169.254.169.254/latest",
            "https://[::ffff:169.254.169.254]",
            "https://[fe80::1]",
            "https://10.0.0.1/realms/x",
            "https://192.168.1.10",
            "https://0.0.0.0:8080",
            "http://example.com",
            "http://[fd00::1]",
        ] {
            let r = admin
                .post("/organization/sso/providers", create(issuer))
                .await;
            assert_eq!(r.status, 422, "{issuer}: {}", r.body);
            assert_eq!(r.body["error"]["field"], "issuer", "{issuer}: {}", r.body);
        }
        assert_eq!(count().await, 0);

        // What the issuer answers is checked too, and reported without its body.
        let base = hostile_issuer().await;
        let test = |issuer: String| {
            let admin = &admin;
            async move {
                let r = admin
                    .post("/organization/sso/providers", create(&issuer))
                    .await;
                assert_eq!(r.status, 201, "{}", r.body);
                let t = admin
                    .post(
                        &format!("/organization/sso/providers/{}/test", r.id()),
                        json!({}),
                    )
                    .await;
                assert_eq!(t.status, 200, "{}", t.body);
                assert_eq!(t.body["ok"], false, "{}", t.body);
                t.body["discovery"]["message"].as_str().unwrap().to_string()
            }
        };
        let m = test(format!("{base}/missing")).await;
        assert_eq!(
            m,
            format!(
                "discovery failed: HTTP 404 at {base}/missing/.well-known/openid-configuration"
            )
        );
        let m = test(format!("{base}/big")).await;
        assert!(m.contains("larger than 1024 KiB"), "{m}");
        // A discovery document that sends the keys request to the metadata service, or into a
        // private network: refused before any connection.
        let m = test(format!("{base}/meta")).await;
        assert!(
            m.contains(
                "169.254.169.254/latest/meta-data/keys is at 169.254.169.254, not a public address"
            ),
            "{m}"
        );
        let m = test(format!("{base}/private")).await;
        assert!(m.contains("10.1.2.3, a private network address"), "{m}");
        for t in admin.get("/audit-events?limit=200").await.text.lines() {
            assert!(!t.contains("INTERNAL-SECRET-BODY"), "{t}");
        }

        // Without OIDC_ALLOW_LOOPBACK: this machine is refused, by address when configured,
        // and by what a name resolves to when fetched (a sign-in too).
        let strict = TestServer::start_with(&backend, |c| c.oidc_allow_loopback = false).await;
        let sadmin = strict.setup().await;
        let port = base.rsplit(':').next().unwrap();
        for issuer in [
            format!("http://127.0.0.1:{port}/meta"),
            format!("https://[::1]:{port}"),
        ] {
            let r = sadmin
                .post("/organization/sso/providers", create(&issuer))
                .await;
            assert_eq!(r.status, 422, "{issuer}: {}", r.body);
            assert_eq!(r.body["error"]["field"], "issuer", "{}", r.body);
        }
        let r = sadmin
            .post(
                "/organization/sso/providers",
                create(&format!("https://localhost:{port}")),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let id = r.id();
        let t = sadmin
            .post(&format!("/organization/sso/providers/{id}/test"), json!({}))
            .await;
        let m = t.body["discovery"]["message"].as_str().unwrap();
        assert!(
            m.contains("localhost resolves to an address of this machine")
                && !m.contains("127.0.0.1"),
            "{m}"
        );
        let h = hop(&format!("{}/api/v1/auth/oidc/{id}/start", strict.base_url)).await;
        refused(&h, 502, "sso_provider_unavailable");
        assert!(h.body.contains("(discovery failed)"), "{}", h.body);
        assert!(!h.body.contains("localhost"), "no internals: {}", h.body);
    }
}

/// `GET /auth/sso-providers?email=` answers by the email's domain alone: an address with an
/// account and one without, in one domain, get the same answer; a member whose address is of
/// another domain learns nothing more than a stranger of that domain.
#[tokio::test]
async fn the_sign_in_page_buttons_depend_on_the_domain_alone() {
    for backend in backends() {
        let s = Sso::new(&backend, Value::Null).await;
        for email in ["known@example.com", "member@contractor.org"] {
            let r = s
                .admin
                .post(
                    "/users",
                    json!({"email": email, "name": "K", "password": PASSWORD}),
                )
                .await;
            assert_eq!(r.status, 201, "{}", r.body);
        }
        let ask = |email: &str| {
            let url = format!(
                "{}/api/v1/auth/sso-providers?email={}",
                s.server.base_url,
                email.replace('@', "%40")
            );
            async move {
                let res = reqwest::get(&url).await.unwrap();
                let status = res.status().as_u16();
                let mut headers: Vec<(String, String)> = res
                    .headers()
                    .iter()
                    .filter(|(k, _)| *k != "date" && *k != "x-request-id")
                    .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_string()))
                    .collect();
                headers.sort();
                (status, headers, res.text().await.unwrap())
            }
        };
        let known = ask("known@example.com").await;
        let unknown = ask("nobody-here@example.com").await;
        assert_eq!(known, unknown);
        assert!(known.2.contains("Test IdP"), "{}", known.2);
        let member = ask("member@contractor.org").await;
        let stranger = ask("stranger@contractor.org").await;
        assert_eq!(member, stranger);
        assert_eq!(
            serde_json::from_str::<Value>(&member.2).unwrap()["items"],
            json!([])
        );
        // The owner's own address answers as any other of the domain.
        assert_eq!(ask(ADMIN_EMAIL).await, unknown);
    }
}
