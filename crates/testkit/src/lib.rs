//! Test support: a real `flowspace` server listening on 127.0.0.1:0 with a fresh database
//! (SQLite in a temporary directory, or a fresh schema of the PostgreSQL named by
//! `TEST_DATABASE_URL`) or a copy of an existing one (`Seed`), and a small JSON client that
//! talks HTTP to it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod oidc;
pub mod smtp;

use clap::Parser;
use flowspace_server::config::Config;
use flowspace_server::state::AppState;
use flowspace_store::Store;
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The Account Admin created by `TestServer::setup`.
pub const ADMIN_EMAIL: &str = "admin@example.com";
/// A password every test user gets unless a test says otherwise.
pub const PASSWORD: &str = "correct horse battery staple";

/// A database backend to run a test on.
#[derive(Clone, Debug)]
pub enum Backend {
    Sqlite,
    /// The base URL of a PostgreSQL server; each server gets a fresh schema in it.
    Postgres(String),
}

impl Backend {
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }
}

/// SQLite always; PostgreSQL too when `TEST_DATABASE_URL` is set (and then it must answer:
/// a test never skips a backend it was asked for).
pub fn backends() -> Vec<Backend> {
    let mut v = vec![Backend::Sqlite];
    if let Ok(url) = std::env::var("TEST_DATABASE_URL")
        && !url.trim().is_empty()
    {
        v.push(Backend::Postgres(url.trim().to_string()));
    }
    v
}

/// A fresh, empty database on `backend`: its URL.
pub async fn fresh_database(backend: &Backend, dir: &std::path::Path) -> String {
    match backend {
        Backend::Sqlite => sqlite_url(dir),
        Backend::Postgres(base) => {
            let schema = fresh_schema_name();
            run_sql(base, format!("CREATE SCHEMA {schema}")).await;
            schema_url(base, &schema)
        }
    }
}

/// An existing database to start a server on, as a release left it: each test gets its own
/// copy, and the files stay untouched.
#[derive(Clone, Copy, Debug)]
pub struct Seed<'a> {
    /// A SQLite database file (checkpointed: no `-wal` beside it).
    pub sqlite: &'a std::path::Path,
    /// A plain-SQL `pg_dump` of one schema, with INSERTs rather than COPY and no psql
    /// meta-commands, so that it replays through an ordinary connection.
    pub postgres_dump: &'a std::path::Path,
    /// The schema the dump creates and fills; it is restored under a fresh name.
    pub postgres_schema: &'a str,
}

/// A copy of `seed` on `backend`: its URL. SQLite: the file copied into `dir`; PostgreSQL: the
/// dump replayed into a fresh schema (every mention of the dump's schema renamed).
pub async fn seeded_database(backend: &Backend, dir: &std::path::Path, seed: &Seed<'_>) -> String {
    match backend {
        Backend::Sqlite => {
            std::fs::copy(seed.sqlite, dir.join("flowspace.db")).expect("copy the seed database");
            sqlite_url(dir)
        }
        Backend::Postgres(base) => {
            let dump = std::fs::read_to_string(seed.postgres_dump).expect("read the seed dump");
            assert!(
                dump.contains(&format!("CREATE SCHEMA {};", seed.postgres_schema)),
                "{} does not create the schema {}",
                seed.postgres_dump.display(),
                seed.postgres_schema
            );
            assert!(
                !dump.lines().any(|l| l.starts_with('\\')),
                "{} holds psql meta-commands",
                seed.postgres_dump.display()
            );
            let schema = fresh_schema_name();
            run_sql(base, dump.replace(seed.postgres_schema, &schema)).await;
            schema_url(base, &schema)
        }
    }
}

fn sqlite_url(dir: &std::path::Path) -> String {
    format!("sqlite://{}", dir.join("flowspace.db").display())
}

fn fresh_schema_name() -> String {
    format!("fs_test_{}", uuid::Uuid::new_v4().simple())
}

/// The URL of the schema `schema` of the PostgreSQL at `base`.
fn schema_url(base: &str, schema: &str) -> String {
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-c%20search_path%3D{schema}")
}

/// Runs `sql` (one or several statements) on one connection to the PostgreSQL at `base`.
async fn run_sql(base: &str, sql: String) {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(base).await.unwrap_or_else(|e| {
        panic!("TEST_DATABASE_URL is set but PostgreSQL cannot be reached: {e}")
    });
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL: {e}"));
    let _ = conn.close().await;
}

/// Settings of a test server: cheap Argon2 parameters (the same code, smaller costs).
pub fn test_config(data_dir: PathBuf, database_url: String) -> Config {
    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        config: Config,
    }
    let mut config = Wrap::try_parse_from(["flowspace"])
        .expect("defaults parse")
        .config;
    config.data_dir = data_dir;
    config.database_url = Some(database_url);
    config.argon2_memory_kib = 1024;
    config.argon2_iterations = 1;
    config.app_url = "http://localhost:3000".into();
    // The test OpenID provider listens on http://127.0.0.1.
    config.oidc_allow_loopback = true;
    config
}

/// A data directory and a fresh, empty database, for a test to prepare (with the `flowspace`
/// binary, say) before a server starts on them (`TestServer::start_prepared`).
pub struct Prepared {
    dir: Arc<TempDir>,
    pub database_url: String,
}

impl Prepared {
    pub async fn new(backend: &Backend) -> Self {
        let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
        let database_url = fresh_database(backend, dir.path()).await;
        Self { dir, database_url }
    }

    pub fn data_dir(&self) -> &std::path::Path {
        self.dir.path()
    }
}

/// A running server.
pub struct TestServer {
    pub base_url: String,
    pub addr: SocketAddr,
    /// Where `/metrics` listens when METRICS_ADDR is set (the tests give `127.0.0.1:0`).
    pub metrics_addr: Option<SocketAddr>,
    pub state: AppState,
    pub backend: Backend,
    pub database_url: String,
    data_dir: Arc<TempDir>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl TestServer {
    /// A new server on a fresh database.
    pub async fn start(backend: &Backend) -> Self {
        Self::start_with(backend, |_| {}).await
    }

    /// A new server on a fresh database, with settings changed by `tweak`.
    pub async fn start_with(backend: &Backend, tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
        let url = fresh_database(backend, dir.path()).await;
        let mut config = test_config(dir.path().to_path_buf(), url.clone());
        tweak(&mut config);
        Self::launch(backend.clone(), dir, url, config).await
    }

    /// A new server on a fresh database whose APP_URL is its own address (the SSO tests: the
    /// redirect URI registered at the provider is APP_URL's).
    pub async fn start_at_own_url(backend: &Backend, tweak: impl FnOnce(&mut Config)) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        Self::start_on(backend, listener, tweak).await
    }

    /// The same on a listener the test bound (so that it knows the URL before the server
    /// starts, to register it at an OpenID provider).
    pub async fn start_on(
        backend: &Backend,
        listener: tokio::net::TcpListener,
        tweak: impl FnOnce(&mut Config),
    ) -> Self {
        let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
        let url = fresh_database(backend, dir.path()).await;
        let mut config = test_config(dir.path().to_path_buf(), url.clone());
        config.app_url = format!("http://{}", listener.local_addr().expect("addr"));
        tweak(&mut config);
        Self::launch_on(backend.clone(), dir, url, config, Some(listener)).await
    }

    /// A new server on a copy of `seed`, with settings changed by `tweak` (the secrets the
    /// seed was made with, for one).
    pub async fn start_seeded(
        backend: &Backend,
        seed: &Seed<'_>,
        tweak: impl FnOnce(&mut Config),
    ) -> Self {
        let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
        let url = seeded_database(backend, dir.path(), seed).await;
        let mut config = test_config(dir.path().to_path_buf(), url.clone());
        tweak(&mut config);
        Self::launch(backend.clone(), dir, url, config).await
    }

    /// A new server on a database and data directory prepared before it (by a command-line
    /// import, say).
    pub async fn start_prepared(backend: &Backend, prepared: &Prepared) -> Self {
        let config = test_config(
            prepared.dir.path().to_path_buf(),
            prepared.database_url.clone(),
        );
        Self::launch(
            backend.clone(),
            prepared.dir.clone(),
            prepared.database_url.clone(),
            config,
        )
        .await
    }

    async fn launch(backend: Backend, dir: Arc<TempDir>, url: String, config: Config) -> Self {
        Self::launch_on(backend, dir, url, config, None).await
    }

    async fn launch_on(
        backend: Backend,
        dir: Arc<TempDir>,
        url: String,
        config: Config,
        listener: Option<tokio::net::TcpListener>,
    ) -> Self {
        let state = flowspace_server::build_state(config)
            .await
            .expect("server state");
        let listener = match listener {
            Some(l) => l,
            None => tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind"),
        };
        let addr = listener.local_addr().expect("addr");
        let metrics = match flowspace_server::metrics::Placement::of(&state.config) {
            flowspace_server::metrics::Placement::Own(at) => Some(
                tokio::net::TcpListener::bind(at)
                    .await
                    .expect("bind metrics"),
            ),
            _ => None,
        };
        let metrics_addr = metrics
            .as_ref()
            .map(|l| l.local_addr().expect("metrics addr"));
        let (tx, rx) = oneshot::channel::<()>();
        let st = state.clone();
        let task = tokio::spawn(async move {
            flowspace_server::serve_with_metrics(listener, metrics, st, async {
                let _ = rx.await;
            })
            .await
            .expect("serve");
        });
        Self {
            base_url: format!("http://{addr}"),
            addr,
            metrics_addr,
            state,
            backend,
            database_url: url,
            data_dir: dir,
            stop: Some(tx),
            task: Some(task),
        }
    }

    /// A second replica: another server on the same database and data directory (so the same
    /// secrets), as several replicas behind a load balancer would be.
    pub async fn replica(&self) -> Self {
        self.replica_with(|_| {}).await
    }

    /// A second replica with settings changed by `tweak` (give it the same as the first).
    pub async fn replica_with(&self, tweak: impl FnOnce(&mut Config)) -> Self {
        let mut config = test_config(
            self.data_dir.path().to_path_buf(),
            self.database_url.clone(),
        );
        tweak(&mut config);
        Self::launch(
            self.backend.clone(),
            self.data_dir.clone(),
            self.database_url.clone(),
            config,
        )
        .await
    }

    /// Stops this server and starts a new one on the same data directory and database.
    pub async fn restart(mut self) -> Self {
        self.shutdown().await;
        let config = test_config(
            self.data_dir.path().to_path_buf(),
            self.database_url.clone(),
        );
        Self::launch(
            self.backend.clone(),
            self.data_dir.clone(),
            self.database_url.clone(),
            config,
        )
        .await
    }

    /// Graceful shutdown; waits for the server task to end.
    pub async fn shutdown(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        self.state.store.close().await;
    }

    pub fn data_dir(&self) -> &std::path::Path {
        self.data_dir.path()
    }

    pub fn store(&self) -> &Store {
        &self.state.store
    }

    /// An anonymous client.
    pub fn client(&self) -> Client {
        Client::new(&self.base_url)
    }

    /// Runs setup and answers a client signed in as the Account Admin.
    pub async fn setup(&self) -> Client {
        let r = self
            .client()
            .post(
                "/setup",
                json!({"organizationName": "Acme", "name": "Admin", "email": ADMIN_EMAIL, "password": PASSWORD}),
            )
            .await;
        assert_eq!(r.status, 201, "setup: {}", r.body);
        self.client()
            .with_token(r.body["accessToken"].as_str().expect("token"))
    }

    /// Signs in and answers the signed-in client.
    pub async fn login(&self, email: &str, password: &str) -> Client {
        let r = self
            .client()
            .post("/auth/login", json!({"email": email, "password": password}))
            .await;
        assert_eq!(r.status, 200, "login {email}: {}", r.body);
        self.client()
            .with_token(r.body["accessToken"].as_str().expect("token"))
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// An HTTP answer: status, headers and the body parsed as JSON (`Null` when empty, a string
/// when not JSON).
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Resp {
    /// The error code of an error body.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
    pub fn id(&self) -> String {
        self.body["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no id in {}", self.body))
            .to_string()
    }
}

/// A JSON client for the API under `/api/v1`.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    pub base_url: String,
    pub token: Option<String>,
    pub workspace: Option<String>,
}

impl Client {
    pub fn new(base_url: &str) -> Self {
        Self {
            http: reqwest::Client::builder().build().expect("client"),
            base_url: base_url.to_string(),
            token: None,
            workspace: None,
        }
    }

    pub fn with_token(&self, token: &str) -> Self {
        Self {
            token: Some(token.to_string()),
            ..self.clone()
        }
    }

    /// Sends `X-Workspace-Id` with every request.
    pub fn in_workspace(&self, ws: &str) -> Self {
        Self {
            workspace: Some(ws.to_string()),
            ..self.clone()
        }
    }

    /// Any request; `path` is under `/api/v1` unless it starts with `//` (then it is taken
    /// from the server root, without one slash).
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let url = match path.strip_prefix("//") {
            Some(root) => format!("{}/{root}", self.base_url),
            None => format!("{}/api/v1{path}", self.base_url),
        };
        let mut req = self.http.request(method, url);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(w) = &self.workspace {
            req = req.header("x-workspace-id", w);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("request");
        Self::read(res).await
    }

    /// A request with a raw body and content type.
    pub async fn send_raw(
        &self,
        method: Method,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Resp {
        let mut req = self
            .http
            .request(method, format!("{}/api/v1{path}", self.base_url))
            .header("content-type", content_type)
            .body(body);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(w) = &self.workspace {
            req = req.header("x-workspace-id", w);
        }
        Self::read(req.send().await.expect("request")).await
    }

    async fn read(res: reqwest::Response) -> Resp {
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap_or_default();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| Value::String(text.clone()))
        };
        Resp {
            status,
            headers,
            body,
            text,
        }
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send(Method::GET, path, None, &[]).await
    }
    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.send(Method::POST, path, Some(body), &[]).await
    }
    pub async fn put(&self, path: &str, body: Value) -> Resp {
        self.send(Method::PUT, path, Some(body), &[]).await
    }
    pub async fn patch(&self, path: &str, body: Value) -> Resp {
        self.send(Method::PATCH, path, Some(body), &[]).await
    }
    pub async fn delete(&self, path: &str) -> Resp {
        self.send(Method::DELETE, path, None, &[]).await
    }
}

/// A small organization most tests start from: the Account Admin, a second workspace, and a
/// user added to it with a role.
pub struct World {
    pub server: TestServer,
    pub admin: Client,
    pub default_ws: String,
}

impl World {
    pub async fn new(backend: &Backend) -> Self {
        Self::new_with(backend, |_| {}).await
    }

    /// The same, on a server whose settings `tweak` changes.
    pub async fn new_with(backend: &Backend, tweak: impl FnOnce(&mut Config)) -> Self {
        let server = TestServer::start_with(backend, tweak).await;
        let admin = server.setup().await;
        let me = admin.get("/auth/me").await;
        let default_ws = me.body["activeWorkspace"]["id"]
            .as_str()
            .expect("default ws")
            .to_string();
        Self {
            server,
            admin,
            default_ws,
        }
    }

    /// Creates a workspace as the Account Admin: its id.
    pub async fn workspace(&self, name: &str) -> String {
        let r = self.admin.post("/workspace", json!({"name": name})).await;
        assert_eq!(r.status, 201, "create workspace: {}", r.body);
        r.id()
    }

    /// Creates an active user: their id.
    pub async fn user(&self, email: &str) -> String {
        let r = self
            .admin
            .post("/users", json!({"email": email, "name": email.split('@').next().unwrap_or("u"), "password": PASSWORD}))
            .await;
        assert_eq!(r.status, 201, "create user: {}", r.body);
        r.id()
    }

    /// Adds `user` to `ws` with `role` (an id or a name).
    pub async fn add(&self, ws: &str, user: &str, role: &str) {
        let r = self
            .admin
            .post(
                &format!("/workspace/{ws}/add-user"),
                json!({"userId": user, "role": role}),
            )
            .await;
        assert_eq!(r.status, 200, "add-user: {}", r.body);
    }

    /// Creates a custom role: its id.
    pub async fn role(&self, name: &str, permissions: &[&str]) -> String {
        let r = self
            .admin
            .post("/roles", json!({"name": name, "permissions": permissions}))
            .await;
        assert_eq!(r.status, 201, "create role: {}", r.body);
        r.id()
    }

    /// A user who is a member of `ws` with `role`, signed in there.
    pub async fn member(&self, email: &str, ws: &str, role: &str) -> (String, Client) {
        let id = self.user(email).await;
        self.add(ws, &id, role).await;
        let c = self.server.login(email, PASSWORD).await.in_workspace(ws);
        (id, c)
    }
}
