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
//! that nothing was committed since: the kept answer is what a read would return now. (Until
//! the first commit after the WAL index is rebuilt, when the database is first opened, every
//! request reads: a rebuilt header starts its count of commits at 0 and is not trusted.)
use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering, fence};
use std::sync::{Arc, LazyLock, Mutex, OnceLock};
use std::time::{Duration, Instant};
use uuid::Uuid;

use crate::cache::VERSIONS_SQL;

pub(crate) struct InlineReader {
    path: PathBuf,
    idle: Mutex<Vec<rusqlite::Connection>>,
    /// The watch on commits, once opened (tried with the first read, then at most once a
    /// second until it opens).
    commits: OnceLock<Commits>,
    /// When the watch was last tried, in milliseconds after `started` (0: never).
    tried_at: AtomicU64,
    started: Instant,
    /// Set by `close`: nothing kept is given, and the watch is not opened, after it.
    closed: AtomicBool,
    /// Answers read, each with the WAL index header it was read under, by (organization,
    /// workspace).
    seen: quick_cache::sync::Cache<(Uuid, Option<Uuid>), (Header, Versions)>,
    /// Reads of the database made (answers not given from `seen`).
    reads: AtomicU64,
}

/// How many (organization, workspace) answers `seen` keeps: about 130 bytes each.
const SEEN_ENTRIES: usize = 4096;

/// The WAL index header: the first 48 bytes of the database's `-shm` file (SQLite's
/// `WalIndexHdr`, in the file format every SQLite version shares, sqlite.org/walformat.html).
type Header = [u8; 48];

/// The `-shm` files read here, by device and inode, each left open for the rest of the
/// process: closing any descriptor of a file drops every POSIX lock the process holds on it,
/// SQLite's own locks on the `-shm` file among them (the one that keeps other processes from
/// resetting the file, the write lock of a commit under way). So no descriptor opened here is
/// ever closed, and each file is kept open once: one descriptor per database file the process
/// has used (a server uses one; a test process one per temporary database, each pinning a
/// deleted file of 32 KiB or more), and one more, unused, if a `-shm` file is replaced
/// between its `stat` and its `open` here.
static SHM_FILES: LazyLock<Mutex<ShmFiles>> = LazyLock::new(Default::default);

/// The open `-shm` files, by (device, inode).
type ShmFiles = HashMap<(u64, u64), Arc<File>>;

/// The `-shm` file at `path`, from `SHM_FILES` or opened and kept there.
#[cfg(unix)]
fn shm_file(path: &Path) -> Option<Arc<File>> {
    use std::os::unix::fs::MetadataExt;
    let seen = std::fs::metadata(path).ok()?;
    let key = (seen.dev(), seen.ino());
    let mut files = SHM_FILES.lock().ok()?;
    if let Some(file) = files.get(&key) {
        return Some(file.clone());
    }
    let file = File::open(path).ok()?;
    match file.metadata().map(|m| (m.dev(), m.ino())) {
        Ok(opened) if !files.contains_key(&opened) => {
            let file = Arc::new(file);
            files.insert(opened, file.clone());
            // Another file than the one seen (replaced in between): kept open, not used.
            (opened == key).then_some(file)
        }
        // A file already open here (or one that cannot be told apart): this second
        // descriptor is left open too, and not used.
        _ => {
            std::mem::forget(file);
            None
        }
    }
}

#[cfg(not(unix))]
fn shm_file(_: &Path) -> Option<Arc<File>> {
    None
}

/// Reads the WAL index header with one `pread` of the `-shm` file, safely: no mapping of our
/// own, no lock. The `-shm` file is the one SQLite maps: a file read sees what those mappings
/// wrote (one page cache).
struct Commits {
    shm: Arc<File>,
    /// A connection held open for as long as `shm` is read. While any connection of this
    /// process has the database open in WAL mode, it holds a shared lock on the database file
    /// and on the `-shm` file's "dead man switch" byte, so that no other process can delete
    /// the `-shm` file (on its last close) nor truncate it (on a first open): the file read
    /// here stays the one every process writes its commits to. Taken by `close`.
    anchor: Mutex<Option<rusqlite::Connection>>,
}

impl Commits {
    /// Opens the connection that keeps the `-shm` file in place, reads once through it (which
    /// opens the `-shm` file if no connection had), then the `-shm` file SQLite names after
    /// the database (its own path, symbolic links resolved), if the database is in WAL mode.
    fn open(reader: &InlineReader) -> Option<Self> {
        let anchor = reader.open().ok()?;
        let mode: String = anchor
            .query_row("PRAGMA journal_mode", [], |row| row.get(0))
            .ok()?;
        if !mode.eq_ignore_ascii_case("wal") {
            return None;
        }
        anchor
            .query_row("SELECT count(*) FROM auth_versions WHERE 0", [], |_| Ok(()))
            .ok()?;
        let shm = shm_file(Path::new(&format!("{}-shm", anchor.path()?)))?;
        Some(Self {
            shm,
            anchor: Mutex::new(Some(anchor)),
        })
    }

    /// The header as it is now, when it is one SQLite's own readers would accept: its two
    /// copies (SQLite writes the second, then the first) agree, it is initialised, and its
    /// checksum holds; and it has counted a commit since the WAL index was last rebuilt (a
    /// rebuilt header starts its count at 0, and two rebuilds of an empty WAL write the same
    /// bytes). `None` otherwise (a commit or a recovery under way, no commit yet): the caller
    /// then reads the database.
    fn header(&self) -> Option<Header> {
        let mut both = [0u8; 96];
        read_at(&self.shm, &mut both)?;
        let (first, second) = both.split_at(48);
        let header: Header = first.try_into().ok()?;
        let word = |i: usize| {
            let b = &header[4 * i..4 * i + 4];
            u32::from_ne_bytes([b[0], b[1], b[2], b[3]])
        };
        // iVersion (3007000), iChange, isInit, and the checksum over the first ten words, in
        // native byte order as SQLite computes it for the wal-index (`walChecksumBytes`).
        let (mut s1, mut s2) = (0u32, 0u32);
        for i in (0..10).step_by(2) {
            s1 = s1.wrapping_add(word(i)).wrapping_add(s2);
            s2 = s2.wrapping_add(word(i + 1)).wrapping_add(s1);
        }
        let valid = first == second
            && word(0) == 3_007_000
            && word(2) != 0
            && header[12] == 1
            && (s1, s2) == (word(10), word(11));
        valid.then_some(header)
    }
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8]) -> Option<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, 0).ok()
}

#[cfg(not(unix))]
fn read_at(_: &File, _: &mut [u8]) -> Option<()> {
    None
}

/// The row of `VERSIONS_SQL`: `None` when the organization has no version row.
pub(crate) type Versions = Option<(i64, Option<i64>)>;

impl InlineReader {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self {
            path,
            idle: Mutex::new(Vec::new()),
            commits: OnceLock::new(),
            tried_at: AtomicU64::new(0),
            started: Instant::now(),
            closed: AtomicBool::new(false),
            seen: quick_cache::sync::Cache::new(SEEN_ENTRIES),
            reads: AtomicU64::new(0),
        }
    }

    /// The database file.
    pub(crate) fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Closes the idle connections and the watch on commits (`Store::close`): no answer is
    /// given again after it.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        // Paired with the fence in `watch` after the watch is set: of a `close` and a `watch`
        // racing, at least one sees the other's write, so the anchor is closed by one of them.
        fence(Ordering::SeqCst);
        if let Some(commits) = self.commits.get()
            && let Ok(mut anchor) = commits.anchor.lock()
        {
            anchor.take();
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
        let commits = self.watch();
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

    /// The watch on commits, unless closed; opened on first use, and tried again at most once a
    /// second while it cannot be (a database busy at that moment, not yet in WAL mode).
    fn watch(&self) -> Option<&Commits> {
        if self.closed.load(Ordering::Acquire) {
            return None;
        }
        if let Some(commits) = self.commits.get() {
            return Some(commits);
        }
        let now = (self.started.elapsed().as_millis() as u64).max(1);
        let last = self.tried_at.load(Ordering::Relaxed);
        if (last != 0 && now < last + 1000)
            || self
                .tried_at
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return None;
        }
        match Commits::open(self) {
            Some(commits) => {
                let _ = self.commits.set(commits);
                fence(Ordering::SeqCst);
                // A `close` that ran meanwhile may have found nothing to close.
                if self.closed.load(Ordering::SeqCst) {
                    self.close();
                    return None;
                }
                self.commits.get()
            }
            None => {
                tracing::debug!(path = %self.path.display(), "no watch on SQLite's commits yet");
                None
            }
        }
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
        let org = one_organization(&store, 7).await;
        let ws = Uuid::new_v4();
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

    /// The environment variables that make `another_process` run: the database, and the SQL.
    const CHILD_DB: &str = "FLOWSPACE_INLINE_TEST_DB";
    const CHILD_SQL: &str = "FLOWSPACE_INLINE_TEST_SQL";

    /// Run by the tests below in a process of its own: runs the SQL it is given on the
    /// database it is given, through SQLite's own locking, as another replica or the CLI would.
    #[test]
    #[ignore = "run by the tests below as another process"]
    fn another_process() {
        let (Ok(path), Ok(sql)) = (std::env::var(CHILD_DB), std::env::var(CHILD_SQL)) else {
            return;
        };
        let conn = rusqlite::Connection::open(path).unwrap();
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .unwrap();
        let mut stmt = conn.prepare(&sql).unwrap();
        let mut rows = stmt.query([]).unwrap();
        while rows.next().unwrap().is_some() {}
    }

    /// Runs `sql` on the database at `path` in another process (`another_process`).
    fn in_another_process(path: &std::path::Path, sql: &str) {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "inline::tests::another_process"])
            .args(["--ignored", "--nocapture", "--test-threads=1"])
            .env(CHILD_DB, path)
            .env(CHILD_SQL, sql)
            .output()
            .unwrap();
        assert!(
            out.status.success() && String::from_utf8_lossy(&out.stdout).contains("1 passed"),
            "the other process, {sql}: {out:?}"
        );
    }

    async fn one_organization(store: &Store, version: i64) -> Uuid {
        let org = Uuid::new_v4();
        sqlx::query("INSERT INTO auth_versions (organization_id, version) VALUES ($1, $2)")
            .bind(org)
            .bind(version)
            .execute(store.sqlite_pool().unwrap())
            .await
            .unwrap();
        org
    }

    #[tokio::test]
    async fn a_commit_by_another_process_is_seen_on_the_next_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let store = store(&path).await;
        let org = one_organization(&store, 1).await;
        let reader = InlineReader::new(path.clone());
        assert_eq!(reader.versions(org, None), Some(Some((1, None))));
        assert_eq!(reader.versions(org, None), Some(Some((1, None))));
        assert_eq!(reads(&reader), 1);

        for round in 2..=4 {
            in_another_process(&path, "UPDATE auth_versions SET version = version + 1");
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

    /// The POSIX locks this process holds on `file` (/proc/locks: "1: POSIX ADVISORY READ
    /// <pid> <major>:<minor>:<inode> <start> <end>", the device numbers in hexadecimal).
    fn locks_on(file: &std::path::Path) -> usize {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(file).unwrap();
        let dev = meta.dev();
        let (major, minor) = (
            ((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0xfff),
            ((dev >> 12) & 0xffff_ff00) | (dev & 0xff),
        );
        let at = format!(
            "{} {major:02x}:{minor:02x}:{} ",
            std::process::id(),
            meta.ino()
        );
        std::fs::read_to_string("/proc/locks")
            .unwrap()
            .lines()
            .filter(|l| l.contains(&at))
            .count()
    }

    /// A reader dropped while others use the file must leave SQLite's locks on the `-shm` file
    /// alone (closing any descriptor of a file drops all of the process's locks on it): else
    /// another process may rebuild the WAL index, and two rebuilds of an empty WAL write the
    /// same header bytes, under which a stale answer would be given again.
    #[tokio::test]
    async fn a_dropped_reader_keeps_the_locks_and_a_checkpoint_hides_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let store = store(&path).await;
        let org = one_organization(&store, 1).await;
        let reader = InlineReader::new(path.clone());
        let shm = dir.path().join("t.db-shm");
        let before = locks_on(&shm);
        assert!(before > 0, "SQLite holds a lock on the -shm file");
        {
            let other = InlineReader::new(path.clone());
            assert_eq!(other.versions(org, None), Some(Some((1, None))));
            drop(other);
        }
        assert_eq!(locks_on(&shm), before, "no lock dropped with the reader");

        let checkpoint = "PRAGMA wal_checkpoint(TRUNCATE)";
        in_another_process(&path, checkpoint);
        in_another_process(&path, "SELECT count(*) FROM auth_versions");
        assert_eq!(reader.versions(org, None), Some(Some((1, None))));
        in_another_process(&path, "UPDATE auth_versions SET version = version + 1");
        in_another_process(&path, checkpoint);
        in_another_process(&path, "SELECT count(*) FROM auth_versions");
        assert_eq!(reader.versions(org, None), Some(Some((2, None))));
        assert_eq!(reader.versions(org, None), Some(Some((2, None))));
        store.close().await;
    }

    /// Opened through a symbolic link, the reader watches the `-shm` file SQLite uses (named
    /// after the file the link points to), not a file beside the link.
    #[tokio::test]
    async fn a_linked_database_is_watched_at_its_own_shm_file() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.db");
        let link = dir.path().join("link.db");
        store(&real).await.close().await;
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let store = store(&link).await;
        let org = one_organization(&store, 1).await;
        // A leftover that looks like a WAL index beside the link, copied by another process
        // (a descriptor of the -shm file opened and closed here would drop SQLite's locks).
        let copied = std::process::Command::new("cp")
            .arg(dir.path().join("real.db-shm"))
            .arg(dir.path().join("link.db-shm"))
            .status()
            .unwrap();
        assert!(copied.success());
        let reader = InlineReader::new(link.clone());
        assert_eq!(reader.versions(org, None), Some(Some((1, None))));
        assert_eq!(reader.versions(org, None), Some(Some((1, None))));
        assert_eq!(reads(&reader), 1, "watched");
        sqlx::query("UPDATE auth_versions SET version = 2 WHERE organization_id = $1")
            .bind(org)
            .execute(store.sqlite_pool().unwrap())
            .await
            .unwrap();
        assert_eq!(reader.versions(org, None), Some(Some((2, None))));
        store.close().await;
    }

    /// Closed before its first read, a reader keeps nothing either.
    #[tokio::test]
    async fn a_reader_closed_before_use_keeps_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let store = store(&path).await;
        let org = one_organization(&store, 1).await;
        let reader = InlineReader::new(path);
        reader.close();
        assert_eq!(reader.versions(org, None), Some(Some((1, None))));
        assert_eq!(reader.versions(org, None), Some(Some((1, None))));
        assert_eq!(reads(&reader), 2);
        assert!(
            reader.commits.get().is_none(),
            "no watch opened after close"
        );
        store.close().await;
    }

    /// A watch that could not open (no table yet) is tried again, at most once a second.
    #[tokio::test]
    async fn a_watch_that_could_not_open_is_tried_again_a_second_later() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let conn = rusqlite::Connection::open(&path).unwrap();
        let mode: String = conn
            .query_row("PRAGMA journal_mode = wal", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let org = Uuid::new_v4();
        let reader = InlineReader::new(path);
        assert_eq!(reader.versions(org, None), None, "no table: no answer");
        assert!(reader.commits.get().is_none());
        conn.execute_batch(&format!(
            "CREATE TABLE auth_versions (organization_id BLOB PRIMARY KEY, version INTEGER);
             CREATE TABLE item_versions (workspace_id BLOB PRIMARY KEY, version INTEGER);
             INSERT INTO auth_versions VALUES (X'{}', 5);",
            org.simple()
        ))
        .unwrap();
        assert_eq!(reader.versions(org, None), Some(Some((5, None))));
        assert!(
            reader.commits.get().is_none(),
            "not tried again within the second"
        );
        std::thread::sleep(std::time::Duration::from_millis(1100));
        assert_eq!(reader.versions(org, None), Some(Some((5, None))));
        assert!(reader.commits.get().is_some(), "tried again after it");
        let before = reads(&reader);
        assert_eq!(reader.versions(org, None), Some(Some((5, None))));
        assert_eq!(reads(&reader), before, "watched");
    }
}
