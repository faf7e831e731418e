//! The pages of organizations (SPEC §7): the active organization's settings and its members
//! (owners and admins, guarded as `PATCH /organization` and `GET /organization/members` are),
//! every organization of the installation (the instance admin, as `PATCH /organizations/{id}`),
//! and the page of a signed-in user who belongs to no organization or whose organization is
//! suspended (where the page layer sends the API's `no_organization` and
//! `organization_suspended` refusals).
//!
//! Each reads through the store in the scope its guard handed out; its forms are the API
//! routes of `routes::pages`, which decide again (only owners set the SSO and MFA policy or
//! manage owners, whatever a page shows).

use super::page::{Ctx, When, finish};
use super::surface::redirect;
use crate::api::SearchOnly;
use crate::auth::{Admin, Instance};
use crate::state::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use flowspace_core::model::{
    MyOrganization, OrgMember, OrgRole, OrgStatus, Organization, OrganizationSummary,
};

#[derive(Template)]
#[template(path = "web/organization.html")]
struct SettingsPage {
    ctx: Ctx,
    org: Organization,
    /// An owner: may change the SSO and MFA policy (shown read-only to admins).
    owner: bool,
}

impl SettingsPage {
    fn domains(&self) -> String {
        self.org.settings.allowed_email_domains.join("\n")
    }
    fn lifetime(&self) -> String {
        self.org
            .settings
            .session_lifetime_minutes
            .map(|m| m.to_string())
            .unwrap_or_default()
    }
}

/// `GET /organization`: the active organization's name and settings (rule 19).
pub async fn settings(State(state): State<AppState>, Admin(admin): Admin, ctx: Ctx) -> Response {
    let ctx = ctx.at("/organization", "Organization Settings");
    let org = match state.store.organization(admin.org()).await {
        Ok(o) => o,
        Err(e) => return ctx.fail(e),
    };
    let shown = ctx.flash.is_some();
    let page = SettingsPage {
        ctx,
        org,
        owner: admin.role() == OrgRole::Owner,
    };
    finish(shown, page.render())
}

/// A member's row, and what the caller may do to them.
struct MemberRow {
    member: OrgMember,
    /// The roles the caller may give them (empty: their row is read-only to the caller).
    roles: Vec<OrgRole>,
    /// The caller may remove them from the organization.
    can_remove: bool,
}

#[derive(Template)]
#[template(path = "web/members.html")]
struct MembersPage {
    ctx: Ctx,
    rows: Vec<MemberRow>,
    /// The search typed (`q`), as typed.
    q: String,
}

/// `GET /organization/members`: the members with their organization roles and statuses, those
/// whose name or email contains `q` (as `GET /organization/members` searches). Only an owner
/// is offered what touches owners (making one, changing or removing one).
pub async fn members(
    State(state): State<AppState>,
    Admin(admin): Admin,
    ctx: Ctx,
    Query(query): Query<SearchOnly>,
) -> Response {
    let ctx = ctx.at("/organization/members", "Members");
    let read = async {
        let search = query.search()?;
        state.store.list_members(&admin, &search).await
    };
    let members = match read.await {
        Ok(m) => m,
        Err(e) => return ctx.fail(e),
    };
    let owner = admin.role() == OrgRole::Owner;
    let rows = members
        .into_iter()
        .map(|m| {
            let reachable = owner || m.role != OrgRole::Owner;
            let roles = match (reachable, owner) {
                (false, _) => Vec::new(),
                (true, true) => vec![OrgRole::Owner, OrgRole::Admin, OrgRole::Member],
                (true, false) => vec![OrgRole::Admin, OrgRole::Member],
            };
            MemberRow {
                can_remove: reachable && m.user_id != admin.user_id(),
                roles,
                member: m,
            }
        })
        .collect();
    let shown = ctx.flash.is_some();
    let q = query.q.unwrap_or_default();
    finish(shown, MembersPage { ctx, rows, q }.render())
}

#[derive(Template)]
#[template(path = "web/organizations.html")]
struct OrganizationsPage {
    ctx: Ctx,
    rows: Vec<OrganizationSummary>,
    /// The search typed (`q`), as typed.
    q: String,
}

impl OrganizationsPage {
    fn suspended(o: &OrganizationSummary) -> bool {
        o.status == OrgStatus::Suspended
    }
}

/// `GET /organizations`: every organization of the installation (names, statuses and member
/// counts: nothing inside), for the instance admin; those whose name contains `q` (as
/// `GET /organizations` searches).
pub async fn organizations(
    State(state): State<AppState>,
    Instance(instance): Instance,
    ctx: Ctx,
    Query(query): Query<SearchOnly>,
) -> Response {
    let ctx = ctx.at("/organizations", "Organizations");
    let read = async {
        let search = query.search()?;
        state.store.list_all_organizations(&instance, &search).await
    };
    let rows = match read.await {
        Ok(r) => r,
        Err(e) => return ctx.fail(e),
    };
    let shown = ctx.flash.is_some();
    let q = query.q.unwrap_or_default();
    finish(shown, OrganizationsPage { ctx, rows, q }.render())
}

#[derive(Template)]
#[template(path = "web/no_organization.html")]
struct UnavailablePage {
    ctx: Ctx,
    /// The name of the suspended active organization (`None`: the caller belongs to none).
    suspended: Option<String>,
    /// The caller's other organizations, to switch to.
    elsewhere: Vec<MyOrganization>,
}

/// `GET /no-organization`: what a signed-in user whose active organization cannot be used
/// sees: that they belong to none (and may only sign out), or that it is suspended (with the
/// organizations to switch to). Anyone else goes on to the dashboard.
pub async fn unavailable(ctx: Ctx) -> Response {
    if ctx.me.organization.is_some() {
        return redirect("/", None, Vec::new());
    }
    let active = ctx.me.active_organization;
    let suspended = ctx
        .me
        .organizations
        .iter()
        .find(|o| Some(o.id) == active)
        .map(|o| o.name.clone());
    let elsewhere = ctx
        .me
        .organizations
        .iter()
        .filter(|o| Some(o.id) != active && o.status == OrgStatus::Active)
        .cloned()
        .collect();
    let ctx = ctx.at("", "No organization");
    let shown = ctx.flash.is_some();
    let page = UnavailablePage {
        ctx,
        suspended,
        elsewhere,
    };
    finish(shown, page.render())
}
