//! The Workspaces pages: the list, and one workspace (details, members and their roles, the
//! groups assigned to it, add by email, delete).
//!
//! The list shows what `GET /workspaces` answers the caller (every workspace for the Account
//! Admin, their own for anyone else). A workspace's page has the guard of
//! `GET /workspace/{id}` (`workspace:view` there), and its controls follow the caller's
//! permissions in that workspace, from the scope the guard handed out: a member whose role
//! holds `workspace:add-user`, `:update` or `:unlink-user` administers it without being the
//! Account Admin. What only the Account Admin may read or do (every user of the organization,
//! groups, deleting the workspace) is shown only with the admin scope `flowspace_core::authz`
//! hands out for them.

use super::page::{Ctx, Text, When, finish};
use crate::api::SearchParams;
use crate::auth::{Caller, Scope};
use crate::state::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use flowspace_core::authz;
use flowspace_core::cursor::{Cursor, PageRequest, Search};
use flowspace_core::ids::{RoleId, UserId};
use flowspace_core::model::{Member, Role, User, Workspace};
use flowspace_core::perm;
use flowspace_store::Group;

#[derive(Template)]
#[template(path = "web/workspaces.html")]
struct ListPage {
    ctx: Ctx,
    rows: Vec<Workspace>,
    /// The search typed (`q`).
    q: String,
    /// The next page's link (empty on the last page).
    next: String,
}

/// `GET /workspaces`: the caller's workspaces (`GET /workspaces`), all of them for the Account
/// Admin, read through the same store call with the same arguments as the API route; the page
/// shows a page of that list searched by `q`, cut as the API route cuts it.
///
/// Without a usable organization (none, or a suspended one) there is nothing to list: the page
/// that says so instead.
pub async fn list(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(query): Query<SearchParams>,
) -> Response {
    if ctx.me.organization.is_none() {
        return super::surface::redirect(super::surface::UNAVAILABLE_PAGE, None, Vec::new());
    }
    let ctx = ctx.at("/workspaces", "Workspaces");
    let found = |s: &Search, w: &Workspace| s.matches(&[&w.name]);
    let key = |w: &Workspace| Cursor {
        created_at: w.created_at,
        id: w.id.0,
    };
    let all = match ctx.all_workspaces(&state).await {
        Ok(all) => all,
        Err(e) => return ctx.fail(e),
    };
    let list = match query.cut(all, false, found, key) {
        Ok(l) => l,
        Err(e) => return ctx.fail(e),
    };
    let q = query.q.clone().unwrap_or_default();
    let next = super::page::next_page("/workspaces", &q, list.next_cursor.as_deref());
    let shown = ctx.flash.is_some();
    let page = ListPage {
        rows: list.items,
        q,
        next,
        ctx,
    };
    finish(shown, page.render())
}

#[derive(Template)]
#[template(path = "web/switch_workspace.html")]
struct SwitchPage {
    ctx: Ctx,
    /// The caller's workspaces whose name contains `q`, at most `SWITCH_LIMIT`.
    found: Vec<Workspace>,
    /// The search typed, as typed.
    q: String,
    /// Where switching leads (the page the search was made from).
    back: String,
    /// The search cleared (the same page without `q`).
    clear: String,
    /// Whether more workspaces match than are listed.
    more: bool,
}

/// `?q=&back=` of the switcher's search page.
#[derive(Debug, Default, serde::Deserialize)]
pub struct SwitchQuery {
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    back: Option<String>,
}

/// Most workspaces the switcher's search page lists at once.
pub const SWITCH_LIMIT: u32 = 50;

/// `GET /switch-workspace?q=&back=`: the workspaces the caller may switch to (those the
/// layout's switcher chooses from: their own, every one for the Account Admin) whose name
/// contains `q`, found in SQL and at most `SWITCH_LIMIT`; each is switched to by the layout's
/// form, which then leads `back` (a path of this site, else the dashboard).
pub async fn switch(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(query): Query<SwitchQuery>,
) -> Response {
    let ctx = ctx.at("", "Switch workspace");
    let q = query.q.unwrap_or_default();
    let back = query
        .back
        .filter(|b| super::surface::is_local(b))
        .unwrap_or_else(|| "/".into());
    let found = async {
        let search = Search::new(Some(&q))?;
        ctx.find_workspaces(&state, &search, SWITCH_LIMIT).await
    };
    let (found, more) = match found.await {
        Ok(r) => r,
        Err(e) => return ctx.fail(e),
    };
    let shown = ctx.flash.is_some();
    let clear = format!(
        "/switch-workspace?{}",
        serde_urlencoded::to_string([("back", back.as_str())]).unwrap_or_default()
    );
    let page = SwitchPage {
        ctx,
        found,
        q,
        back,
        clear,
        more,
    };
    finish(shown, page.render())
}

/// A member's row, and what the caller may do to them.
struct MemberRow {
    member: Member,
    /// Change their role: `workspace:add-user`, and every permission of the role they hold.
    can_change: bool,
    /// Unlink them: `workspace:unlink-user`, and every permission of the role they hold.
    can_unlink: bool,
}

/// A group assigned to this workspace, with the role it gives here.
struct Assigned {
    group: Group,
    role_id: RoleId,
}

#[derive(Template)]
#[template(path = "web/workspace.html")]
struct WorkspacePage {
    ctx: Ctx,
    ws: Workspace,
    /// The page of members the table shows (searched by `q`).
    members: Vec<MemberRow>,
    /// How many members the workspace has in all.
    member_total: usize,
    /// The members table's search, as typed.
    q: String,
    /// The members table's next page (empty on the last page).
    next: String,
    /// Members other than the Account Admin (the workspace cannot be deleted while any remain).
    others: usize,
    /// The roles the caller may give (every permission of which they hold here), built-in
    /// first.
    roles: Vec<Role>,
    can_update: bool,
    can_add: bool,
    /// The Account Admin: sees every user and group, and may delete the workspace.
    is_admin: bool,
    /// The users the "Add a member" picker offers: non-members whose name or email contains
    /// `pick`, at most `PICKER_LIMIT`, found in SQL (never every user of the organization).
    candidates: Vec<User>,
    /// The picker's search, as typed.
    pick: String,
    /// Whether more users match than the picker shows.
    more: bool,
    assigned: Vec<Assigned>,
    /// Groups not assigned here yet (Account Admin only).
    unassigned: Vec<Group>,
}

/// `?pick=` of a workspace page: the "Add a member" picker's search.
#[derive(Debug, Default, serde::Deserialize)]
pub struct PickQuery {
    #[serde(default)]
    pub pick: Option<String>,
}

/// Most users the "Add a member" picker offers at once.
pub const PICKER_LIMIT: u32 = 50;
/// Most pages of users the picker reads to fill itself with non-members.
const PICKER_PAGES: usize = 5;

/// The picker's users: non-members matching `search`, a page at a time (members are skipped,
/// so a few pages may be read), at most `PICKER_LIMIT`; and whether more match.
pub(super) async fn pick_users(
    state: &AppState,
    admin: &authz::AdminScope,
    search: &Search,
    is_member: impl Fn(UserId) -> bool,
) -> flowspace_core::DomainResult<(Vec<User>, bool)> {
    let mut out = Vec::new();
    let mut after = None;
    for _ in 0..PICKER_PAGES {
        let request = PageRequest {
            limit: PICKER_LIMIT,
            after,
        };
        let page = state.store.page_users(admin, search, request).await?;
        for u in page.items {
            if is_member(u.user.id) {
                continue;
            }
            if out.len() == PICKER_LIMIT as usize {
                return Ok((out, true));
            }
            out.push(u.user);
        }
        match page.next {
            Some(c) => after = Some(c),
            None => return Ok((out, false)),
        }
    }
    Ok((out, true))
}

/// The workspaces the credential share dialog's picker offers: those of
/// `all` whose name contains `search` and that `skip` leaves out, at most `PICKER_LIMIT`, so
/// the picker stays small with 10,000 workspaces; and whether more match.
pub(super) fn pick_workspaces<'a>(
    all: &'a [Workspace],
    search: &Search,
    skip: impl Fn(&Workspace) -> bool,
) -> (Vec<&'a Workspace>, bool) {
    let mut found = all
        .iter()
        .filter(|w| !skip(w) && search.matches(&[&w.name]));
    let picked: Vec<&Workspace> = found.by_ref().take(PICKER_LIMIT as usize).collect();
    (picked, found.next().is_some())
}

impl WorkspacePage {
    fn is_viewer(r: &Role) -> bool {
        r.name == "Viewer"
    }
}

/// `?q=&cursor=&pick=` of a workspace page: the members table's search and page (as
/// `GET /workspace/{id}/users` searches and pages), and the "Add a member" picker's search.
#[derive(Debug, Default, serde::Deserialize)]
pub struct ShowQuery {
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    cursor: Option<String>,
    #[serde(default)]
    pick: Option<String>,
}

/// Members per page of a workspace page.
const MEMBERS_PAGE: u32 = 50;

/// `GET /workspaces/{id}`: one workspace, in the scope of `GET /workspace/{id}`.
pub async fn show(
    State(state): State<AppState>,
    Scope(scope): Scope,
    caller: Caller,
    ctx: Ctx,
    Query(query): Query<ShowQuery>,
) -> Response {
    let ctx = ctx.at("/workspaces", "Workspaces");
    let pick = query.pick.unwrap_or_default();
    let q = query.q.clone().unwrap_or_default();
    let ws = match state.store.workspace(&scope).await {
        Ok(w) => w,
        Err(e) => return ctx.fail(e),
    };
    let ctx = ctx.at("/workspaces", &ws.name);
    // Every member (for the counts, what the picker leaves out), and the page of them the
    // table shows.
    let read = async {
        let search = Search::new(query.q.as_deref())?;
        let page = PageRequest::new(Some(MEMBERS_PAGE), query.cursor.as_deref())?;
        tokio::try_join!(
            state.store.members(&scope),
            state.store.page_members(&scope, &search, page),
            state.store.list_roles(&scope),
        )
    };
    let (all, shown_members, mut roles) = match read.await {
        Ok(r) => r,
        Err(e) => return ctx.fail(e),
    };
    let path = format!("/workspaces/{}", ws.id);
    let next = super::page::next_page(&path, &q, shown_members.next.map(|c| c.encode()).as_deref());
    let held = |role: RoleId| {
        roles
            .iter()
            .find(|r| r.id == role)
            .is_some_and(|r| scope.require_all(r.permissions).is_ok())
    };
    let (can_add, can_unlink) = (
        scope.require(perm!(Workspace, AddUser)).is_ok(),
        scope.require(perm!(Workspace, UnlinkUser)).is_ok(),
    );
    let members: Vec<MemberRow> = shown_members
        .items
        .into_iter()
        .map(|m| {
            let below = !m.is_account_admin && held(m.role_id);
            MemberRow {
                can_change: can_add && below,
                can_unlink: can_unlink && below,
                member: m,
            }
        })
        .collect();
    roles.retain(|r| scope.require_all(r.permissions).is_ok());
    roles.sort_by_key(|r| !r.builtin);
    let others = all.iter().filter(|m| !m.is_account_admin).count();

    // What only the Account Admin reads: the users the picker offers and the groups.
    let (mut candidates, mut more) = (Vec::new(), false);
    let (mut assigned, mut unassigned) = (Vec::new(), Vec::new());
    let admin = authz::authorize_account_admin(&caller.facts).ok();
    if let Some(admin) = &admin {
        let is_member = |id: UserId| all.iter().any(|m| m.user_id == id);
        let picked = async {
            let search = Search::new(Some(&pick))?;
            pick_users(&state, admin, &search, is_member).await
        };
        let (picked, groups) = match tokio::try_join!(picked, state.store.list_groups(admin)) {
            Ok(r) => r,
            Err(e) => return ctx.fail(e),
        };
        (candidates, more) = picked;
        for group in groups {
            let here = group
                .workspaces
                .iter()
                .find(|a| a.workspace_id == ws.id)
                .map(|a| a.role_id);
            match here {
                Some(role_id) => assigned.push(Assigned { group, role_id }),
                None => unassigned.push(group),
            }
        }
    }
    let shown = ctx.flash.is_some();
    let page = WorkspacePage {
        ctx,
        ws,
        members,
        member_total: all.len(),
        q,
        next,
        others,
        roles,
        can_update: scope.require(perm!(Workspace, Update)).is_ok(),
        can_add,
        is_admin: admin.is_some(),
        candidates,
        pick,
        more,
        assigned,
        unassigned,
    };
    finish(shown, page.render())
}
