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
use flowspace_core::ids::{GroupId, UserId};
use flowspace_core::model::{Role, UserStatus, Workspace};
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

/// A user the members' checklist shows: a member (ticked), or one the search found.
struct Candidate {
    id: UserId,
    name: String,
    email: String,
    /// ` · invited`-style, for a user who is not active.
    status: String,
    member: bool,
}

#[derive(Template)]
#[template(path = "web/group.html")]
struct GroupPage {
    ctx: Ctx,
    group: Group,
    /// The members (ticked), then the non-members `pick` finds (at most
    /// `workspaces::PICKER_LIMIT`, searched in SQL: never every user of the organization).
    users: Vec<Candidate>,
    /// The search for users to add, as typed.
    pick: String,
    /// Whether more users match than are shown.
    more: bool,
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
    Query(query): Query<super::workspaces::PickQuery>,
) -> Response {
    let pick = query.pick.unwrap_or_default();
    let read = async {
        let group = state.store.group(&admin, id).await?;
        let search = Search::new(Some(&pick))?;
        let is_member = |u: UserId| group.members.iter().any(|m| m.user_id == u);
        let found = super::workspaces::pick_users(&state, &admin, &search, is_member).await?;
        let roles = state.store.list_roles(&admin).await?;
        DomainResult::Ok((group, found, roles))
    };
    let (group, (found, more), roles) = match read.await {
        Ok(r) => r,
        Err(e) => return ctx.at("/groups", "Groups").fail(e),
    };
    let ctx = ctx.at("/groups", &group.name);
    let users = group
        .members
        .iter()
        .map(|m| Candidate {
            id: m.user_id,
            name: m.name.clone(),
            email: m.email.clone(),
            status: String::new(),
            member: true,
        })
        .chain(found.into_iter().map(|u| Candidate {
            id: u.id,
            status: if u.status == UserStatus::Active {
                String::new()
            } else {
                format!(" · {}", u.status.as_str())
            },
            name: u.name,
            email: u.email,
            member: false,
        }))
        .collect();
    let unassigned = match ctx.all_workspaces(&state).await {
        Ok(all) => all
            .into_iter()
            .filter(|w| !group.workspaces.iter().any(|a| a.workspace_id == w.id))
            .collect(),
        Err(e) => return ctx.fail(e),
    };
    let shown = ctx.flash.is_some();
    let page = GroupPage {
        ctx,
        group,
        users,
        pick,
        more,
        roles,
        unassigned,
    };
    finish(shown, page.render())
}
