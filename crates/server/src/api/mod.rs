//! The HTTP handlers, one module per API group of SPEC §4. Handlers are thin: they take the
//! scope their route's guard produced, validate with `flowspace_core::rules`, call the store,
//! and shape the answer.

pub mod activity;
pub mod audit;
pub mod groups;
pub mod health;
pub mod invitations;
pub mod ip_limits;
pub mod mfa;
pub mod organizations;
pub mod passkeys;
pub mod password_reset;
pub mod profile;
pub mod registration;
pub mod resources;
pub mod roles;
pub mod session;
pub mod sessions;
pub mod setup;
pub mod sso;
pub mod transfer;
pub mod users;
pub mod workspaces;

use flowspace_core::cursor::{Cursor, Page, PageRequest, Search};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `?limit=&cursor=&q=` of the paged lists (login activity and the audit trail have their
/// own, with their filters).
#[derive(Debug, Default, Deserialize)]
pub struct SearchParams {
    #[serde(default, deserialize_with = "crate::extract::integral_param")]
    pub limit: Option<u32>,
    pub cursor: Option<String>,
    /// What the list's search field (a name, or an email, as each route's document says)
    /// must contain, case-insensitively.
    pub q: Option<String>,
}

impl SearchParams {
    pub fn page(&self) -> Result<PageRequest, flowspace_core::DomainError> {
        PageRequest::new(self.limit, self.cursor.as_deref())
    }
    pub fn search(&self) -> Result<Search, flowspace_core::DomainError> {
        Search::new(self.q.as_deref())
    }

    /// One page of a whole list the store answered (the organization's workspaces, roles,
    /// groups or open invitations: few), cut as a keyset page on `key`: those `found` keeps
    /// for the search, oldest first (or newest first), past the cursor.
    pub fn cut<T>(
        &self,
        rows: Vec<T>,
        newest_first: bool,
        found: impl Fn(&Search, &T) -> bool,
        key: impl Fn(&T) -> Cursor,
    ) -> Result<List<T>, flowspace_core::DomainError> {
        let (search, page) = (self.search()?, self.page()?);
        let rows = rows.into_iter().filter(|r| found(&search, r)).collect();
        Ok(Page::of_all(rows, page, newest_first, key).into())
    }
}

/// `?q=` of a searched list answered in one page (the organization's members, the caller's
/// organizations).
#[derive(Debug, Default, Deserialize)]
pub struct SearchOnly {
    /// What a name (or email) must contain, case-insensitively.
    pub q: Option<String>,
}

impl SearchOnly {
    pub fn search(&self) -> Result<Search, flowspace_core::DomainError> {
        Search::new(self.q.as_deref())
    }
}

/// `{items, nextCursor}`: one page of a list, newest first.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct List<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> From<Page<T>> for List<T> {
    fn from(p: Page<T>) -> Self {
        List {
            items: p.items,
            next_cursor: p.next.map(|c| c.encode()),
        }
    }
}

impl<T> List<T> {
    pub fn all(items: Vec<T>) -> Self {
        List {
            items,
            next_cursor: None,
        }
    }
}

/// A body holding only a user id.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserIdInput {
    #[schema(schema_with = crate::fields::id)]
    pub user_id: String,
}

/// A field that may be absent (unchanged), null (cleared) or a value: `#[serde(default,
/// deserialize_with = "super::nullable")]` on an `Option<Option<String>>`.
pub(crate) fn nullable<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// A CSV export as a download named `filename`.
pub fn csv_download(filename: &str, csv: String) -> axum::response::Response {
    use axum::http::{HeaderValue, header};
    use axum::response::IntoResponse;
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        csv,
    )
        .into_response()
}

/// One CSV field (RFC 4180) of an export: quoted when it holds a comma, a quote or a line
/// break, quotes doubled. A value a spreadsheet would run as a formula (a user agent is
/// whatever the client sent) is prefixed with `'`.
pub(crate) fn csv_field(v: &str) -> String {
    let v = if v.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{v}")
    } else {
        v.to_string()
    };
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_defused() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_field("=1+1"), "'=1+1");
        assert_eq!(csv_field("=A1,B2"), "\"'=A1,B2\"");
    }
}
