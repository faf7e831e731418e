//! Login Activity and the Audit Log (SPEC §6): filtered lists paged by cursor, CSV downloads
//! of every filtered row, and the audit chain's verification.
//!
//! The filters are the page's own query (`/login-activity?from=2026-01-31&outcome=failure`),
//! kept by the pager and the download links. Days from `<input type="date">` become the API's
//! RFC 3339 bounds here: the API's `to` is inclusive and times are kept to the microsecond, so
//! the `to` day ends at its last microsecond. A filter that cannot be used (not a date, an
//! unknown actor, one the API refuses with 422) is shown above an empty table instead of
//! failing the page.

use super::api::Api;
use super::view::{Ctx, V};
use super::{Web, encode_query, error_page, finish, signed_in};
use askama::Template;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use flowspace_core::time::Timestamp;
use flowspace_store::LoginOutcome;
use serde_json::{Value, json};
use uuid::Uuid;

/// Rows per page.
const PAGE_SIZE: &str = "50";

mod activity;
mod audit;

pub fn routes() -> Router<Web> {
    Router::new()
        .route("/login-activity", get(activity::login_activity))
        .route("/login-activity.csv", get(activity::login_activity_csv))
        .route("/audit-log", get(audit::audit_log))
        .route("/audit-log.csv", get(audit::audit_log_csv))
}

/// The page's query as given; the last value of a repeated name wins, and a query that does
/// not parse reads as empty.
struct Params(Vec<(String, String)>);

impl Params {
    fn of(parts: &Parts) -> Self {
        Self(
            parts
                .uri
                .query()
                .and_then(|q| serde_urlencoded::from_str(q).ok())
                .unwrap_or_default(),
        )
    }

    fn get(&self, name: &str) -> String {
        self.0
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    }
}

/// `path?name=value&...` with the pairs whose value is not empty, each value percent-encoded.
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
fn day_range(from: &str, to: &str) -> Result<Vec<(&'static str, String)>, String> {
    let from = day_bound("From", from, false)?;
    let to = day_bound("To", to, true)?;
    if let (Some(f), Some(t)) = (&from, &to)
        && f > t
    {
        return Err("From is after To: no event can match. Swap the two days.".into());
    }
    let mut q = Vec::new();
    q.extend(from.map(|f| ("from", f)));
    q.extend(to.map(|t| ("to", t)));
    Ok(q)
}

/// A timestamp of the API as `2026-01-31 12:00:05` (UTC).
fn when(at: &str) -> String {
    match (at.get(..10), at.get(11..19)) {
        (Some(day), Some(time)) => format!("{day} {time}"),
        _ => "—".into(),
    }
}

/// The first characters of an id, for a table cell (the whole id goes in its title).
fn short_id(id: &str) -> String {
    id.chars().take(8).collect()
}

/// What a list read gave: its rows and the next page's cursor, or the message of a filter the
/// API refused (422).
enum Read {
    Rows(Vec<V>, String),
    Refused(String),
}

/// Reads one filtered page, or answers the error page of a failed read.
async fn read_page(api: &mut Api, path: &str) -> Result<Read, (StatusCode, String)> {
    let answer = api.get(path).await;
    if answer.status == StatusCode::UNPROCESSABLE_ENTITY {
        return Ok(Read::Refused(answer.message()));
    }
    if !answer.ok() {
        return Err((answer.status, answer.message()));
    }
    let list = V(answer.json);
    Ok(Read::Rows(list.items(), list.s("nextCursor")))
}

/// Sends a CSV export's bytes as a download, or the error page of a failed read.
async fn download(mut api: Api, ctx: Ctx, path: &str, filename: &str) -> Response {
    let answer = api.send(Method::GET, path, None, Some("text/csv")).await;
    if !answer.ok() {
        return error_page(api, Some(ctx), answer.status, &answer.message());
    }
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    let mut res = (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        answer.bytes,
    )
        .into_response();
    for c in api.set_cookies {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_become_inclusive_bounds() {
        assert_eq!(
            day_range("2026-01-30", "2026-01-31").unwrap(),
            vec![
                ("from", "2026-01-30T00:00:00Z".to_string()),
                ("to", "2026-01-31T23:59:59.999999Z".to_string()),
            ]
        );
        assert_eq!(day_range("", "").unwrap(), vec![]);
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
}
