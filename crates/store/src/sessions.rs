//! Sessions and their refresh tokens (SPEC: Session). A refresh token is stored only as its
//! HMAC; every refresh spends the presented token and stores the next one, and a spent token
//! presented again revokes the whole session.

use crate::types::Ts;
use crate::{Backend, Store, db_err, with_db};
use flowspace_core::authz::SelfScope;
use flowspace_core::ids::{OrganizationId, SessionId, UserId, WorkspaceId};
use flowspace_core::model::Session;
use flowspace_core::time::Timestamp;
use flowspace_core::{DomainError, DomainResult};
use uuid::Uuid;

/// A refresh token to store: its HMAC and when it expires.
pub struct StoredRefresh {
    pub hash: Vec<u8>,
    pub expires_at: Timestamp,
}

#[derive(Debug, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// The token was current: it is now spent and the new one stored.
    Rotated { session: SessionId, user: UserId },
    /// The token had been spent already: the session is now revoked.
    Reused { session: SessionId, user: UserId },
    /// Unknown, expired, or of a revoked session.
    Invalid,
}

impl Store {
    /// Opens a session of `user` with its first refresh token. `provider_mfa`: an SSO sign-in
    /// whose ID token's `amr` named a second factor opened it (SPEC §9: it then counts as MFA
    /// for `mfaRequired` while the session lasts, and only in the organization of
    /// `active_workspace`, whose provider said so: that organization becomes the session's
    /// active one); never for a password sign-in.
    pub async fn create_session(
        &self,
        user: UserId,
        active_workspace: Option<WorkspaceId>,
        ip: Option<&str>,
        user_agent: Option<&str>,
        provider_mfa: bool,
        refresh: &StoredRefresh,
    ) -> DomainResult<SessionId> {
        let id = SessionId::new();
        let now = Ts(Timestamp::now());
        with_db!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = pool.begin().await.map_err(db_err)?;
            sqlx::query("INSERT INTO sessions (id, user_id, active_workspace_id, created_at, ip, user_agent, provider_mfa, active_organization_id)
                          VALUES ($1, $2, $3, $4, $5, $6, $7,
                                  CASE WHEN $7 THEN (SELECT w.organization_id FROM workspaces w WHERE w.id = $3) END)")
                .bind(id.0).bind(user.0).bind(active_workspace.map(|w| w.0)).bind(now).bind(ip).bind(user_agent).bind(provider_mfa)
                .execute(&mut *tx).await.map_err(db_err)?;
            sqlx::query("INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
                .bind(&refresh.hash).bind(id.0).bind(now).bind(Ts(refresh.expires_at))
                .execute(&mut *tx).await.map_err(db_err)?;
            tx.commit().await.map_err(db_err)?;
        });
        Ok(id)
    }

    /// Spends `presented` and stores `next` in its place, or detects reuse.
    #[tracing::instrument(skip_all)]
    pub async fn rotate_refresh(
        &self,
        presented: &[u8],
        next: &StoredRefresh,
    ) -> DomainResult<RefreshOutcome> {
        let now = Ts(Timestamp::now());
        with_db!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = pool.begin().await.map_err(db_err)?;
            // Write first: the conditional update is what makes two concurrent refreshes with
            // one token produce one winner.
            let spent = sqlx::query("UPDATE refresh_tokens SET spent_at = $1
                                     WHERE token_hash = $2 AND spent_at IS NULL AND expires_at > $1
                                       AND session_id IN (SELECT id FROM sessions WHERE revoked_at IS NULL)")
                .bind(now).bind(presented).execute(&mut *tx).await.map_err(db_err)?
                .rows_affected();
            let row: Option<(Uuid, Uuid, Option<Ts>)> = sqlx::query_as(
                "SELECT s.id, s.user_id, rt.spent_at FROM refresh_tokens rt JOIN sessions s ON s.id = rt.session_id WHERE rt.token_hash = $1")
                .bind(presented).fetch_optional(&mut *tx).await.map_err(db_err)?;
            let Some((session, user, spent_at)) = row else {
                return Ok(RefreshOutcome::Invalid);
            };
            let (session, user) = (SessionId(session), UserId(user));
            if spent == 1 {
                sqlx::query("INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
                    .bind(&next.hash).bind(session.0).bind(now).bind(Ts(next.expires_at))
                    .execute(&mut *tx).await.map_err(db_err)?;
                tx.commit().await.map_err(db_err)?;
                return Ok(RefreshOutcome::Rotated { session, user });
            }
            if spent_at.is_some() {
                sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                    .bind(now).bind(session.0).execute(&mut *tx).await.map_err(db_err)?;
                tx.commit().await.map_err(db_err)?;
                return Ok(RefreshOutcome::Reused { session, user });
            }
            Ok(RefreshOutcome::Invalid)
        })
    }

    pub async fn revoke_session(&self, session: SessionId) -> DomainResult<()> {
        let now = Ts(Timestamp::now());
        with_db!(self, pool => {
            sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(now).bind(session.0).execute(pool).await.map_err(db_err)?;
        });
        Ok(())
    }

    /// The caller's open sessions (`GET /auth/sessions`): not ended, with a refresh token that
    /// is unspent and unexpired; the one seen last first. A session is seen when it signs in
    /// and at each refresh (the newest refresh token's creation).
    #[tracing::instrument(skip_all)]
    pub async fn open_sessions(&self, me: &SelfScope) -> DomainResult<Vec<Session>> {
        let now = Ts(Timestamp::now());
        type Row = (Uuid, Ts, Option<String>, Option<String>, Option<Ts>);
        let rows: Vec<Row> = with_db!(self, pool => {
            sqlx::query_as(
                "SELECT s.id, s.created_at, s.ip, s.user_agent,
                        (SELECT MAX(rt.created_at) FROM refresh_tokens rt WHERE rt.session_id = s.id) AS seen
                 FROM sessions s
                 WHERE s.user_id = $1 AND s.revoked_at IS NULL
                   AND EXISTS (SELECT 1 FROM refresh_tokens rt
                               WHERE rt.session_id = s.id AND rt.spent_at IS NULL AND rt.expires_at > $2)
                 ORDER BY seen DESC, s.id")
                .bind(me.user_id().0).bind(now).fetch_all(pool).await.map_err(db_err)?
        });
        Ok(rows
            .into_iter()
            .map(|(id, created, ip, user_agent, seen)| Session {
                id: SessionId(id),
                device: flowspace_core::device::describe(user_agent.as_deref()),
                user_agent,
                ip,
                created_at: created.0,
                last_seen_at: seen.unwrap_or(created).0,
                current: id == me.session().0,
            })
            .collect())
    }

    /// Ends one of the caller's own sessions (`DELETE /auth/sessions/{id}`); another user's, or
    /// one already ended, is not found.
    #[tracing::instrument(skip_all)]
    pub async fn revoke_own_session(&self, me: &SelfScope, id: SessionId) -> DomainResult<()> {
        let now = Ts(Timestamp::now());
        let n = with_db!(self, pool => {
            sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL")
                .bind(now).bind(id.0).bind(me.user_id().0).execute(pool).await.map_err(db_err)?
                .rows_affected()
        });
        if n == 0 {
            return Err(DomainError::NotFound("session"));
        }
        Ok(())
    }

    /// Ends every session of the caller but the one of this request ("sign out everywhere
    /// else"): how many.
    #[tracing::instrument(skip_all)]
    pub async fn revoke_other_sessions(&self, me: &SelfScope) -> DomainResult<u64> {
        let now = Ts(Timestamp::now());
        Ok(with_db!(self, pool => {
            sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND id <> $3 AND revoked_at IS NULL")
                .bind(now).bind(me.user_id().0).bind(me.session().0).execute(pool).await.map_err(db_err)?
                .rows_affected()
        }))
    }

    /// Ends every session of a user (password reset, disabling).
    pub async fn revoke_user_sessions(&self, user: UserId) -> DomainResult<u64> {
        let now = Ts(Timestamp::now());
        Ok(with_db!(self, pool => {
            sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL")
                .bind(now).bind(user.0).execute(pool).await.map_err(db_err)?.rows_affected()
        }))
    }

    /// Sets the session's active workspace (and with it its active organization) and
    /// remembers it as the user's last one, there and overall.
    pub async fn set_active_workspace(
        &self,
        session: SessionId,
        user: UserId,
        ws: WorkspaceId,
    ) -> DomainResult<()> {
        with_db!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = pool.begin().await.map_err(db_err)?;
            // The user's row first, then the session's: the order every write of a user takes
            // them (docs/architecture.md, "Lock order on PostgreSQL").
            sqlx::query("UPDATE users SET last_workspace_id = $1 WHERE id = $2")
                .bind(ws.0).bind(user.0).execute(&mut *tx).await.map_err(db_err)?;
            sqlx::query("UPDATE sessions SET active_workspace_id = $1,
                             active_organization_id = (SELECT organization_id FROM workspaces WHERE id = $1)
                         WHERE id = $2")
                .bind(ws.0).bind(session.0).execute(&mut *tx).await.map_err(db_err)?;
            sqlx::query("UPDATE org_members SET last_workspace_id = $1
                         WHERE user_id = $2 AND organization_id = (SELECT organization_id FROM workspaces WHERE id = $1)
                           AND last_workspace_id IS DISTINCT FROM $1")
                .bind(ws.0).bind(user.0).execute(&mut *tx).await.map_err(db_err)?;
            tx.commit().await.map_err(db_err)?;
        });
        Ok(())
    }

    /// Makes `org` the session's active organization, landing in the workspace the user used
    /// last there (`None`: the session falls back to another of theirs there). `false` when the
    /// user is not an active member of `org` (nothing changes).
    pub async fn set_active_organization(
        &self,
        session: SessionId,
        user: UserId,
        org: OrganizationId,
    ) -> DomainResult<bool> {
        // PostgreSQL: the organization's row before the session's (docs/architecture.md, "Lock
        // order on PostgreSQL"). The update's foreign key would share-lock it after the
        // session's row, and a deletion of the organization that holds it and waits for the
        // session's row (`ON DELETE SET NULL`) would deadlock. SQLite: one writer at a time,
        // and a read before the write could not upgrade.
        let lock_org = (self.backend() == Backend::Postgres)
            .then_some("SELECT id FROM organizations WHERE id = $1 FOR KEY SHARE");
        Ok(with_db!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = pool.begin().await.map_err(db_err)?;
            if let Some(sql) = lock_org {
                let found: Option<Uuid> = sqlx::query_scalar(sql)
                    .bind(org.0).fetch_optional(&mut *tx).await.map_err(db_err)?;
                if found.is_none() {
                    return Ok(false);
                }
            }
            let changed = sqlx::query("UPDATE sessions SET active_organization_id = $1,
                             active_workspace_id = (SELECT m.last_workspace_id FROM org_members m
                                                    WHERE m.organization_id = $1 AND m.user_id = $3)
                         WHERE id = $2 AND user_id = $3
                           AND EXISTS (SELECT 1 FROM org_members m
                                       WHERE m.organization_id = $1 AND m.user_id = $3 AND m.status = 'active')")
                .bind(org.0).bind(session.0).bind(user.0).execute(&mut *tx).await.map_err(db_err)?
                .rows_affected() == 1;
            tx.commit().await.map_err(db_err)?;
            changed
        }))
    }
}
