//! The HTTP handlers, one module per API group of SPEC §4. Handlers are thin: they take the
//! scope their route's guard produced, validate with `flowspace_core::rules`, call the store,
//! and shape the answer.

pub mod activity;
pub mod audit;
pub mod groups;
pub mod health;
pub mod invitations;
pub mod resources;
pub mod roles;
pub mod session;
pub mod setup;
pub mod transfer;
pub mod users;
pub mod workspaces;

use flowspace_core::cursor::{Page, PageRequest};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// `?limit=&cursor=` of every list.
#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct ListParams {
    /// Page size, 1–200 (default 50).
    #[serde(default, deserialize_with = "crate::extract::integral_param")]
    pub limit: Option<u32>,
    /// The `nextCursor` of the previous page.
    pub cursor: Option<String>,
}

impl ListParams {
    pub fn page(&self) -> Result<PageRequest, flowspace_core::DomainError> {
        PageRequest::new(self.limit, self.cursor.as_deref())
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
