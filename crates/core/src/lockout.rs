//! Rule 15's lockout as pure functions: how many failed sign-ins an email or an IP may have
//! within the window, how long the lock lasts once they are used up, and what a new attempt
//! may do while others are still being checked. The store counts the failures and reserves
//! attempts atomically (`flowspace_store::Store::reserve_login_attempt`); this module decides
//! what the counts mean.

use crate::time::Timestamp;

/// Rule 15's limits on failed sign-ins.
#[derive(Clone, Copy, Debug)]
pub struct LockoutPolicy {
    /// Failures of one email within the window before it is locked.
    pub max_failures: i64,
    /// Failures from one IP within the window before it is locked.
    pub max_failures_per_ip: i64,
    pub window_secs: i64,
    /// The first lock's length; each further failure doubles it (at most a day).
    pub lock_secs: i64,
}

/// The longest a lock lasts, however many failures there were.
pub const MAX_LOCK_SECS: i64 = 86_400;

/// How long an attempt may be reserved without finishing before it counts as a failure (its
/// request was dropped, or its replica stopped).
pub const UNFINISHED_SECS: i64 = 30;

/// The sign-ins of one email or one IP within the window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Attempts {
    /// Failures that count (finished ones, and unfinished ones older than `UNFINISHED_SECS`).
    pub failures: i64,
    /// When the last of those was.
    pub last: Option<Timestamp>,
    /// Attempts reserved and still being checked.
    pub unfinished: i64,
}

/// What a new sign-in attempt may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Reserve it and check the password.
    Check,
    /// Locked: refuse it (429) for this many more seconds.
    Locked(i64),
    /// Not locked, but the attempts being checked could use up what is left of the limit if
    /// they fail: wait for them (a burst of right passwords is slowed down; the server answers
    /// 503 only once the wait passes PASSWORD_HASH_MAX_WAIT_MS).
    Wait,
}

impl LockoutPolicy {
    /// The earliest failure that still counts at `now`.
    pub fn window_start(&self, now: Timestamp) -> Timestamp {
        now.plus_seconds(-self.window_secs.max(0))
    }

    /// Seconds left of the lock of an email with `n` failures in the window, the last at
    /// `last` (`None`: not locked, another attempt may be checked).
    pub fn email_lock(&self, n: i64, last: Option<Timestamp>, now: Timestamp) -> Option<i64> {
        lock_left(n, self.max_failures, last, self.lock_secs, now)
    }

    /// The same for an IP.
    pub fn ip_lock(&self, n: i64, last: Option<Timestamp>, now: Timestamp) -> Option<i64> {
        lock_left(n, self.max_failures_per_ip, last, self.lock_secs, now)
    }

    /// Rule 15 for a new attempt: locked by the email's or the IP's failures (the longer lock
    /// wins); else it waits while the attempts being checked could use up what is left of
    /// either limit if they fail, so that at most the limit of passwords is ever checked (once
    /// a lock is over, what is left is one attempt at a time: a failure locks again, for
    /// longer); else it is checked.
    pub fn decide(&self, email: Attempts, ip: Option<Attempts>, now: Timestamp) -> Decision {
        let email_lock = self.email_lock(email.failures, email.last, now);
        let ip_lock = ip.and_then(|a| self.ip_lock(a.failures, a.last, now));
        if let Some(wait) = email_lock.max(ip_lock) {
            return Decision::Locked(wait);
        }
        let full = |a: Attempts, max: i64| max > 0 && a.unfinished >= (max - a.failures).max(1);
        if full(email, self.max_failures) || ip.is_some_and(|a| full(a, self.max_failures_per_ip)) {
            return Decision::Wait;
        }
        Decision::Check
    }
}

/// Seconds left of a lock after `n` failures against a limit of `max`, the last at `last`.
/// A limit of 0 or less turns the lock off. Reaching the limit locks for `lock_secs`; every
/// failure beyond it doubles that, up to `MAX_LOCK_SECS`.
fn lock_left(
    n: i64,
    max: i64,
    last: Option<Timestamp>,
    lock_secs: i64,
    now: Timestamp,
) -> Option<i64> {
    let last = last?;
    if max <= 0 || n < max {
        return None;
    }
    let doublings = (n - max).min(20) as u32;
    let lock = lock_secs
        .max(1)
        .saturating_mul(1_i64 << doublings)
        .min(MAX_LOCK_SECS);
    let until = last.plus_seconds(lock);
    (until > now).then(|| (until.micros() - now.micros() + 999_999) / 1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> LockoutPolicy {
        LockoutPolicy {
            max_failures: 5,
            max_failures_per_ip: 20,
            window_secs: 900,
            lock_secs: 60,
        }
    }

    #[test]
    fn the_lock_doubles_with_each_further_failure_up_to_a_day() {
        let now = Timestamp::from_micros(1_000_000_000_000);
        let last = Some(now);
        let p = policy();
        assert_eq!(p.email_lock(4, last, now), None, "below the limit");
        assert_eq!(p.email_lock(5, last, now), Some(60));
        assert_eq!(p.email_lock(6, last, now), Some(120));
        assert_eq!(p.email_lock(7, last, now), Some(240));
        assert_eq!(p.email_lock(90, last, now), Some(MAX_LOCK_SECS));
        assert_eq!(p.email_lock(5, None, now), None, "no failure, no lock");
        let later = now.plus_seconds(61);
        assert_eq!(p.email_lock(5, last, later), None, "the lock ran out");
        assert_eq!(p.email_lock(6, last, later), Some(59));
    }

    #[test]
    fn emails_and_ips_have_their_own_limit_and_zero_turns_a_limit_off() {
        let now = Timestamp::from_micros(1_000_000_000_000);
        let p = policy();
        assert_eq!(p.ip_lock(19, Some(now), now), None);
        assert_eq!(p.ip_lock(20, Some(now), now), Some(60));
        let off = LockoutPolicy {
            max_failures: 0,
            ..p
        };
        assert_eq!(off.email_lock(1_000, Some(now), now), None);
        assert_eq!(p.window_start(now), now.plus_seconds(-900));
    }

    #[test]
    fn attempts_being_checked_make_the_next_wait_never_exceed_the_limit() {
        let now = Timestamp::from_micros(1_000_000_000_000);
        let p = policy();
        let email = |failures, unfinished| Attempts {
            failures,
            last: (failures > 0).then_some(now),
            unfinished,
        };
        assert_eq!(p.decide(email(0, 0), None, now), Decision::Check);
        assert_eq!(p.decide(email(2, 2), None, now), Decision::Check);
        assert_eq!(
            p.decide(email(2, 3), None, now),
            Decision::Wait,
            "5 may fail"
        );
        assert_eq!(p.decide(email(0, 5), None, now), Decision::Wait);
        assert_eq!(p.decide(email(5, 0), None, now), Decision::Locked(60));
        assert_eq!(p.decide(email(5, 3), None, now), Decision::Locked(60));
        // The lock over (a minute after the fifth failure), one attempt may be checked at a
        // time: not a wait until the failures leave the window.
        let later = now.plus_seconds(61);
        assert_eq!(p.decide(email(5, 0), None, later), Decision::Check);
        assert_eq!(p.decide(email(5, 1), None, later), Decision::Wait);
        assert_eq!(p.decide(email(7, 0), None, later), Decision::Locked(179));
        let ip = Attempts {
            failures: 19,
            last: Some(now),
            unfinished: 1,
        };
        assert_eq!(p.decide(email(0, 0), Some(ip), now), Decision::Wait);
        let ip = Attempts { failures: 21, ..ip };
        assert_eq!(
            p.decide(email(5, 0), Some(ip), now),
            Decision::Locked(120),
            "the longer lock wins"
        );
        let off = LockoutPolicy {
            max_failures: 0,
            max_failures_per_ip: 0,
            ..p
        };
        assert_eq!(off.decide(email(50, 50), Some(ip), now), Decision::Check);
    }
}
