//! The Account Admin's Workspaces pages (the Users, Roles and Groups pages are in
//! `web::users`, `web::roles`, `web::groups`).
//!
//! Like every page they only read through the API (`/workspaces`, `/workspace/{id}`,
//! `/users`, `/roles`, `/groups`), so anyone else is answered the API's 403 on an error page;
//! their forms are single API requests through `/act`.

use super::api::Api;
use super::view::{Ctx, V};
use super::{Web, encode_query, error_page, finish, signed_in};
use askama::Template;
use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::request::Parts;
use axum::response::Response;
use axum::routing::get;

pub fn routes() -> Router<Web> {
    Router::new()
        .route("/workspaces", get(workspaces))
        .route("/workspaces/{id}", get(workspace))
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
// Workspaces

#[derive(Template)]
#[template(path = "web/workspaces.html")]
struct WorkspacesPage {
    ctx: Ctx,
    rows: Vec<V>,
}

async fn workspaces(State(web): State<Web>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let (api, ctx, [list]) = match load(
        &web,
        &parts,
        "/workspaces",
        "Workspaces",
        ["/api/v1/workspaces"],
    )
    .await
    {
        Ok(l) => l,
        Err(r) => return r,
    };
    let page = WorkspacesPage {
        ctx,
        rows: list.items(),
    };
    finish(api, page.render())
}

/// A group assigned to a workspace, with the role it gives there.
struct Assigned {
    group: V,
    role_id: String,
}

#[derive(Template)]
#[template(path = "web/workspace.html")]
struct WorkspacePage {
    ctx: Ctx,
    ws: V,
    members: Vec<V>,
    /// Members other than the Account Admin (the workspace cannot be deleted while any remain).
    others: usize,
    /// Users who are not members yet.
    candidates: Vec<V>,
    roles: Vec<V>,
    assigned: Vec<Assigned>,
    /// Groups not assigned here yet.
    unassigned: Vec<V>,
}

async fn workspace(State(web): State<Web>, Path(id): Path<String>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let id = encode_query(&id);
    let ws_path = format!("/api/v1/workspace/{id}");
    let members_path = format!("/api/v1/workspace/{id}/users");
    let paths = [
        ws_path.as_str(),
        members_path.as_str(),
        "/api/v1/users",
        "/api/v1/roles",
        "/api/v1/groups",
    ];
    let (api, mut ctx, [ws, members, users, roles, groups]) =
        match load(&web, &parts, "/workspaces", "Workspaces", paths).await {
            Ok(l) => l,
            Err(r) => return r,
        };
    ctx.title = ws.s("name");
    let ws_id = ws.s("id");
    let members = members.items();
    let others = members.iter().filter(|m| !m.b("isAccountAdmin")).count();
    let candidates = users
        .items()
        .into_iter()
        .filter(|u| !members.iter().any(|m| m.s("userId") == u.s("id")))
        .collect();
    let mut assigned = Vec::new();
    let mut unassigned = Vec::new();
    for group in groups.items() {
        let here = group
            .list("workspaces")
            .into_iter()
            .find(|a| a.s("workspaceId") == ws_id);
        match here {
            Some(a) => assigned.push(Assigned {
                role_id: a.s("roleId"),
                group,
            }),
            None => unassigned.push(group),
        }
    }
    let page = WorkspacePage {
        ctx,
        ws,
        members,
        others,
        candidates,
        roles: sorted_roles(&roles),
        assigned,
        unassigned,
    };
    finish(api, page.render())
}
