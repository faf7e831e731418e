//! The sign-ins of one email (and of one IP) take turns in this process, first come first
//! served, before they reserve their attempt in the database (rule 15,
//! `Store::reserve_login_attempt`). The database still bounds the attempts in flight across
//! every replica; this queue only makes the waiting in one process happen in memory and in
//! order, instead of by polling the database with back-off, where a late request could overtake
//! an early one and a burst of right passwords waited seconds.
//!
//! A key's turns are a `tokio::sync::Semaphore` (fair: waiters are served in the order they
//! came) with as many permits as the lockout lets be checked at once: LOGIN_MAX_FAILURES for an
//! email, LOGIN_MAX_FAILURES_PER_IP for an IP (a limit of 0 turns the lockout, and so the
//! queue, off). The map of keys holds only keys with a sign-in in flight, and at most
//! `MAX_KEYS` of them; beyond that a sign-in is refused as `Busy` (503 with Retry-After).

use flowspace_core::{DomainError, DomainResult};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Keys (emails and IPs) with a sign-in in flight in one process, at most.
pub const MAX_KEYS: usize = 10_000;

/// `Busy` when a sign-in would wait behind `others` sign-ins of one key, `parallel` of which
/// are checked at a time, and `may_wait` says that is too long.
fn refuse_beyond(
    others: usize,
    parallel: usize,
    may_wait: &impl Fn(usize, usize) -> bool,
) -> DomainResult<()> {
    let queued = (others + 1).saturating_sub(parallel);
    if queued > 0 && !may_wait(queued, parallel) {
        return Err(crate::passwords::TOO_MANY_SIGN_INS);
    }
    Ok(())
}

/// The per-key turns of one process.
pub struct LoginQueue {
    keys: Mutex<Keys>,
    max_keys: usize,
    /// Nanoseconds a sign-in holds its turn (its database reservation, its hash, its
    /// answer), smoothed (each new one weighs 1/8); 0 before the first.
    hold_nanos: Arc<AtomicU64>,
}

struct Keys {
    /// A key's semaphore lives as long as a sign-in holds or waits for it.
    live: HashMap<String, Weak<Semaphore>>,
    /// The map's size at which entries of finished keys are swept out.
    sweep_at: usize,
}

/// A sign-in's turn for its email and its IP; the next in line gets it when this is dropped.
pub struct Turn {
    _permits: Vec<OwnedSemaphorePermit>,
    since: Instant,
    hold_nanos: Arc<AtomicU64>,
}

impl Drop for Turn {
    fn drop(&mut self) {
        if self._permits.is_empty() {
            return;
        }
        let took = u64::try_from(self.since.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let _ = self
            .hold_nanos
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| {
                Some(if old == 0 {
                    took
                } else {
                    old - old / 8 + took / 8
                })
            });
    }
}

impl Default for LoginQueue {
    fn default() -> Self {
        Self::new(MAX_KEYS)
    }
}

impl LoginQueue {
    pub fn new(max_keys: usize) -> Self {
        Self {
            keys: Mutex::new(Keys {
                live: HashMap::new(),
                sweep_at: 64,
            }),
            max_keys,
            hold_nanos: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The wait that `queued` sign-ins ahead of one cost it when `parallel` of them hold their
    /// turn at a time: each the time a turn is held here (measured, smoothed), so that it
    /// counts the database's time as well as the hash's.
    pub fn expected_wait(&self, queued: usize, parallel: usize) -> Duration {
        Duration::from_nanos(
            self.hold_nanos
                .load(Ordering::Relaxed)
                .saturating_mul(queued as u64)
                / parallel.max(1) as u64,
        )
    }

    /// Waits for the turn of `email_key` (at most `per_email` sign-ins of it at once) and then
    /// of `ip` (at most `per_ip`), always in that order so that no two sign-ins wait for each
    /// other. A limit of 0 or less lets every sign-in through for that key. Refused as `Busy`
    /// at once when `may_wait(queued, parallel)` says no to waiting behind the `queued`
    /// sign-ins of one of its keys that are ahead of it beyond that key's `parallel` turns.
    pub async fn turn(
        &self,
        email_key: &str,
        per_email: i64,
        ip: Option<&str>,
        per_ip: i64,
        may_wait: impl Fn(usize, usize) -> bool,
    ) -> DomainResult<Turn> {
        let email = self.semaphore(format!("e:{email_key}"), per_email)?;
        let ip = match ip {
            Some(ip) => self.semaphore(format!("i:{ip}"), per_ip)?,
            None => None,
        };
        let keys: Vec<(Arc<Semaphore>, usize)> = [(email, per_email), (ip, per_ip)]
            .into_iter()
            .filter_map(|(s, n)| Some((s?, usize::try_from(n).ok()?)))
            .collect();
        for (s, parallel) in &keys {
            // Every sign-in of the key holds a clone while it waits or checks (the map holds
            // a weak reference): the others are the count less this one.
            refuse_beyond(Arc::strong_count(s) - 1, *parallel, &may_wait)?;
        }
        let mut permits = Vec::with_capacity(2);
        for (s, _) in keys {
            permits.push(s.acquire_owned().await.map_err(DomainError::internal)?);
        }
        Ok(Turn {
            _permits: permits,
            since: Instant::now(),
            hold_nanos: self.hold_nanos.clone(),
        })
    }

    /// `turn`'s refusal, read only and before any other work: `Busy` when the sign-ins of
    /// `email_key` or `ip` in flight already leave too long a wait (the limits and `may_wait`
    /// as for `turn`).
    pub fn check(
        &self,
        email_key: &str,
        per_email: i64,
        ip: Option<&str>,
        per_ip: i64,
        may_wait: impl Fn(usize, usize) -> bool,
    ) -> DomainResult<()> {
        let keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        let in_flight = |key: String| keys.live.get(&key).map_or(0, Weak::strong_count);
        for (key, limit) in [
            (Some(format!("e:{email_key}")), per_email),
            (ip.map(|ip| format!("i:{ip}")), per_ip),
        ] {
            let (Some(key), Ok(parallel @ 1..)) = (key, usize::try_from(limit)) else {
                continue;
            };
            refuse_beyond(in_flight(key), parallel, &may_wait)?;
        }
        Ok(())
    }

    /// The semaphore of `key`, made with `permits` permits when no sign-in of it is in flight;
    /// `None` when the limit is off.
    fn semaphore(&self, key: String, permits: i64) -> DomainResult<Option<Arc<Semaphore>>> {
        let Ok(permits) = usize::try_from(permits) else {
            return Ok(None);
        };
        if permits == 0 {
            return Ok(None);
        }
        let mut keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(s) = keys.live.get(&key).and_then(Weak::upgrade) {
            return Ok(Some(s));
        }
        if keys.live.len() >= keys.sweep_at.min(self.max_keys) {
            keys.live.retain(|_, s| s.strong_count() > 0);
            keys.sweep_at = (keys.live.len() * 2).max(64);
        }
        if keys.live.len() >= self.max_keys {
            return Err(crate::passwords::TOO_MANY_SIGN_INS);
        }
        let s = Arc::new(Semaphore::new(permits));
        keys.live.insert(key, Arc::downgrade(&s));
        Ok(Some(s))
    }

    /// Keys in the map (some may have just finished).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .live
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn turns_of_one_email_are_limited_and_served_in_order() {
        let q = Arc::new(LoginQueue::default());
        let first: Vec<Turn> = futures_util::future::join_all(
            (0..2).map(|_| q.turn("pat@example.com", 2, None, 20, |_, _| true)),
        )
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        for i in 0..5 {
            let (q, tx) = (q.clone(), tx.clone());
            tokio::spawn(async move {
                let turn = q
                    .turn("pat@example.com", 2, None, 20, |_, _| true)
                    .await
                    .unwrap();
                tx.send(i).unwrap();
                tokio::time::sleep(Duration::from_millis(5)).await;
                drop(turn);
            });
            // Each one queued before the next is started.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(rx.try_recv().is_err(), "both turns are taken");
        // Another email is not held up.
        q.turn("sam@example.com", 2, None, 20, |_, _| true)
            .await
            .unwrap();
        drop(first);
        let mut order = Vec::new();
        for _ in 0..5 {
            order.push(rx.recv().await.unwrap());
        }
        assert_eq!(order, [0, 1, 2, 3, 4], "first come, first served");
    }

    #[tokio::test]
    async fn an_ip_limits_every_email_it_signs_in_and_zero_turns_a_limit_off() {
        let q = LoginQueue::default();
        let held = q
            .turn("a@example.com", 5, Some("10.0.0.1"), 1, |_, _| true)
            .await
            .unwrap();
        let other_email = tokio::time::timeout(
            Duration::from_millis(20),
            q.turn("b@example.com", 5, Some("10.0.0.1"), 1, |_, _| true),
        )
        .await;
        assert!(other_email.is_err(), "the IP's one turn is taken");
        q.turn("b@example.com", 5, Some("10.0.0.2"), 1, |_, _| true)
            .await
            .unwrap();
        let _unlimited: Vec<Turn> = futures_util::future::join_all(
            (0..10).map(|_| q.turn("a@example.com", 0, Some("10.0.0.1"), 0, |_, _| true)),
        )
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
        drop(held);
    }

    #[tokio::test]
    async fn finished_keys_leave_the_map_and_it_is_bounded() {
        let q = LoginQueue::new(100);
        for i in 0..1_000 {
            drop(
                q.turn(&format!("u{i}@example.com"), 5, None, 20, |_, _| true)
                    .await
                    .unwrap(),
            );
        }
        assert!(q.len() <= 64, "swept: {}", q.len());
        let emails: Vec<String> = (0..100).map(|i| format!("h{i}@example.com")).collect();
        let held: Vec<Turn> = futures_util::future::join_all(
            emails.iter().map(|e| q.turn(e, 5, None, 20, |_, _| true)),
        )
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
        assert!(matches!(
            q.turn("one-more@example.com", 5, None, 20, |_, _| true)
                .await,
            Err(DomainError::Busy(_))
        ));
        drop(held);
        q.turn("one-more@example.com", 5, None, 20, |_, _| true)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_sign_in_that_may_not_wait_behind_its_key_is_refused_at_once() {
        let q = Arc::new(LoginQueue::default());
        // Waiting behind one is allowed, behind two is not.
        let may_wait = |queued: usize, parallel: usize| {
            assert_eq!(parallel, 2);
            queued <= 1
        };
        let a = q
            .turn("pat@example.com", 2, None, 0, may_wait)
            .await
            .unwrap();
        let b = q
            .turn("pat@example.com", 2, None, 0, may_wait)
            .await
            .unwrap();
        // A third waits behind one (of two checked at a time).
        let third = tokio::spawn({
            let q = q.clone();
            async move {
                q.turn("pat@example.com", 2, None, 0, may_wait)
                    .await
                    .map(drop)
            }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        let fourth = q.turn("pat@example.com", 2, None, 0, may_wait).await;
        assert!(
            matches!(fourth, Err(DomainError::Busy(_))),
            "behind two: refused"
        );
        assert!(
            q.check("pat@example.com", 2, None, 0, may_wait).is_err(),
            "the read-only check agrees"
        );
        assert!(q.check("sam@example.com", 2, None, 0, may_wait).is_ok());
        // Another email is not behind anyone.
        assert!(
            q.turn("sam@example.com", 2, None, 0, may_wait)
                .await
                .is_ok()
        );
        drop((a, b));
        third.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn the_time_a_turn_is_held_is_measured() {
        let q = LoginQueue::default();
        assert_eq!(q.expected_wait(4, 2), Duration::ZERO);
        let turn = q
            .turn("pat@example.com", 2, None, 0, |_, _| true)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(30)).await;
        drop(turn);
        let one = q.expected_wait(1, 1);
        assert!(one >= Duration::from_millis(30), "{one:?}");
        assert_eq!(q.expected_wait(4, 2), one * 2, "4 ahead, 2 at a time");
    }
}
