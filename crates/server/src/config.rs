//! Configuration: one typed struct, every setting of SPEC §5 read from a flag or the
//! environment (a `.env` file in the working directory is loaded first), with defaults that
//! make `flowspace serve` work on a fresh machine.

use clap::Args;
use secrecy::SecretString;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Args, Clone, Debug)]
pub struct Config {
    /// Port to listen on.
    #[arg(long, env = "PORT", default_value_t = 3000)]
    pub port: u16,
    /// Address to listen on.
    #[arg(long, env = "HOST", default_value = "127.0.0.1")]
    pub host: String,
    /// Directory for the SQLite database and the generated secrets.
    #[arg(long, env = "DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// `postgres://...` for PostgreSQL; default: SQLite at DATA_DIR/flowspace.db.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Largest number of database connections per replica.
    #[arg(long, env = "DATABASE_MAX_CONNECTIONS", default_value_t = 16)]
    pub database_max_connections: u32,
    /// How many callers' authorization facts each replica caches (0 turns the cache off). An
    /// entry answers only while its organization's authorization version is unchanged, so
    /// revocations still apply on the next request on every replica.
    #[arg(long, env = "AUTHZ_CACHE_ENTRIES", default_value_t = 10_000)]
    pub authz_cache_entries: usize,
    /// Bytes of first pages of item lists each replica keeps, and as many again of single items
    /// (0 turns both caches off). A page or an item answers only while its workspace's items
    /// version is unchanged.
    #[arg(long, env = "LIST_CACHE_BYTES", default_value_t = 8 * 1024 * 1024)]
    pub list_cache_bytes: u64,
    /// Public URL of this server, for links in emails; https makes cookies Secure.
    #[arg(long, env = "APP_URL", default_value = "http://localhost:3000")]
    pub app_url: String,
    /// Secret signing access tokens (HS256). Generated into DATA_DIR when unset.
    #[arg(long, env = "JWT_AUTH_TOKEN_SECRET", hide_env_values = true)]
    pub jwt_auth_token_secret: Option<SecretString>,
    /// Secret keying the CSRF tokens bound to a session. Generated into DATA_DIR when unset.
    #[arg(long, env = "JWT_REFRESH_TOKEN_SECRET", hide_env_values = true)]
    pub jwt_refresh_token_secret: Option<SecretString>,
    /// `iss` of access tokens.
    #[arg(long, env = "JWT_ISSUER", default_value = "flowspace")]
    pub jwt_issuer: String,
    /// `aud` of access tokens.
    #[arg(long, env = "JWT_AUDIENCE", default_value = "flowspace")]
    pub jwt_audience: String,
    /// Lifetime of an access token.
    #[arg(long, env = "JWT_TOKEN_EXPIRY_IN_MINUTES", default_value_t = 15)]
    pub jwt_token_expiry_in_minutes: u32,
    /// Lifetime of a refresh token (each refresh issues a new one).
    #[arg(
        long,
        env = "JWT_REFRESH_TOKEN_EXPIRY_IN_MINUTES",
        default_value_t = 43200
    )]
    pub jwt_refresh_token_expiry_in_minutes: u32,
    /// Lifetime of a password-reset token.
    #[arg(
        long,
        env = "PASSWORD_RESET_TOKEN_EXPIRY_IN_MINS",
        default_value_t = 15
    )]
    pub password_reset_token_expiry_in_mins: u32,
    /// bcrypt cost of legacy hashes (they are verified whatever their cost and upgraded to
    /// Argon2id at the next login).
    #[arg(long, env = "PASSWORD_SALT_HASH_ROUNDS", default_value_t = 10)]
    pub password_salt_hash_rounds: u32,
    /// Secret keying the HMAC under which refresh, invitation and reset tokens are stored.
    #[arg(long, env = "TOKEN_HASH_SECRET", hide_env_values = true)]
    pub token_hash_secret: Option<SecretString>,
    /// Lifetime of an invitation link.
    #[arg(long, env = "INVITE_TOKEN_EXPIRY_IN_HOURS", default_value_t = 72)]
    pub invite_token_expiry_in_hours: u32,
    /// SMTP server for invitation and reset emails; without it links are shown instead.
    #[arg(long, env = "SMTP_HOST")]
    pub smtp_host: Option<String>,
    #[arg(long, env = "SMTP_PORT")]
    pub smtp_port: Option<u16>,
    #[arg(long, env = "SMTP_USER")]
    pub smtp_user: Option<String>,
    #[arg(long, env = "SMTP_PASSWORD", hide_env_values = true)]
    pub smtp_password: Option<SecretString>,
    /// `true`/`tls` for implicit TLS, `starttls`, or `false`/`none` for plain SMTP.
    #[arg(long, env = "SMTP_SECURE")]
    pub smtp_secure: Option<String>,
    /// From address of emails.
    #[arg(long, env = "SENDER_EMAIL")]
    pub sender_email: Option<String>,
    /// AES-256-GCM key for credentials: 32 bytes as base64 or 64 hex digits. Generated into
    /// DATA_DIR when unset.
    #[arg(long, env = "FLOWSPACE_ENCRYPTION_KEY", hide_env_values = true)]
    pub flowspace_encryption_key: Option<SecretString>,
    /// Keys credentials may still be sealed with (comma-separated, same format), kept for
    /// reading during and after a key rotation.
    #[arg(
        long,
        env = "FLOWSPACE_PREVIOUS_ENCRYPTION_KEYS",
        hide_env_values = true
    )]
    pub flowspace_previous_encryption_keys: Option<SecretString>,
    /// Take the client IP from X-Forwarded-For (only behind a proxy you control).
    #[arg(long, env = "TRUST_PROXY", default_value_t = false)]
    pub trust_proxy: bool,
    /// Failed sign-ins of one email within LOGIN_FAILURE_WINDOW_SECS before further attempts
    /// are refused (429 with Retry-After); a successful sign-in resets the count.
    #[arg(long, env = "LOGIN_MAX_FAILURES", default_value_t = 5)]
    pub login_max_failures: i64,
    /// Failed sign-ins from one IP (any email) within the window before it is refused.
    #[arg(long, env = "LOGIN_MAX_FAILURES_PER_IP", default_value_t = 20)]
    pub login_max_failures_per_ip: i64,
    /// The sliding window in which failed sign-ins are counted.
    #[arg(long, env = "LOGIN_FAILURE_WINDOW_SECS", default_value_t = 900)]
    pub login_failure_window_secs: i64,
    /// Length of the first lock; every further failure within the window doubles it (at
    /// most a day).
    #[arg(long, env = "LOGIN_LOCKOUT_SECS", default_value_t = 60)]
    pub login_lockout_secs: i64,
    /// Argon2id memory cost in KiB (OWASP: 19456).
    #[arg(long, env = "ARGON2_MEMORY_KIB", default_value_t = 19456)]
    pub argon2_memory_kib: u32,
    /// Argon2id iterations (OWASP: 2).
    #[arg(long, env = "ARGON2_ITERATIONS", default_value_t = 2)]
    pub argon2_iterations: u32,
    /// Password hashes allowed to wait for a worker before logins answer 503.
    #[arg(long, env = "PASSWORD_HASH_QUEUE", default_value_t = 64)]
    pub password_hash_queue: usize,
    /// The wait for a hashing worker a sign-in may expect (the checks ahead of it times a
    /// hash's measured time, per worker), in milliseconds; beyond it the sign-in answers 503
    /// with Retry-After at once.
    #[arg(long, env = "PASSWORD_HASH_MAX_WAIT_MS", default_value_t = 500)]
    pub password_hash_max_wait_ms: u64,
    /// Bearer token that `GET /metrics` (Prometheus text format) requires; at least 32
    /// characters. With neither it nor METRICS_ADDR set, metrics are off (`/metrics` is not
    /// found and nothing is recorded).
    #[arg(long, env = "METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<SecretString>,
    /// Single sign-on (SPEC §8): the issuer URL of an OpenID provider for the first
    /// organization (with OIDC_CLIENT_ID and OIDC_CLIENT_SECRET). Its redirect URI is
    /// APP_URL/api/v1/auth/oidc/callback. Owners add more providers in the dashboard.
    #[arg(long, env = "OIDC_ISSUER")]
    pub oidc_issuer: Option<String>,
    /// The client id registered at OIDC_ISSUER.
    #[arg(long, env = "OIDC_CLIENT_ID")]
    pub oidc_client_id: Option<String>,
    /// The client secret registered at OIDC_ISSUER (kept encrypted in the database).
    #[arg(long, env = "OIDC_CLIENT_SECRET", hide_env_values = true)]
    pub oidc_client_secret: Option<SecretString>,
    /// The sign-in button's label for that provider.
    #[arg(long, env = "OIDC_DISPLAY_NAME", default_value = "Single sign-on")]
    pub oidc_display_name: String,
    /// Just-in-time provisioning: the workspace (name or id) new accounts land in; unset: off.
    #[arg(long, env = "OIDC_JIT_WORKSPACE")]
    pub oidc_jit_workspace: Option<String>,
    /// Their role there (a role name or id).
    #[arg(long, env = "OIDC_JIT_ROLE", default_value = "Viewer")]
    pub oidc_jit_role: String,
    /// The claim that lists a user's groups.
    #[arg(long, env = "OIDC_GROUPS_CLAIM", default_value = "groups")]
    pub oidc_groups_claim: String,
    /// Single sign-on providers may be on this machine (127.0.0.0/8, ::1), and only there over
    /// plain http: a provider beside the server, or the tests'. Off: every issuer, and every
    /// URL its discovery document names, must be https at a public address.
    #[arg(long, env = "OIDC_ALLOW_LOOPBACK", default_value_t = false)]
    pub oidc_allow_loopback: bool,
    /// Single sign-on providers may be on private networks (10.0.0.0/8, 172.16.0.0/12,
    /// 192.168.0.0/16, 100.64.0.0/10, fc00::/7): a provider inside the company's network.
    /// Link-local addresses (the clouds' metadata service, 169.254.169.254) are never allowed.
    #[arg(long, env = "OIDC_ALLOW_PRIVATE_NETWORKS", default_value_t = false)]
    pub oidc_allow_private_networks: bool,
    /// Serve `/metrics` on this address (e.g. `127.0.0.1:9464`) instead of the main one; it
    /// still requires METRICS_TOKEN when that is set, otherwise anyone who reaches the address.
    #[arg(long, env = "METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,
    /// `text` or `json` logs.
    #[arg(long, env = "LOG_FORMAT", default_value = "text")]
    pub log_format: String,
    /// Who may create organizations (SPEC §7): `instance-admin` (the person who set the
    /// installation up) or `any` signed-in user (who becomes its owner).
    #[arg(
        long,
        env = "ALLOW_ORGANIZATION_CREATION",
        default_value = "instance-admin",
        value_parser = parse_org_creation
    )]
    pub allow_organization_creation: OrgCreation,
}

/// Who may create organizations (`ALLOW_ORGANIZATION_CREATION`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrgCreation {
    InstanceAdmin,
    Any,
}

fn parse_org_creation(s: &str) -> Result<OrgCreation, String> {
    match s.trim() {
        "instance-admin" => Ok(OrgCreation::InstanceAdmin),
        "any" => Ok(OrgCreation::Any),
        other => Err(format!(
            "{other:?}: ALLOW_ORGANIZATION_CREATION is `instance-admin` or `any`"
        )),
    }
}

impl Config {
    /// The database URL: the configured one, or SQLite in the data directory.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(u) if !u.trim().is_empty() => u.trim().to_string(),
            _ => format!("sqlite://{}", self.data_dir.join("flowspace.db").display()),
        }
    }

    /// Rule 15's limits on failed sign-ins.
    pub fn lockout_policy(&self) -> flowspace_store::LockoutPolicy {
        flowspace_store::LockoutPolicy {
            max_failures: self.login_max_failures,
            max_failures_per_ip: self.login_max_failures_per_ip,
            window_secs: self.login_failure_window_secs,
            lock_secs: self.login_lockout_secs,
        }
    }

    /// Cookies carry `Secure` when the public URL is https.
    pub fn secure_cookies(&self) -> bool {
        self.app_url.starts_with("https://")
    }
}
