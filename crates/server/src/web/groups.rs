//! The Account Admin's Groups pages: the organization's groups (`/groups`), and one group's
//! members and workspace assignments (`/groups/{id}`).
//!
//! Both are guarded as `GET /groups` is (`AccountAdmin`) and read through the same store calls
//! in the Account Admin's scope. Their forms (create, save, delete, assign to a workspace,
//! change the role there, take off) are the API routes of `routes::pages`; the assignment
//! forms are the workspace page's too (`m::group_assignment_at`).

use super::page::{Ctx, Text, When, finish};
use crate::api::SearchParams;
use crate::auth::Admin;
use crate::extract::Id;
use crate::state::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use flowspace_core::DomainResult;
use flowspace_core::cursor::{Cursor, Search};
use flowspace_core::ids::GroupId;
use flowspace_core::model::{Role, User, UserStatus, Workspace};
use flowspace_store::Group;

#[derive(Template)]
#[template(path = "web/groups.html")]
struct GroupsPage {
    ctx: Ctx,
    rows: Vec<Group>,
    /// The search typed (`q`).
    q: String,
    /// The next page's link (empty on the last page).
    next: String,
}

/// `GET /groups`: the organization's groups with their members and workspaces, a page of them
/// searched by `q` as `GET /groups` pages and searches them.
pub async fn list(
    State(state): State<AppState>,
    Admin(admin): Admin,
    ctx: Ctx,
    Query(query): Query<SearchParams>,
) -> Response {
    let ctx = ctx.at("/groups", "Groups");
    let found = |s: &Search, g: &Group| s.matches(&[&g.name]);
    let key = |g: &Group| Cursor {
        created_at: g.created_at,
        id: g.id.0,
    };
    let list = match state.store.list_groups(&admin).await {
        Ok(groups) => query.cut(groups, false, found, key),
        Err(e) => Err(e),
    };
    let list = match list {
        Ok(l) => l,
        Err(e) => return ctx.fail(e),
    };
    let q = query.q.clone().unwrap_or_default();
    let next = super::page::next_page("/groups", &q, list.next_cursor.as_deref());
    let shown = ctx.flash.is_some();
    let page = GroupsPage {
        ctx,
        rows: list.items,
        q,
        next,
    };
    finish(shown, page.render())
}

/// A user of the organization, and whether they are in the group.
struct Candidate {
    user: User,
    member: bool,
}

#[derive(Template)]
#[template(path = "web/group.html")]
struct GroupPage {
    ctx: Ctx,
    group: Group,
    /// Every user, and whether they are in the group.
    users: Vec<Candidate>,
    roles: Vec<Role>,
    /// Workspaces the group is not assigned to yet.
    unassigned: Vec<Workspace>,
}

/// `GET /groups/{id}`: a group's name, members and workspaces.
pub async fn edit(
    State(state): State<AppState>,
    Admin(admin): Admin,
    ctx: Ctx,
    Id(id): Id<GroupId>,
) -> Response {
    let read = async {
        let group = state.store.group(&admin, id).await?;
        let users = state.store.list_users(&admin).await?;
        let roles = state.store.list_roles(&admin).await?;
        DomainResult::Ok((group, users, roles))
    };
    let (group, users, roles) = match read.await {
        Ok(r) => r,
        Err(e) => return ctx.at("/groups", "Groups").fail(e),
    };
    let ctx = ctx.at("/groups", &group.name);
    let users = users
        .into_iter()
        .map(|u| Candidate {
            member: group.members.iter().any(|m| m.user_id == u.user.id),
            user: u.user,
        })
        .collect();
    let unassigned = ctx
        .workspaces
        .iter()
        .filter(|w| !group.workspaces.iter().any(|a| a.workspace_id == w.id))
        .cloned()
        .collect();
    let shown = ctx.flash.is_some();
    let page = GroupPage {
        ctx,
        group,
        users,
        roles,
        unassigned,
    };
    finish(shown, page.render())
}
