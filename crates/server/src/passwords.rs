//! Password hashing: Argon2id for new hashes, and the verification of Argon2 and legacy bcrypt
//! hashes, on a fixed set of worker threads (one per core).
//!
//! An Argon2id hash at the OWASP parameters fills 19 MiB. Each worker keeps its blocks and
//! reuses them from one hash to the next, so a burst of sign-ins costs the same memory as one
//! hash per core, whatever its length; the workers give their blocks back once no job has run
//! on any of them for `KEEP_BLOCKS`.
//! In front of the workers, a fair (FIFO) wait for a free worker, bounded: beyond
//! PASSWORD_HASH_QUEUE waiting hashes the caller gets `Busy` (503 with Retry-After) at once.
//!
//! Sign-ins are also admitted by the wait they can expect (`Passwords::admit`): the password
//! checks in flight ahead of a new one, times the time a hash takes here (measured, smoothed),
//! shared by the workers. Beyond PASSWORD_HASH_MAX_WAIT_MS the sign-in gets `Busy` at once, so
//! a burst is answered within about that time plus its own hash, however slow the machine is,
//! instead of waiting its turn for seconds.

use argon2::password_hash::rand_core::OsRng as HashRng;
use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use flowspace_core::{DomainError, DomainResult};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::{OnceCell, Semaphore, oneshot};

/// How long the workers keep their memory blocks once no hash runs on any of them: long
/// enough for the next queued sign-in to reach a worker (microseconds), short enough that the
/// 19 MiB each are gone before the work that follows a burst of sign-ins adds its own
/// (docs/benchmarks.md, "The peak under sign-ins"). Idle is the pool's, not a worker's: the
/// checks of one account run one at a time, in turn on any worker, and a worker that gave
/// its blocks back between two of them would fault 19 MiB in again for each hash. A sign-in
/// after a pause allocates them anew: a few milliseconds of page faults beside a hash's tens.
const KEEP_BLOCKS: Duration = Duration::from_millis(100);

/// The refusal of a sign-in or a hash that would wait too long (503 with Retry-After): here,
/// in the turns of `login_queue.rs` and in the database's wait of `api/session.rs`.
pub(crate) const TOO_MANY_SIGN_INS: DomainError =
    DomainError::Busy("too many sign-ins at once; retry shortly");

/// The outcome of checking a password.
pub struct Verified {
    pub ok: bool,
    /// The stored hash is legacy (bcrypt) or weaker than the current parameters.
    pub needs_rehash: bool,
}

/// Password hashing off the async workers: one hash per worker at a time, and a bounded
/// queue in front; beyond it callers get `Busy` (503 with Retry-After) rather than piling up.
pub struct Passwords {
    params: Params,
    /// One permit per worker thread: a hash is handed to the pool only once a worker is free,
    /// so the wait is tokio's fair queue and a cancelled request leaves it at once.
    workers: Arc<Semaphore>,
    pool: Pool,
    waiting: AtomicUsize,
    max_waiting: usize,
    /// Worker threads (the permits of `workers`).
    worker_count: usize,
    /// Nanoseconds a hash takes on a worker, smoothed (each new one weighs 1/8); 0 before the
    /// first.
    hash_nanos: Arc<AtomicU64>,
    /// Password checks admitted by `admit` and not finished.
    in_flight: Arc<AtomicUsize>,
    max_wait: Duration,
    dummy: OnceCell<String>,
}

/// A password check's admission (`Passwords::admit`); it leaves the count when dropped.
pub struct Admitted(Arc<AtomicUsize>);

impl Drop for Admitted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Passwords {
    /// Hashing at `memory_kib`/`iterations` on one worker per core; `max_wait` is the wait a
    /// sign-in may expect before `admit` refuses it.
    pub fn new(
        memory_kib: u32,
        iterations: u32,
        max_waiting: usize,
        max_wait: Duration,
    ) -> Result<Self, String> {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        Self::with_workers(memory_kib, iterations, max_waiting, max_wait, cores)
    }

    pub fn with_workers(
        memory_kib: u32,
        iterations: u32,
        max_waiting: usize,
        max_wait: Duration,
        workers: usize,
    ) -> Result<Self, String> {
        let params = Params::new(memory_kib, iterations, 1, None)
            .map_err(|e| format!("argon2 parameters: {e}"))?;
        let workers = workers.max(1);
        Ok(Self {
            pool: Pool::start(workers, params.block_count())
                .map_err(|e| format!("password hashing workers: {e}"))?,
            params,
            workers: Arc::new(Semaphore::new(workers)),
            waiting: AtomicUsize::new(0),
            max_waiting,
            worker_count: workers,
            hash_nanos: Arc::new(AtomicU64::new(0)),
            in_flight: Arc::new(AtomicUsize::new(0)),
            max_wait,
            dummy: OnceCell::new(),
        })
    }

    /// The wait that `queued` password checks ahead of one cost it when `parallel` of them
    /// are hashed at a time (at most one per worker): each a hash's measured time.
    fn expected_wait(&self, queued: usize, parallel: usize) -> Duration {
        let parallel = parallel.clamp(1, self.worker_count) as u64;
        Duration::from_nanos(
            self.hash_nanos
                .load(Ordering::Relaxed)
                .saturating_mul(queued as u64)
                / parallel,
        )
    }

    /// The wait a sign-in may expect before it is refused (PASSWORD_HASH_MAX_WAIT_MS).
    pub fn max_wait(&self) -> Duration {
        self.max_wait
    }

    /// `Busy` when a check admitted now would expect too long a wait for the workers (see
    /// `admit`); counts nothing: the cheap refusal before any work.
    pub fn check_admission(&self) -> DomainResult<()> {
        self.refuse_beyond(self.in_flight.load(Ordering::SeqCst))
    }

    fn refuse_beyond(&self, ahead: usize) -> DomainResult<()> {
        let queued = (ahead + 1).saturating_sub(self.worker_count);
        if self.expected_wait(queued, self.worker_count) > self.max_wait {
            return Err(TOO_MANY_SIGN_INS);
        }
        Ok(())
    }

    /// Admits one password check that is about to hash (it has its turn among the checks of
    /// its email and IP) when the wait it can expect is at most `max_wait`: the checks already
    /// admitted beyond one per worker, each a hash's time, shared by the workers. While a
    /// worker is free it is always admitted; otherwise `Busy` (503 with Retry-After) at once.
    /// Hold the `Admitted` until the check is over.
    pub fn admit(&self) -> DomainResult<Admitted> {
        let ahead = self.in_flight.fetch_add(1, Ordering::SeqCst);
        let admitted = Admitted(self.in_flight.clone());
        self.refuse_beyond(ahead)?;
        Ok(admitted)
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Blocks) -> T + Send + 'static,
    ) -> DomainResult<T> {
        // The place in the queue is given back by `Drop`, so a request cancelled while it
        // waits (a client that hangs up) cannot leak it.
        struct Waiting<'a>(&'a AtomicUsize);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        let queued = self.waiting.fetch_add(1, Ordering::SeqCst);
        let place = Waiting(&self.waiting);
        if queued >= self.max_waiting {
            return Err(TOO_MANY_SIGN_INS);
        }
        let permit = self.workers.clone().acquire_owned().await;
        drop(place);
        let permit = permit.map_err(DomainError::internal)?;
        let (tx, rx) = oneshot::channel();
        let hash_nanos = self.hash_nanos.clone();
        self.pool.submit(Box::new(move |blocks: &mut Blocks| {
            // Nobody waits for it any more (the request was cancelled): skip the work.
            if !tx.is_closed() {
                let started = Instant::now();
                let out = f(blocks);
                let took = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
                let _ = hash_nanos.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| {
                    Some(if old == 0 {
                        took
                    } else {
                        old - old / 8 + took / 8
                    })
                });
                let _ = tx.send(out);
            }
            drop(permit);
        }));
        rx.await
            .map_err(|_| DomainError::Internal("a password hashing worker failed".into()))
    }

    pub async fn hash(&self, password: &str) -> DomainResult<String> {
        let params = self.params.clone();
        let pw = password.to_string();
        self.run(move |blocks| hash_argon2id(&params, pw.as_bytes(), blocks))
            .await?
    }

    pub async fn verify(&self, password: &str, stored: &str) -> DomainResult<Verified> {
        let params = self.params.clone();
        let pw = password.to_string();
        let stored = stored.to_string();
        self.run(move |blocks| {
            if stored.starts_with("$2") {
                let ok = bcrypt::verify(&pw, &stored).unwrap_or(false);
                return Verified {
                    ok,
                    needs_rehash: ok,
                };
            }
            let Ok(parsed) = PasswordHash::new(&stored) else {
                return Verified {
                    ok: false,
                    needs_rehash: false,
                };
            };
            let ok = verify_argon2(&parsed, pw.as_bytes(), blocks);
            let weaker = Params::try_from(&parsed)
                .map(|p| p.m_cost() < params.m_cost() || p.t_cost() < params.t_cost())
                .unwrap_or(true);
            Verified {
                ok,
                needs_rehash: ok && (weaker || parsed.algorithm.as_str() != "argon2id"),
            }
        })
        .await
    }

    /// Spends the time of a real verification, so that an unknown email answers in the same
    /// time class as a wrong password (rule 15).
    pub async fn verify_dummy(&self, password: &str) -> DomainResult<()> {
        let dummy = self
            .dummy
            .get_or_try_init(|| async { self.hash("flowspace-dummy-password").await })
            .await?
            .clone();
        self.verify(password, &dummy).await.map(|_| ())
    }
}

/// A new Argon2id hash of `password` in PHC form, computed in `blocks`.
fn hash_argon2id(params: &Params, password: &[u8], blocks: &mut Blocks) -> DomainResult<String> {
    let salt = SaltString::generate(&mut HashRng);
    let mut salt_buf = [0u8; 64];
    let salt_bytes = salt
        .as_salt()
        .decode_b64(&mut salt_buf)
        .map_err(DomainError::internal)?;
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    blocks
        .with(params.block_count(), |memory| {
            argon.hash_password_into_with_memory(password, salt_bytes, &mut out, memory)
        })
        .map_err(DomainError::internal)?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(DomainError::internal)?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(DomainError::internal)?),
    };
    Ok(hash.to_string())
}

/// Whether `password` matches the Argon2 (any variant) hash `stored`, computed in `blocks`
/// with the stored hash's own algorithm, version, parameters and output length; the outputs
/// are compared in constant time (`Output`'s equality).
fn verify_argon2(stored: &PasswordHash<'_>, password: &[u8], blocks: &mut Blocks) -> bool {
    let (Some(salt), Some(expected)) = (stored.salt, stored.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(stored.algorithm) else {
        return false;
    };
    let Ok(version) = stored
        .version
        .map(Version::try_from)
        .transpose()
        .map(Option::unwrap_or_default)
    else {
        return false;
    };
    let Ok(params) = Params::try_from(stored) else {
        return false;
    };
    let mut salt_buf = [0u8; 64];
    let Ok(salt_bytes) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    let argon = Argon2::new(algorithm, version, params.clone());
    let mut out = vec![0u8; expected.len()];
    let computed = blocks.with(params.block_count(), |memory| {
        argon.hash_password_into_with_memory(password, salt_bytes, &mut out, memory)
    });
    computed.is_ok() && Output::new(&out).is_ok_and(|o| o == expected)
}

/// A worker's memory blocks, kept from one hash to the next.
pub struct Blocks {
    /// The size of a hash at the configured parameters.
    usual: usize,
    kept: Vec<Block>,
}

impl Blocks {
    /// Runs `f` with `n` blocks: the kept ones when `n` is at most the usual size (allocated
    /// on first use), else a one-off allocation (a stored hash with stronger parameters).
    fn with<T>(&mut self, n: usize, f: impl FnOnce(&mut [Block]) -> T) -> T {
        if n > self.usual {
            let mut once = vec![Block::default(); n];
            return f(&mut once);
        }
        if self.kept.len() < self.usual {
            self.kept = vec![Block::default(); self.usual];
        }
        f(&mut self.kept[..n])
    }

    /// The kept blocks, taken out (to be freed by the caller).
    fn take(&mut self) -> Vec<Block> {
        std::mem::take(&mut self.kept)
    }
}

type Job = Box<dyn FnOnce(&mut Blocks) + Send>;

/// The worker threads and their queue (at most one job per worker waits in it: callers take a
/// worker's permit first).
struct Pool {
    shared: Arc<Shared>,
}

struct Shared {
    queue: Mutex<Queue>,
    ready: Condvar,
    /// Held while a worker frees its blocks, so that workers free them one at a time. The
    /// server's allocator (jemalloc, src/main.rs) gives a free of this size back to the OS on
    /// the freeing thread, but not while another thread is giving back pages of the same arena:
    /// it skips them, and they stay until jemalloc's background thread or the next large free
    /// purges them. Two workers freeing at once, as they do when the pool goes idle, kept one
    /// set of blocks resident for up to a second. (The one-off blocks of a stored hash with
    /// stronger parameters, `Blocks::with`, are freed by their job, outside this: rare.)
    freeing: Mutex<()>,
}

struct Queue {
    jobs: VecDeque<Job>,
    closed: bool,
    /// Jobs running on a worker.
    running: usize,
    /// Workers holding their blocks, counted from the end of the job that allocated them.
    holding: usize,
    /// When a job last ended on any worker.
    last_busy: Instant,
}

impl Pool {
    fn start(workers: usize, usual_blocks: usize) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                jobs: VecDeque::new(),
                closed: false,
                running: 0,
                holding: 0,
                last_busy: Instant::now(),
            }),
            ready: Condvar::new(),
            freeing: Mutex::new(()),
        });
        for i in 0..workers {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name(format!("password-hash-{i}"))
                .spawn(move || work(&shared, usual_blocks))?;
        }
        Ok(Self { shared })
    }

    fn submit(&self, job: Job) {
        let mut q = self
            .shared
            .queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        q.jobs.push_back(job);
        drop(q);
        self.shared.ready.notify_one();
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        let mut q = self
            .shared
            .queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        q.closed = true;
        drop(q);
        self.shared.ready.notify_all();
    }
}

/// A worker: runs jobs in turn with its blocks; gives the blocks back once no job has run on
/// any worker for `KEEP_BLOCKS`; ends when the pool is dropped.
fn work(shared: &Shared, usual_blocks: usize) {
    let mut blocks = Blocks {
        usual: usual_blocks,
        kept: Vec::new(),
    };
    let mut q = shared.queue.lock().unwrap_or_else(PoisonError::into_inner);
    loop {
        let job = loop {
            if let Some(job) = q.jobs.pop_front() {
                q.running += 1;
                break job;
            }
            if q.closed {
                return;
            }
            let idle = (q.running == 0).then(|| q.last_busy.elapsed());
            if blocks.kept.is_empty() {
                q = shared.ready.wait(q).unwrap_or_else(PoisonError::into_inner);
            } else if idle.is_some_and(|idle| idle >= KEEP_BLOCKS) {
                // Freed (19 MiB back to the OS) without holding up `submit`, one worker at a
                // time (`Shared::freeing`).
                let freed = blocks.take();
                q.holding -= 1;
                drop(q);
                let one_at_a_time = shared
                    .freeing
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                drop(freed);
                drop(one_at_a_time);
                q = shared.queue.lock().unwrap_or_else(PoisonError::into_inner);
            } else {
                // Woken by a job, or to look again when the pool may have been idle long
                // enough (while another worker hashes: a full KEEP_BLOCKS later).
                let wait = KEEP_BLOCKS.saturating_sub(idle.unwrap_or_default());
                q = shared
                    .ready
                    .wait_timeout(q, wait)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
        };
        drop(q);
        let held = !blocks.kept.is_empty();
        // A job that panics drops its answer's sender (the caller gets an internal error);
        // the worker and its blocks stay.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&mut blocks)));
        q = shared.queue.lock().unwrap_or_else(PoisonError::into_inner);
        q.running -= 1;
        q.last_busy = Instant::now();
        if !held && !blocks.kept.is_empty() {
            q.holding += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
    use std::sync::mpsc::{Receiver, Sender, channel};

    const WAIT: Duration = Duration::from_millis(500);

    #[tokio::test]
    async fn sign_ins_are_admitted_while_their_expected_wait_is_short() {
        let p = Passwords::with_workers(1024, 1, 64, Duration::from_millis(50), 2).unwrap();
        // Before any hash was timed, nothing is refused.
        let early: Vec<_> = (0..10).map(|_| p.admit().unwrap()).collect();
        drop(early);
        p.hash("correct horse").await.unwrap();
        // A hash took 10 ms, say: with 2 workers, the 12th check in flight waits for 10 of
        // them, 50 ms; the 13th would wait 55 ms.
        p.hash_nanos.store(10_000_000, Ordering::Relaxed);
        let ahead: Vec<_> = (0..12).map(|_| p.admit().unwrap()).collect();
        assert!(p.check_admission().is_err(), "the check agrees with admit");
        assert_eq!(p.in_flight.load(Ordering::SeqCst), 12);
        let refused = p.admit();
        assert!(
            matches!(refused, Err(DomainError::Busy(_))),
            "55 ms > 50 ms"
        );
        assert_eq!(
            p.in_flight.load(Ordering::SeqCst),
            12,
            "a refusal is not counted"
        );
        drop(ahead);
        assert_eq!(p.in_flight.load(Ordering::SeqCst), 0);
        // Slower hashes shrink the queue: at 150 ms, the third waits 75 ms.
        p.hash_nanos.store(150_000_000, Ordering::Relaxed);
        let (a, b) = (p.admit().unwrap(), p.admit().unwrap());
        assert!(matches!(p.admit(), Err(DomainError::Busy(_))));
        drop((a, b));
        // And the time is measured: a real hash moves it toward what it took.
        p.hash("correct horse").await.unwrap();
        let now = p.hash_nanos.load(Ordering::Relaxed);
        assert!(now < 150_000_000, "the new hash weighed in: {now}");
    }

    #[tokio::test]
    async fn passwords_hash_verify_and_upgrade_bcrypt() {
        let p = Passwords::new(1024, 1, 8, WAIT).unwrap();
        let h = p.hash("correct horse").await.unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"));
        assert!(p.verify("correct horse", &h).await.unwrap().ok);
        assert!(!p.verify("wrong horse", &h).await.unwrap().ok);
        let legacy = bcrypt::hash("old password", 4).unwrap();
        let v = p.verify("old password", &legacy).await.unwrap();
        assert!(v.ok && v.needs_rehash);
        assert!(!p.verify("nope", &legacy).await.unwrap().ok);
        assert!(!p.verify("x", "not a hash").await.unwrap().ok);
    }

    #[tokio::test]
    async fn hashes_agree_with_the_argon2_crate_both_ways() {
        let p = Passwords::with_workers(1024, 2, 8, WAIT, 1).unwrap();
        // Ours, checked by the crate's own verifier.
        let ours = p.hash("correct horse").await.unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"correct horse", &parsed)
                .is_ok()
        );
        // The crate's, with other variants, versions and parameters (weaker, stronger than
        // the worker's blocks, two lanes, a longer output), checked by ours.
        let cases = [
            (Algorithm::Argon2id, Version::V0x13, 1024, 2, 1, None),
            (Algorithm::Argon2id, Version::V0x13, 512, 1, 1, None),
            (Algorithm::Argon2id, Version::V0x13, 4096, 1, 2, Some(48)),
            (Algorithm::Argon2i, Version::V0x13, 1024, 2, 1, None),
            (Algorithm::Argon2d, Version::V0x10, 1024, 2, 1, None),
        ];
        for (alg, version, m, t, lanes, len) in cases {
            let argon = Argon2::new(alg, version, Params::new(m, t, lanes, len).unwrap());
            let salt = SaltString::generate(&mut HashRng);
            let theirs = argon.hash_password(b"hunter42", &salt).unwrap().to_string();
            let v = p.verify("hunter42", &theirs).await.unwrap();
            assert!(v.ok, "{theirs}");
            let weaker = m < 1024 || t < 2 || alg != Algorithm::Argon2id;
            assert_eq!(v.needs_rehash, weaker, "{theirs}");
            assert!(!p.verify("hunter43", &theirs).await.unwrap().ok, "{theirs}");
        }
    }

    #[tokio::test]
    async fn many_hashes_at_once_share_the_workers() {
        let p = Arc::new(Passwords::with_workers(256, 1, 64, WAIT, 2).unwrap());
        let all = (0..32).map(|i| {
            let p = p.clone();
            tokio::spawn(async move {
                let pw = format!("password {i}");
                let h = p.hash(&pw).await.unwrap();
                p.verify(&pw, &h).await.unwrap().ok
            })
        });
        for ok in futures_util::future::join_all(all).await {
            assert!(ok.unwrap());
        }
        assert_eq!(p.waiting.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn a_cancelled_wait_gives_its_place_back() {
        let p = Arc::new(Passwords::new(1024, 1, 1, WAIT).unwrap());
        // Hold every worker, so that the next hash waits in the queue.
        let n = p.workers.available_permits() as u32;
        let held = p.workers.clone().acquire_many_owned(n).await.unwrap();
        let waiting = tokio::spawn({
            let p = p.clone();
            async move { p.hash("correct horse").await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(p.waiting.load(Ordering::SeqCst), 1);
        assert!(
            matches!(p.hash("another one").await, Err(DomainError::Busy(_))),
            "the queue of one is full"
        );
        waiting.abort();
        let _ = waiting.await;
        assert_eq!(
            p.waiting.load(Ordering::SeqCst),
            0,
            "the cancelled request left the queue"
        );
        drop(held);
        assert!(p.hash("correct horse").await.is_ok());
    }

    const LONG: Duration = Duration::from_secs(10);

    /// Workers of `pool` holding their blocks.
    fn holding(pool: &Pool) -> usize {
        pool.shared.queue.lock().unwrap().holding
    }

    /// Waits (up to LONG) until no worker of `pool` holds blocks; whether that happened.
    fn all_given_back(pool: &Pool) -> bool {
        let start = Instant::now();
        while holding(pool) > 0 {
            if start.elapsed() > LONG {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        true
    }

    /// A job that uses its worker's blocks, says how many were kept before it, then waits
    /// until `go` is sent to (or dropped).
    fn using_blocks(tx: &Sender<usize>, go: Receiver<()>) -> Job {
        let tx = tx.clone();
        Box::new(move |b: &mut Blocks| {
            let before = b.kept.len();
            b.with(8, |m| m.len());
            let _ = tx.send(before);
            let _ = go.recv();
        })
    }

    #[test]
    fn workers_keep_their_blocks_while_any_of_them_works() {
        let pool = Pool::start(2, 8).unwrap();
        let (tx, rx) = channel();
        // One job holds its worker until told; the other, on the other worker, ends.
        let (hold, held) = channel();
        pool.submit(using_blocks(&tx, held));
        pool.submit(using_blocks(&tx, channel().1));
        assert_eq!(rx.recv_timeout(LONG).unwrap(), 0, "allocated on first use");
        assert_eq!(rx.recv_timeout(LONG).unwrap(), 0, "allocated on first use");
        // While one worker works, the other, idle for several KEEP_BLOCKS, keeps its blocks
        // (the working one's are counted once its job ends).
        std::thread::sleep(KEEP_BLOCKS * 4);
        assert_eq!(holding(&pool), 1, "kept while the pool worked");
        drop(hold);
        assert!(all_given_back(&pool), "given back once the pool is idle");
    }

    #[test]
    fn an_idle_worker_gives_its_blocks_back_and_a_dropped_pool_ends_its_workers() {
        let pool = Pool::start(1, 8).unwrap();
        let (tx, rx) = channel();
        // The second job is queued before the first ends: the blocks pass from one to the next.
        let (go, wait) = channel();
        pool.submit(using_blocks(&tx, wait));
        pool.submit(using_blocks(&tx, channel().1));
        assert_eq!(rx.recv_timeout(LONG).unwrap(), 0, "allocated on first use");
        drop(go);
        assert_eq!(rx.recv_timeout(LONG).unwrap(), 8, "kept for the next hash");
        assert!(all_given_back(&pool), "given back when idle");
        let shared = Arc::downgrade(&pool.shared);
        drop(pool);
        for _ in 0..100 {
            if shared.strong_count() == 0 {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(shared.strong_count(), 0, "the worker ended");
    }
}
