//! Column types shared by both backends: `Ts` is a `Timestamp` stored as INTEGER microseconds
//! in SQLite and as TIMESTAMPTZ in PostgreSQL; permission sets are stored as JSON text.

use flowspace_core::DomainError;
use flowspace_core::permissions::PermissionSet;
use flowspace_core::time::Timestamp;
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo, PgValueRef};
use sqlx::sqlite::{SqliteArgumentsBuffer, SqliteTypeInfo, SqliteValueRef};
use sqlx::{Decode, Encode, Postgres, Sqlite, Type};
use time::OffsetDateTime;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ts(pub Timestamp);

impl From<Timestamp> for Ts {
    fn from(t: Timestamp) -> Self {
        Ts(t)
    }
}

impl Type<Sqlite> for Ts {
    fn type_info() -> SqliteTypeInfo {
        <i64 as Type<Sqlite>>::type_info()
    }
    fn compatible(ty: &SqliteTypeInfo) -> bool {
        <i64 as Type<Sqlite>>::compatible(ty)
    }
}

impl Encode<'_, Sqlite> for Ts {
    fn encode_by_ref(&self, buf: &mut SqliteArgumentsBuffer) -> Result<IsNull, BoxDynError> {
        <i64 as Encode<Sqlite>>::encode_by_ref(&self.0.micros(), buf)
    }
}

impl<'r> Decode<'r, Sqlite> for Ts {
    fn decode(v: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(Ts(Timestamp::from_micros(<i64 as Decode<Sqlite>>::decode(
            v,
        )?)))
    }
}

impl Type<Postgres> for Ts {
    fn type_info() -> PgTypeInfo {
        <OffsetDateTime as Type<Postgres>>::type_info()
    }
    fn compatible(ty: &PgTypeInfo) -> bool {
        <OffsetDateTime as Type<Postgres>>::compatible(ty)
    }
}

impl Encode<'_, Postgres> for Ts {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        <OffsetDateTime as Encode<Postgres>>::encode_by_ref(&self.0.to_offset(), buf)
    }
}

impl<'r> Decode<'r, Postgres> for Ts {
    fn decode(v: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(Ts(Timestamp::from_offset(<OffsetDateTime as Decode<
            Postgres,
        >>::decode(v)?)))
    }
}

pub(crate) fn ts(t: Option<Ts>) -> Option<Timestamp> {
    t.map(|t| t.0)
}

/// Permission sets are kept as a JSON array of catalogue strings, readable in the database.
pub(crate) fn perms_to_text(p: PermissionSet) -> String {
    serde_json::to_string(&p.to_strings()).unwrap_or_else(|_| "[]".to_string())
}

pub(crate) fn perms_from_text(s: &str) -> Result<PermissionSet, DomainError> {
    let list: Vec<String> = serde_json::from_str(s).map_err(DomainError::internal)?;
    // An entry the catalogue no longer has is ignored rather than failing every request.
    Ok(list.iter().filter_map(|p| p.parse().ok()).collect())
}

pub(crate) fn keys_to_text(keys: &[String]) -> String {
    serde_json::to_string(keys).unwrap_or_else(|_| "[]".to_string())
}

pub(crate) fn keys_from_text(s: &str) -> Vec<String> {
    serde_json::from_str(s).unwrap_or_default()
}
