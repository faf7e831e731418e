//! Passkeys (WebAuthn) as a second factor (SPEC §9): a user's registered credentials (as the
//! server's WebAuthn library serializes them; this crate does not look inside), and the state
//! of a ceremony under way, which only the server holds. A ceremony is taken once: reading it
//! deletes it, so one challenge answers one registration or one sign-in at most.

use crate::types::Ts;
use crate::{Store, db_err, with_db};
use flowspace_core::DomainResult;
use flowspace_core::ids::{PasskeyId, UserId};
use flowspace_core::time::Timestamp;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// A passkey as its owner sees it.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasskeySummary {
    pub id: PasskeyId,
    /// The name its owner gave it ("Laptop").
    pub name: String,
    pub created_at: Timestamp,
    /// When it last proved a sign-in.
    pub last_used_at: Option<Timestamp>,
}

/// A passkey with its stored credential (the WebAuthn library's JSON).
#[derive(Clone, Debug)]
pub struct StoredPasskey {
    pub summary: PasskeySummary,
    pub credential: String,
}

/// What a ceremony is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ceremony {
    /// Registering a new passkey (one at a time per user).
    Register,
    /// The second step of a sign-in (one per `mfaToken`).
    SignIn,
    /// A signed-in user proving one of their passkeys before their second factors change
    /// (one at a time per user).
    Confirm,
}

impl Ceremony {
    fn as_str(self) -> &'static str {
        match self {
            Self::Register => "register",
            Self::SignIn => "sign_in",
            Self::Confirm => "confirm",
        }
    }
}

type Row = (Uuid, String, Ts, Option<Ts>, String);

fn stored((id, name, created_at, last_used_at, credential): Row) -> StoredPasskey {
    StoredPasskey {
        summary: PasskeySummary {
            id: PasskeyId(id),
            name,
            created_at: created_at.0,
            last_used_at: last_used_at.map(|t| t.0),
        },
        credential,
    }
}

impl Store {
    /// Stores a new passkey of `user`; `false` when its credential id is registered already
    /// (to anyone).
    pub async fn add_passkey(
        &self,
        user: UserId,
        credential_id: &[u8],
        name: &str,
        credential: &str,
    ) -> DomainResult<Option<PasskeySummary>> {
        let id = PasskeyId::new();
        let now = Timestamp::now();
        let done = with_db!(self, pool => {
            sqlx::query("INSERT INTO passkeys (id, user_id, credential_id, name, credential, created_at)
                         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (credential_id) DO NOTHING")
                .bind(id.0).bind(user.0).bind(credential_id).bind(name).bind(credential).bind(Ts(now))
                .execute(pool).await.map_err(db_err)?.rows_affected()
        });
        Ok((done == 1).then(|| PasskeySummary {
            id,
            name: name.to_string(),
            created_at: now,
            last_used_at: None,
        }))
    }

    /// The user's passkeys, newest first.
    pub async fn passkeys(&self, user: UserId) -> DomainResult<Vec<StoredPasskey>> {
        let rows: Vec<Row> = with_db!(self, pool => {
            sqlx::query_as("SELECT id, name, created_at, last_used_at, credential FROM passkeys
                            WHERE user_id = $1 ORDER BY created_at DESC, id DESC")
                .bind(user.0).fetch_all(pool).await.map_err(db_err)?
        });
        Ok(rows.into_iter().map(stored).collect())
    }

    /// Removes one of the user's passkeys; `false` when they have none of that id.
    pub async fn delete_passkey(&self, user: UserId, id: PasskeyId) -> DomainResult<bool> {
        let done = with_db!(self, pool => {
            sqlx::query("DELETE FROM passkeys WHERE id = $1 AND user_id = $2")
                .bind(id.0).bind(user.0).execute(pool).await.map_err(db_err)?.rows_affected()
        });
        Ok(done == 1)
    }

    /// Records a use of the passkey: its updated credential (the signature counter) and when
    /// it was used; a compare-and-set: only while its stored credential is still `expected`
    /// (the one the use was checked against). `false` when another use (or a removal) came
    /// first: two assertions checked against one stored counter cannot both be recorded.
    pub async fn passkey_used(
        &self,
        user: UserId,
        id: PasskeyId,
        expected: &str,
        credential: &str,
    ) -> DomainResult<bool> {
        let now = Ts(Timestamp::now());
        let done = with_db!(self, pool => {
            sqlx::query("UPDATE passkeys SET credential = $4, last_used_at = $5
                         WHERE id = $1 AND user_id = $2 AND credential = $3")
                .bind(id.0).bind(user.0).bind(expected).bind(credential).bind(now)
                .execute(pool).await.map_err(db_err)?.rows_affected()
        });
        Ok(done == 1)
    }

    /// Keeps the state of a ceremony of `user` under `key` until `expires_at`, replacing one
    /// under the same key (and forgetting every expired one, of any user: a ceremony never
    /// finished is not kept past its expiry by the next one started).
    pub async fn put_passkey_ceremony(
        &self,
        purpose: Ceremony,
        key: &[u8],
        user: UserId,
        state: &str,
        expires_at: Timestamp,
    ) -> DomainResult<()> {
        let now = Ts(Timestamp::now());
        with_db!(self, pool => {
            sqlx::query("DELETE FROM passkey_ceremonies WHERE expires_at <= $1")
                .bind(now).execute(pool).await.map_err(db_err)?;
            sqlx::query("INSERT INTO passkey_ceremonies (purpose, key, user_id, state, expires_at)
                         VALUES ($1, $2, $3, $4, $5)
                         ON CONFLICT (purpose, key) DO UPDATE SET user_id = excluded.user_id,
                             state = excluded.state, expires_at = excluded.expires_at")
                .bind(purpose.as_str()).bind(key).bind(user.0).bind(state).bind(Ts(expires_at))
                .execute(pool).await.map_err(db_err)?;
        });
        Ok(())
    }

    /// Takes the state of the ceremony of `user` under `key`, once: it is deleted as it is
    /// read, and `None` answers for one that is unknown, another user's, or expired.
    pub async fn take_passkey_ceremony(
        &self,
        purpose: Ceremony,
        key: &[u8],
        user: UserId,
    ) -> DomainResult<Option<String>> {
        let row: Option<(String, Ts)> = with_db!(self, pool => {
            sqlx::query_as("DELETE FROM passkey_ceremonies WHERE purpose = $1 AND key = $2 AND user_id = $3
                            RETURNING state, expires_at")
                .bind(purpose.as_str()).bind(key).bind(user.0).fetch_optional(pool).await.map_err(db_err)?
        });
        let now = Timestamp::now();
        Ok(row.and_then(|(state, expires_at)| (expires_at.0 > now).then_some(state)))
    }
}
