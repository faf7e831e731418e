//! The Account Admin's Roles pages (rule 8): the organization's roles (`/roles`), and one role
//! as a grid of resources × actions (`/roles/new`, `/roles/{id}`), built from the one
//! permission catalogue of `flowspace_core::permissions`.
//!
//! Guarded `AccountAdmin` like the routes that change roles (anyone signed in may read them,
//! but only the Account Admin manages them, and only they are shown this section); the pages
//! read through the store calls of `GET /roles` and `GET /roles/{id}`. Their forms (create,
//! save, delete) are the API routes of `routes::pages`.

use super::page::{Ctx, Text, finish};
use crate::api::SearchParams;
use crate::auth::Admin;
use crate::extract::Id;
use crate::state::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use flowspace_core::cursor::{Cursor, Search};
use flowspace_core::ids::RoleId;
use flowspace_core::model::Role;
use flowspace_core::permissions::{Action, Permission, PermissionSet, Resource, catalogue};

#[derive(Template)]
#[template(path = "web/roles.html")]
struct RolesPage {
    ctx: Ctx,
    /// Oldest first: the built-in roles, then the organization's own.
    rows: Vec<Role>,
    /// The search typed (`q`).
    q: String,
    /// The next page's link (empty on the last page).
    next: String,
}

/// `GET /roles`: the organization's roles, a page of them searched by `q` as `GET /roles`
/// pages and searches them.
pub async fn list(
    State(state): State<AppState>,
    Admin(admin): Admin,
    ctx: Ctx,
    Query(query): Query<SearchParams>,
) -> Response {
    let ctx = ctx.at("/roles", "Roles");
    let found = |s: &Search, r: &Role| s.matches(&[&r.name]);
    let key = |r: &Role| Cursor {
        created_at: r.created_at,
        id: r.id.0,
    };
    let list = match state.store.list_roles(&admin).await {
        Ok(roles) => query.cut(roles, false, found, key),
        Err(e) => Err(e),
    };
    let list = match list {
        Ok(l) => l,
        Err(e) => return ctx.fail(e),
    };
    let q = query.q.clone().unwrap_or_default();
    let next = super::page::next_page("/roles", &q, list.next_cursor.as_deref());
    let shown = ctx.flash.is_some();
    let page = RolesPage {
        ctx,
        rows: list.items,
        q,
        next,
    };
    finish(shown, page.render())
}

/// One checkbox of the role grid.
struct Cell {
    perm: Permission,
    on: bool,
}

/// One resource of the role grid; `None` where the catalogue has no such action for it.
struct GridRow {
    resource: Resource,
    cells: Vec<Option<Cell>>,
}

/// The grid of the catalogue: a column per action (in catalogue order), a row per resource,
/// ticked where `held`.
fn grid(held: PermissionSet) -> (Vec<Action>, Vec<GridRow>) {
    let mut actions: Vec<Action> = Vec::new();
    for p in catalogue() {
        if !actions.contains(&p.action()) {
            actions.push(p.action());
        }
    }
    let rows = Resource::ALL
        .iter()
        .map(|&resource| GridRow {
            resource,
            cells: actions
                .iter()
                .map(|&a| {
                    Permission::new(resource, a).map(|perm| Cell {
                        perm,
                        on: held.contains(perm),
                    })
                })
                .collect(),
        })
        .collect();
    (actions, rows)
}

#[derive(Template)]
#[template(path = "web/role.html")]
struct RolePage {
    ctx: Ctx,
    /// The role being edited (`None` for a new one).
    role: Option<Role>,
    read_only: bool,
    actions: Vec<Action>,
    rows: Vec<GridRow>,
}

impl RolePage {
    /// The role's name (empty for a new one).
    fn name(&self) -> &str {
        self.role.as_ref().map_or("", |r| r.name.as_str())
    }
    fn description(&self) -> &str {
        self.role.as_ref().map_or("", |r| r.description.text())
    }
}

/// `GET /roles/new`: an empty grid.
pub async fn new(Admin(_): Admin, ctx: Ctx) -> Response {
    let ctx = ctx.at("/roles", "New role");
    let (actions, rows) = grid(PermissionSet::empty());
    let shown = ctx.flash.is_some();
    let page = RolePage {
        ctx,
        role: None,
        read_only: false,
        actions,
        rows,
    };
    finish(shown, page.render())
}

/// `GET /roles/{id}`: a role's grid, read-only for a built-in role.
pub async fn edit(
    State(state): State<AppState>,
    Admin(admin): Admin,
    ctx: Ctx,
    Id(id): Id<RoleId>,
) -> Response {
    let role = match state.store.role(&admin, id).await {
        Ok(r) => r,
        Err(e) => return ctx.at("/roles", "Roles").fail(e),
    };
    let ctx = ctx.at("/roles", &role.name);
    let (actions, rows) = grid(role.permissions);
    let shown = ctx.flash.is_some();
    let page = RolePage {
        ctx,
        read_only: role.builtin,
        role: Some(role),
        actions,
        rows,
    };
    finish(shown, page.render())
}

#[cfg(test)]
mod tests {
    use super::*;
    use flowspace_core::perm;

    #[test]
    fn the_grid_has_a_column_per_action_and_ticks_what_is_held() {
        let held: PermissionSet = [perm!(Chatflows, Create)].into_iter().collect();
        let (actions, rows) = grid(held);
        let names: Vec<&str> = actions.iter().map(|a| a.as_str()).collect();
        assert_eq!(
            names,
            [
                "view",
                "create",
                "update",
                "duplicate",
                "delete",
                "export",
                "import",
                "share",
                "add-user",
                "unlink-user"
            ]
        );
        assert_eq!(rows.len(), Resource::ALL.len());
        let audit = rows
            .iter()
            .find(|r| r.resource == Resource::AuditLogs)
            .unwrap();
        assert_eq!(audit.resource.title(), "Audit Logs");
        assert!(audit.cells[0].is_some() && audit.cells[1].is_none());
        let ticked: Vec<String> = rows
            .iter()
            .flat_map(|r| r.cells.iter().flatten())
            .filter(|c| c.on)
            .map(|c| c.perm.to_string())
            .collect();
        assert_eq!(ticked, ["chatflows:create"]);
        let boxes = rows.iter().flat_map(|r| r.cells.iter().flatten()).count();
        assert_eq!(boxes, catalogue().len(), "one box per catalogue entry");
    }
}
