//! A user's own credentials and profile: password-reset tokens (rule 16) and the profile
//! change. Tokens arrive here already hashed (HMAC under TOKEN_HASH_SECRET); spending one is
//! one conditional `UPDATE` inside the transaction that does the work, so two concurrent uses
//! produce one winner.

use crate::audit::{AuditContext, AuditEvent, insert_audit};
use crate::invitations::TokenCheck;
use crate::types::Ts;
use crate::{Store, db_err, with_db};
use flowspace_core::authz::SelfScope;
use flowspace_core::ids::UserId;
use flowspace_core::model::{User, UserStatus};
use flowspace_core::rules::{self, ResetToken};
use flowspace_core::time::Timestamp;
use flowspace_core::{DomainError, DomainResult};
use uuid::Uuid;

impl Store {
    /// Stores a password-reset token for `user`; earlier unused ones stop working.
    #[tracing::instrument(skip_all)]
    pub async fn create_password_reset(
        &self,
        user: UserId,
        token_hash: &[u8],
        expires_at: Timestamp,
    ) -> DomainResult<()> {
        let now = Ts(Timestamp::now());
        with_db!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = pool.begin().await.map_err(db_err)?;
            sqlx::query("DELETE FROM password_resets WHERE user_id = $1 AND used_at IS NULL")
                .bind(user.0).execute(&mut *tx).await.map_err(db_err)?;
            sqlx::query("INSERT INTO password_resets (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
                .bind(token_hash).bind(user.0).bind(now).bind(Ts(expires_at))
                .execute(&mut *tx).await.map_err(db_err)?;
            tx.commit().await.map_err(db_err)?;
        });
        Ok(())
    }

    /// The user a reset token stands for, if `rules::reset_token_check` finds that it can
    /// still be used.
    pub async fn password_reset_user(&self, token_hash: &[u8]) -> DomainResult<TokenCheck<User>> {
        let row: Option<(Uuid, Ts, bool, String)> = with_db!(self, pool => {
            sqlx::query_as("SELECT p.user_id, p.expires_at, p.used_at IS NOT NULL, u.status
                            FROM password_resets p JOIN users u ON u.id = p.user_id WHERE p.token_hash = $1")
                .bind(token_hash).fetch_optional(pool).await.map_err(db_err)?
        });
        let Some((user, expires_at, used, status)) = row else {
            return Ok(TokenCheck::Invalid);
        };
        let token = ResetToken {
            expires_at: expires_at.0,
            used,
            user_status: UserStatus::parse(&status).unwrap_or(UserStatus::Disabled),
        };
        Ok(match rules::reset_token_check(token, Timestamp::now()) {
            TokenCheck::Valid(()) => TokenCheck::Valid(self.user(UserId(user)).await?),
            TokenCheck::Expired => TokenCheck::Expired,
            TokenCheck::Invalid => TokenCheck::Invalid,
        })
    }

    /// Spends a reset token: sets the new hash and ends every session of the user, in one
    /// transaction. `false` when the token was no longer usable. The spend's own condition
    /// (unused, unexpired) is `rules::reset_token_check` again, in SQL, so that two uses of
    /// one token have one winner.
    #[tracing::instrument(skip_all)]
    pub async fn reset_password(
        &self,
        token_hash: &[u8],
        user: UserId,
        password_hash: &str,
        ip: Option<&str>,
    ) -> DomainResult<bool> {
        let now = Ts(Timestamp::now());
        let orgs = self.organizations_of(user).await?;
        Ok(with_db!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = pool.begin().await.map_err(db_err)?;
            let n = sqlx::query("UPDATE password_resets SET used_at = $1
                                 WHERE token_hash = $2 AND user_id = $3 AND used_at IS NULL AND expires_at > $1")
                .bind(now).bind(token_hash).bind(user.0).execute(&mut *tx).await.map_err(db_err)?.rows_affected();
            if n == 1 {
                sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3 AND status = 'active'")
                    .bind(password_hash).bind(now).bind(user.0).execute(&mut *tx).await.map_err(db_err)?;
                sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL")
                    .bind(now).bind(user.0).execute(&mut *tx).await.map_err(db_err)?;
                sqlx::query("DELETE FROM password_resets WHERE user_id = $1 AND used_at IS NULL")
                    .bind(user.0).execute(&mut *tx).await.map_err(db_err)?;
                let ev = AuditEvent {
                    workspace: None,
                    action: "user.password-reset",
                    target_kind: "user",
                    target_id: Some(user.0),
                    summary: serde_json::json!({"sessionsEnded": true}),
                };
                for org in &orgs {
                    insert_audit(&mut tx, &AuditContext::account(*org, user, ip), &ev).await?;
                }
                tx.commit().await.map_err(db_err)?;
                true
            } else {
                tx.rollback().await.map_err(db_err)?;
                false
            }
        }))
    }

    /// The caller's own profile change: a new name and/or password hash. A new password ends
    /// every other session of the user. Recorded in the audit trail of every organization the
    /// account belongs to, as a password reset is.
    #[tracing::instrument(skip_all)]
    pub async fn update_own_profile(
        &self,
        me: &SelfScope,
        name: Option<&str>,
        password_hash: Option<&str>,
    ) -> DomainResult<User> {
        let (user, keep_session) = (me.user_id(), me.session());
        let orgs = self.organizations_of(user).await?;
        let now = Ts(Timestamp::now());
        let before = self.user(user).await?;
        let mut summary = serde_json::Map::new();
        if let Some(n) = name.filter(|n| *n != before.name) {
            summary.insert(
                "name".into(),
                serde_json::json!({"from": before.name, "to": n}),
            );
        }
        if password_hash.is_some() {
            summary.insert("passwordChanged".into(), serde_json::Value::Bool(true));
        }
        with_db!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = pool.begin().await.map_err(db_err)?;
            if let Some(name) = name {
                sqlx::query("UPDATE users SET name = $1, name_key = $4, updated_at = $2 WHERE id = $3")
                    .bind(name).bind(now).bind(user.0).bind(name.to_lowercase()).execute(&mut *tx).await.map_err(db_err)?;
            }
            if let Some(hash) = password_hash {
                sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
                    .bind(hash).bind(now).bind(user.0).execute(&mut *tx).await.map_err(db_err)?;
                sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL AND id <> $3")
                    .bind(now).bind(user.0).bind(keep_session.0)
                    .execute(&mut *tx).await.map_err(db_err)?;
            }
            let ev = AuditEvent {
                workspace: None,
                action: "user.update-self",
                target_kind: "user",
                target_id: Some(user.0),
                summary: serde_json::Value::Object(summary),
            };
            for org in &orgs {
                insert_audit(&mut tx, &AuditContext::account(*org, user, me.ip()), &ev).await?;
            }
            tx.commit().await.map_err(db_err)?;
        });
        self.user(user).await
    }

    /// The password hash of a user, to check a current password.
    pub async fn password_hash_of(&self, user: UserId) -> DomainResult<Option<String>> {
        let row: Option<Option<String>> = with_db!(self, pool => {
            sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
                .bind(user.0).fetch_optional(pool).await.map_err(db_err)?
        });
        row.ok_or(DomainError::NotFound("user"))
    }
}
