//! What every signed-in page has: the layout's context (`Ctx`), built from the caller the
//! route's guard authenticated, and the answer a page gives (`finish`, `Ctx::fail`).
//!
//! A page reads through the same services as the API, in the scope its guard handed out, and
//! renders the typed models they return: a field renamed in a model fails the template's
//! compilation, not a page at run time.

use super::view::{ADMIN_NAV, Flash, NavLink, TRANSFER_NAV, resource_nav_links};
use super::{error_response, page_response};
use crate::api::session::{Me, me_for_page};
use crate::auth::{Caller, cookie};
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use flowspace_core::authz;
use flowspace_core::cursor::Search;
use flowspace_core::ids::OrganizationId;
use flowspace_core::model::{OrgRole, OrgStatus, Workspace};
use flowspace_core::perm;
use flowspace_core::permissions::{Permission, PermissionSet};

/// The layout's context: who is signed in, where, and what they may do there.
pub struct Ctx {
    pub me: Me,
    /// The caller's permissions in the active workspace.
    pub permissions: PermissionSet,
    /// The switcher's choices: the first `SWITCHER_LIMIT` workspaces the caller may act in
    /// (Default first, then by name); the active one is added by `switcher` when not among
    /// them. Never every workspace: a page that needs them all reads them (`all_workspaces`).
    pub first_workspaces: Vec<Workspace>,
    /// More workspaces than the switcher shows: it offers a search (`GET /switch-workspace`).
    pub switcher_more: bool,
    /// The organization the switcher's workspaces are of (`None`: none).
    org_id: Option<OrganizationId>,
    pub csrf: String,
    pub flash: Option<Flash>,
    /// The page's path and query, where forms come back to.
    pub here: String,
    /// The sidebar entry to highlight.
    pub section: String,
    pub title: String,
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let fail = |e: ApiError| error_response(None, e.status, &e.message);
        let caller = parts.extensions.get::<Caller>().cloned().ok_or_else(|| {
            fail(ApiError::from(flowspace_core::DomainError::Internal(
                "a page reads a context its guard does not give".into(),
            )))
        })?;
        let myself =
            authz::authorize_self(&caller.facts, caller.session).map_err(|e| fail(e.into()))?;
        let caller = session_layout(state, parts, caller, &myself)
            .await
            .map_err(fail)?;
        let me = me_for_page(state, &myself, &caller).await.map_err(fail)?;
        // The organization whose workspaces the layout and the pages may list: the caller's
        // active one while they are a member in good standing (a suspended organization's
        // workspaces are not listed, rule 18, as `GET /workspaces` answers).
        let org_id = authz::authorize_org_member(&caller.facts)
            .ok()
            .map(|s| s.organization());
        let (first_workspaces, switcher_more) = match org_id {
            Some(org) => state
                .store
                .find_workspaces(
                    org,
                    myself.user_id(),
                    caller.facts.is_account_admin(),
                    &Search::default(),
                    SWITCHER_LIMIT,
                )
                .await
                .map_err(|e| fail(e.into()))?,
            None => (Vec::new(), false),
        };
        Ok(Ctx {
            me,
            permissions: caller
                .facts
                .workspace
                .as_ref()
                .map(|w| w.permissions)
                .unwrap_or_default(),
            first_workspaces,
            switcher_more,
            org_id,
            csrf: state.csrf_token(myself.session()),
            flash: cookie(&parts.headers, Flash::COOKIE).and_then(|f| Flash::decode(&f)),
            here: super::surface::here(&parts.uri),
            section: String::new(),
            title: String::new(),
        })
    }
}

/// The caller as the layout shows them: in the session's active workspace. A page of the
/// workspace its path names (`PathWorkspace`) was authorized in that one, so the session's own
/// standing is read again (one cached read) for the switcher and the sidebar; the page's
/// controls follow the scope its guard handed out.
async fn session_layout(
    state: &AppState,
    parts: &mut Parts,
    mut caller: Caller,
    myself: &authz::SelfScope,
) -> Result<Caller, ApiError> {
    let Some(named) = caller.facts.workspace.as_ref().map(|w| w.workspace) else {
        return Ok(caller);
    };
    let in_path = RawPathParams::from_request_parts(parts, state)
        .await
        .is_ok_and(|params| {
            params
                .iter()
                .any(|(k, v)| k == "id" && v.trim().parse::<uuid::Uuid>().ok() == Some(named.0))
        });
    if !in_path {
        return Ok(caller);
    }
    let own = state
        .store
        .session_facts(myself.session(), myself.user_id(), None)
        .await?
        .ok_or_else(|| ApiError::unauthorized("the session has ended: sign in again"))?;
    caller.facts.workspace = own.caller.workspace;
    Ok(caller)
}

impl Ctx {
    /// Sets the sidebar entry to highlight and the page's title.
    pub fn at(mut self, section: &str, title: &str) -> Self {
        self.section = section.into();
        self.title = title.into();
        self
    }
    pub fn can(&self, p: Permission) -> bool {
        self.permissions.contains(p)
    }
    pub fn is_admin(&self) -> bool {
        self.me.is_account_admin
    }
    pub fn user_name(&self) -> &str {
        &self.me.user.name
    }
    pub fn user_email(&self) -> &str {
        &self.me.user.email
    }
    pub fn active_id(&self) -> String {
        self.me
            .active_workspace
            .as_ref()
            .map(|w| w.id.to_string())
            .unwrap_or_default()
    }
    pub fn active_name(&self) -> &str {
        self.me
            .active_workspace
            .as_ref()
            .map_or("", |w| w.name.as_str())
    }
    pub fn role(&self) -> &str {
        self.me
            .active_workspace
            .as_ref()
            .and_then(|w| w.role.as_deref())
            .unwrap_or("")
    }
    pub fn org(&self) -> &str {
        self.me
            .organization
            .as_ref()
            .map_or("", |o| o.name.as_str())
    }
    /// The caller's role in the active organization (`None`: they belong to none).
    pub fn org_role(&self) -> Option<OrgRole> {
        let active = self.me.active_organization?;
        self.me
            .organizations
            .iter()
            .find(|o| o.id == active)
            .map(|o| o.role)
    }
    /// An owner of the active organization (who manages owners, SSO and MFA policy).
    pub fn is_owner(&self) -> bool {
        self.org_role() == Some(OrgRole::Owner)
    }
    pub fn is_instance_admin(&self) -> bool {
        self.me.is_instance_admin
    }
    /// The organization switcher's choices (id, name, whether it is the active one), shown
    /// when the caller belongs to more than one organization.
    pub fn org_switcher(&self) -> Vec<(String, String, bool)> {
        if self.me.organizations.len() < 2 {
            return Vec::new();
        }
        self.me
            .organizations
            .iter()
            .map(|o| {
                let selected = Some(o.id) == self.me.active_organization;
                let name = match o.status {
                    OrgStatus::Active => o.name.clone(),
                    OrgStatus::Suspended => format!("{} (suspended)", o.name),
                };
                (o.id.to_string(), name, selected)
            })
            .collect()
    }
    pub fn initials(&self) -> String {
        initials(&self.me.user.name)
    }
    /// The workspace switcher's choices: id, name, and whether it is the active one. The
    /// active workspace is always among them: first, when it is not among the first
    /// `SWITCHER_LIMIT`.
    pub fn switcher(&self) -> Vec<(String, String, bool)> {
        let active = self.active_id();
        let mut choices: Vec<(String, String, bool)> = self
            .first_workspaces
            .iter()
            .map(|w| {
                let id = w.id.to_string();
                let selected = id == active;
                (id, w.name.clone(), selected)
            })
            .collect();
        if !active.is_empty() && !choices.iter().any(|c| c.2) {
            choices.insert(0, (active, self.active_name().to_string(), true));
        }
        choices
    }
    /// Every workspace the caller may act in (every one of the organization for the Account
    /// Admin), for the few pages that list them all; the layout reads only `SWITCHER_LIMIT`.
    pub async fn all_workspaces(&self, state: &AppState) -> Result<Vec<Workspace>, ApiError> {
        let Some(org) = self.org_id else {
            return Ok(Vec::new());
        };
        Ok(state
            .store
            .list_workspaces(org, self.me.user.id, self.me.is_account_admin)
            .await?)
    }
    /// Up to `limit` of the caller's workspaces whose name contains `search` (as the switcher
    /// chooses them), and whether more match.
    pub async fn find_workspaces(
        &self,
        state: &AppState,
        search: &Search,
        limit: u32,
    ) -> Result<(Vec<Workspace>, bool), ApiError> {
        let Some(org) = self.org_id else {
            return Ok((Vec::new(), false));
        };
        Ok(state
            .store
            .find_workspaces(
                org,
                self.me.user.id,
                self.me.is_account_admin,
                search,
                limit,
            )
            .await?)
    }
    pub fn resource_nav(&self) -> Vec<&'static NavLink> {
        resource_nav_links()
            .iter()
            .filter(|l| l.needs.is_none_or(|p| self.can(p)))
            .collect()
    }
    /// The sidebar's Export and Import, each shown with the permission of its route.
    pub fn transfer_nav(&self) -> Vec<&'static NavLink> {
        TRANSFER_NAV
            .iter()
            .filter(|l| l.needs.is_some_and(|p| self.can(p)))
            .collect()
    }
    /// The sidebar's link to the active workspace's own page, for a member who manages it
    /// (a delegated admin: the Account Admin reaches it from the Workspaces list).
    pub fn manage_link(&self) -> Option<String> {
        let manages = [
            perm!(Workspace, AddUser),
            perm!(Workspace, Update),
            perm!(Workspace, UnlinkUser),
        ]
        .into_iter()
        .any(|p| self.can(p));
        let id = self.active_id();
        (manages && !self.is_admin() && !id.is_empty()).then(|| format!("/workspaces/{id}"))
    }
    pub fn admin_nav(&self) -> &'static [NavLink] {
        if self.is_admin() { ADMIN_NAV } else { &[] }
    }
    /// The page that says why this page cannot be shown, inside the layout.
    pub fn fail(self, e: impl Into<ApiError>) -> Response {
        let e = e.into();
        error_response(Some(self), e.status, &e.message)
    }
}

/// Most workspaces the layout's switcher lists (the active one besides); the others are found
/// by searching (`GET /switch-workspace`).
pub const SWITCHER_LIMIT: u32 = 20;

/// Up to two initials of a name, for the avatar.
pub fn initials(name: &str) -> String {
    name.split_whitespace()
        .filter_map(|w| w.chars().next())
        .take(2)
        .collect::<String>()
        .to_uppercase()
}

/// A rendered page as the answer; a toast that was shown (`flash_shown`) is cleared.
pub fn finish(flash_shown: bool, rendered: Result<String, askama::Error>) -> Response {
    let mut cookies = Vec::new();
    if flash_shown {
        cookies.push(HeaderValue::from_static(
            "fs_flash=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax",
        ));
    }
    page_response(rendered, cookies)
}

/// A status a page answers with, when it is not a service's refusal.
pub fn not_found(ctx: Ctx, what: &str) -> Response {
    error_response(
        Some(ctx),
        StatusCode::NOT_FOUND,
        &format!("{what} not found"),
    )
}

// How templates show the values of models: `{{ row.updated_at.when() }}`,
// `{{ row.description.text() }}`, `{{ item.data.pretty() }}` (import the trait beside the
// page's template struct).

/// The link to the next page of a searched list at `path` (empty on the last page).
pub fn next_page(path: &str, q: &str, next: Option<&str>) -> String {
    next.map(|cursor| {
        let query = serde_urlencoded::to_string([("q", q), ("cursor", cursor)]).unwrap_or_default();
        format!("{path}?{query}")
    })
    .unwrap_or_default()
}

/// A time as `2026-11-23 10:02` (UTC); `—` for none.
pub trait When {
    fn when(&self) -> String;
}

impl When for flowspace_core::time::Timestamp {
    fn when(&self) -> String {
        let s = self.to_string();
        if s.len() < 16 {
            return "—".into();
        }
        format!("{} {}", &s[..10], &s[11..16])
    }
}

impl When for Option<flowspace_core::time::Timestamp> {
    fn when(&self) -> String {
        self.as_ref().map_or_else(|| "—".into(), When::when)
    }
}

/// An optional text, empty when absent.
pub trait Text {
    fn text(&self) -> &str;
}

impl Text for Option<String> {
    fn text(&self) -> &str {
        self.as_deref().unwrap_or("")
    }
}

/// Stored JSON, indented.
pub trait Pretty {
    fn pretty(&self) -> String;
}

impl Pretty for serde_json::value::RawValue {
    fn pretty(&self) -> String {
        serde_json::from_str::<serde_json::Value>(self.get())
            .and_then(|v| serde_json::to_string_pretty(&v))
            .unwrap_or_else(|_| self.get().to_string())
    }
}
