//! The dashboard's half of the route table: every page and every form, each with the guard
//! that authorizes it, through the same `auth::guard` as the API.
//!
//! - A **page** (`GET`) has its own guard: the permission of what it shows. Its handler reads
//!   through the scope the guard handed out, as an API handler does.
//! - A **form** (`POST`) stands for one API route and *is* that route: the same guard, the same
//!   handler, the same request type (the `web::surface::form` layer turns the form's fields
//!   into the route's JSON body). A form can never do more than the API call it stands for.
//!
//! The router (`crate::app`) builds both from these tables; the route walk in the tests walks
//! them.

use crate::auth::{Guard, Scope};
use crate::extract::Id;
use crate::state::AppState;
use crate::web;
use axum::extract::{Query, State};
use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{MethodRouter, get};
use flowspace_core::ids::ItemId;
use flowspace_core::resource::ResourceKind;

/// One page of the dashboard.
pub struct PageDef {
    pub path: String,
    pub guard: Guard,
    pub(crate) handler: MethodRouter<AppState>,
}

impl PageDef {
    fn new<H, T>(path: impl Into<String>, guard: Guard, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        Self {
            path: path.into(),
            guard,
            handler: get(handler),
        }
    }
}

/// One form of the dashboard: the API route it stands for answers it.
pub struct FormDef {
    /// Where the browser posts it; a path parameter is named as in the API route's path.
    pub path: String,
    /// The API route (method, and path under `/api/v1`) whose guard and handler answer it.
    pub api: (Method, String),
    /// A field of the answer to show once on a page of its own, and that page's title.
    pub show: Option<(&'static str, &'static str)>,
}

impl FormDef {
    fn new(path: impl Into<String>, method: Method, api: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            api: (method, api.into()),
            show: None,
        }
    }
    /// The API route this form stands for, in `table`.
    pub fn stands_for<'t>(&self, table: &'t [super::RouteDef]) -> Option<&'t super::RouteDef> {
        let (method, path) = &self.api;
        table
            .iter()
            .find(|d| d.method == *method && d.path == *path)
    }

    /// Shows `field` of the answer once, under `title` (a new API key, an invitation link).
    #[allow(dead_code)]
    fn show(mut self, field: &'static str, title: &'static str) -> Self {
        self.show = Some((field, title));
        self
    }
}

/// Every page of the dashboard.
pub fn pages() -> Vec<PageDef> {
    let mut t = Vec::new();
    for kind in ResourceKind::PLAIN {
        t.extend(item_pages(kind));
    }
    t.extend(log_pages());
    t
}

/// Every form of the dashboard.
pub fn forms() -> Vec<FormDef> {
    use Method as M;
    let mut t = vec![
        FormDef::new("/switch-workspace", M::POST, "/auth/switch-workspace"),
        FormDef::new("/logout", M::POST, "/auth/logout"),
    ];
    for kind in ResourceKind::PLAIN {
        t.extend(item_forms(kind));
    }
    t
}

type S = State<AppState>;
type Q = Query<web::items::PageQuery>;

fn item_pages(kind: ResourceKind) -> Vec<PageDef> {
    vec![
        PageDef::new(
            kind.page(),
            Guard::Workspace(kind.view()),
            move |s: S, sc: Scope, ctx: web::page::Ctx, q: Q| web::items::list(s, sc, ctx, q, kind),
        ),
        PageDef::new(
            format!("{}/{{id}}", kind.page()),
            Guard::Workspace(kind.view()),
            move |s: S, sc: Scope, ctx: web::page::Ctx, id: Id<ItemId>| {
                web::items::edit(s, sc, ctx, id, kind)
            },
        ),
    ]
}

fn item_forms(kind: ResourceKind) -> Vec<FormDef> {
    use Method as M;
    let (page, api) = (kind.page(), format!("/{}", kind.path()));
    let mut v = vec![
        FormDef::new(format!("{page}/new"), M::POST, &api),
        FormDef::new(format!("{page}/{{id}}"), M::PUT, format!("{api}/{{id}}")),
        FormDef::new(
            format!("{page}/{{id}}/delete"),
            M::DELETE,
            format!("{api}/{{id}}"),
        ),
    ];
    if kind.duplicate().is_some() {
        v.push(FormDef::new(
            format!("{page}/{{id}}/duplicate"),
            M::POST,
            format!("{api}/{{id}}/duplicate"),
        ));
    }
    v
}

/// Login activity (the Account Admin's, as `GET /login-activity`) and the audit log (what
/// `GET /audit-events` lets the caller read; its chain's check is the Account Admin's, as
/// `GET /audit-events/verify`).
fn log_pages() -> Vec<PageDef> {
    use web::logs::{activity, audit};
    vec![
        PageDef::new(
            "/login-activity",
            Guard::AccountAdmin,
            activity::login_activity,
        ),
        PageDef::new(
            "/login-activity.csv",
            Guard::AccountAdmin,
            activity::login_activity_csv,
        ),
        PageDef::new("/audit-log", Guard::AuditLog, audit::audit_log),
        PageDef::new("/audit-log.csv", Guard::AuditLog, audit::audit_log_csv),
        PageDef::new("/audit-log/verify", Guard::AccountAdmin, audit::verify),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_stands_for_an_api_route_and_every_path_is_declared_once() {
        let table = super::super::table();
        let mut seen = std::collections::HashSet::new();
        for f in forms() {
            assert!(
                f.stands_for(&table).is_some(),
                "the form {} stands for {:?}, which is no API route",
                f.path,
                f.api
            );
            assert!(seen.insert(("POST", f.path.clone())), "{} twice", f.path);
        }
        for p in pages() {
            assert!(seen.insert(("GET", p.path.clone())), "{} twice", p.path);
        }
    }
}
