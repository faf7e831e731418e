//! The Account Admin's pages: Users, Roles, Groups (Workspaces are in `web::workspaces`).
//!
//! Like every page they only read through the API (`/users`, `/roles`,
//! `/permissions`, `/groups`, `/invitations`), so anyone else is answered the API's 403 on an
//! error page; their forms are single API requests through `/act`.

use super::api::Api;
use super::view::{Ctx, V};
use super::{Web, encode_query, error_page, finish, signed_in};
use askama::Template;
use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::request::Parts;
use axum::response::Response;
use axum::routing::get;
use flowspace_core::permissions::Resource;

pub fn routes() -> Router<Web> {
    Router::new()
        .route("/users", get(users))
        .route("/users/{id}", get(user))
        .route("/roles", get(roles))
        .route("/roles/new", get(new_role))
        .route("/roles/{id}", get(role))
        .route("/groups", get(groups))
        .route("/groups/{id}", get(group))
}

/// Signs the page in and reads `paths` in order; the first read that fails becomes the error
/// page. The signed-in user's own record is read first through the Account Admin's route, so
/// that anyone else meets the API's 403 even on pages whose other reads any member may make
/// (roles, permissions, their workspaces), rather than forms they cannot send.
async fn load<const N: usize>(
    web: &Web,
    parts: &Parts,
    section: &str,
    title: &str,
    paths: [&str; N],
) -> Result<(Api, Ctx, [V; N]), Response> {
    let (mut api, ctx) = signed_in(web, parts, section, title).await?;
    let gate = format!("/api/v1/users/{}", encode_query(&ctx.user().s("id")));
    let mut out: [V; N] = std::array::from_fn(|_| V::default());
    for (i, path) in std::iter::once(gate.as_str()).chain(paths).enumerate() {
        let answer = api.get(path).await;
        if !answer.ok() {
            return Err(error_page(api, Some(ctx), answer.status, &answer.message()));
        }
        if let Some(slot) = i.checked_sub(1).and_then(|i| out.get_mut(i)) {
            *slot = V(answer.json);
        }
    }
    Ok((api, ctx, out))
}

/// The roles for a select, built-in ones first.
fn sorted_roles(list: &V) -> Vec<V> {
    let mut roles = list.items();
    roles.sort_by_key(|r| !r.b("builtin"));
    roles
}

// ---------------------------------------------------------------------------------------
// Users

/// A row of the Users page: the user and the name of their active workspace.
struct UserRow {
    user: V,
    active: String,
}

#[derive(Template)]
#[template(path = "web/users.html")]
struct UsersPage {
    ctx: Ctx,
    rows: Vec<UserRow>,
    invitations: Vec<V>,
    roles: Vec<V>,
}

async fn users(State(web): State<Web>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let paths = ["/api/v1/users", "/api/v1/invitations", "/api/v1/roles"];
    let (api, ctx, [users, invitations, roles]) =
        match load(&web, &parts, "/users", "Users", paths).await {
            Ok(l) => l,
            Err(r) => return r,
        };
    let rows = users
        .items()
        .into_iter()
        .map(|user| {
            let id = user.s("activeWorkspaceId");
            let active = ctx
                .workspaces
                .iter()
                .find(|w| !id.is_empty() && w.s("id") == id)
                .map(|w| w.s("name"))
                .unwrap_or_default();
            UserRow { user, active }
        })
        .collect();
    let page = UsersPage {
        roles: sorted_roles(&roles),
        invitations: invitations.items(),
        rows,
        ctx,
    };
    finish(api, page.render())
}

/// One workspace a user belongs to, directly or only through groups.
struct Membership {
    ws_id: String,
    ws_name: String,
    role_id: String,
    role_name: String,
    /// A membership of their own (which can be changed or unlinked here).
    direct: bool,
    /// The user's groups assigned to this workspace.
    via: Vec<String>,
}

#[derive(Template)]
#[template(path = "web/user.html")]
struct UserPage {
    ctx: Ctx,
    user: V,
    memberships: Vec<Membership>,
    /// Workspaces the user has no membership of their own in.
    addable: Vec<V>,
    roles: Vec<V>,
}

async fn user(State(web): State<Web>, Path(id): Path<String>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let user_path = format!("/api/v1/users/{}", encode_query(&id));
    let paths = [user_path.as_str(), "/api/v1/roles", "/api/v1/groups"];
    let (mut api, mut ctx, [user, roles, groups]) =
        match load(&web, &parts, "/users", "Users", paths).await {
            Ok(l) => l,
            Err(r) => return r,
        };
    ctx.title = user.s("name");
    let uid = user.s("id");
    let their_groups: Vec<V> = groups
        .items()
        .into_iter()
        .filter(|g| g.list("members").iter().any(|m| m.s("userId") == uid))
        .collect();
    let mut memberships = Vec::new();
    for w in user.list("workspaces") {
        let ws_id = w.s("workspaceId");
        let via: Vec<String> = their_groups
            .iter()
            .filter(|g| {
                g.list("workspaces")
                    .iter()
                    .any(|a| a.s("workspaceId") == ws_id)
            })
            .map(|g| g.s("name"))
            .collect();
        // The user's workspaces list a direct membership in place of a group's; only when a
        // group reaches the workspace too do the members say which it is.
        let direct = if via.is_empty() {
            true
        } else {
            let answer = api
                .get(&format!("/api/v1/workspace/{}/users", encode_query(&ws_id)))
                .await;
            if !answer.ok() {
                return error_page(api, Some(ctx), answer.status, &answer.message());
            }
            V(answer.json).items().iter().any(|m| m.s("userId") == uid)
        };
        memberships.push(Membership {
            ws_name: w.s("workspaceName"),
            role_id: w.s("roleId"),
            role_name: w.s("roleName"),
            ws_id,
            direct,
            via,
        });
    }
    let addable = ctx
        .workspaces
        .iter()
        .filter(|w| !memberships.iter().any(|m| m.direct && m.ws_id == w.s("id")))
        .cloned()
        .collect();
    let page = UserPage {
        ctx,
        user,
        memberships,
        addable,
        roles: sorted_roles(&roles),
    };
    finish(api, page.render())
}

// ---------------------------------------------------------------------------------------
// Roles

#[derive(Template)]
#[template(path = "web/roles.html")]
struct RolesPage {
    ctx: Ctx,
    rows: Vec<V>,
}

async fn roles(State(web): State<Web>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let (api, ctx, [list]) = match load(&web, &parts, "/roles", "Roles", ["/api/v1/roles"]).await {
        Ok(l) => l,
        Err(r) => return r,
    };
    let page = RolesPage {
        ctx,
        rows: sorted_roles(&list),
    };
    finish(api, page.render())
}

/// One checkbox of the role grid.
struct Cell {
    /// `resource:action`.
    perm: String,
    action: String,
    on: bool,
}

/// One resource of the role grid; `None` where the catalogue has no such action for it.
struct GridRow {
    resource: String,
    label: String,
    cells: Vec<Option<Cell>>,
}

/// The grid resources × actions of the catalogue (`GET /permissions`), ticked where `held`.
fn grid(catalogue: &V, held: &[String]) -> (Vec<String>, Vec<GridRow>) {
    let entries = catalogue.list("resources");
    let mut actions: Vec<String> = Vec::new();
    for a in entries.iter().flat_map(|e| e.strs("actions")) {
        if !actions.contains(&a) {
            actions.push(a);
        }
    }
    let rows = entries
        .iter()
        .map(|e| {
            let resource = e.s("resource");
            let own = e.strs("actions");
            let cells = actions
                .iter()
                .map(|a| {
                    own.contains(a).then(|| {
                        let perm = format!("{resource}:{a}");
                        Cell {
                            on: held.contains(&perm),
                            action: a.clone(),
                            perm,
                        }
                    })
                })
                .collect();
            GridRow {
                label: resource_label(&resource),
                resource,
                cells,
            }
        })
        .collect();
    (actions, rows)
}

/// "documentStores" → "Document Stores", "apikeys" → "API Keys".
fn resource_label(resource: &str) -> String {
    Resource::from_name(resource).map_or_else(|| resource.to_string(), |r| r.title().to_string())
}

#[derive(Template)]
#[template(path = "web/role.html")]
struct RolePage {
    ctx: Ctx,
    /// The role being edited (empty for a new one).
    role: V,
    is_new: bool,
    read_only: bool,
    actions: Vec<String>,
    rows: Vec<GridRow>,
}

async fn new_role(State(web): State<Web>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let paths = ["/api/v1/permissions"];
    let (api, ctx, [catalogue]) = match load(&web, &parts, "/roles", "New role", paths).await {
        Ok(l) => l,
        Err(r) => return r,
    };
    let (actions, rows) = grid(&catalogue, &[]);
    let page = RolePage {
        ctx,
        role: V::default(),
        is_new: true,
        read_only: false,
        actions,
        rows,
    };
    finish(api, page.render())
}

async fn role(State(web): State<Web>, Path(id): Path<String>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let role_path = format!("/api/v1/roles/{}", encode_query(&id));
    let paths = [role_path.as_str(), "/api/v1/permissions"];
    let (api, mut ctx, [role, catalogue]) = match load(&web, &parts, "/roles", "Roles", paths).await
    {
        Ok(l) => l,
        Err(r) => return r,
    };
    ctx.title = role.s("name");
    let (actions, rows) = grid(&catalogue, &role.strs("permissions"));
    let page = RolePage {
        ctx,
        read_only: role.b("builtin"),
        role,
        is_new: false,
        actions,
        rows,
    };
    finish(api, page.render())
}

// ---------------------------------------------------------------------------------------
// Groups

#[derive(Template)]
#[template(path = "web/groups.html")]
struct GroupsPage {
    ctx: Ctx,
    rows: Vec<V>,
}

async fn groups(State(web): State<Web>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let (api, ctx, [list]) = match load(&web, &parts, "/groups", "Groups", ["/api/v1/groups"]).await
    {
        Ok(l) => l,
        Err(r) => return r,
    };
    let page = GroupsPage {
        ctx,
        rows: list.items(),
    };
    finish(api, page.render())
}

#[derive(Template)]
#[template(path = "web/group.html")]
struct GroupPage {
    ctx: Ctx,
    group: V,
    /// Every user, and whether they are in the group.
    users: Vec<(V, bool)>,
    roles: Vec<V>,
    /// Workspaces the group is not assigned to yet.
    unassigned: Vec<V>,
}

async fn group(State(web): State<Web>, Path(id): Path<String>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let group_path = format!("/api/v1/groups/{}", encode_query(&id));
    let paths = [group_path.as_str(), "/api/v1/users", "/api/v1/roles"];
    let (api, mut ctx, [group, users, roles]) =
        match load(&web, &parts, "/groups", "Groups", paths).await {
            Ok(l) => l,
            Err(r) => return r,
        };
    ctx.title = group.s("name");
    let members: Vec<String> = group
        .list("members")
        .iter()
        .map(|m| m.s("userId"))
        .collect();
    let assigned: Vec<String> = group
        .list("workspaces")
        .iter()
        .map(|a| a.s("workspaceId"))
        .collect();
    let users = users
        .items()
        .into_iter()
        .map(|u| {
            let on = members.contains(&u.s("id"));
            (u, on)
        })
        .collect();
    let unassigned = ctx
        .workspaces
        .iter()
        .filter(|w| !assigned.contains(&w.s("id")))
        .cloned()
        .collect();
    let page = GroupPage {
        ctx,
        group,
        users,
        roles: sorted_roles(&roles),
        unassigned,
    };
    finish(api, page.render())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_grid_has_a_column_per_action_and_ticks_what_is_held() {
        let catalogue = V(json!({"resources": [
            {"resource": "chatflows", "actions": ["view", "create"]},
            {"resource": "auditLogs", "actions": ["view"]},
            {"resource": "workspace", "actions": ["view", "add-user"]},
        ]}));
        let (actions, rows) = grid(&catalogue, &["chatflows:create".to_string()]);
        assert_eq!(actions, ["view", "create", "add-user"]);
        assert_eq!(rows[1].label, "Audit Logs");
        assert!(rows[1].cells[1].is_none());
        let ticked: Vec<&str> = rows
            .iter()
            .flat_map(|r| r.cells.iter().flatten())
            .filter(|c| c.on)
            .map(|c| c.perm.as_str())
            .collect();
        assert_eq!(ticked, ["chatflows:create"]);
        assert_eq!(resource_label("apikeys"), "API Keys");
        assert_eq!(resource_label("documentStores"), "Document Stores");
    }
}
