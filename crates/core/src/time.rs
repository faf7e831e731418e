//! `Timestamp`: UTC with microsecond precision, stored as an integer in SQLite and as
//! TIMESTAMPTZ in PostgreSQL, serialized as RFC 3339.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The last instant a `Timestamp` may hold: 9999-12-31T23:59:59.999999Z, the end of what both
/// SQLite integers and PostgreSQL TIMESTAMPTZ round-trip alike.
pub const MAX_MICROS: i64 = 253_402_300_799_999_999;

/// The `pattern` of the years a `Timestamp` holds, 1970 to 9999 (with the `date-time` format).
pub const YEARS_PATTERN: &str = "^(19[7-9][0-9]|[2-9][0-9]{3})-";

/// Microseconds since the Unix epoch, UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    pub fn now() -> Self {
        Self::from_offset(OffsetDateTime::now_utc())
    }
    pub fn from_micros(micros: i64) -> Self {
        Self(micros)
    }
    pub fn micros(self) -> i64 {
        self.0
    }
    pub fn from_offset(t: OffsetDateTime) -> Self {
        Self((t.unix_timestamp_nanos() / 1_000) as i64)
    }
    pub fn to_offset(self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp_nanos(self.0 as i128 * 1_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }
    pub fn plus_seconds(self, secs: i64) -> Self {
        Self(self.0.saturating_add(secs.saturating_mul(1_000_000)))
    }
    pub fn unix_seconds(self) -> i64 {
        self.0.div_euclid(1_000_000)
    }
    /// Parses an RFC 3339 date-time between 1970 and the end of year 9999 (UTC).
    pub fn parse_rfc3339(s: &str) -> Option<Self> {
        let t = Self::from_offset(OffsetDateTime::parse(s, &Rfc3339).ok()?);
        (0..=MAX_MICROS).contains(&t.0).then_some(t)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_offset().format(&Rfc3339) {
            Ok(s) => f.write_str(&s),
            Err(_) => write!(f, "{}", self.0),
        }
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse_rfc3339(&s)
            .ok_or_else(|| serde::de::Error::custom("expected an RFC 3339 date-time"))
    }
}

impl utoipa::PartialSchema for Timestamp {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::DateTime,
            )))
            .pattern(Some(YEARS_PATTERN))
            .into()
    }
}
impl utoipa::ToSchema for Timestamp {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trip_keeps_microseconds() {
        let t = Timestamp::from_micros(1_700_000_000_123_456);
        let s = t.to_string();
        assert_eq!(Timestamp::parse_rfc3339(&s), Some(t), "{s}");
        assert!(
            Timestamp::parse_rfc3339("9999-12-31T23:59:59-23:59").is_none(),
            "year 10000 in UTC"
        );
        assert!(Timestamp::parse_rfc3339("1969-12-31T23:59:59Z").is_none());
        assert!(Timestamp::parse_rfc3339("9999-12-31T23:59:59Z").is_some());
    }
}
