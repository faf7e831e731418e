//! The version query of the caches (`cache.rs`), read on the request's own thread on SQLite.
//!
//! sqlx runs every SQLite connection on a thread of its own and hands each query and its rows
//! over channels; for a one-row primary-key read that hand-off, two thread wake-ups, costs
//! far more than the read (docs/benchmarks.md). These reads instead use a small pool of
//! read-only `rusqlite` connections to the same file, called synchronously: a read transaction
//! in WAL mode takes no lock a writer holds, and the busy timeout is zero, so a read that
//! would have to wait returns at once and the caller falls back to the sqlx pool.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;
use uuid::Uuid;

use crate::cache::VERSIONS_SQL;

pub(crate) struct InlineReader {
    path: PathBuf,
    idle: Mutex<Vec<rusqlite::Connection>>,
}

/// The row of `VERSIONS_SQL`: `None` when the organization has no version row.
pub(crate) type Versions = Option<(i64, Option<i64>)>;

impl InlineReader {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self {
            path,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// The database file.
    pub(crate) fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Closes the idle connections (`Store::close`).
    pub(crate) fn close(&self) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.clear();
        }
    }

    fn open(&self) -> rusqlite::Result<rusqlite::Connection> {
        use rusqlite::OpenFlags;
        let conn = rusqlite::Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(Duration::ZERO)?;
        // It reads two one-row tables: a few pages (SQLite's default keeps up to 2 MB).
        conn.execute_batch("PRAGMA cache_size = -128")?;
        Ok(conn)
    }

    /// The authorization version of `org` and the items version of `ws`, or `None` when SQLite
    /// could not answer at once (the caller then asks the sqlx pool).
    pub(crate) fn versions(&self, org: Uuid, ws: Option<Uuid>) -> Option<Versions> {
        let idle = self.idle.lock().ok()?.pop();
        let conn = match idle {
            Some(c) => c,
            None => self
                .open()
                .map_err(|e| tracing::warn!(error = %e, "inline SQLite reader"))
                .ok()?,
        };
        let read = {
            let org = org.as_bytes().as_slice();
            let ws = ws.as_ref().map(|w| w.as_bytes().as_slice());
            conn.prepare_cached(VERSIONS_SQL).and_then(|mut stmt| {
                // By name: `$2` comes first in the text, and SQLite numbers parameters in the
                // order they appear.
                let mut rows = stmt.query(rusqlite::named_params! {"$1": org, "$2": ws})?;
                match rows.next()? {
                    Some(row) => Ok(Some((row.get(0)?, row.get(1)?))),
                    None => Ok(None),
                }
            })
        };
        // A connection that was only kept waiting stays in the pool; after any other error it
        // is dropped and the next read opens a new one.
        let busy = read
            .as_ref()
            .err()
            .and_then(rusqlite::Error::sqlite_error_code)
            .is_some_and(|c| {
                matches!(
                    c,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                )
            });
        if (read.is_ok() || busy)
            && let Ok(mut idle) = self.idle.lock()
        {
            idle.push(conn);
        }
        read.map_err(|e| tracing::debug!(error = %e, "inline SQLite read fell back to the pool"))
            .ok()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::InlineReader;
    use crate::{ConnectOptions, Store};
    use uuid::Uuid;

    #[tokio::test]
    async fn reads_what_the_pool_wrote_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let url = format!("sqlite://{}", path.display());
        let store = Store::connect(&url, &ConnectOptions::default())
            .await
            .unwrap();
        let pool = store.sqlite_pool().unwrap();
        let (org, ws) = (Uuid::new_v4(), Uuid::new_v4());
        sqlx::query("INSERT INTO auth_versions (organization_id, version) VALUES ($1, 7)")
            .bind(org)
            .execute(pool)
            .await
            .unwrap();
        sqlx::query("INSERT INTO item_versions (workspace_id, version) VALUES ($1, 3)")
            .bind(ws)
            .execute(pool)
            .await
            .unwrap();

        let reader = InlineReader::new(path);
        assert_eq!(reader.versions(org, Some(ws)), Some(Some((7, Some(3)))));
        assert_eq!(reader.versions(org, None), Some(Some((7, None))));
        assert_eq!(
            reader.versions(org, Some(Uuid::new_v4())),
            Some(Some((7, None)))
        );
        assert_eq!(reader.versions(Uuid::new_v4(), Some(ws)), Some(None));

        // A write committed through the pool is seen by the next read on the same connection.
        sqlx::query("UPDATE auth_versions SET version = version + 1 WHERE organization_id = $1")
            .bind(org)
            .execute(pool)
            .await
            .unwrap();
        assert_eq!(reader.versions(org, Some(ws)), Some(Some((8, Some(3)))));
        assert_eq!(
            reader.idle.lock().unwrap().len(),
            1,
            "the connection was reused"
        );
        store.close().await;
    }
}
