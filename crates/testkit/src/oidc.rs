//! A real OpenID provider for the single sign-on tests: panva's `oidc-provider` (OpenID
//! Certified) on Node.js, from `tests/oidc-provider` (installed by `scripts/test` with `npm ci`).
//! Each test starts its own on a free port; it is stopped when dropped. Its development login
//! and consent pages are driven by plain HTTP with a cookie jar (`sign_in`), or by the browser.

use reqwest::header::LOCATION;
use std::path::PathBuf;
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A running provider.
pub struct OidcProvider {
    pub issuer: String,
    child: Child,
    http: reqwest::Client,
}

/// A client registered at the provider for one Flowspace server.
#[derive(Clone, Debug)]
pub struct OidcClient {
    pub client_id: String,
    pub client_secret: String,
}

fn tooling() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/oidc-provider")
}

impl OidcProvider {
    /// Starts a provider on a free port of 127.0.0.1.
    pub async fn start() -> Self {
        let dir = tooling();
        assert!(
            dir.join("node_modules/oidc-provider").is_dir(),
            "the test OpenID provider is not installed: run scripts/test (or `npm ci` in {})",
            dir.display()
        );
        let mut child = Command::new(std::env::var("NODE").unwrap_or_else(|_| "node".into()))
            .arg("provider.js")
            .arg("0")
            .current_dir(&dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("node starts (Node.js 20 or later is needed by the SSO tests)");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let issuer = tokio::time::timeout(std::time::Duration::from_secs(30), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(i) = line.strip_prefix("listening ") {
                    return i.trim().to_string();
                }
            }
            panic!("the OpenID provider exited before listening");
        })
        .await
        .expect("the OpenID provider starts within 30 s");
        // Keep reading its output so that it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self {
            issuer,
            child,
            http: reqwest::Client::new(),
        }
    }

    /// Registers a confidential client (client_secret_basic, PKCE required) whose redirect
    /// URI is `redirect_uri` (dynamic client registration).
    pub async fn register_client(&self, redirect_uri: &str) -> OidcClient {
        let res: serde_json::Value = self
            .http
            .post(format!("{}/reg", self.issuer))
            .json(&serde_json::json!({
                "redirect_uris": [redirect_uri],
                "grant_types": ["authorization_code"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "client_secret_basic",
            }))
            .send()
            .await
            .expect("register")
            .json()
            .await
            .expect("registration answer");
        OidcClient {
            client_id: res["client_id"].as_str().expect("client_id").to_string(),
            client_secret: res["client_secret"].as_str().expect("secret").to_string(),
        }
    }

    /// Sets the claims of the account that signs in as `login` (its `sub` is the login).
    pub async fn set_account(
        &self,
        login: &str,
        email: &str,
        email_verified: bool,
        groups: &[&str],
    ) {
        let res = self
            .http
            .post(format!("{}/admin/accounts", self.issuer))
            .json(&serde_json::json!({
                "login": login, "email": email, "email_verified": email_verified, "groups": groups,
            }))
            .send()
            .await
            .expect("set account");
        assert_eq!(res.status().as_u16(), 204);
    }

    /// Sets an account's claims as given: `{login, email, email_verified?, xms_edov?, groups,
    /// name?}` (a claim left out is not sent).
    pub async fn set_account_claims(&self, account: serde_json::Value) {
        let res = self
            .http
            .post(format!("{}/admin/accounts", self.issuer))
            .json(&account)
            .send()
            .await
            .expect("set account");
        assert_eq!(res.status().as_u16(), 204);
    }

    /// Like `set_account` (verified, no groups), and the account's ID tokens carry `amr`
    /// (RFC 8176: how the provider says it authenticated the account, e.g. `["pwd", "otp"]`).
    pub async fn set_account_amr(&self, login: &str, email: &str, amr: &[&str]) {
        let res = self
            .http
            .post(format!("{}/admin/accounts", self.issuer))
            .json(&serde_json::json!({
                "login": login, "email": email, "email_verified": true, "groups": [], "amr": amr,
            }))
            .send()
            .await
            .expect("set account");
        assert_eq!(res.status().as_u16(), 204);
    }

    /// Replaces the provider's signing key by a new one (a new `kid`).
    pub async fn rotate_keys(&self) {
        let res = self
            .http
            .post(format!("{}/admin/rotate", self.issuer))
            .send()
            .await
            .expect("rotate");
        assert_eq!(res.status().as_u16(), 204);
    }

    /// Makes the provider issue the next ID token to `client_id` (another registered client)
    /// instead of the client redeeming the code: a real token of this provider whose `aud` is
    /// not the redeeming client's.
    pub async fn misissue_next_id_token_to(&self, client_id: &str) {
        let res = self
            .http
            .post(format!("{}/admin/misissue", self.issuer))
            .json(&serde_json::json!({ "clientId": client_id }))
            .send()
            .await
            .expect("misissue");
        assert_eq!(res.status().as_u16(), 204);
    }

    /// Stops the provider: it no longer answers (the "provider down" case).
    pub async fn stop(mut self) {
        self.kill().await;
    }

    /// The same, keeping the handle (its issuer then answers nothing).
    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }

    /// Follows a sign-in from the provider's authorization URL through its login (as `login`)
    /// and consent pages with a fresh cookie jar, and answers the URL it sends the browser back
    /// to (the Flowspace callback with `code` and `state`), without requesting it.
    pub async fn sign_in(&self, authorize_url: &str, login: &str) -> String {
        let jar = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let mut url = authorize_url.to_string();
        for _ in 0..20 {
            if !url.starts_with(&self.issuer) {
                return url;
            }
            let res = jar.get(&url).send().await.expect("provider page");
            if let Some(to) = res.headers().get(LOCATION) {
                url = absolute(&self.issuer, to.to_str().expect("location"));
                continue;
            }
            let page = res.text().await.expect("page");
            let prompt = if page.contains("name=\"prompt\" value=\"login\"") {
                vec![("prompt", "login"), ("login", login), ("password", "any")]
            } else if page.contains("name=\"prompt\" value=\"consent\"") {
                vec![("prompt", "consent")]
            } else {
                panic!("unexpected provider page at {url}: {page}");
            };
            let res = jar.post(&url).form(&prompt).send().await.expect("submit");
            let to = res
                .headers()
                .get(LOCATION)
                .unwrap_or_else(|| panic!("the provider did not redirect after {prompt:?}"));
            url = absolute(&self.issuer, to.to_str().expect("location"));
        }
        panic!("the provider's sign-in did not end");
    }
}

fn absolute(issuer: &str, to: &str) -> String {
    if to.starts_with("http://") || to.starts_with("https://") {
        to.to_string()
    } else {
        format!("{issuer}{to}")
    }
}
