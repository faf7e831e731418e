//! Login activity (SPEC: Login activity) and the throttles of rule 15, both kept in the
//! database so that every replica sees the same counts: failed logins per email and per IP
//! (read from `login_events`), and generic fixed-window counters (`rate_limits`) for the other
//! public routes (sign-up, forgot-password, invitation lookups).

use crate::types::Ts;
use crate::{Store, db_err, with_db};
use flowspace_core::authz::AdminScope;
use flowspace_core::cursor::{Cursor, Page, PageRequest};
use flowspace_core::ids::{OrganizationId, UserId};
use flowspace_core::rules::normalize_email;
use flowspace_core::time::Timestamp;
use flowspace_core::{DomainError, DomainResult};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// What a login event records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LoginOutcome {
    /// A successful sign-in.
    Success,
    /// A refused sign-in; the reason says why.
    Failure,
    Logout,
    /// A spent refresh token presented again (the session was ended).
    RefreshReuse,
    /// A refresh token that is unknown, expired, of an ended session or of a disabled user.
    RefreshFailure,
    /// A password changed through the reset flow.
    PasswordReset,
}

impl LoginOutcome {
    pub const ALL: [LoginOutcome; 6] = [
        Self::Success,
        Self::Failure,
        Self::Logout,
        Self::RefreshReuse,
        Self::RefreshFailure,
        Self::PasswordReset,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
            Self::Logout => "logout",
            Self::RefreshReuse => "refresh_reuse",
            Self::RefreshFailure => "refresh_failure",
            Self::PasswordReset => "password_reset",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

/// Reason codes of failed sign-ins.
pub mod reason {
    pub const UNKNOWN_EMAIL: &str = "unknown_email";
    pub const WRONG_PASSWORD: &str = "wrong_password";
    pub const DISABLED: &str = "disabled";
    pub const LOCKED_OUT: &str = "locked_out";
}

/// One event to record.
#[derive(Clone, Debug)]
pub struct NewLoginEvent {
    /// `None` when the email matched no user.
    pub organization: Option<OrganizationId>,
    pub user: Option<UserId>,
    /// As typed (for failures) or the user's.
    pub email: Option<String>,
    pub outcome: LoginOutcome,
    /// For failures: one of `reason::*`.
    pub reason: Option<&'static str>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// A recorded event, as `GET /login-activity` shows it.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoginEvent {
    pub id: Uuid,
    pub user_id: Option<UserId>,
    pub email: Option<String>,
    pub outcome: String,
    pub reason: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: Timestamp,
}

/// Filters of the login activity list; every one optional.
#[derive(Clone, Debug, Default)]
pub struct LoginEventFilter {
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    pub email: Option<String>,
    pub outcome: Option<LoginOutcome>,
}

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

const MAX_LOCK_SECS: i64 = 86_400;

/// Seconds left of a lock after `n` failures, the last at `last` (`None`: not locked).
fn lock_left(n: i64, max: i64, last: Option<Ts>, lock_secs: i64, now: Timestamp) -> Option<i64> {
    let last = last?.0;
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

/// How many failures, and when the last one was.
type Failures = (i64, Option<Ts>);

const EVENT_COLS: &str = "id, user_id, email, outcome, reason, ip, user_agent, created_at";

type EventRow = (
    Uuid,
    Option<Uuid>,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Ts,
);

impl Store {
    /// Records a sign-in event: login success or failure (with its reason), logout, refresh
    /// token reuse or failure, password reset.
    pub async fn record_login_event(&self, ev: &NewLoginEvent) -> DomainResult<()> {
        let now = Ts(Timestamp::now());
        let email_key = ev.email.as_deref().map(normalize_email);
        with_db!(self, pool => {
            sqlx::query("INSERT INTO login_events (id, organization_id, user_id, email, email_key, outcome, reason, ip, user_agent, created_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
                .bind(Uuid::now_v7()).bind(ev.organization.map(|o| o.0)).bind(ev.user.map(|u| u.0))
                .bind(ev.email.as_deref()).bind(email_key.as_deref()).bind(ev.outcome.as_str()).bind(ev.reason)
                .bind(ev.ip.as_deref()).bind(ev.user_agent.as_deref()).bind(now)
                .execute(pool).await.map_err(db_err)?;
        });
        Ok(())
    }

    /// The organization's login events, newest first. Events that matched no organization
    /// (an unknown email, an unknown refresh token) are shown too: they are the installation's.
    pub async fn login_events(
        &self,
        scope: &AdminScope,
        filter: &LoginEventFilter,
        page: PageRequest,
    ) -> DomainResult<Page<LoginEvent>> {
        let sql = format!(
            "SELECT {EVENT_COLS} FROM login_events
             WHERE (organization_id = $1 OR organization_id IS NULL)
               AND ($2 IS NULL OR created_at >= $2) AND ($3 IS NULL OR created_at <= $3)
               AND ($4 IS NULL OR email_key = $4) AND ($5 IS NULL OR outcome = $5)
               AND ($6 IS NULL OR created_at < $6 OR (created_at = $6 AND id < $7))
             ORDER BY created_at DESC, id DESC LIMIT $8"
        );
        let email = filter.email.as_deref().map(normalize_email);
        let outcome = filter.outcome.map(LoginOutcome::as_str);
        let rows: Vec<EventRow> = with_db!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(scope.organization().0)
                .bind(filter.from.map(Ts)).bind(filter.to.map(Ts))
                .bind(email.as_deref()).bind(outcome)
                .bind(page.after.map(|c| Ts(c.created_at))).bind(page.after.map(|c| c.id))
                .bind(i64::from(page.limit) + 1)
                .fetch_all(pool).await.map_err(db_err)?
        });
        let items: Vec<LoginEvent> = rows
            .into_iter()
            .map(
                |(id, user, email, outcome, reason, ip, user_agent, at)| LoginEvent {
                    id,
                    user_id: user.map(UserId),
                    email,
                    outcome,
                    reason,
                    ip,
                    user_agent,
                    created_at: at.0,
                },
            )
            .collect();
        Ok(Page::from_rows(items, page.limit, |e| Cursor {
            created_at: e.created_at,
            id: e.id,
        }))
    }

    /// Rule 15: the seconds a sign-in for `email` from `ip` must still wait, or `None`.
    /// Failures count per email (since its last success) and per IP, within the window; a
    /// refusal while locked is not itself counted.
    pub async fn login_lockout(
        &self,
        email: &str,
        ip: Option<&str>,
        policy: &LockoutPolicy,
    ) -> DomainResult<Option<i64>> {
        let now = Timestamp::now();
        let since = Ts(now.plus_seconds(-policy.window_secs.max(0)));
        let key = normalize_email(email);
        let (by_email, by_ip): (Failures, Option<Failures>) = with_db!(self, pool => {
            let by_email = sqlx::query_as(
                "SELECT COUNT(*), MAX(created_at) FROM login_events
                 WHERE email_key = $1 AND outcome = 'failure' AND reason <> 'locked_out' AND created_at > $2
                   AND created_at > COALESCE((SELECT MAX(s.created_at) FROM login_events s
                                              WHERE s.email_key = $1 AND s.outcome IN ('success', 'password_reset')), $2)")
                .bind(&key).bind(since).fetch_one(pool).await.map_err(db_err)?;
            let by_ip = match ip {
                Some(ip) => Some(sqlx::query_as(
                    "SELECT COUNT(*), MAX(created_at) FROM login_events
                     WHERE ip = $1 AND outcome = 'failure' AND reason <> 'locked_out' AND created_at > $2")
                    .bind(ip).bind(since).fetch_one(pool).await.map_err(db_err)?),
                None => None,
            };
            (by_email, by_ip)
        });
        let email_left = lock_left(
            by_email.0,
            policy.max_failures,
            by_email.1,
            policy.lock_secs,
            now,
        );
        let ip_left = by_ip.and_then(|(n, last)| {
            lock_left(n, policy.max_failures_per_ip, last, policy.lock_secs, now)
        });
        Ok(email_left.max(ip_left))
    }

    /// A generic fixed-window rate limit shared by every replica: counts one hit of `key` in
    /// `bucket` (e.g. `"forgot-password"`, an IP) and answers `Some(seconds to wait)` when it
    /// is over `max` hits within `window_secs`, `None` when the hit is allowed.
    pub async fn hit_rate_limit(
        &self,
        bucket: &str,
        key: &str,
        window_secs: i64,
        max: i64,
    ) -> DomainResult<Option<i64>> {
        if window_secs <= 0 {
            return Err(DomainError::invalid("window_secs", "must be positive"));
        }
        let now = Timestamp::now();
        let expired = Ts(now.plus_seconds(-window_secs));
        // One statement, so that concurrent hits on any replica each count once.
        let (hits, start): (i64, Ts) = with_db!(self, pool => {
            sqlx::query_as(
                "INSERT INTO rate_limits (bucket, key, window_start, hits) VALUES ($1, $2, $3, 1)
                 ON CONFLICT (bucket, key) DO UPDATE SET
                     hits = CASE WHEN rate_limits.window_start <= $4 THEN 1 ELSE rate_limits.hits + 1 END,
                     window_start = CASE WHEN rate_limits.window_start <= $4 THEN $3 ELSE rate_limits.window_start END
                 RETURNING hits, window_start")
                .bind(bucket).bind(key).bind(Ts(now)).bind(expired)
                .fetch_one(pool).await.map_err(db_err)?
        });
        if hits <= max {
            return Ok(None);
        }
        let until = start.0.plus_seconds(window_secs);
        Ok(Some(
            ((until.micros() - now.micros() + 999_999) / 1_000_000).max(1),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_doubles_with_each_further_failure_up_to_a_day() {
        let now = Timestamp::from_micros(1_000_000_000_000);
        let last = Some(Ts(now));
        assert_eq!(lock_left(4, 5, last, 60, now), None);
        assert_eq!(lock_left(5, 5, last, 60, now), Some(60));
        assert_eq!(lock_left(6, 5, last, 60, now), Some(120));
        assert_eq!(lock_left(7, 5, last, 60, now), Some(240));
        assert_eq!(lock_left(90, 5, last, 60, now), Some(MAX_LOCK_SECS));
        assert_eq!(lock_left(5, 5, None, 60, now), None);
        let later = now.plus_seconds(61);
        assert_eq!(lock_left(5, 5, last, 60, later), None);
        assert_eq!(lock_left(6, 5, last, 60, later), Some(59));
    }

    #[test]
    fn outcomes_round_trip() {
        for o in LoginOutcome::ALL {
            assert_eq!(LoginOutcome::parse(o.as_str()), Some(o));
        }
        assert_eq!(LoginOutcome::parse("nope"), None);
    }
}
