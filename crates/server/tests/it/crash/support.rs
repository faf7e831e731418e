//! What the crash test needs around the real `flowspace` binary: a child process it can kill -9
//! and start again on the same data directory and database (JSON logs in a file, so that a
//! start can be checked for errors), a request sent in the background so that the kill lands
//! while it is in flight, and plain SQL reads of the database for the checks after a restart.

use serde_json::Value;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;
use uuid::Uuid;

/// `flowspace serve` as a child process on one data directory and database.
pub struct Binary {
    data_dir: PathBuf,
    database_url: String,
    log: PathBuf,
    port: u16,
    pub base: String,
    child: Option<Child>,
}

impl Binary {
    pub fn new(dir: &Path, database_url: String) -> Self {
        let port = stable_port();
        Self {
            data_dir: dir.join("data"),
            database_url,
            log: dir.join("server.log"),
            port,
            base: format!("http://127.0.0.1:{port}"),
            child: None,
        }
    }

    /// The binary with this server's settings (cheap Argon2; JSON logs appended to the log).
    pub fn command(&self, args: &[&str]) -> Command {
        let log = File::options()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_flowspace"));
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATA_DIR", &self.data_dir)
            .env("DATABASE_URL", &self.database_url)
            .env("PORT", self.port.to_string())
            .env("ARGON2_MEMORY_KIB", "1024")
            .env("ARGON2_ITERATIONS", "1")
            .env("LOG_FORMAT", "json")
            .stdout(Stdio::null())
            .stderr(Stdio::from(log));
        cmd
    }

    /// Starts the server and waits until it is ready; fails the test if it does not get
    /// ready or if this start logged an error or a warning (the server must start clean).
    pub async fn up(&mut self) {
        assert!(self.child.is_none(), "already running");
        let from = std::fs::metadata(&self.log).map(|m| m.len()).unwrap_or(0);
        self.child = Some(self.command(&["serve"]).spawn().unwrap());
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = reqwest::get(format!("{}/api/v1/health/ready", self.base)).await
                && r.status() == 200
            {
                break;
            }
            let exited = self.child.as_mut().and_then(|c| c.try_wait().unwrap());
            assert!(
                exited.is_none() && Instant::now() < deadline,
                "the server did not become ready ({exited:?}); log:\n{}",
                self.log_since(from)
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let log = self.log_since(from);
        for line in log.lines() {
            let level = serde_json::from_str::<Value>(line)
                .map(|v| v["level"].as_str().unwrap_or("").to_string())
                .unwrap_or_default();
            assert!(
                level != "ERROR" && level != "WARN",
                "the start logged: {line}"
            );
        }
    }

    /// kill -9, and waits for the process to be gone.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGKILL on Unix; an error only means that it has already exited.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn log_since(&self, from: u64) -> String {
        let all = std::fs::read(&self.log).unwrap_or_default();
        String::from_utf8_lossy(all.get(from as usize..).unwrap_or_default()).into_owned()
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A free port below the ephemeral range: the server keeps it across restarts, and while it is
/// down no outgoing connection of another process can take it (those get ephemeral ports).
fn stable_port() -> u16 {
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let span = u128::from(low.saturating_sub(10_000).max(1));
    (0..1000)
        .map(|_| 10_000 + (Uuid::new_v4().as_u128() % span) as u16)
        .find(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .expect("a free port below the ephemeral range")
}

/// A request sent in the background: its status, or `None` when no answer came back.
pub fn send(
    base: &str,
    token: &str,
    method: reqwest::Method,
    path: &str,
    workspace: Option<&str>,
    body: Option<&Value>,
) -> JoinHandle<Option<u16>> {
    let mut req = reqwest::Client::new()
        .request(method, format!("{base}/api/v1{path}"))
        .bearer_auth(token)
        .timeout(Duration::from_secs(120));
    if let Some(ws) = workspace {
        req = req.header("x-workspace-id", ws);
    }
    if let Some(b) = body {
        req = req.json(b);
    }
    tokio::spawn(async move { req.send().await.ok().map(|r| r.status().as_u16()) })
}

/// Plain SQL reads of the server's database (opened after a restart, closed before a kill, so
/// that the restarted server is the first to open the database after the crash).
pub enum Db {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Db {
    pub async fn open(url: &str) -> Self {
        if url.starts_with("sqlite:") {
            Db::Sqlite(sqlx::SqlitePool::connect(url).await.unwrap())
        } else {
            Db::Postgres(sqlx::PgPool::connect(url).await.unwrap())
        }
    }

    /// A `COUNT(*)`-like query with an optional id as `$1`.
    pub async fn count(&self, sql: &'static str, id: Option<&str>) -> i64 {
        let id: Option<Uuid> = id.map(|s| s.parse().unwrap());
        match self {
            Db::Sqlite(p) => {
                let q = sqlx::query_scalar(sql);
                let q = if let Some(id) = id { q.bind(id) } else { q };
                q.fetch_one(p).await.unwrap()
            }
            Db::Postgres(p) => {
                let q = sqlx::query_scalar(sql);
                let q = if let Some(id) = id { q.bind(id) } else { q };
                q.fetch_one(p).await.unwrap()
            }
        }
    }

    /// The distinct values of a text column.
    pub async fn texts(&self, sql: &'static str) -> Vec<String> {
        match self {
            Db::Sqlite(p) => sqlx::query_scalar(sql).fetch_all(p).await.unwrap(),
            Db::Postgres(p) => sqlx::query_scalar(sql).fetch_all(p).await.unwrap(),
        }
    }

    /// SQLite's own check of the file after the crash (PostgreSQL: nothing to check here).
    pub async fn integrity(&self) {
        if let Db::Sqlite(p) = self {
            let r: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
                .fetch_all(p)
                .await
                .unwrap();
            assert_eq!(r, ["ok"], "SQLite integrity check");
        }
    }

    pub async fn close(self) {
        match self {
            Db::Sqlite(p) => p.close().await,
            Db::Postgres(p) => p.close().await,
        }
    }
}
