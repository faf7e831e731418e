//! OpenID Connect with a provider (SPEC §8), through the `openidconnect` crate: discovery (kept
//! per issuer, fetched again when an ID token names a key the provider did not list before),
//! the authorization URL with PKCE S256, state and nonce, and the callback's code exchange, ID
//! token verification (signature, `iss`, `aud`, `exp`, `nonce`) and userinfo. Every request goes
//! through one reqwest client built with redirects off, so a provider cannot bounce the server
//! elsewhere.

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreGenderClaim, CoreProviderMetadata,
};
use openidconnect::{
    AccessToken, AdditionalClaims, AuthorizationCode, ClaimsVerificationError, ClientId,
    ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, SignatureVerificationError, TokenResponse,
    UserInfoClaims,
};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// Why talking to a provider failed, said plainly (the test button shows it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OidcError {
    /// The provider could not be reached or answered nonsense (discovery, keys, token).
    Unavailable(String),
    /// The provider refused the code (spent, wrong, or not for this client).
    CodeRejected(String),
    /// The ID token failed verification.
    InvalidToken(String),
    /// The provider's settings are unusable (an issuer that is not a URL, ...).
    Misconfigured(String),
}

impl std::fmt::Display for OidcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unavailable(m)
            | Self::CodeRejected(m)
            | Self::InvalidToken(m)
            | Self::Misconfigured(m) => f.write_str(m),
        }
    }
}

/// A provider as the protocol needs it.
pub struct OidcProvider<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub client_secret: &'a str,
    pub redirect_uri: &'a str,
    pub scopes: &'a [String],
    pub groups_claim: &'a str,
}

/// Claims beyond the standard ones, as a map (`groups`, or whatever the provider names it).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct ExtraClaims(pub HashMap<String, serde_json::Value>);
impl AdditionalClaims for ExtraClaims {}

/// What a verified sign-in says of the user.
#[derive(Clone, Debug)]
pub struct VerifiedIdentity {
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    pub groups: Vec<String>,
    /// The ID token's `amr` (how the provider authenticated the user), for the MFA policy.
    pub amr: Vec<String>,
}

/// The start of a sign-in: where to send the browser, and what to keep for the callback.
pub struct Authorization {
    pub url: String,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

/// The outcome of the test button.
#[derive(Clone, Debug)]
pub struct ProbeReport {
    pub discovery: Result<(), String>,
    pub keys: Result<usize, String>,
}

/// Discovery documents per issuer, and the HTTP client.
pub struct Oidc {
    http: Option<reqwest::Client>,
    metadata: Mutex<HashMap<String, CoreProviderMetadata>>,
}

impl Default for Oidc {
    fn default() -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(5))
            .build()
            .ok();
        Self {
            http,
            metadata: Mutex::new(HashMap::new()),
        }
    }
}

fn unavailable(what: &str, e: impl std::fmt::Display) -> OidcError {
    OidcError::Unavailable(format!("{what}: {e}"))
}

impl Oidc {
    fn http(&self) -> Result<&reqwest::Client, OidcError> {
        self.http
            .as_ref()
            .ok_or_else(|| OidcError::Unavailable("no HTTP client".into()))
    }

    /// The provider's discovery document (and keys): the one kept, unless `fresh`.
    async fn metadata(&self, issuer: &str, fresh: bool) -> Result<CoreProviderMetadata, OidcError> {
        if !fresh
            && let Ok(m) = self.metadata.lock()
            && let Some(md) = m.get(issuer)
        {
            return Ok(md.clone());
        }
        let url = IssuerUrl::new(issuer.to_string())
            .map_err(|e| OidcError::Misconfigured(format!("issuer: {e}")))?;
        let md = CoreProviderMetadata::discover_async(url, self.http()?)
            .await
            .map_err(|e| unavailable("discovery failed", error_chain(&e)))?;
        if let Ok(mut m) = self.metadata.lock() {
            m.insert(issuer.to_string(), md.clone());
        }
        Ok(md)
    }

    /// Runs discovery and fetches the keys afresh: what the test button reports.
    pub async fn probe(&self, issuer: &str) -> ProbeReport {
        match self.metadata(issuer, true).await {
            Ok(md) => ProbeReport {
                discovery: Ok(()),
                keys: if md.jwks().keys().is_empty() {
                    Err("the provider lists no signing keys".into())
                } else {
                    Ok(md.jwks().keys().len())
                },
            },
            Err(e) => ProbeReport {
                discovery: Err(e.to_string()),
                keys: Err("not fetched: discovery failed".into()),
            },
        }
    }

    /// The URL of the provider's sign-in page for a new flow (code, PKCE S256, state, nonce).
    pub async fn authorize(&self, p: &OidcProvider<'_>) -> Result<Authorization, OidcError> {
        let md = self.metadata(p.issuer, false).await?;
        let client = CoreClient::from_provider_metadata(
            md,
            ClientId::new(p.client_id.to_string()),
            Some(ClientSecret::new(p.client_secret.to_string())),
        )
        .set_redirect_uri(redirect(p.redirect_uri)?);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut req = client.authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        );
        for s in p.scopes.iter().filter(|s| *s != "openid") {
            req = req.add_scope(Scope::new(s.clone()));
        }
        let (url, state, nonce) = req.set_pkce_challenge(challenge).url();
        Ok(Authorization {
            url: url.to_string(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    /// The callback's work: exchanges `code` (with the PKCE verifier), verifies the ID token
    /// against the provider's keys (fetched again once when it names an unknown key) and the
    /// nonce, and reads userinfo.
    pub async fn redeem(
        &self,
        p: &OidcProvider<'_>,
        code: &str,
        pkce_verifier: &str,
        nonce: &str,
    ) -> Result<VerifiedIdentity, OidcError> {
        let http = self.http()?;
        let md = self.metadata(p.issuer, false).await?;
        let client = CoreClient::from_provider_metadata(
            md,
            ClientId::new(p.client_id.to_string()),
            Some(ClientSecret::new(p.client_secret.to_string())),
        )
        .set_redirect_uri(redirect(p.redirect_uri)?);
        let token = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| OidcError::Misconfigured(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_string()))
            .request_async(http)
            .await
            .map_err(|e| match e {
                openidconnect::RequestTokenError::ServerResponse(r) => {
                    OidcError::CodeRejected(format!("the provider refused the code: {}", r.error()))
                }
                other => unavailable("token request failed", error_chain(&other)),
            })?;
        let id_token = token
            .id_token()
            .ok_or_else(|| OidcError::InvalidToken("the provider sent no ID token".into()))?;
        let nonce = Nonce::new(nonce.to_string());
        let claims = match id_token.claims(&client.id_token_verifier(), &nonce) {
            Ok(c) => c.clone(),
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) => {
                // The provider rotated its keys: fetch them again, once.
                let md = self.metadata(p.issuer, true).await?;
                let fresh = CoreClient::from_provider_metadata(
                    md,
                    ClientId::new(p.client_id.to_string()),
                    Some(ClientSecret::new(p.client_secret.to_string())),
                );
                id_token
                    .claims(&fresh.id_token_verifier(), &nonce)
                    .map_err(|e| OidcError::InvalidToken(format!("ID token: {e}")))?
                    .clone()
            }
            Err(e) => return Err(OidcError::InvalidToken(format!("ID token: {e}"))),
        };
        let subject = claims.subject().clone();
        let mut identity = VerifiedIdentity {
            issuer: claims.issuer().to_string(),
            subject: subject.to_string(),
            email: claims.email().map(|e| e.to_string()),
            email_verified: claims.email_verified().unwrap_or(false),
            name: claims
                .name()
                .and_then(|n| n.get(None))
                .map(|n| n.to_string()),
            groups: Vec::new(),
            amr: claims
                .auth_method_refs()
                .map(|v| v.iter().map(|a| a.to_string()).collect())
                .unwrap_or_default(),
        };
        // Userinfo adds what the ID token left out (its subject must be the token's).
        if let Ok(req) = client.user_info(
            AccessToken::new(token.access_token().secret().clone()),
            Some(subject),
        ) {
            let info: UserInfoClaims<ExtraClaims, CoreGenderClaim> = req
                .request_async(http)
                .await
                .map_err(|e| unavailable("userinfo failed", error_chain(&e)))?;
            if identity.email.is_none() {
                identity.email = info.email().map(|e| e.to_string());
                identity.email_verified = info.email_verified().unwrap_or(false);
            } else if info.email().map(|e| e.as_str()) == identity.email.as_deref() {
                identity.email_verified |= info.email_verified().unwrap_or(false);
            }
            if identity.name.is_none() {
                identity.name = info.name().and_then(|n| n.get(None)).map(|n| n.to_string());
            }
            identity.groups = groups_of(info.additional_claims().0.get(p.groups_claim));
        }
        Ok(identity)
    }
}

fn redirect(uri: &str) -> Result<RedirectUrl, OidcError> {
    RedirectUrl::new(uri.to_string())
        .map_err(|e| OidcError::Misconfigured(format!("redirect URI: {e}")))
}

/// A group claim: an array of strings (or one string).
fn groups_of(v: Option<&serde_json::Value>) -> Vec<String> {
    match v {
        Some(serde_json::Value::Array(a)) => a
            .iter()
            .filter_map(|g| g.as_str().map(str::to_string))
            .take(1000)
            .collect(),
        Some(serde_json::Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// An error with its sources, on one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
