//! Login activity (SPEC: Login activity) and the throttles of rule 15, both kept in the
//! database so that every replica sees the same counts: failed logins per email and per IP
//! (read from `login_events`, each attempt reserved there before its password is checked),
//! and generic fixed-window counters (`rate_limits`) for the other public routes (sign-up,
//! forgot-password, invitation lookups).

use crate::types::Ts;
use crate::{Store, db_err, with_db};
use flowspace_core::authz::AdminScope;
use flowspace_core::cursor::{Cursor, Page, PageRequest, Search};
use flowspace_core::ids::{OrganizationId, UserId};
use flowspace_core::lockout::{Attempts, Decision, LockoutPolicy, UNFINISHED_SECS};
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
    /// The password was right and the second step was asked for (SPEC §9).
    MfaRequired,
    /// A refused second step; the reason says why.
    MfaFailure,
}

impl LoginOutcome {
    pub const ALL: [LoginOutcome; 8] = [
        Self::Success,
        Self::Failure,
        Self::Logout,
        Self::RefreshReuse,
        Self::RefreshFailure,
        Self::PasswordReset,
        Self::MfaRequired,
        Self::MfaFailure,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
            Self::Logout => "logout",
            Self::RefreshReuse => "refresh_reuse",
            Self::RefreshFailure => "refresh_failure",
            Self::PasswordReset => "password_reset",
            Self::MfaRequired => "mfa_required",
            Self::MfaFailure => "mfa_failure",
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
    /// An attempt reserved before its password was checked, whose check has not finished (or
    /// never will: the request was dropped). It counts as a failure.
    pub const UNFINISHED: &str = "unfinished";
    /// Second step (SPEC §9): the `mfaToken` is unknown, expired or spent.
    pub const INVALID_MFA_TOKEN: &str = "invalid_mfa_token";
    /// Second step: a code or recovery code that is not one.
    pub const MALFORMED_CODE: &str = "malformed_code";
    /// Second step: a wrong TOTP code.
    pub const WRONG_CODE: &str = "wrong_code";
    /// Second step: the code of a time step already accepted.
    pub const REUSED_CODE: &str = "reused_code";
    /// Second step: a recovery code that is not the user's, or was used already.
    pub const WRONG_RECOVERY_CODE: &str = "wrong_recovery_code";
    /// Second step: a passkey's answer that does not verify, or answers no options of this
    /// sign-in (none asked for, expired, or answered already: a replay).
    pub const WRONG_PASSKEY: &str = "wrong_passkey";
    /// Second step: a passkey's answer whose signature counter is not above the one stored
    /// (another answer counted first: possibly a cloned authenticator).
    pub const PASSKEY_COUNTER: &str = "passkey_counter";
}

/// A sign-in attempt reserved by `Store::reserve_login_attempt`: the id of its event.
#[derive(Clone, Copy, Debug)]
pub struct LoginAttempt(Uuid);

/// The answer of `Store::reserve_login_attempt`.
#[derive(Clone, Copy, Debug)]
pub enum Reservation {
    /// Check the password, then finish (or release) the attempt.
    Reserved(LoginAttempt),
    /// Locked for this many more seconds; a `locked_out` failure was recorded.
    Locked(i64),
    /// Attempts being checked could use up the limit: try again in a moment. Nothing was
    /// recorded.
    Wait,
}

/// Longest email kept in a login event (and so in the key its failures are counted by).
pub const MAX_EVENT_EMAIL_CHARS: usize = 320;

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
    /// `password` or `oidc`, for sign-ins.
    pub method: Option<&'static str>,
    /// The SSO provider's name, for an `oidc` sign-in.
    pub provider: Option<String>,
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
    /// How the sign-in was made: `password` or `oidc` (none for other events).
    pub method: Option<String>,
    /// The SSO provider's name, for an `oidc` sign-in.
    pub provider: Option<String>,
}

/// Filters of the login activity list; every one optional.
#[derive(Clone, Debug, Default)]
pub struct LoginEventFilter {
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    pub email: Option<String>,
    pub outcome: Option<LoginOutcome>,
    /// `q`: what the event's email must contain, case-insensitively.
    pub search: Search,
}

/// The failures that count (finished, or unfinished before `$3`), the last of them, and the
/// attempts still being checked, of the rows a query selects.
const COUNT_COLS: &str = "
    COALESCE(SUM(CASE WHEN reason = 'unfinished' AND created_at > $3 THEN 0 ELSE 1 END), 0),
    MAX(CASE WHEN reason = 'unfinished' AND created_at > $3 THEN NULL ELSE created_at END),
    COALESCE(SUM(CASE WHEN reason = 'unfinished' AND created_at > $3 THEN 1 ELSE 0 END), 0)";

type Counted = (i64, Option<Ts>, i64);

fn attempts((failures, last, unfinished): Counted) -> Attempts {
    Attempts {
        failures,
        last: last.map(|t| t.0),
        unfinished,
    }
}

const EVENT_COLS: &str =
    "id, user_id, email, outcome, reason, ip, user_agent, created_at, method, provider";

type EventRow = (
    Uuid,
    Option<Uuid>,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Ts,
    Option<String>,
    Option<String>,
);

impl Store {
    /// Records a sign-in event: login success or failure (with its reason), logout, refresh
    /// token reuse or failure, password reset.
    pub async fn record_login_event(&self, ev: &NewLoginEvent) -> DomainResult<()> {
        let now = Ts(Timestamp::now());
        let email_key = ev.email.as_deref().map(normalize_email);
        with_db!(self, pool => {
            sqlx::query("INSERT INTO login_events (id, organization_id, user_id, email, email_key, outcome, reason, ip, user_agent, created_at, method, provider)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)")
                .bind(Uuid::now_v7()).bind(ev.organization.map(|o| o.0)).bind(ev.user.map(|u| u.0))
                .bind(ev.email.as_deref()).bind(email_key.as_deref()).bind(ev.outcome.as_str()).bind(ev.reason)
                .bind(ev.ip.as_deref()).bind(ev.user_agent.as_deref()).bind(now)
                .bind(ev.method).bind(ev.provider.as_deref())
                .execute(pool).await.map_err(db_err)?;
        });
        Ok(())
    }

    /// The organization's login events, newest first: those recorded in it, and those of an
    /// account (recorded in no organization: an account's sign-in is its own, whichever
    /// organization it lands in) that is a member of it — not merely invited: an invitation
    /// to an account of another organization shows nothing of it (rule 17). Events that matched no account (an
    /// unknown email, an unknown refresh token) are the installation's: only the instance
    /// admin sees them (rule 17).
    pub async fn login_events(
        &self,
        scope: &AdminScope,
        filter: &LoginEventFilter,
        page: PageRequest,
    ) -> DomainResult<Page<LoginEvent>> {
        let sql = format!(
            "SELECT {EVENT_COLS} FROM login_events
             WHERE (organization_id = $1
                    OR (organization_id IS NULL
                        AND (user_id IN (SELECT user_id FROM org_members WHERE organization_id = $1 AND status <> 'invited')
                             OR ($9 AND user_id IS NULL))))
               AND ($2 IS NULL OR created_at >= $2) AND ($3 IS NULL OR created_at <= $3)
               AND ($4 IS NULL OR email_key = $4) AND ($5 IS NULL OR outcome = $5)
               AND ($10 IS NULL OR email_key LIKE $10 ESCAPE '\\')
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
                .bind(scope.sees_installation())
                .bind(filter.search.like_pattern())
                .fetch_all(pool).await.map_err(db_err)?
        });
        let items: Vec<LoginEvent> = rows
            .into_iter()
            .map(
                |(id, user, email, outcome, reason, ip, user_agent, at, method, provider)| {
                    LoginEvent {
                        id,
                        user_id: user.map(UserId),
                        email,
                        outcome,
                        reason,
                        ip,
                        user_agent,
                        created_at: at.0,
                        method,
                        provider,
                    }
                },
            )
            .collect();
        Ok(Page::from_rows(items, page.limit, |e| Cursor {
            created_at: e.created_at,
            id: e.id,
        }))
    }

    /// Rule 15, atomically on every replica: reserves a sign-in attempt described by `ev` (a
    /// failure with reason `unfinished` until it is finished) when `LockoutPolicy::decide`
    /// lets it be checked; records a `locked_out` failure when the email or the IP is locked.
    ///
    /// Failures count per email (since its last success) and per IP, within the window; a
    /// refusal while locked does not count, and an attempt unfinished for `UNFINISHED_SECS`
    /// does. The email's and the IP's rows of `login_guards` are locked first, always in that
    /// order, so that parallel attempts on any replica are counted one after another.
    pub async fn reserve_login_attempt(
        &self,
        ev: &NewLoginEvent,
        policy: &LockoutPolicy,
    ) -> DomainResult<Reservation> {
        let now = Timestamp::now();
        let since = Ts(policy.window_start(now));
        let fresh = Ts(now.plus_seconds(-UNFINISHED_SECS));
        let key = ev.email.as_deref().map(normalize_email).unwrap_or_default();
        let id = Uuid::now_v7();
        let decision: Decision = with_db!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = pool.begin().await.map_err(db_err)?;
            for guard in std::iter::once(format!("e:{key}")).chain(ev.ip.as_ref().map(|ip| format!("i:{ip}"))) {
                sqlx::query("INSERT INTO login_guards (key) VALUES ($1) ON CONFLICT (key) DO UPDATE SET key = excluded.key")
                    .bind(guard).execute(&mut *tx).await.map_err(db_err)?;
            }
            let by_email: Counted = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {COUNT_COLS} FROM login_events
                 WHERE email_key = $1 AND outcome = 'failure' AND reason <> 'locked_out' AND created_at > $2
                   AND created_at > COALESCE((SELECT MAX(s.created_at) FROM login_events s
                                              WHERE s.email_key = $1 AND s.outcome IN ('success', 'password_reset')), $2)")))
                .bind(&key).bind(since).bind(fresh).fetch_one(&mut *tx).await.map_err(db_err)?;
            let by_ip: Option<Counted> = match ev.ip.as_deref() {
                Some(ip) => Some(sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {COUNT_COLS} FROM login_events
                     WHERE ip = $1 AND outcome = 'failure' AND reason <> 'locked_out' AND created_at > $2")))
                    .bind(ip).bind(since).bind(fresh).fetch_one(&mut *tx).await.map_err(db_err)?),
                None => None,
            };
            let decision = policy.decide(attempts(by_email), by_ip.map(attempts), now);
            let why = match decision {
                Decision::Check => Some(reason::UNFINISHED),
                Decision::Locked(_) => Some(reason::LOCKED_OUT),
                Decision::Wait => None,
            };
            if let Some(why) = why {
                sqlx::query("INSERT INTO login_events (id, organization_id, user_id, email, email_key, outcome, reason, ip, user_agent, created_at, method, provider)
                             VALUES ($1, $2, $3, $4, $5, 'failure', $6, $7, $8, $9, $10, $11)")
                    .bind(id).bind(ev.organization.map(|o| o.0)).bind(ev.user.map(|u| u.0))
                    .bind(ev.email.as_deref()).bind(&key).bind(why)
                    .bind(ev.ip.as_deref()).bind(ev.user_agent.as_deref()).bind(Ts(now))
                    .bind(ev.method).bind(ev.provider.as_deref())
                    .execute(&mut *tx).await.map_err(db_err)?;
            }
            tx.commit().await.map_err(db_err)?;
            decision
        });
        Ok(match decision {
            Decision::Check => Reservation::Reserved(LoginAttempt(id)),
            Decision::Locked(wait) => Reservation::Locked(wait),
            Decision::Wait => Reservation::Wait,
        })
    }

    /// Forgets a reserved attempt whose password was never checked (the server was too busy
    /// to, or failed): it is no failure.
    pub async fn release_login_attempt(&self, attempt: LoginAttempt) -> DomainResult<()> {
        with_db!(self, pool => {
            sqlx::query("DELETE FROM login_events WHERE id = $1 AND reason = 'unfinished'")
                .bind(attempt.0)
                .execute(pool).await.map_err(db_err)?;
        });
        Ok(())
    }

    /// Records how a reserved attempt ended: a success (`reason` `None`) or a failure with its
    /// reason. The event keeps the time of its reservation.
    pub async fn finish_login_attempt(
        &self,
        attempt: LoginAttempt,
        outcome: LoginOutcome,
        reason: Option<&'static str>,
    ) -> DomainResult<()> {
        with_db!(self, pool => {
            sqlx::query("UPDATE login_events SET outcome = $2, reason = $3 WHERE id = $1")
                .bind(attempt.0).bind(outcome.as_str()).bind(reason)
                .execute(pool).await.map_err(db_err)?;
        });
        Ok(())
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
    fn outcomes_round_trip() {
        for o in LoginOutcome::ALL {
            assert_eq!(LoginOutcome::parse(o.as_str()), Some(o));
        }
        assert_eq!(LoginOutcome::parse("nope"), None);
    }
}
