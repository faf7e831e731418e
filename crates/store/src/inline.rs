//! The version query of the caches (`cache.rs`), read on the request's own thread on SQLite.
//!
//! sqlx runs every SQLite connection on a thread of its own and hands each query and its rows
//! over channels; for a one-row primary-key read that hand-off, two thread wake-ups, costs
//! far more than the read (docs/benchmarks.md). These reads instead use a small pool of
//! read-only `rusqlite` connections to the same file, called synchronously: a read transaction
//! in WAL mode takes no lock a writer holds, and the busy timeout is zero, so a read that
//! would have to wait returns at once and the caller falls back to the sqlx pool.
//!
//! Most requests do not even read: each answer is kept with the WAL index header it was read
//! under (`Commits`), and given again while that header is unchanged. Every commit to the
//! database, by any connection of any process, rewrites that header before it returns (the
//! header is how SQLite's readers learn of commits at all), so an unchanged header proves
//! that nothing was committed since: the kept answer is what a read would return now.
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;
use uuid::Uuid;

use crate::cache::VERSIONS_SQL;

pub(crate) struct InlineReader {
    path: PathBuf,
    idle: Mutex<Vec<rusqlite::Connection>>,
    /// The watch on commits, opened with the first read (`None` when it could not be).
    commits: OnceLock<Option<Commits>>,
    /// Answers read, each with the WAL index header it was read under, by (organization,
    /// workspace).
    seen: quick_cache::sync::Cache<(Uuid, Option<Uuid>), (Header, Versions)>,
    /// Reads of the database made (answers not given from `seen`).
    reads: std::sync::atomic::AtomicU64,
}

/// How many (organization, workspace) answers `seen` keeps: about 100 bytes each.
const SEEN_ENTRIES: usize = 4096;

/// The WAL index header: the first 48 bytes of the database's `-shm` file (SQLite's
/// `WalIndexHdr`, in the file format every SQLite version shares, sqlite.org/walformat.html).
type Header = [u8; 48];

/// Reads the WAL index header with one `pread` of the `-shm` file, safely: no mapping of our
/// own, no lock. The `-shm` file is the one SQLite maps: a file read sees what those mappings
/// wrote (one page cache).
struct Commits {
    shm: std::fs::File,
    /// A connection held open for as long as `shm` is read. While any connection of this
    /// process has the database open in WAL mode, it holds a shared lock on the database file
    /// and on the `-shm` file's "dead man switch" byte, so that no other process can delete
    /// the `-shm` file (on its last close) nor truncate it (on a first open): the file read
    /// here stays the one every process writes its commits to. Taken by `close`.
    anchor: Mutex<Option<rusqlite::Connection>>,
    closed: AtomicBool,
}

impl Commits {
    /// Opens the connection that keeps the `-shm` file in place, reads once through it (which
    /// opens the `-shm` file if no connection had), then the `-shm` file itself.
    fn open(reader: &InlineReader) -> Option<Self> {
        let anchor = reader.open().ok()?;
        anchor
            .query_row("SELECT count(*) FROM auth_versions WHERE 0", [], |_| Ok(()))
            .ok()?;
        let mut shm = reader.path.clone().into_os_string();
        shm.push("-shm");
        let shm = std::fs::File::open(shm).ok()?;
        Some(Self {
            shm,
            anchor: Mutex::new(Some(anchor)),
            closed: AtomicBool::new(false),
        })
    }

    /// The header as it is now, when it is one SQLite's own readers would accept: its two
    /// copies (SQLite writes the second, then the first) agree, it is initialised, and its
    /// checksum holds. `None` otherwise (a commit or a recovery under way, or no file): the
    /// caller then reads the database.
    fn header(&self) -> Option<Header> {
        if self.closed.load(Ordering::Acquire) {
            return None;
        }
        let mut both = [0u8; 96];
        self.shm.read_exact_at(&mut both, 0).ok()?;
        let (first, second) = both.split_at(48);
        let header: Header = first.try_into().ok()?;
        let word = |i: usize| {
            let b = &header[4 * i..4 * i + 4];
            u32::from_ne_bytes([b[0], b[1], b[2], b[3]])
        };
        // iVersion (3007000), isInit, and the checksum over the first ten words, in native
        // byte order as SQLite computes it for the wal-index (`walChecksumBytes`).
        let (mut s1, mut s2) = (0u32, 0u32);
        for i in (0..10).step_by(2) {
            s1 = s1.wrapping_add(word(i)).wrapping_add(s2);
            s2 = s2.wrapping_add(word(i + 1)).wrapping_add(s1);
        }
        let valid = first == second
            && word(0) == 3_007_000
            && header[12] == 1
            && (s1, s2) == (word(10), word(11));
        valid.then_some(header)
    }

    fn close(&self) {
        self.closed.store(true, Ordering::Release);
        if let Ok(mut anchor) = self.anchor.lock() {
            anchor.take();
        }
    }
}

/// The row of `VERSIONS_SQL`: `None` when the organization has no version row.
pub(crate) type Versions = Option<(i64, Option<i64>)>;

impl InlineReader {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self {
            path,
            idle: Mutex::new(Vec::new()),
            commits: OnceLock::new(),
            seen: quick_cache::sync::Cache::new(SEEN_ENTRIES),
            reads: Default::default(),
        }
    }

    /// The database file.
    pub(crate) fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Closes the idle connections and the watch on commits (`Store::close`): no answer is
    /// given again after it.
    pub(crate) fn close(&self) {
        if let Some(Some(commits)) = self.commits.get() {
            commits.close();
        }
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
    /// could not answer at once (the caller then asks the sqlx pool): the answer kept for them
    /// while the WAL index header is the one it was read under, else read now.
    pub(crate) fn versions(&self, org: Uuid, ws: Option<Uuid>) -> Option<Versions> {
        let commits = self.commits.get_or_init(|| Commits::open(self)).as_ref();
        // Taken before the read: the read's snapshot holds every commit the header counts (and
        // perhaps later ones, which changed the header, so that this answer is never given).
        let before = commits.and_then(Commits::header);
        if let Some(header) = before
            && let Some((kept, versions)) = self.seen.get(&(org, ws))
            && kept == header
        {
            return Some(versions);
        }
        let versions = self.read(org, ws)?;
        if let Some(header) = before {
            self.seen.insert((org, ws), (header, versions));
        }
        Some(versions)
    }

    /// Reads the versions on a pooled connection.
    fn read(&self, org: Uuid, ws: Option<Uuid>) -> Option<Versions> {
        self.reads.fetch_add(1, Ordering::Relaxed);
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
    use std::sync::atomic::Ordering;
    use uuid::Uuid;

    /// The reads of the database `reader` has made so far.
    fn reads(reader: &InlineReader) -> u64 {
        reader.reads.load(Ordering::Relaxed)
    }

    async fn store(path: &std::path::Path) -> Store {
        let url = format!("sqlite://{}", path.display());
        Store::connect(&url, &ConnectOptions::default())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn reads_what_the_pool_wrote_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let store = store(&path).await;
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
        assert_eq!(reads(&reader), 4);

        // Nothing committed since: the same answers, without reading.
        assert_eq!(reader.versions(org, Some(ws)), Some(Some((7, Some(3)))));
        assert_eq!(reader.versions(org, None), Some(Some((7, None))));
        assert_eq!(reads(&reader), 4, "answered from what was read");

        // A write committed through the pool is seen by the very next read.
        sqlx::query("UPDATE auth_versions SET version = version + 1 WHERE organization_id = $1")
            .bind(org)
            .execute(pool)
            .await
            .unwrap();
        assert_eq!(reader.versions(org, Some(ws)), Some(Some((8, Some(3)))));
        assert_eq!(reads(&reader), 5);
        // A commit that changes neither version still makes the next answer a read.
        sqlx::query("INSERT INTO auth_versions (organization_id, version) VALUES ($1, 1)")
            .bind(Uuid::new_v4())
            .execute(pool)
            .await
            .unwrap();
        assert_eq!(reader.versions(org, Some(ws)), Some(Some((8, Some(3)))));
        assert_eq!(reads(&reader), 6);
        assert_eq!(
            reader.idle.lock().unwrap().len(),
            1,
            "the connection was reused"
        );

        // Closed, it reads again (nothing kept is trusted without the connection that keeps
        // the -shm file in place).
        reader.close();
        assert_eq!(reader.versions(org, Some(ws)), Some(Some((8, Some(3)))));
        assert_eq!(reads(&reader), 7);
        store.close().await;
    }

    /// The environment variable that makes `another_process_writes` write.
    const WRITER_DB: &str = "FLOWSPACE_INLINE_TEST_WRITER_DB";

    /// Run by `a_commit_by_another_process_is_seen_on_the_next_read` in a process of its own:
    /// bumps every authorization version of the database it is given, through SQLite's own
    /// locking, as another replica or the CLI would.
    #[test]
    #[ignore = "run by a_commit_by_another_process_is_seen_on_the_next_read"]
    fn another_process_writes() {
        let Ok(path) = std::env::var(WRITER_DB) else {
            return;
        };
        let conn = rusqlite::Connection::open(path).unwrap();
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .unwrap();
        conn.execute("UPDATE auth_versions SET version = version + 1", [])
            .unwrap();
    }

    #[tokio::test]
    async fn a_commit_by_another_process_is_seen_on_the_next_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let store = store(&path).await;
        let pool = store.sqlite_pool().unwrap();
        let org = Uuid::new_v4();
        sqlx::query("INSERT INTO auth_versions (organization_id, version) VALUES ($1, 1)")
            .bind(org)
            .execute(pool)
            .await
            .unwrap();
        let reader = InlineReader::new(path.clone());
        assert_eq!(reader.versions(org, None), Some(Some((1, None))));
        assert_eq!(reader.versions(org, None), Some(Some((1, None))));
        assert_eq!(reads(&reader), 1);

        for round in 2..=4 {
            let out = std::process::Command::new(std::env::current_exe().unwrap())
                .args(["--exact", "inline::tests::another_process_writes"])
                .args(["--ignored", "--nocapture", "--test-threads=1"])
                .env(WRITER_DB, &path)
                .output()
                .unwrap();
            assert!(
                out.status.success() && String::from_utf8_lossy(&out.stdout).contains("1 passed"),
                "the writer process: {out:?}"
            );
            assert_eq!(
                reader.versions(org, None),
                Some(Some((round, None))),
                "round {round}"
            );
            assert_eq!(reader.versions(org, None), Some(Some((round, None))));
            assert_eq!(reads(&reader), round as u64, "round {round}");
        }
        store.close().await;
    }
}
