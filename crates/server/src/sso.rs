//! OpenID Connect with a provider (SPEC §8), through the `openidconnect` crate: discovery (kept
//! per issuer, fetched again when an ID token names a key the provider did not list before),
//! the authorization URL with PKCE S256, state and nonce, and the callback's code exchange, ID
//! token verification (signature, `iss`, `aud`, `exp`, `nonce`) and userinfo.
//!
//! An owner chooses the issuer URL, so every request to a provider (discovery, keys, token,
//! userinfo: whatever URLs the discovery document names) goes through `fetch`, which guards
//! the server's network (server-side request forgery): `https` only (plain `http` only to this
//! machine, when OIDC_ALLOW_LOOPBACK is set); never to an address of this machine, a private
//! network (unless OIDC_ALLOW_LOOPBACK / OIDC_ALLOW_PRIVATE_NETWORKS), a link-local one (the
//! clouds' metadata service, 169.254.169.254) or any other non-public one, checked on the IP
//! literal in the URL and on every address a host name resolves to (by the client's own
//! resolver, so a name cannot resolve to one address for the check and another for the
//! connection); no redirects, no proxy, at most `MAX_RESPONSE_BYTES` and `TIMEOUT` each.

use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreClient, CoreErrorResponseType,
    CoreGenderClaim, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
    CoreProviderMetadata, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AccessToken, AdditionalClaims, AuthorizationCode, ClaimsVerificationError, Client, ClientId,
    ClientSecret, CsrfToken, EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet,
    HttpRequest, HttpResponse, IdTokenFields, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, SignatureVerificationError,
    StandardErrorResponse, StandardTokenResponse, TokenResponse, UserInfoClaims,
};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The largest answer read from a provider (a discovery document, keys, tokens, userinfo).
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;
/// The longest a request to a provider may take, connection included.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Why talking to a provider failed, said plainly (the test button shows it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OidcError {
    /// The provider could not be reached or answered nonsense: at which step (discovery,
    /// token request, userinfo), and why (for owners and logs, not for whoever signs in).
    Unavailable(&'static str, String),
    /// The provider refused the code (spent, wrong, or not for this client).
    CodeRejected(String),
    /// The ID token failed verification: its error code and why.
    InvalidToken(&'static str, String),
    /// The provider's settings are unusable (an issuer that is not a URL, ...).
    Misconfigured(String),
}

impl std::fmt::Display for OidcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unavailable(step, why) => write!(f, "{step} failed: {why}"),
            Self::CodeRejected(m) | Self::InvalidToken(_, m) | Self::Misconfigured(m) => {
                f.write_str(m)
            }
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

/// `CoreClient` as discovery makes it, but keeping the ID token's claims beyond the standard
/// ones (`ExtraClaims`: Microsoft Entra ID's `xms_edov`).
type RedeemClient = Client<
    ExtraClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    StandardTokenResponse<
        IdTokenFields<
            ExtraClaims,
            EmptyExtraTokenFields,
            CoreGenderClaim,
            CoreJweContentEncryptionAlgorithm,
            CoreJwsSigningAlgorithm,
        >,
        CoreTokenType,
    >,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// Whether a provider says the email is verified: its `email_verified`; when it sends none,
/// Microsoft Entra ID's optional claim `xms_edov` (the email's domain owner verified it) when
/// it is `true`. Anything else is unverified (an `email_verified: false` stays so whatever
/// `xms_edov` says).
fn email_verified(claim: Option<bool>, extra: &ExtraClaims) -> bool {
    claim.unwrap_or_else(|| extra.0.get("xms_edov") == Some(&serde_json::Value::Bool(true)))
}

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

/// Which addresses a provider may be at besides public ones (OIDC_ALLOW_LOOPBACK,
/// OIDC_ALLOW_PRIVATE_NETWORKS).
#[derive(Clone, Copy, Debug, Default)]
pub struct NetPolicy {
    /// This machine (127.0.0.0/8, ::1), over plain `http` too: a provider beside the server.
    pub allow_loopback: bool,
    /// Private networks (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10,
    /// fc00::/7): a provider inside the company's network.
    pub allow_private: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AddrKind {
    Public,
    Loopback,
    Private,
    /// Link-local (the metadata services), unspecified, multicast, documentation, reserved.
    Forbidden,
}

fn kind_v4(ip: Ipv4Addr) -> AddrKind {
    let o = ip.octets();
    if ip.is_loopback() {
        AddrKind::Loopback
    } else if o == [100, 100, 100, 200] {
        // Alibaba Cloud's metadata service, inside 100.64/10: never, like 169.254.169.254.
        AddrKind::Forbidden
    } else if ip.is_private() || (o[0] == 100 && o[1] & 0xc0 == 64) {
        AddrKind::Private
    } else if o[0] == 0
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || o[0] >= 240
        || (o[0] == 192 && o[1] == 0 && o[2] == 0)
        || (o[0] == 198 && o[1] & 0xfe == 18)
    {
        AddrKind::Forbidden
    } else {
        AddrKind::Public
    }
}

fn kind(ip: IpAddr) -> AddrKind {
    let v6: Ipv6Addr = match ip {
        IpAddr::V4(v4) => return kind_v4(v4),
        IpAddr::V6(v6) => v6,
    };
    if let Some(v4) = v6.to_ipv4_mapped() {
        return kind_v4(v4);
    }
    let s = v6.segments();
    if v6.is_loopback() {
        AddrKind::Loopback
    } else if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        // NAT64: the IPv4 address it reaches.
        kind_v4(Ipv4Addr::new(
            (s[6] >> 8) as u8,
            s[6] as u8,
            (s[7] >> 8) as u8,
            s[7] as u8,
        ))
    } else if s == [0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254] {
        // AWS's IPv6 metadata service, inside fc00::/7: never.
        AddrKind::Forbidden
    } else if s[0] & 0xfe00 == 0xfc00 {
        AddrKind::Private
    } else if s[0] & 0xe000 == 0x2000 && s[0] != 0x2002 && !(s[0] == 0x2001 && s[1] == 0xdb8) {
        // Global unicast, but 6to4 (which reaches any IPv4 address) and documentation.
        AddrKind::Public
    } else {
        AddrKind::Forbidden
    }
}

impl NetPolicy {
    /// Whether a provider may be at `ip`; if not, why (for the owner).
    fn allows(&self, ip: IpAddr) -> Result<(), String> {
        self.refusal(ip)
            .map_or(Ok(()), |why| Err(format!("{ip}, {why}")))
    }

    /// Why `ip` may not be asked, without the address itself (what a name resolved to stays
    /// in the server's log: owners are not shown the server's own network), or `None`.
    fn refusal(&self, ip: IpAddr) -> Option<&'static str> {
        match kind(ip) {
            AddrKind::Public => None,
            AddrKind::Loopback if self.allow_loopback => None,
            AddrKind::Private if self.allow_private => None,
            AddrKind::Loopback => {
                Some("an address of this machine (allowed only with OIDC_ALLOW_LOOPBACK)")
            }
            AddrKind::Private => {
                Some("a private network address (allowed only with OIDC_ALLOW_PRIVATE_NETWORKS)")
            }
            AddrKind::Forbidden => {
                Some("not a public address (link-local, a metadata service, or reserved)")
            }
        }
    }

    /// Whether a provider may be asked at `url`: `https`, or `http` to this machine when
    /// loopback is allowed; an IP literal host must be allowed (a name is checked when it is
    /// resolved, by `GuardedResolver`).
    pub fn check_url(&self, url: &str) -> Result<(), String> {
        let parsed =
            openidconnect::url::Url::parse(url).map_err(|_| format!("{url} is not a URL"))?;
        let ip = match parsed.host() {
            Some(openidconnect::url::Host::Ipv4(v4)) => Some(IpAddr::V4(v4)),
            Some(openidconnect::url::Host::Ipv6(v6)) => Some(IpAddr::V6(v6)),
            Some(openidconnect::url::Host::Domain(_)) => None,
            None => return Err(format!("{url} has no host")),
        };
        if let Some(ip) = ip {
            self.allows(ip)
                .map_err(|why| format!("{url} is at {why}"))?;
        }
        match parsed.scheme() {
            "https" => Ok(()),
            "http" if self.allow_loopback && ip.is_some_and(|i| kind(i) == AddrKind::Loopback) => {
                Ok(())
            }
            "http" if self.allow_loopback => Err(format!(
                "{url}: plain http is allowed only to this machine's address (127.0.0.1 or [::1]): use https"
            )),
            _ => Err(format!("{url}: only https is allowed")),
        }
    }
}

/// Resolves a provider's host name to the addresses `NetPolicy` allows, and fails when it
/// allows none: the connection uses exactly the addresses checked.
struct GuardedResolver(NetPolicy);

/// A refusal of the network guard, found again in a request's error sources.
#[derive(Debug)]
struct Blocked(String);
impl std::fmt::Display for Blocked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for Blocked {}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.0;
        Box::pin(async move {
            let host = name.as_str().to_string();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut why = None;
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| match policy.refusal(a.ip()) {
                    None => true,
                    Some(e) => {
                        tracing::warn!(host = %host, address = %a.ip(), "SSO provider address refused: {e}");
                        why.get_or_insert(e);
                        false
                    }
                })
                .collect();
            if allowed.is_empty() {
                let why = why.unwrap_or("no address");
                return Err(Box::new(Blocked(format!("{host} resolves to {why}")))
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Why a request to a provider failed, in words safe to show (no answer body, no error chain).
#[derive(Debug)]
pub struct FetchError(String);
impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for FetchError {}

fn describe(e: &reqwest::Error, url: &str) -> FetchError {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cur {
        // An io::Error's `source` skips the error it wraps: look inside it too.
        let inner = c
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|e| e.downcast_ref::<Blocked>());
        if let Some(b) = c.downcast_ref::<Blocked>().or(inner) {
            return FetchError(format!("{url}: {b}"));
        }
        cur = c.source();
    }
    FetchError(if e.is_timeout() {
        format!("no answer within {} s from {url}", TIMEOUT.as_secs())
    } else if e.is_connect() {
        format!("could not connect to {url}")
    } else {
        format!("the request to {url} failed")
    })
}

/// The HTTP client `openidconnect` is given: every request through `Oidc::fetch`.
struct Guarded<'a> {
    oidc: &'a Oidc,
    ok_only: bool,
}

impl<'c> openidconnect::AsyncHttpClient<'c> for Guarded<'_> {
    type Error = FetchError;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<HttpResponse, FetchError>> + Send + 'c>,
    >;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.oidc.fetch(request, self.ok_only))
    }
}

/// How many issuers' discovery documents are kept at most.
const MAX_CACHED_ISSUERS: usize = 64;

/// Discovery documents per issuer (at most `MAX_CACHED_ISSUERS`), and the guarded HTTP client.
pub struct Oidc {
    http: Option<reqwest::Client>,
    policy: NetPolicy,
    metadata: Mutex<HashMap<String, CoreProviderMetadata>>,
}

impl Default for Oidc {
    fn default() -> Self {
        Self::new(NetPolicy::default())
    }
}

fn unavailable(step: &'static str, e: impl std::fmt::Display) -> OidcError {
    OidcError::Unavailable(step, e.to_string())
}

impl Oidc {
    pub fn new(policy: NetPolicy) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver(policy)))
            .timeout(TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .build()
            .ok();
        Self {
            http,
            policy,
            metadata: Mutex::new(HashMap::new()),
        }
    }

    /// What an issuer URL must be to be configured (the checks of every request that can be
    /// made before resolving its host).
    pub fn check_issuer(&self, issuer: &str) -> Result<(), String> {
        self.policy.check_url(issuer)
    }

    /// One request to a provider, through the guard, its answer cut at `MAX_RESPONSE_BYTES`.
    /// With `ok_only`, an answer other than 2xx is an error naming its status and URL.
    async fn fetch(&self, req: HttpRequest, ok_only: bool) -> Result<HttpResponse, FetchError> {
        let http = self
            .http
            .as_ref()
            .ok_or_else(|| FetchError("no HTTP client".into()))?;
        let url = req.uri().to_string();
        self.policy.check_url(&url).map_err(FetchError)?;
        let (parts, body) = req.into_parts();
        let mut res = http
            .request(parts.method, url.as_str())
            .headers(parts.headers)
            .body(body)
            .send()
            .await
            .map_err(|e| describe(&e, &url))?;
        let status = res.status();
        if ok_only && !status.is_success() {
            return Err(FetchError(format!("HTTP {} at {url}", status.as_u16())));
        }
        let too_large = || {
            FetchError(format!(
                "the answer of {url} is larger than {} KiB",
                MAX_RESPONSE_BYTES / 1024
            ))
        };
        if res
            .content_length()
            .is_some_and(|n| n > MAX_RESPONSE_BYTES as u64)
        {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = res.chunk().await.map_err(|e| describe(&e, &url))? {
            if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        let mut out = openidconnect::http::Response::builder().status(status);
        if let Some(h) = out.headers_mut() {
            *h = res.headers().clone();
        }
        out.body(body)
            .map_err(|_| FetchError(format!("the answer of {url} is not HTTP")))
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
            .map_err(|_| OidcError::Misconfigured("the issuer is not a URL".into()))?;
        let get = Guarded {
            oidc: self,
            ok_only: true,
        };
        let md = CoreProviderMetadata::discover_async(url, &get)
            .await
            .map_err(|e| unavailable("discovery", discovery_error(&e)))?;
        if let Ok(mut m) = self.metadata.lock() {
            // Bounded: owners can name any number of issuers (each document up to 1 MiB with
            // its keys); past the bound the cache starts again rather than growing.
            if m.len() >= MAX_CACHED_ISSUERS && !m.contains_key(issuer) {
                m.clear();
            }
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
        let send = Guarded {
            oidc: self,
            ok_only: false,
        };
        let md = self.metadata(p.issuer, false).await?;
        let client = RedeemClient::from_provider_metadata(
            md,
            ClientId::new(p.client_id.to_string()),
            Some(ClientSecret::new(p.client_secret.to_string())),
        )
        .set_redirect_uri(redirect(p.redirect_uri)?);
        let token = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| OidcError::Misconfigured(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_string()))
            .request_async(&send)
            .await
            .map_err(|e| match e {
                openidconnect::RequestTokenError::ServerResponse(r) => {
                    OidcError::CodeRejected(format!(
                        "the provider refused the code: {}",
                        r.error().to_string().chars().take(100).collect::<String>()
                    ))
                }
                openidconnect::RequestTokenError::Request(f) => unavailable("token request", f),
                _ => unavailable(
                    "token request",
                    "the provider's answer is not a token response",
                ),
            })?;
        let id_token = token.id_token().ok_or_else(|| {
            OidcError::InvalidToken("sso_token_invalid", "the provider sent no ID token".into())
        })?;
        let nonce = Nonce::new(nonce.to_string());
        let claims = match id_token.claims(&client.id_token_verifier(), &nonce) {
            Ok(c) => c.clone(),
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) => {
                // The provider rotated its keys: fetch them again, once.
                let md = self.metadata(p.issuer, true).await?;
                let fresh = RedeemClient::from_provider_metadata(
                    md,
                    ClientId::new(p.client_id.to_string()),
                    Some(ClientSecret::new(p.client_secret.to_string())),
                );
                id_token
                    .claims(&fresh.id_token_verifier(), &nonce)
                    .map_err(token_error)?
                    .clone()
            }
            Err(e) => return Err(token_error(e)),
        };
        let subject = claims.subject().clone();
        let mut identity = VerifiedIdentity {
            issuer: claims.issuer().to_string(),
            subject: subject.to_string(),
            email: claims.email().map(|e| e.to_string()),
            email_verified: email_verified(claims.email_verified(), claims.additional_claims()),
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
                .request_async(&send)
                .await
                .map_err(|e| unavailable("userinfo", userinfo_error(&e)))?;
            let verified = email_verified(info.email_verified(), info.additional_claims());
            if identity.email.is_none() {
                identity.email = info.email().map(|e| e.to_string());
                identity.email_verified = verified;
            } else if info.email().map(|e| e.as_str()) == identity.email.as_deref() {
                identity.email_verified |= verified;
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

/// A discovery failure in words safe to show an owner: the status and URL, never the body.
fn discovery_error(e: &openidconnect::DiscoveryError<FetchError>) -> String {
    use openidconnect::DiscoveryError as D;
    match e {
        D::Request(f) => f.to_string(),
        D::Response(status, _, _) if status.is_success() => format!(
            "the answer (HTTP {}) is not a JSON discovery document or key set",
            status.as_u16()
        ),
        D::Response(status, _, _) => format!("HTTP {}", status.as_u16()),
        D::Parse(_) => "the answer is not a valid discovery document or key set".into(),
        D::Validation(m) => m.chars().take(300).collect(),
        _ => "the provider's answer is unusable".into(),
    }
}

/// A userinfo failure in words safe to show: never the body.
fn userinfo_error(e: &openidconnect::UserInfoError<FetchError>) -> String {
    use openidconnect::UserInfoError as U;
    match e {
        U::Request(f) => f.to_string(),
        U::Response(status, _, _) => format!("HTTP {}", status.as_u16()),
        _ => "the answer is not valid userinfo".into(),
    }
}

/// An ID token that failed verification: the nonce and audience checks have codes of their
/// own (a token of another sign-in, a token for another client).
fn token_error(e: ClaimsVerificationError) -> OidcError {
    match e {
        ClaimsVerificationError::InvalidNonce(_) => OidcError::InvalidToken(
            "sso_nonce_mismatch",
            "the ID token belongs to another sign-in (its nonce is not this one's): start again from the sign-in page".into(),
        ),
        ClaimsVerificationError::InvalidAudience(_) => OidcError::InvalidToken(
            "sso_wrong_audience",
            "the ID token was issued to another client (its audience is not this provider's client id)".into(),
        ),
        other => OidcError::InvalidToken("sso_token_invalid", format!("ID token: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn xms_edov_counts_only_when_email_verified_is_absent() {
        let extra =
            |v: serde_json::Value| ExtraClaims(serde_json::from_value(v).expect("a map of claims"));
        let edov = extra(serde_json::json!({"xms_edov": true}));
        assert!(email_verified(None, &edov));
        assert!(!email_verified(Some(false), &edov), "false stays false");
        assert!(email_verified(Some(true), &extra(serde_json::json!({}))));
        assert!(!email_verified(None, &extra(serde_json::json!({}))));
        for not_true in [
            serde_json::json!({"xms_edov": false}),
            serde_json::json!({"xms_edov": "true"}),
            serde_json::json!({"xms_edov": 1}),
        ] {
            assert!(
                !email_verified(None, &extra(not_true.clone())),
                "{not_true}"
            );
        }
    }

    #[test]
    fn addresses_are_sorted_into_public_loopback_private_and_forbidden() {
        for (addr, want) in [
            ("93.184.215.14", AddrKind::Public),
            ("2606:4700::1111", AddrKind::Public),
            ("127.0.0.1", AddrKind::Loopback),
            ("127.8.9.10", AddrKind::Loopback),
            ("::1", AddrKind::Loopback),
            ("::ffff:127.0.0.1", AddrKind::Loopback),
            ("10.0.0.1", AddrKind::Private),
            ("172.31.255.255", AddrKind::Private),
            ("192.168.1.1", AddrKind::Private),
            ("100.64.0.1", AddrKind::Private),
            ("fd00::1", AddrKind::Private),
            ("169.254.169.254", AddrKind::Forbidden),
            ("100.100.100.200", AddrKind::Forbidden),
            ("fd00:ec2::254", AddrKind::Forbidden),
            ("::ffff:169.254.169.254", AddrKind::Forbidden),
            ("64:ff9b::a9fe:a9fe", AddrKind::Forbidden),
            ("64:ff9b::a00:1", AddrKind::Private),
            ("fe80::1", AddrKind::Forbidden),
            ("0.0.0.0", AddrKind::Forbidden),
            ("::", AddrKind::Forbidden),
            ("224.0.0.1", AddrKind::Forbidden),
            ("255.255.255.255", AddrKind::Forbidden),
            ("2002:a9fe:a9fe::1", AddrKind::Forbidden),
            ("2001:db8::1", AddrKind::Forbidden),
        ] {
            assert_eq!(kind(ip(addr)), want, "{addr}");
        }
    }

    #[test]
    fn urls_need_https_and_an_allowed_address() {
        let strict = NetPolicy::default();
        assert!(strict.check_url("https://login.example.com/tenant").is_ok());
        assert!(strict.check_url("http://login.example.com").is_err());
        assert!(strict.check_url("https://127.0.0.1:8443").is_err());
        assert!(strict.check_url("https://[::ffff:a9fe:a9fe]/").is_err());
        assert!(strict.check_url("https://10.0.0.5").is_err());
        let lab = NetPolicy {
            allow_loopback: true,
            allow_private: true,
        };
        assert!(lab.check_url("http://127.0.0.1:9000").is_ok());
        assert!(lab.check_url("http://[::1]:9000").is_ok());
        assert!(lab.check_url("https://10.0.0.5").is_ok());
        assert!(
            lab.check_url("http://10.0.0.5").is_err(),
            "http only to loopback"
        );
        assert!(
            lab.check_url("http://localhost:9000").is_err(),
            "a name: https"
        );
        assert!(lab.check_url("https://169.254.169.254").is_err(), "never");
        assert!(lab.check_url("https://100.100.100.200").is_err(), "never");
        assert!(lab.check_url("https://[fd00:ec2::254]").is_err(), "never");
        assert!(lab.check_url("ftp://127.0.0.1").is_err());
    }
}
