//! Persistence: one repository over sqlx for SQLite and PostgreSQL, chosen from the database
//! URL at start-up. The SQL text is shared by both backends (`$1` placeholders, `RETURNING`,
//! `ON CONFLICT`); each method body is compiled once per backend by `with_db!`.
//!
//! Workspace-scoped tables (items, credentials, API keys) are only reachable through methods
//! that take a `WorkspaceScope`, and every such query filters by the scope's workspace here,
//! never in a handler.
//!
//! Some SQL text is assembled with `format!`, always from constants of this crate and never
//! from input: that is what each `AssertSqlSafe` asserts.

mod activity;
mod apikeys;
mod audit;
mod authz;
mod cache;
mod credentials;
mod group_commit;
mod group_commit_pg;
mod groups;
mod inline;
mod installation_import;
mod invitations;
mod items;
mod mfa;
mod organizations;
mod passkeys;
mod passwords;
mod registration;
mod roles;
mod sessions;
mod setup;
mod shares;
mod sso;
mod transfer;
mod types;
mod usage;
mod users;
mod versioned;
mod workspaces;

pub use activity::{
    LoginAttempt, LoginEvent, LoginEventFilter, LoginOutcome, MAX_EVENT_EMAIL_CHARS, NewLoginEvent,
    Reservation, reason as login_reason,
};
pub use apikeys::ApiKeyFields;
pub use audit::{AuditContext, AuditEvent, AuditFilter, AuditRow, ChainCheck};
pub use authz::{ApiKeyFacts, SessionFacts};
pub use cache::{CacheCounters, HitMiss, RenderItem, RenderPage};
pub use credentials::{CredentialFields, CredentialSecret};
pub use flowspace_core::lockout::LockoutPolicy;
pub use groups::{Group, GroupMember, GroupPatch, GroupWorkspace};
pub use installation_import::{
    ExistingOrganization, ImportTarget, ImportedApiKey, ImportedCredential, ImportedItem,
    ImportedMembership, ImportedRole, ImportedUser, ImportedWorkspace, InstallationImport,
    RememberedSource, RoleChoice, SourceRef,
};
pub use invitations::{Invitation, InvitationStatus, InviteOutcome, TokenCheck};
pub use items::{ItemFields, LIST_ITEMS_SQL};
pub use mfa::{MfaAttempt, MfaChallenge, MfaStatus, StoredTotp};
pub use organizations::{CreatedOrganization, FirstOwner, OrgPatch};
pub use passkeys::{Ceremony, PasskeySummary, StoredPasskey};
pub use registration::Acceptance;
pub use sessions::{RefreshOutcome, StoredRefresh};
pub use setup::{SetupInput, SetupOutcome};
pub use sso::{
    SsoClaims, SsoFlow, SsoGroupMapping, SsoJit, SsoLogin, SsoProvider, SsoSettings, SsoSignedIn,
};
pub use transfer::{
    ExportedCredential, ExportedItem, FlowRef, ImportEntry, Imported, TransferStatus, Transferred,
};
pub use users::{CreatedUser, LoginRecord, NewUser, UserInvite, UserPatch};
pub use workspaces::{NewWorkspace, WorkspacePatch};

use flowspace_core::DomainError;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};
use std::str::FromStr;
use std::time::Duration;

/// Which backend a store runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// The repository. Cheap to clone (it holds a connection pool and the caches).
#[derive(Clone)]
pub struct Store {
    db: Db,
    caches: std::sync::Arc<cache::Caches>,
    /// SQLite files only: the version checks read on the request's own thread.
    inline: Option<std::sync::Arc<inline::InlineReader>>,
    /// SQLite only: the turn to write (`Store::write_turn`).
    writer: Option<std::sync::Arc<tokio::sync::Mutex<()>>>,
    /// SQLite files only: the thread that commits the hot writes in groups (`group_commit`).
    group: Option<std::sync::Arc<group_commit::GroupWriter>>,
    /// PostgreSQL only: item creates written in groups (`group_commit_pg`).
    pg_creates: Option<std::sync::Arc<group_commit_pg::PgCreates>>,
}

/// Runs `$body` with `$pool` bound to the concrete pool of the backend in use; the body is
/// type-checked once for each backend.
macro_rules! with_db {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.db {
            $crate::Db::Sqlite($pool) => $body,
            $crate::Db::Postgres($pool) => $body,
        }
    };
}
pub(crate) use with_db;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// A connection pool's use at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolStats {
    /// Connections open, in use or idle.
    pub open: u32,
    /// Open connections waiting for a query.
    pub idle: u32,
    /// The most the pool will open.
    pub max: u32,
}

/// Options for opening a store.
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    pub max_connections: u32,
    /// How many callers' authorization facts to cache (0: none). Cached facts are only used
    /// while provably current (see `cache`).
    pub authz_cache_entries: usize,
    /// Bytes of first pages of item lists to cache (0: none), and as many again of single
    /// items, answered only while their workspace's items version is unchanged (see `cache`).
    pub list_cache_bytes: u64,
    /// Where the caches count their hits and misses (no-ops by default).
    pub cache_counters: cache::CacheCounters,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            authz_cache_entries: 10_000,
            list_cache_bytes: 8 * 1024 * 1024,
            cache_counters: cache::CacheCounters::default(),
        }
    }
}

/// The most connections the SQLite pool opens: one per core, at least 4 and at most 8. Its
/// queries are CPU work in this process, and its writes take turns (`Store::write_turn`), so
/// connections beyond the cores add no throughput, only memory: each holds its schema,
/// statements, page cache and a thread, about half a megabyte under load (docs/benchmarks.md,
/// "The peak under sign-ins"). At least 4, so that a slow query, or one waiting on the disk,
/// does not hold up the rest on a small machine.
pub fn sqlite_readers() -> u32 {
    let cores = std::thread::available_parallelism().map_or(4, |n| n.get());
    u32::try_from(cores.clamp(4, 8)).unwrap_or(8)
}

/// How long a pooled SQLite connection stays open without work: the pool checks this often,
/// so an idle connection is closed after 3 to 6 s.
const SQLITE_IDLE_TIMEOUT: Duration = Duration::from_secs(3);

impl Store {
    /// Opens the database named by `url` (`sqlite://path` or `postgres://...`) and applies the
    /// migrations of its backend. On PostgreSQL the migrator holds an advisory lock, so
    /// replicas starting at once apply them once.
    pub async fn connect(url: &str, opts: &ConnectOptions) -> Result<Self, DomainError> {
        let mut inline = None;
        let db = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let conn = PgConnectOptions::from_str(url).map_err(DomainError::internal)?;
            let pool = PgPoolOptions::new()
                .max_connections(opts.max_connections)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(conn)
                .await
                .map_err(|e| DomainError::Internal(format!("cannot reach PostgreSQL: {e}")))?;
            POSTGRES_MIGRATIONS
                .run(&pool)
                .await
                .map_err(|e| DomainError::Internal(format!("migrations failed: {e}")))?;
            Db::Postgres(pool)
        } else if url.starts_with("sqlite:") {
            let conn = SqliteConnectOptions::from_str(url)
                .map_err(DomainError::internal)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
                // Each pooled connection's own page cache: 512 KiB rather than SQLite's 2 MB, as
                // eight of them (the pool's size then), full, held 16 MB for good; the pages they
                // miss come from the OS's file cache, hot lists and items from the store's caches.
                .pragma("cache_size", "-512");
            // An in-memory database exists per connection: it must have exactly one.
            let in_memory = url.contains(":memory:") || url.contains("mode=memory");
            if !in_memory {
                inline = Some(std::sync::Arc::new(inline::InlineReader::new(
                    conn.get_filename().to_path_buf(),
                )));
            }
            let pool = SqlitePoolOptions::new()
                .max_connections(if in_memory {
                    1
                } else {
                    opts.max_connections.min(sqlite_readers())
                })
                // A connection idle for a few seconds is closed, and its page cache and its
                // thread with it: a burst's connections would otherwise hold their memory for
                // minutes after it. At least one is open: the last one, once idle, is replaced
                // by a fresh one (an open and a thread every few seconds while nothing happens,
                // each well under a millisecond).
                .min_connections(1)
                .idle_timeout(if in_memory {
                    None
                } else {
                    Some(SQLITE_IDLE_TIMEOUT)
                })
                .max_lifetime(if in_memory {
                    None
                } else {
                    Some(Duration::from_secs(3600))
                })
                .connect_with(conn)
                .await
                .map_err(|e| DomainError::Internal(format!("cannot open SQLite database: {e}")))?;
            SQLITE_MIGRATIONS
                .run(&pool)
                .await
                .map_err(|e| DomainError::Internal(format!("migrations failed: {e}")))?;
            Db::Sqlite(pool)
        } else {
            return Err(DomainError::invalid(
                "DATABASE_URL",
                "must start with sqlite: or postgres://",
            ));
        };
        let writer: Option<std::sync::Arc<tokio::sync::Mutex<()>>> =
            matches!(db, Db::Sqlite(_)).then(Default::default);
        let group = match (&inline, &writer) {
            (Some(reader), Some(turn)) => Some(std::sync::Arc::new(
                group_commit::GroupWriter::start(reader.path().to_path_buf(), turn.clone())
                    .map_err(|e| DomainError::Internal(format!("SQLite writer thread: {e}")))?,
            )),
            _ => None,
        };
        let pg_creates = match &db {
            Db::Postgres(pool) => Some(std::sync::Arc::new(group_commit_pg::PgCreates::new(
                pool.clone(),
            ))),
            Db::Sqlite(_) => None,
        };
        let store = Self {
            db,
            caches: std::sync::Arc::new(cache::Caches::new(
                opts.authz_cache_entries,
                opts.list_cache_bytes,
                opts.cache_counters.clone(),
            )),
            inline,
            writer,
            group,
            pg_creates,
        };
        store.fill_name_keys().await?;
        Ok(store)
    }

    /// Waits for this process's turn to open a write transaction: on SQLite, whose database
    /// has one writer at a time, the write transactions of one process take turns here, first
    /// come first served, instead of racing for SQLite's write lock, where the losers sleep in
    /// SQLite's busy handler (1, 2, 5, 10 ... up to 100 ms a try) and a write could wait
    /// hundreds of milliseconds behind writes that came after it (docs/benchmarks.md,
    /// "Writes"). Held until the transaction ends (the guard outlives it in each method).
    /// Another process writing the same file (the CLI) is still waited for by the busy
    /// timeout. On PostgreSQL there is no such turn: its row locks decide.
    pub(crate) async fn write_turn(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match &self.writer {
            Some(m) => Some(m.lock().await),
            None => None,
        }
    }

    pub fn backend(&self) -> Backend {
        match self.db {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// Readiness: the database answers and every migration is applied.
    pub async fn ready(&self) -> Result<(), DomainError> {
        let expected = match self.db {
            Db::Sqlite(_) => SQLITE_MIGRATIONS.iter().count() as i64,
            Db::Postgres(_) => POSTGRES_MIGRATIONS.iter().count() as i64,
        };
        let applied: i64 = with_db!(self, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success = TRUE")
                .fetch_one(pool)
                .await
                .map_err(db_err)?
        });
        if applied >= expected {
            Ok(())
        } else {
            Err(DomainError::Internal(format!(
                "{applied} of {expected} migrations applied"
            )))
        }
    }

    pub async fn close(&self) {
        if let Some(group) = &self.group {
            group.close().await;
        }
        if let Some(inline) = &self.inline {
            inline.close();
        }
        with_db!(self, pool => pool.close().await)
    }

    /// The connection pool's use now (for the metrics, read at each scrape).
    pub fn pool_stats(&self) -> PoolStats {
        with_db!(self, pool => PoolStats {
            open: pool.size(),
            idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
            max: pool.options().get_max_connections(),
        })
    }

    /// The SQLite pool, for tests that inspect the file directly.
    pub fn sqlite_pool(&self) -> Option<&SqlitePool> {
        match &self.db {
            Db::Sqlite(p) => Some(p),
            Db::Postgres(_) => None,
        }
    }

    /// The PostgreSQL pool, for tests that inspect the tables directly.
    pub fn postgres_pool(&self) -> Option<&PgPool> {
        match &self.db {
            Db::Postgres(p) => Some(p),
            Db::Sqlite(_) => None,
        }
    }
}

/// The migration versions of each backend, for the test that keeps them in step.
pub fn migration_versions() -> (Vec<i64>, Vec<i64>) {
    (
        SQLITE_MIGRATIONS.iter().map(|m| m.version).collect(),
        POSTGRES_MIGRATIONS.iter().map(|m| m.version).collect(),
    )
}

/// A database error that is not the client's fault.
pub(crate) fn db_err(e: sqlx::Error) -> DomainError {
    tracing::error!(error = %e, "database error");
    DomainError::Internal(format!("database: {e}"))
}

/// A unique-constraint violation becomes `conflict`; anything else is internal.
pub(crate) fn unique_or(e: sqlx::Error, conflict: DomainError) -> DomainError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => conflict,
        _ => db_err(e),
    }
}
