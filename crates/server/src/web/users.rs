//! The Account Admin's Users pages (rule 10): every user of the organization with the open
//! invitations (`/users`), and one user's profile, status and memberships (`/users/{id}`).
//!
//! Both are guarded as `GET /users` is (`AccountAdmin`) and read through the same store calls
//! in the Account Admin's scope. Their forms (invite, resend, revoke, save a user, a
//! membership's role, unlink, add to a workspace) are the API routes of `routes::pages`.

use super::page::{Ctx, When, finish};
use crate::api::SearchParams;
use crate::auth::Admin;
use crate::extract::Id;
use crate::state::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use flowspace_core::DomainResult;
use flowspace_core::authz::AdminScope;
use flowspace_core::cursor::{Cursor, PageRequest, Search};
use flowspace_core::ids::{RoleId, UserId, WorkspaceId};
use flowspace_core::model::{Role, User, UserStatus, Workspace, WorkspaceRole};
use flowspace_store::{Invitation, InvitationStatus};
use serde::Deserialize;

/// A row of the Users page: the user, their workspaces and the name of their active one.
struct UserRow {
    user: User,
    workspaces: Vec<WorkspaceRole>,
    /// The active workspace's name (empty for none).
    active: String,
}

#[derive(Template)]
#[template(path = "web/users.html")]
struct UsersPage {
    ctx: Ctx,
    rows: Vec<UserRow>,
    /// The search typed (`q`), as typed.
    q: String,
    /// The next page's link (empty on the last page).
    next: String,
    /// A page of the open invitations, newest first, searched by `iq` (as `GET /invitations`
    /// pages and searches them).
    invitations: Vec<Invitation>,
    /// The invitations' search, as typed.
    iq: String,
    /// The invitations' next page (empty on the last page).
    inext: String,
    roles: Vec<Role>,
    /// The invite form's workspaces: those whose name contains `wpick`, at most
    /// `workspaces::PICKER_LIMIT` (the active one first when it matches).
    targets: Vec<Workspace>,
    /// The invite form's workspace search, as typed.
    wpick: String,
    /// Whether more workspaces match than the invite form offers.
    wmore: bool,
}

/// `?q=&cursor=` (users), `?iq=&icursor=` (invitations) and `?wpick=` (the invite form's
/// workspace search) of the Users page.
#[derive(Debug, Default, Deserialize)]
pub struct UsersQuery {
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    cursor: Option<String>,
    #[serde(default)]
    iq: Option<String>,
    #[serde(default)]
    icursor: Option<String>,
    #[serde(default)]
    wpick: Option<String>,
}

/// Users per page of the Users page.
const PAGE: u32 = 50;

/// `GET /users`: the users (a page of `GET /users`, searched by `q` as the API searches), and
/// the invitations waiting for a sign-up.
pub async fn list(
    State(state): State<AppState>,
    Admin(admin): Admin,
    ctx: Ctx,
    Query(query): Query<UsersQuery>,
) -> Response {
    let ctx = ctx.at("/users", "Users");
    let q = query.q.clone().unwrap_or_default();
    let iq = query.iq.clone().unwrap_or_default();
    let wpick = query.wpick.clone().unwrap_or_default();
    let invitation_params = SearchParams {
        limit: Some(PAGE),
        cursor: query.icursor.clone(),
        q: query.iq.clone(),
    };
    let read = async {
        let search = Search::new(query.q.as_deref())?;
        let page = PageRequest::new(Some(PAGE), query.cursor.as_deref())?;
        let workspace_search = Search::new(Some(&wpick))?;
        let users = state.store.page_users(&admin, &search, page).await?;
        let invitations = state
            .store
            .open_invitations(&admin.every_workspace())
            .await?;
        let found = |s: &Search, i: &Invitation| s.matches(&[&i.email]);
        let key = |i: &Invitation| Cursor {
            created_at: i.created_at,
            id: i.id,
        };
        let invitations = invitation_params.cut(invitations, true, found, key)?;
        let roles = state.store.list_roles(&admin).await?;
        DomainResult::Ok((users, invitations, roles, workspace_search))
    };
    let (users, invitations, roles, workspace_search) = match read.await {
        Ok(r) => r,
        Err(e) => return ctx.fail(e),
    };
    let next = super::page::next_page("/users", &q, users.next.map(|c| c.encode()).as_deref());
    let inext = invitations
        .next_cursor
        .map(|c| {
            let query = serde_urlencoded::to_string([("iq", iq.as_str()), ("icursor", &c)]);
            format!("/users?{}#invitations", query.unwrap_or_default())
        })
        .unwrap_or_default();
    // The active workspace first (the one the form picks), then the others found: at most
    // `PICKER_LIMIT` of them, chosen in SQL.
    let active = ctx.me.active_workspace.as_ref().map(|w| w.id);
    let org = admin.organization();
    let read = async {
        let limit = super::workspaces::PICKER_LIMIT;
        let (found, over) = ctx
            .find_workspaces(&state, &workspace_search, limit + 1)
            .await?;
        let first = match active {
            Some(a) if workspace_search.matches(&[ctx.active_name()]) => {
                state.store.workspace_of(org, a).await?
            }
            _ => None,
        };
        let mut others: Vec<Workspace> =
            found.into_iter().filter(|w| Some(w.id) != active).collect();
        let wmore = over || others.len() > limit as usize;
        others.truncate(limit as usize);
        let targets: Vec<Workspace> = first.into_iter().chain(others).collect();
        Ok::<_, crate::error::ApiError>((targets, wmore))
    };
    let (targets, wmore) = match read.await {
        Ok(r) => r,
        Err(e) => return ctx.fail(e),
    };
    let rows = users
        .items
        .into_iter()
        .map(|u| UserRow {
            // The active workspace is always one of the user's own memberships.
            active: u
                .active_workspace_id
                .and_then(|id| u.workspaces.iter().find(|w| w.workspace_id == id))
                .map(|w| w.workspace_name.clone())
                .unwrap_or_default(),
            user: u.user,
            workspaces: u.workspaces,
        })
        .collect();
    let shown = ctx.flash.is_some();
    let page = UsersPage {
        ctx,
        rows,
        q,
        next,
        invitations: invitations.items,
        iq,
        inext,
        roles,
        targets,
        wpick,
        wmore,
    };
    finish(shown, page.render())
}

/// One workspace a user belongs to, directly or only through groups.
struct Membership {
    ws_id: WorkspaceId,
    ws_name: String,
    role_id: RoleId,
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
    user: User,
    /// The statuses the Account Admin may set, when this user's may be set at all (not the
    /// Account Admin's, nor an invited user's before sign-up).
    settable: Option<[UserStatus; 2]>,
    memberships: Vec<Membership>,
    /// Workspaces the user has no membership of their own in.
    addable: Vec<Workspace>,
    roles: Vec<Role>,
}

/// The user's memberships: each workspace of theirs, whether the membership is their own, and
/// the groups that reach it.
async fn memberships(
    state: &AppState,
    admin: &AdminScope,
    user: UserId,
    workspaces: Vec<WorkspaceRole>,
) -> DomainResult<Vec<Membership>> {
    let groups = state.store.list_groups(admin).await?;
    let direct = state.store.direct_workspaces(admin, user).await?;
    let theirs: Vec<_> = groups
        .iter()
        .filter(|g| g.members.iter().any(|m| m.user_id == user))
        .collect();
    Ok(workspaces
        .into_iter()
        .map(|w| Membership {
            via: theirs
                .iter()
                .filter(|g| {
                    g.workspaces
                        .iter()
                        .any(|a| a.workspace_id == w.workspace_id)
                })
                .map(|g| g.name.clone())
                .collect(),
            direct: direct.contains(&w.workspace_id),
            ws_id: w.workspace_id,
            ws_name: w.workspace_name,
            role_id: w.role_id,
            role_name: w.role_name,
        })
        .collect())
}

/// `GET /users/{id}`: a user's profile and status, and their role in each workspace.
pub async fn edit(
    State(state): State<AppState>,
    Admin(admin): Admin,
    ctx: Ctx,
    Id(id): Id<UserId>,
) -> Response {
    let read = async {
        let detail = state.store.user_detail(&admin, id).await?;
        let memberships = memberships(&state, &admin, id, detail.workspaces).await?;
        let roles = state.store.list_roles(&admin).await?;
        DomainResult::Ok((detail.user, memberships, roles))
    };
    let (user, memberships, roles) = match read.await {
        Ok(r) => r,
        Err(e) => return ctx.at("/users", "Users").fail(e),
    };
    let ctx = ctx.at("/users", &user.name);
    let all = match ctx.all_workspaces(&state).await {
        Ok(all) => all,
        Err(e) => return ctx.fail(e),
    };
    let addable = all
        .into_iter()
        .filter(|w| !memberships.iter().any(|m| m.direct && m.ws_id == w.id))
        .collect();
    let settable = (!user.is_account_admin && user.status != UserStatus::Invited)
        .then_some(UserStatus::SETTABLE);
    let shown = ctx.flash.is_some();
    let page = UserPage {
        ctx,
        user,
        settable,
        memberships,
        addable,
        roles,
    };
    finish(shown, page.render())
}

/// How an invitation's status reads on the page.
trait Shown {
    fn shown(&self) -> &'static str;
}

impl Shown for InvitationStatus {
    fn shown(&self) -> &'static str {
        match self {
            InvitationStatus::Pending => "pending",
            InvitationStatus::Expired => "expired",
            InvitationStatus::Accepted => "accepted",
            InvitationStatus::Revoked => "revoked",
        }
    }
}
