//! Login Activity and the Audit Log (SPEC §6): filtered lists paged by cursor, CSV downloads
//! of every filtered row, and the audit chain's verification.
//!
//! Each page is declared in `routes::pages` with the guard of the API route it mirrors
//! (`GET /login-activity`: the Account Admin; `GET /audit-events`: `Guard::AuditLog`, whose
//! `Audit` scope holds the `workspaceId` filter), takes that route's query type
//! (`api::activity::ActivityParams`, `api::audit::AuditQuery`) and reads through the same
//! store calls and functions; a download is the API's CSV export, byte for byte.
//!
//! The filters are the page's own query (`/login-activity?from=2026-01-31&outcome=failure`),
//! kept by the pager and the download links. Days from `<input type="date">` become the API's
//! RFC 3339 bounds here: `to` is inclusive and times are kept to the microsecond, so the `to`
//! day ends at its last microsecond. A filter that cannot be used (not a date, an unknown
//! actor, one the API's query type refuses) is shown above an empty table instead of failing
//! the page.

use super::encode_query;
use crate::error::ApiError;
use axum::http::StatusCode;
use flowspace_core::DomainError;
use flowspace_core::cursor::PageRequest;
use flowspace_core::time::Timestamp;

/// Rows per page.
const PAGE_SIZE: u32 = 50;

pub mod activity;
pub mod audit;

/// A filter as the page was given it: trimmed, empty when absent.
fn given(v: &Option<String>) -> &str {
    v.as_deref().map_or("", str::trim)
}

/// One page of rows from the query's cursor on.
fn page_at(cursor: &str) -> Result<PageRequest, DomainError> {
    PageRequest::new(Some(PAGE_SIZE), Some(cursor).filter(|c| !c.is_empty()))
}

/// What a filter that cannot be used says, or the error that fails the page.
enum Unusable {
    Warning(String),
    Fail(ApiError),
}

impl From<DomainError> for Unusable {
    fn from(e: DomainError) -> Self {
        let e = ApiError::from(e);
        if e.status == StatusCode::UNPROCESSABLE_ENTITY {
            Unusable::Warning(e.message)
        } else {
            Unusable::Fail(e)
        }
    }
}

impl From<ApiError> for Unusable {
    fn from(e: ApiError) -> Self {
        if e.status == StatusCode::UNPROCESSABLE_ENTITY {
            Unusable::Warning(e.message)
        } else {
            Unusable::Fail(e)
        }
    }
}

/// A warning as the 422 a download answers with.
fn invalid(warning: String) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        warning,
    )
}

/// `path?name=value&...` with the pairs whose value is not empty, each value percent-encoded.
/// The links of a filtered log page: the next page (none on the last), back to the first
/// (none on the first), and the download of everything the filters select (`{page}.csv`).
struct Links {
    next: String,
    first: String,
    csv: String,
}

impl Links {
    fn new(page: &str, pairs: &[(&str, &str)], cursor: &str, next: &str) -> Self {
        let mut next_pairs = pairs.to_vec();
        next_pairs.push(("cursor", next));
        Links {
            next: if next.is_empty() {
                String::new()
            } else {
                href(page, &next_pairs)
            },
            first: if cursor.is_empty() {
                String::new()
            } else {
                href(page, pairs)
            },
            csv: href(&format!("{page}.csv"), pairs),
        }
    }
}

fn href<S: AsRef<str>>(path: &str, pairs: &[(&str, S)]) -> String {
    let query: Vec<String> = pairs
        .iter()
        .filter(|(_, v)| !v.as_ref().is_empty())
        .map(|(n, v)| format!("{n}={}", encode_query(v.as_ref())))
        .collect();
    if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", query.join("&"))
    }
}

/// A day of `<input type="date">` (`YYYY-MM-DD`) as an RFC 3339 bound of the API: its first
/// microsecond, or with `end` its last. Empty is no bound.
fn day_bound(label: &str, day: &str, end: bool) -> Result<Option<String>, String> {
    if day.is_empty() {
        return Ok(None);
    }
    let shaped = day.len() == 10
        && day.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    let time = if end {
        "T23:59:59.999999Z"
    } else {
        "T00:00:00Z"
    };
    let bound = format!("{day}{time}");
    if shaped && Timestamp::parse_rfc3339(&bound).is_some() {
        Ok(Some(bound))
    } else {
        Err(format!(
            "{label}: “{day}” is not a date. Give a day as YYYY-MM-DD (from 1970 on)."
        ))
    }
}

/// The API's `from` and `to` for two days, or what is wrong with them.
fn day_range(from: &str, to: &str) -> Result<(Option<String>, Option<String>), String> {
    let from = day_bound("From", from, false)?;
    let to = day_bound("To", to, true)?;
    if let (Some(f), Some(t)) = (&from, &to)
        && f > t
    {
        return Err("From is after To: no event can match. Swap the two days.".into());
    }
    Ok((from, to))
}

/// A time as `2026-01-31 12:00:05` (UTC).
fn when(at: Timestamp) -> String {
    let at = at.to_string();
    match (at.get(..10), at.get(11..19)) {
        (Some(day), Some(time)) => format!("{day} {time}"),
        _ => "—".into(),
    }
}

/// The first characters of an id, for a table cell (the whole id goes in its title).
fn short_id(id: &str) -> String {
    id.chars().take(8).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_become_inclusive_bounds() {
        assert_eq!(
            day_range("2026-01-30", "2026-01-31").unwrap(),
            (
                Some("2026-01-30T00:00:00Z".to_string()),
                Some("2026-01-31T23:59:59.999999Z".to_string()),
            )
        );
        assert_eq!(day_range("", "").unwrap(), (None, None));
        assert!(day_range("2026-01-31", "2026-01-31").is_ok());
        for bad in [
            "yesterday",
            "2026-02-30",
            "2026-1-5",
            "1960-01-01",
            "2026-01-31T00:00:00Z",
        ] {
            let e = day_range(bad, "").unwrap_err();
            assert!(e.starts_with("From:"), "{bad}: {e}");
        }
        assert!(day_range("", "31/01/2026").unwrap_err().starts_with("To:"));
        assert!(
            day_range("2026-02-01", "2026-01-31")
                .unwrap_err()
                .contains("after")
        );
    }

    #[test]
    fn links_keep_only_given_filters_encoded() {
        assert_eq!(href("/x", &[("a", ""), ("b", "")]), "/x");
        assert_eq!(
            href("/x", &[("email", "a+b@x.io"), ("to", ""), ("q", "a&b=c d")]),
            "/x?email=a%2Bb%40x.io&q=a%26b%3Dc+d"
        );
    }

    #[test]
    fn times_read_to_the_second() {
        let t = Timestamp::parse_rfc3339("2026-11-23T15:32:25.183753Z").unwrap();
        assert_eq!(when(t), "2026-11-23 15:32:25");
    }
}
