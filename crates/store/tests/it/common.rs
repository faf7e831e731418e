//! Fresh databases and a small organization to test against. The store cannot use testkit
//! (testkit depends on the server), so this mirrors `flowspace_testkit::fresh_database`.

use flowspace_core::authz::{AdminScope, CallerFacts, WorkspaceScope};
use flowspace_core::ids::{OrganizationId, SessionId, UserId, WorkspaceId};
use flowspace_core::permissions::Permission;
use flowspace_core::time::Timestamp;
use flowspace_core::{DomainError, authz};
use flowspace_store::{
    ConnectOptions, NewUser, NewWorkspace, SetupInput, Store, StoredRefresh, UserInvite,
};
use tempfile::TempDir;
use uuid::Uuid;

pub const ADMIN_EMAIL: &str = "Admin@Example.com";

/// A database backend to run a test on.
#[derive(Clone, Debug)]
pub enum Backend {
    Sqlite,
    /// The base URL of a PostgreSQL server; each database is a fresh schema in it.
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

/// SQLite always; PostgreSQL too when `TEST_DATABASE_URL` is set (and then it must answer).
pub fn backends() -> Vec<Backend> {
    let mut v = vec![Backend::Sqlite];
    if let Ok(url) = std::env::var("TEST_DATABASE_URL")
        && !url.trim().is_empty()
    {
        v.push(Backend::Postgres(url.trim().to_string()));
    }
    v
}

/// A fresh, empty database: its URL, and the directory that holds it (SQLite).
pub struct FreshDb {
    pub url: String,
    pub backend: Backend,
    _dir: TempDir,
}

impl FreshDb {
    pub async fn new(backend: &Backend) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = match backend {
            Backend::Sqlite => format!("sqlite://{}", dir.path().join("t.db").display()),
            Backend::Postgres(base) => {
                let schema = format!("fs_store_{}", Uuid::new_v4().simple());
                let pool = sqlx::PgPool::connect(base).await.unwrap_or_else(|e| {
                    panic!("TEST_DATABASE_URL is set but PostgreSQL cannot be reached: {e}")
                });
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                    .execute(&pool)
                    .await
                    .expect("create schema");
                pool.close().await;
                let sep = if base.contains('?') { '&' } else { '?' };
                format!("{base}{sep}options=-c%20search_path%3D{schema}")
            }
        };
        Self {
            url,
            backend: backend.clone(),
            _dir: dir,
        }
    }

    pub async fn connect(&self) -> Store {
        Store::connect(&self.url, &ConnectOptions::default())
            .await
            .unwrap_or_else(|e| panic!("connect to {} failed: {e}", self.backend.name()))
    }
}

/// The invitation `create_user` sends to an account of another organization.
pub fn invite_ticket() -> UserInvite {
    UserInvite {
        token_hash: Uuid::new_v4().as_bytes().to_vec(),
        expires_at: Timestamp::now().plus_seconds(3600),
    }
}

/// A refresh token that expires `secs` from now (negative: already expired).
pub fn refresh(secs: i64) -> StoredRefresh {
    StoredRefresh {
        hash: Uuid::new_v4().as_bytes().to_vec(),
        expires_at: Timestamp::now().plus_seconds(secs),
    }
}

pub fn perm(s: &str) -> Permission {
    s.parse()
        .unwrap_or_else(|_| panic!("{s} is not in the catalogue"))
}

pub fn is_not_found<T>(r: &Result<T, DomainError>) -> bool {
    matches!(r, Err(DomainError::NotFound(_)))
}

pub fn conflict_code<T>(r: &Result<T, DomainError>) -> Option<&'static str> {
    match r {
        Err(DomainError::Conflict { code, .. }) => Some(code),
        _ => None,
    }
}

/// An organization after setup: its Account Admin signed in (one session) in Default.
pub struct Org {
    pub store: Store,
    pub db: FreshDb,
    pub org: OrganizationId,
    pub admin: UserId,
    pub default_ws: WorkspaceId,
    pub admin_session: SessionId,
}

impl Org {
    pub async fn new(backend: &Backend) -> Self {
        let db = FreshDb::new(backend).await;
        let store = db.connect().await;
        let out = store
            .setup(SetupInput {
                organization_name: "Acme".into(),
                name: "Admin".into(),
                email: ADMIN_EMAIL.into(),
                password_hash: "$argon2id$not-a-real-hash".into(),
            })
            .await
            .expect("setup");
        let admin_session = store
            .create_session(
                out.user,
                Some(out.workspace),
                None,
                None,
                false,
                &refresh(3600),
            )
            .await
            .expect("admin session");
        Self {
            store,
            db,
            org: out.organization,
            admin: out.user,
            default_ws: out.workspace,
            admin_session,
        }
    }

    pub fn name(&self) -> &'static str {
        self.db.backend.name()
    }

    /// What the store says of a session now, with `ws` as the `X-Workspace-Id` header.
    pub async fn facts(
        &self,
        session: SessionId,
        user: UserId,
        ws: Option<WorkspaceId>,
    ) -> CallerFacts {
        self.store
            .session_facts(session, user, ws)
            .await
            .expect("session facts")
            .expect("a live session")
            .caller
    }

    /// The Account Admin's scope in `ws` for `p`.
    pub async fn scope(&self, ws: WorkspaceId, p: &str) -> WorkspaceScope {
        let facts = self.facts(self.admin_session, self.admin, Some(ws)).await;
        authz::authorize(&facts, perm(p)).expect("the Account Admin holds every permission")
    }

    pub async fn admin_scope(&self) -> AdminScope {
        let facts = self.facts(self.admin_session, self.admin, None).await;
        authz::authorize_account_admin(&facts).expect("the Account Admin")
    }

    /// A new workspace created by the Account Admin.
    pub async fn workspace(&self, name: &str) -> WorkspaceId {
        let admin = self.admin_scope().await;
        self.store
            .create_workspace(
                &admin,
                NewWorkspace {
                    name: name.into(),
                    description: None,
                    color: None,
                    icon: None,
                },
            )
            .await
            .expect("create workspace")
            .id
    }

    /// A new active user (no membership) with a session of their own.
    pub async fn user(&self, email: &str) -> (UserId, SessionId) {
        let admin = self.admin_scope().await;
        let user = self
            .store
            .create_user(
                &admin,
                NewUser {
                    email: email.into(),
                    name: "Someone".into(),
                    password_hash: "$argon2id$not-a-real-hash".into(),
                },
                invite_ticket(),
            )
            .await
            .expect("create user")
            .into_detail()
            .user
            .id;
        let session = self
            .store
            .create_session(user, None, None, None, false, &refresh(3600))
            .await
            .expect("user session");
        (user, session)
    }

    pub async fn count(&self, sql: &'static str, id: Uuid) -> i64 {
        count(&self.store, sql, id).await
    }

    pub async fn exec(&self, sql: &'static str, ids: &[Uuid]) -> u64 {
        exec(&self.store, sql, ids).await
    }
}

/// `SELECT COUNT(*)` with one uuid bound as `$1`, straight on the store's tables.
pub async fn count(store: &Store, sql: &'static str, id: Uuid) -> i64 {
    if let Some(p) = store.sqlite_pool() {
        sqlx::query_scalar(sql).bind(id).fetch_one(p).await
    } else {
        let p = store.postgres_pool().expect("a pool");
        sqlx::query_scalar(sql).bind(id).fetch_one(p).await
    }
    .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// A statement with uuids bound as `$1`, `$2`, ...: the rows it changed.
pub async fn exec(store: &Store, sql: &'static str, ids: &[Uuid]) -> u64 {
    let r = if let Some(p) = store.sqlite_pool() {
        let mut q = sqlx::query(sql);
        for id in ids {
            q = q.bind(*id);
        }
        q.execute(p).await.map(|r| r.rows_affected())
    } else {
        let p = store.postgres_pool().expect("a pool");
        let mut q = sqlx::query(sql);
        for id in ids {
            q = q.bind(*id);
        }
        q.execute(p).await.map(|r| r.rows_affected())
    };
    r.unwrap_or_else(|e| panic!("{sql}: {e}"))
}
