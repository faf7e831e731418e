//! The owners' single sign-on pages (SPEC §8): the organization's OpenID Connect providers,
//! the redirect URI to register, adding, testing and deleting one, whether the organization
//! requires single sign-on and which owners may still use their password (break-glass); and
//! one provider's page, where its settings, just-in-time provisioning, allowed domains and
//! group mappings are changed. They read through the store in the scope their guard (owners,
//! as the provider routes) handed out; their forms are the API routes of `routes::pages`.

use super::page::{Ctx, finish};
use crate::api::sso::redirect_uri;
use crate::auth::Admin;
use crate::extract::Id;
use crate::state::AppState;
use askama::Template;
use axum::extract::State;
use axum::response::Response;
use flowspace_core::DomainResult;
use flowspace_core::ids::{RoleId, SsoProviderId, WorkspaceId};
use flowspace_core::model::{OrgMember, OrgRole, Role, Workspace};
use flowspace_store::SsoProvider;

#[derive(Template)]
#[template(path = "web/sso.html")]
struct SsoPage {
    ctx: Ctx,
    rows: Vec<SsoProvider>,
    redirect_uri: String,
    /// The organization requires single sign-on.
    sso_required: bool,
    /// The organization's owners (who may be marked break-glass).
    owners: Vec<OrgMember>,
}

/// `GET /organization/sso`.
pub async fn providers(State(state): State<AppState>, Admin(admin): Admin, ctx: Ctx) -> Response {
    let ctx = ctx.at("/organization/sso", "Single Sign-On");
    let read = async {
        let rows = state.store.sso_providers(admin.organization()).await?;
        let org = state.store.organization(admin.org()).await?;
        let members = state
            .store
            .list_members(&admin, &Default::default())
            .await?;
        DomainResult::Ok((rows, org, members))
    };
    let (rows, org, members) = match read.await {
        Ok(r) => r,
        Err(e) => return ctx.fail(e),
    };
    let shown = ctx.flash.is_some();
    let page = SsoPage {
        ctx,
        rows,
        redirect_uri: redirect_uri(&state),
        sso_required: org.settings.sso_required,
        owners: members
            .into_iter()
            .filter(|m| m.role == OrgRole::Owner)
            .collect(),
    };
    finish(shown, page.render())
}

/// A group mapping as the provider's page shows it.
struct MappingRow {
    group: String,
    workspace_id: WorkspaceId,
    workspace: String,
    role_id: RoleId,
    role: String,
}

#[derive(Template)]
#[template(path = "web/sso_provider.html")]
struct ProviderPage {
    ctx: Ctx,
    p: SsoProvider,
    mappings: Vec<MappingRow>,
    /// The organization's workspaces (what provisioning and mappings may point at).
    workspaces: Vec<Workspace>,
    roles: Vec<Role>,
}

impl ProviderPage {
    fn domains(&self) -> String {
        self.p.allowed_domains.join("\n")
    }
    fn scopes(&self) -> String {
        self.p.scopes.join(", ")
    }
    fn jit_workspace(&self, w: &WorkspaceId) -> bool {
        self.p.jit.workspace_id.as_ref() == Some(w)
    }
    /// The provisioning role, else Viewer (the least a new account gets).
    fn jit_role(&self, r: &Role) -> bool {
        match &self.p.jit.role_id {
            Some(id) => *id == r.id,
            None => r.name == "Viewer",
        }
    }
}

/// `GET /organization/sso/providers/{id}`: one provider's settings and group mappings.
pub async fn provider(
    State(state): State<AppState>,
    Admin(admin): Admin,
    ctx: Ctx,
    Id(id): Id<SsoProviderId>,
) -> Response {
    let read = async {
        let p = state.store.sso_provider(admin.organization(), id).await?;
        let roles = state.store.list_roles(&admin).await?;
        DomainResult::Ok((p, roles))
    };
    let (p, roles) = match read.await {
        Ok(r) => r,
        Err(e) => return ctx.at("/organization/sso", "Single Sign-On").fail(e),
    };
    let ctx = ctx.at("/organization/sso", &p.display_name);
    let workspaces = match ctx.all_workspaces(&state).await {
        Ok(w) => w,
        Err(e) => return ctx.fail(e),
    };
    let name_of_ws = |w: WorkspaceId| {
        workspaces
            .iter()
            .find(|x| x.id == w)
            .map_or_else(|| w.to_string(), |x| x.name.clone())
    };
    let name_of_role = |r: RoleId| {
        roles
            .iter()
            .find(|x| x.id == r)
            .map_or_else(|| r.to_string(), |x| x.name.clone())
    };
    let mappings = p
        .group_mappings
        .iter()
        .map(|m| MappingRow {
            group: m.group.clone(),
            workspace_id: m.workspace_id,
            workspace: name_of_ws(m.workspace_id),
            role_id: m.role_id,
            role: name_of_role(m.role_id),
        })
        .collect();
    let shown = ctx.flash.is_some();
    let page = ProviderPage {
        ctx,
        p,
        mappings,
        workspaces,
        roles,
    };
    finish(shown, page.render())
}
