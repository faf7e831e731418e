//! Multi-factor sign-in (SPEC §9): a user's TOTP secret (sealed by the server before it gets
//! here), their recovery codes (HMACs), the challenges of two-step sign-ins, and the per-user
//! count of second-step proofs checked (passkeys are in `passkeys`). Every check that must hold under parallel requests is
//! one conditional statement: a time step is accepted once, a recovery code and a challenge are
//! spent once, and a code is counted before it is checked.

use crate::types::Ts;
use crate::{Store, db_err, with_db};
use flowspace_core::DomainResult;
use flowspace_core::ids::{UserId, WorkspaceId};
use flowspace_core::model::SealedSecret;
use flowspace_core::time::Timestamp;
use uuid::Uuid;

/// A user's TOTP enrolment.
#[derive(Clone, Debug)]
pub struct StoredTotp {
    pub sealed: SealedSecret,
    /// A first code has proven the authenticator holds the secret.
    pub active: bool,
}

/// What a user has set up as a second factor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MfaStatus {
    pub totp: bool,
    /// Recovery codes not used yet.
    pub recovery_codes_left: i64,
    /// Passkeys registered.
    pub passkeys: i64,
}

impl MfaStatus {
    /// Signing in asks for a second factor (an active authenticator app or a passkey).
    pub fn any(&self) -> bool {
        self.totp || self.passkeys > 0
    }
}

/// A valid challenge of a two-step sign-in.
#[derive(Clone, Copy, Debug)]
pub struct MfaChallenge {
    pub user: UserId,
    /// Where the sign-in lands.
    pub workspace: Option<WorkspaceId>,
}

/// The answer of `Store::count_mfa_attempt`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MfaAttempt {
    /// Counted: check the code.
    Counted,
    /// The limit is used up: refused for this many more seconds.
    Locked(i64),
}

impl Store {
    /// Stores a new (inactive) TOTP secret for `user`, replacing one that was never
    /// activated; `false` when an active one exists (it must be removed first).
    pub async fn enroll_totp(&self, user: UserId, sealed: &SealedSecret) -> DomainResult<bool> {
        let now = Ts(Timestamp::now());
        let done = with_db!(self, pool => {
            sqlx::query(
                "INSERT INTO mfa_totp (user_id, ciphertext, nonce, key_id, active, created_at)
                 VALUES ($1, $2, $3, $4, FALSE, $5)
                 ON CONFLICT (user_id) DO UPDATE SET ciphertext = excluded.ciphertext,
                     nonce = excluded.nonce, key_id = excluded.key_id, created_at = excluded.created_at,
                     last_step = NULL
                 WHERE mfa_totp.active = FALSE")
                .bind(user.0).bind(&sealed.ciphertext).bind(&sealed.nonce).bind(&sealed.key_id).bind(now)
                .execute(pool).await.map_err(db_err)?.rows_affected()
        });
        Ok(done == 1)
    }

    /// The user's TOTP enrolment, if any.
    pub async fn totp(&self, user: UserId) -> DomainResult<Option<StoredTotp>> {
        let row: Option<(Vec<u8>, Vec<u8>, String, bool)> = with_db!(self, pool => {
            sqlx::query_as("SELECT ciphertext, nonce, key_id, active FROM mfa_totp WHERE user_id = $1")
                .bind(user.0).fetch_optional(pool).await.map_err(db_err)?
        });
        Ok(row.map(|(ciphertext, nonce, key_id, active)| StoredTotp {
            sealed: SealedSecret {
                ciphertext,
                nonce,
                key_id,
            },
            active,
        }))
    }

    /// Accepts time step `step` of the user's TOTP, once: `false` when a code of this step or
    /// a later one was accepted already (a replay), or when there is no TOTP.
    pub async fn accept_totp_step(&self, user: UserId, step: i64) -> DomainResult<bool> {
        let done = with_db!(self, pool => {
            sqlx::query("UPDATE mfa_totp SET last_step = $2
                         WHERE user_id = $1 AND active AND (last_step IS NULL OR last_step < $2)")
                .bind(user.0).bind(step).execute(pool).await.map_err(db_err)?.rows_affected()
        });
        Ok(done == 1)
    }

    /// Activates the user's TOTP with its first accepted step and stores their recovery codes
    /// (replacing any), in one transaction; `false` when there is no inactive enrolment.
    pub async fn activate_totp(
        &self,
        user: UserId,
        step: i64,
        recovery_hashes: &[Vec<u8>],
    ) -> DomainResult<bool> {
        let now = Ts(Timestamp::now());
        with_db!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = pool.begin().await.map_err(db_err)?;
            let done = sqlx::query("UPDATE mfa_totp SET active = TRUE, activated_at = $2, last_step = $3
                                    WHERE user_id = $1 AND NOT active")
                .bind(user.0).bind(now).bind(step).execute(&mut *tx).await.map_err(db_err)?.rows_affected();
            if done != 1 {
                return Ok(false);
            }
            sqlx::query("DELETE FROM mfa_recovery_codes WHERE user_id = $1")
                .bind(user.0).execute(&mut *tx).await.map_err(db_err)?;
            for hash in recovery_hashes {
                sqlx::query("INSERT INTO mfa_recovery_codes (user_id, code_hash) VALUES ($1, $2)")
                    .bind(user.0).bind(hash).execute(&mut *tx).await.map_err(db_err)?;
            }
            tx.commit().await.map_err(db_err)?;
        });
        Ok(true)
    }

    /// Removes the user's authenticator app (their TOTP and recovery codes, and their open
    /// challenges and counted attempts; their passkeys stay); whether there was one.
    pub async fn remove_totp(&self, user: UserId) -> DomainResult<bool> {
        with_db!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = pool.begin().await.map_err(db_err)?;
            let removed = sqlx::query("DELETE FROM mfa_totp WHERE user_id = $1")
                .bind(user.0).execute(&mut *tx).await.map_err(db_err)?.rows_affected();
            for table in ["mfa_recovery_codes", "mfa_challenges", "mfa_attempts"] {
                sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table} WHERE user_id = $1")))
                    .bind(user.0).execute(&mut *tx).await.map_err(db_err)?;
            }
            tx.commit().await.map_err(db_err)?;
            Ok(removed > 0)
        })
    }

    /// Spends one of the user's recovery codes, once: `false` when it is not theirs or was
    /// used already.
    pub async fn use_recovery_code(&self, user: UserId, hash: &[u8]) -> DomainResult<bool> {
        let now = Ts(Timestamp::now());
        let done = with_db!(self, pool => {
            sqlx::query("UPDATE mfa_recovery_codes SET used_at = $3
                         WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL")
                .bind(user.0).bind(hash).bind(now).execute(pool).await.map_err(db_err)?.rows_affected()
        });
        Ok(done == 1)
    }

    /// What the user has set up.
    pub async fn mfa_status(&self, user: UserId) -> DomainResult<MfaStatus> {
        let (totp, left, passkeys): (bool, i64, i64) = with_db!(self, pool => {
            sqlx::query_as(
                "SELECT EXISTS (SELECT 1 FROM mfa_totp WHERE user_id = $1 AND active),
                        (SELECT COUNT(*) FROM mfa_recovery_codes WHERE user_id = $1 AND used_at IS NULL),
                        (SELECT COUNT(*) FROM passkeys WHERE user_id = $1)")
                .bind(user.0).fetch_one(pool).await.map_err(db_err)?
        });
        Ok(MfaStatus {
            totp,
            recovery_codes_left: left,
            passkeys,
        })
    }

    /// Stores the challenge of a two-step sign-in (its token's HMAC), valid until `expires_at`.
    pub async fn create_mfa_challenge(
        &self,
        token_hash: &[u8],
        challenge: MfaChallenge,
        expires_at: Timestamp,
    ) -> DomainResult<()> {
        let now = Ts(Timestamp::now());
        with_db!(self, pool => {
            // Expired challenges of this user are of no more use (spent ones expire too).
            sqlx::query("DELETE FROM mfa_challenges WHERE user_id = $1 AND expires_at <= $2")
                .bind(challenge.user.0).bind(now).execute(pool).await.map_err(db_err)?;
            sqlx::query("INSERT INTO mfa_challenges (token_hash, user_id, workspace_id, created_at, expires_at)
                         VALUES ($1, $2, $3, $4, $5)")
                .bind(token_hash).bind(challenge.user.0).bind(challenge.workspace.map(|w| w.0))
                .bind(now).bind(Ts(expires_at))
                .execute(pool).await.map_err(db_err)?;
        });
        Ok(())
    }

    /// The challenge of this token, and whether it may still be used (unspent and unexpired):
    /// a spent or expired one still names whose it was, for the login activity.
    pub async fn mfa_challenge(
        &self,
        token_hash: &[u8],
    ) -> DomainResult<Option<(MfaChallenge, bool)>> {
        let now = Ts(Timestamp::now());
        let row: Option<(Uuid, Option<Uuid>, bool)> = with_db!(self, pool => {
            sqlx::query_as("SELECT user_id, workspace_id, (used_at IS NULL AND expires_at > $2) FROM mfa_challenges
                            WHERE token_hash = $1")
                .bind(token_hash).bind(now).fetch_optional(pool).await.map_err(db_err)?
        });
        Ok(row.map(|(user, ws, usable)| {
            (
                MfaChallenge {
                    user: UserId(user),
                    workspace: ws.map(WorkspaceId),
                },
                usable,
            )
        }))
    }

    /// Spends the challenge, once: `false` when it was spent (or expired) meanwhile.
    pub async fn spend_mfa_challenge(&self, token_hash: &[u8]) -> DomainResult<bool> {
        let now = Ts(Timestamp::now());
        let done = with_db!(self, pool => {
            sqlx::query("UPDATE mfa_challenges SET used_at = $2
                         WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2")
                .bind(token_hash).bind(now).execute(pool).await.map_err(db_err)?.rows_affected()
        });
        Ok(done == 1)
    }

    /// Counts one second-step code of `user` before it is checked, in one statement (so
    /// parallel guesses on any replica are counted one after another): at most `max` within
    /// `lock_secs` of the last one counted; beyond that the user is locked until then.
    pub async fn count_mfa_attempt(
        &self,
        user: UserId,
        max: i64,
        lock_secs: i64,
    ) -> DomainResult<MfaAttempt> {
        let now = Timestamp::now();
        let stale = Ts(now.plus_seconds(-lock_secs));
        let counted: Option<(i64,)> = with_db!(self, pool => {
            sqlx::query_as(
                "INSERT INTO mfa_attempts (user_id, attempts, last_at) VALUES ($1, 1, $2)
                 ON CONFLICT (user_id) DO UPDATE SET
                     attempts = CASE WHEN mfa_attempts.last_at <= $3 THEN 1 ELSE mfa_attempts.attempts + 1 END,
                     last_at = excluded.last_at
                 WHERE mfa_attempts.attempts < $4 OR mfa_attempts.last_at <= $3
                 RETURNING attempts")
                .bind(user.0).bind(Ts(now)).bind(stale).bind(max)
                .fetch_optional(pool).await.map_err(db_err)?
        });
        if counted.is_some() {
            return Ok(MfaAttempt::Counted);
        }
        let last: Option<(Ts,)> = with_db!(self, pool => {
            sqlx::query_as("SELECT last_at FROM mfa_attempts WHERE user_id = $1")
                .bind(user.0).fetch_optional(pool).await.map_err(db_err)?
        });
        let until = last.map_or(now, |(t,)| t.0.plus_seconds(lock_secs));
        // (A parallel attempt may have stamped `last_at` after this one read the clock.)
        Ok(MfaAttempt::Locked(
            ((until.micros() - now.micros() + 999_999) / 1_000_000).clamp(1, lock_secs.max(1)),
        ))
    }

    /// Forgets the user's counted codes once one was right.
    pub async fn clear_mfa_attempts(&self, user: UserId) -> DomainResult<()> {
        with_db!(self, pool => {
            sqlx::query("DELETE FROM mfa_attempts WHERE user_id = $1")
                .bind(user.0).execute(pool).await.map_err(db_err)?;
        });
        Ok(())
    }
}

impl Store {
    /// An owner resets a member's second factors (SPEC §9): their TOTP, recovery codes,
    /// passkeys, open challenges and ceremonies and counted attempts go, audited (`member.mfa_reset`) in the same
    /// transaction. Someone who is no member of the organization is not found. Answers the
    /// member, for the notice they are sent.
    pub async fn reset_member_mfa(
        &self,
        scope: &flowspace_core::authz::AdminScope,
        id: UserId,
    ) -> DomainResult<flowspace_core::model::User> {
        use crate::audit::{AuditContext, AuditEvent, insert_audit};
        let ctx = AuditContext::from_admin(scope);
        let org = scope.organization();
        with_db!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = pool.begin().await.map_err(db_err)?;
            let (member, _) = crate::users::lock_member(&mut tx, org, id).await?;
            // Only an account this organization alone holds: an invited or disabled member,
            // or one who also belongs to another organization, keeps its second factor (one
            // organization's owner must not weaken another's member).
            let elsewhere: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM org_members WHERE user_id = $1 AND organization_id <> $2)")
                .bind(id.0).bind(org.0).fetch_one(&mut *tx).await.map_err(db_err)?;
            if member.status != flowspace_core::model::UserStatus::Active || elsewhere {
                return Err(flowspace_core::DomainError::conflict(
                    "mfa_reset_not_allowed",
                    "only an active member who belongs to no other organization can have two-factor sign-in reset here",
                ));
            }
            let removed = sqlx::query("DELETE FROM mfa_totp WHERE user_id = $1")
                .bind(id.0).execute(&mut *tx).await.map_err(db_err)?.rows_affected();
            let passkeys = sqlx::query("DELETE FROM passkeys WHERE user_id = $1")
                .bind(id.0).execute(&mut *tx).await.map_err(db_err)?.rows_affected();
            for table in ["mfa_recovery_codes", "mfa_challenges", "mfa_attempts", "passkey_ceremonies"] {
                sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table} WHERE user_id = $1")))
                    .bind(id.0).execute(&mut *tx).await.map_err(db_err)?;
            }
            let ev = AuditEvent {
                workspace: None,
                action: "member.mfa_reset",
                target_kind: "user",
                target_id: Some(id.0),
                summary: serde_json::json!({"email": member.email, "hadTotp": removed > 0, "passkeys": passkeys}),
            };
            insert_audit(&mut tx, &ctx, &ev).await?;
            tx.commit().await.map_err(db_err)?;
            Ok(member)
        })
    }
}
