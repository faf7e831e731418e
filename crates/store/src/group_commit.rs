//! SQLite's group commit: the writes that arrive together are committed together.
//!
//! SQLite has one writer at a time, and through sqlx every statement of a write transaction is
//! a hand-off to the connection's own thread and back (two thread wake-ups each): a create is
//! six of them (`BEGIN`, the item, the audit chain's three statements, `COMMIT`), all inside
//! the one write lock, so at 64 clients the writes queued behind each other for tens of
//! milliseconds (docs/benchmarks.md, "Writes"). Here one thread owns a read-write `rusqlite`
//! connection to the same file and runs write jobs synchronously: it takes the process's
//! write turn (`Store::write_turn`, shared with the sqlx writers, so the two never race for
//! SQLite's lock), opens one transaction, runs every job waiting at that moment (up to
//! `MAX_BATCH`), each inside its own savepoint, commits once, and only then answers each job.
//!
//! Each job keeps its own result: a job that fails is rolled back to its savepoint and
//! answers its error while the others commit. A job is answered `Ok` only once its batch is
//! committed; if the commit fails, every job of the batch answers the error and none of their
//! writes stays. Durability is the pool's (`journal_mode=WAL`, `synchronous=NORMAL`).

use flowspace_core::{DomainError, DomainResult};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;
use tokio::sync::oneshot;

/// The most jobs committed in one transaction.
const MAX_BATCH: usize = 256;

/// What a job sends back once its batch's commit is known.
type Reply = Box<dyn FnOnce(Result<(), String>) + Send>;
/// A job runs on the writer's connection, or is told why there is none (it then fails); it
/// says whether the transaction is still sound (its savepoint was released or rolled back).
type Job = Box<dyn FnOnce(Result<&rusqlite::Connection, &str>) -> (Reply, bool) + Send>;

pub(crate) struct GroupWriter {
    /// `None` once closed.
    jobs: std::sync::Mutex<Option<mpsc::Sender<Job>>>,
    thread: std::sync::Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl GroupWriter {
    /// Starts the writer thread for the database file `path`; it takes `turn` around each
    /// batch and ends when the writer is closed or dropped.
    pub(crate) fn start(path: PathBuf, turn: Arc<tokio::sync::Mutex<()>>) -> std::io::Result<Self> {
        let (jobs, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || run(&path, &turn, &rx))?;
        Ok(Self {
            jobs: std::sync::Mutex::new(Some(jobs)),
            thread: std::sync::Mutex::new(Some(thread)),
        })
    }

    /// Stops taking writes, lets the thread commit what it has, and waits for it to close its
    /// connection (`Store::close`): later writes answer an error.
    pub(crate) async fn close(&self) {
        if let Ok(mut jobs) = self.jobs.lock() {
            jobs.take();
        }
        let thread = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(thread) = thread {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }

    /// Runs `f` in the next batch, in a savepoint of its own, and answers its result once the
    /// batch is committed.
    pub(crate) async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&rusqlite::Connection) -> DomainResult<T> + Send + 'static,
    ) -> DomainResult<T> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let (out, sound) = match conn {
                Ok(conn) => in_savepoint(conn, f),
                Err(e) => (Err(DomainError::Internal(e.to_string())), true),
            };
            let reply: Reply = Box::new(move |committed: Result<(), String>| {
                let _ = tx.send(match committed {
                    Ok(()) => out,
                    Err(e) => Err(DomainError::Internal(e)),
                });
            });
            (reply, sound)
        });
        let stopped = || DomainError::Internal("the SQLite writer has stopped".into());
        self.jobs
            .lock()
            .map_err(|_| stopped())?
            .as_ref()
            .ok_or_else(stopped)?
            .send(job)
            .map_err(|_| stopped())?;
        rx.await
            .map_err(|_| DomainError::Internal("the SQLite writer dropped a write".into()))?
    }
}

/// A rusqlite error as the store reports database errors.
pub(crate) fn sqlite_err(e: rusqlite::Error) -> DomainError {
    tracing::error!(error = %e, "database error");
    DomainError::Internal(format!("database: {e}"))
}

fn open(path: &PathBuf) -> rusqlite::Result<rusqlite::Connection> {
    use rusqlite::OpenFlags;
    let conn = rusqlite::Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    // The pool's settings (Store::connect), its 512 KiB page cache included; WAL is a
    // property of the file, set there.
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.execute_batch(
        "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA cache_size = -512;",
    )?;
    Ok(conn)
}

/// Runs `f` between `SAVEPOINT` and `RELEASE`, rolling back to the savepoint when it fails
/// (or panics), so that a failed job leaves nothing in the batch. The flag is false when the
/// savepoint could not be ended: the batch must not be committed.
fn in_savepoint<T>(
    conn: &rusqlite::Connection,
    f: impl FnOnce(&rusqlite::Connection) -> DomainResult<T>,
) -> (DomainResult<T>, bool) {
    // Prepared once per connection: these run for every job.
    let run = |sql: &str| conn.prepare_cached(sql).and_then(|mut s| s.execute([]));
    if let Err(e) = run("SAVEPOINT job") {
        return (Err(sqlite_err(e)), false);
    }
    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(conn)))
        .unwrap_or_else(|_| Err(DomainError::Internal("a write job panicked".into())));
    let end = if out.is_ok() {
        run("RELEASE job")
    } else {
        run("ROLLBACK TO job").and_then(|_| run("RELEASE job"))
    };
    match end {
        Ok(_) => (out, true),
        Err(e) => (Err(sqlite_err(e)), false),
    }
}

/// The writer thread: a batch per turn, until every handle is gone.
fn run(path: &PathBuf, turn: &tokio::sync::Mutex<()>, rx: &mpsc::Receiver<Job>) {
    let mut conn: Option<rusqlite::Connection> = None;
    while let Ok(first) = rx.recv() {
        // Not an async context: this thread waits for its turn like any writer, in order.
        let held = turn.blocking_lock();
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if conn.is_none() {
            match open(path) {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    tracing::error!(error = %e, "cannot open the SQLite writer connection");
                    answer_all(batch, format!("database: {e}"));
                    continue;
                }
            }
        }
        let Some(c) = conn.as_ref() else { continue };
        if let Err(e) = c.execute_batch("BEGIN IMMEDIATE") {
            tracing::error!(error = %e, "database error");
            answer_all(batch, format!("database: {e}"));
            conn = None;
            continue;
        }
        // Once a job could not end its savepoint, or SQLite ended the transaction itself (an
        // I/O error, a full disk), the later jobs are not run: outside the transaction each
        // would commit on its own.
        let mut sound = true;
        let mut replies: Vec<Reply> = Vec::with_capacity(batch.len());
        for job in batch {
            if !sound {
                let (reply, _) = job(Err("database: the batch's transaction failed"));
                replies.push(reply);
                continue;
            }
            let (reply, ok) = job(Ok(c));
            sound = ok && !c.is_autocommit();
            replies.push(reply);
        }
        let committed = if sound {
            c.execute_batch("COMMIT").map_err(|e| {
                tracing::error!(error = %e, "database error");
                format!("database: {e}")
            })
        } else {
            Err("database: a write of the batch could not be undone alone".to_string())
        };
        if committed.is_err() {
            let _ = c.execute_batch("ROLLBACK");
            // Start the next batch on a fresh connection.
            conn = None;
        }
        drop(held);
        for reply in replies {
            reply(committed.clone());
        }
    }
}

/// Answers every job of a batch that could not start with `error`, without running them.
fn answer_all(batch: Vec<Job>, error: String) {
    for job in batch {
        let (reply, _) = job(Err(&error));
        reply(Err(error.clone()));
    }
}
