//! The dashboard's half of the route table: every page and every form, each with the guard
//! that authorizes it, through the same `auth::guard` as the API.
//!
//! - A **page** (`GET`) has its own guard: the permission of what it shows. Its handler reads
//!   through the scope the guard handed out, as an API handler does.
//! - A **form** (`POST`) stands for one API route and *is* that route: the same guard, the same
//!   handler, the same request type (the `web::surface::form` layer turns the form's fields
//!   into the route's JSON body). A form can never do more than the API call it stands for.
//!
//! The router (`crate::app`) builds both from these tables; the route walk in the tests walks
//! them.

use crate::auth::{Guard, Scope};
use crate::extract::Id;
use crate::state::AppState;
use crate::web;
use crate::web::surface::{Answer, Render};
use axum::extract::{Query, State};
use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{MethodRouter, get};
use flowspace_core::ids::ItemId;
use flowspace_core::perm;
use flowspace_core::resource::ResourceKind;

/// One page of the dashboard.
pub struct PageDef {
    pub path: String,
    pub guard: Guard,
    pub(crate) handler: MethodRouter<AppState>,
}

impl PageDef {
    fn new<H, T>(path: impl Into<String>, guard: Guard, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        Self {
            path: path.into(),
            guard,
            handler: get(handler),
        }
    }
}

/// One form of the dashboard: the API route it stands for answers it.
pub struct FormDef {
    /// Where the browser posts it; a path parameter is named as in the API route's path.
    pub path: String,
    /// The API route (method, and path under `/api/v1`) whose guard and handler answer it.
    pub api: (Method, String),
    /// What a success becomes for the browser (a redirect with a toast unless said).
    pub answer: Answer,
}

impl FormDef {
    fn new(path: impl Into<String>, method: Method, api: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            api: (method, api.into()),
            answer: Answer::Redirect,
        }
    }
    /// The API route this form stands for, in `table`.
    pub fn stands_for<'t>(&self, table: &'t [super::RouteDef]) -> Option<&'t super::RouteDef> {
        let (method, path) = &self.api;
        table
            .iter()
            .find(|d| d.method == *method && d.path == *path)
    }

    /// Shows `field` of the answer once, under `title` (a new API key, an invitation link).
    fn show(mut self, field: &'static str, title: &'static str) -> Self {
        self.answer = Answer::Show { field, title };
        self
    }

    /// Gives the answer to the browser as a file to save under `filename` (an export).
    fn download(mut self, filename: &'static str) -> Self {
        self.answer = Answer::Download { filename };
        self
    }

    /// The sign-in form: the code page when the answer asks for a second step.
    fn second_step(mut self) -> Self {
        self.answer = Answer::SecondStep;
        self
    }

    /// Answers with the page `render` makes of the answer (a preview, a report).
    fn render(mut self, render: Render) -> Self {
        self.answer = Answer::Page(render);
        self
    }
}

/// Every page of the dashboard.
pub fn pages() -> Vec<PageDef> {
    let mut t = Vec::new();
    for kind in ResourceKind::PLAIN {
        t.extend(item_pages(kind));
    }
    t.extend(people_pages());
    t.extend(workspace_pages());
    t.extend(credential_pages());
    t.extend(transfer_pages());
    t.extend(public_pages());
    t.extend(log_pages());
    t.extend(organization_pages());
    t
}

/// Every form of the dashboard.
pub fn forms() -> Vec<FormDef> {
    use Method as M;
    let mut t = vec![
        FormDef::new("/switch-workspace", M::POST, "/auth/switch-workspace"),
        FormDef::new("/switch-organization", M::POST, "/auth/switch-organization"),
        FormDef::new("/logout", M::POST, "/auth/logout"),
        FormDef::new(
            "/profile/sessions/{id}/revoke",
            M::DELETE,
            "/auth/sessions/{id}",
        ),
        FormDef::new(
            "/profile/sessions/revoke-others",
            M::POST,
            "/auth/sessions/revoke-others",
        ),
    ];
    for kind in ResourceKind::PLAIN {
        t.extend(item_forms(kind));
    }
    t.extend(people_forms());
    t.extend(membership_forms());
    t.extend(workspace_forms());
    t.extend(credential_forms());
    t.extend(transfer_forms());
    t.extend(public_forms());
    t.extend(organization_forms());
    t
}

type S = State<AppState>;
type Q = Query<web::items::PageQuery>;

fn item_pages(kind: ResourceKind) -> Vec<PageDef> {
    vec![
        PageDef::new(
            kind.page(),
            Guard::Workspace(kind.view()),
            move |s: S, sc: Scope, ctx: web::page::Ctx, q: Q| web::items::list(s, sc, ctx, q, kind),
        ),
        PageDef::new(
            format!("{}/{{id}}", kind.page()),
            Guard::Workspace(kind.view()),
            move |s: S, sc: Scope, ctx: web::page::Ctx, id: Id<ItemId>| {
                web::items::edit(s, sc, ctx, id, kind)
            },
        ),
    ]
}

fn item_forms(kind: ResourceKind) -> Vec<FormDef> {
    use Method as M;
    let (page, api) = (kind.page(), format!("/{}", kind.path()));
    let mut v = vec![
        FormDef::new(format!("{page}/new"), M::POST, &api),
        FormDef::new(format!("{page}/{{id}}"), M::PUT, format!("{api}/{{id}}")),
        FormDef::new(
            format!("{page}/{{id}}/delete"),
            M::DELETE,
            format!("{api}/{{id}}"),
        ),
    ];
    if kind.duplicate().is_some() {
        v.push(FormDef::new(
            format!("{page}/{{id}}/duplicate"),
            M::POST,
            format!("{api}/{{id}}/duplicate"),
        ));
    }
    v
}

/// The Account Admin's pages of people: Users, Roles, Groups (`web::users`, `web::roles`,
/// `web::groups`). Guarded as `GET /users` and `GET /groups` are; the roles pages too, though
/// anyone signed in may read roles through the API, because they are where roles are managed,
/// which only the Account Admin may do (as before: a member is shown the refusal).
fn people_pages() -> Vec<PageDef> {
    use Guard::AccountAdmin;
    use web::{groups, roles, users};
    vec![
        PageDef::new("/users", AccountAdmin, users::list),
        PageDef::new("/users/{id}", AccountAdmin, users::edit),
        PageDef::new("/roles", AccountAdmin, roles::list),
        PageDef::new("/roles/new", AccountAdmin, roles::new),
        PageDef::new("/roles/{id}", AccountAdmin, roles::edit),
        PageDef::new("/groups", AccountAdmin, groups::list),
        PageDef::new("/groups/{id}", AccountAdmin, groups::edit),
    ]
}

/// The forms of the Users, Roles and Groups pages.
fn people_forms() -> Vec<FormDef> {
    use Method as M;
    const LINK: (&str, &str) = ("link", "Invitation link");
    vec![
        // Invite, or add by email, from the users page and a workspace's page (`POST
        // /invitations`, guarded by the body's `workspaceId`): an existing active user becomes
        // a member at once, anyone else is invited; without SMTP the sign-up link is shown once.
        FormDef::new("/invitations/new", M::POST, "/invitations").show(LINK.0, LINK.1),
        FormDef::new(
            "/users/invitations/{id}/resend",
            M::POST,
            "/invitations/{id}/resend",
        )
        .show(LINK.0, LINK.1),
        FormDef::new(
            "/users/invitations/{id}/revoke",
            M::DELETE,
            "/invitations/{id}",
        ),
        FormDef::new("/users/{id}", M::PATCH, "/users/{id}"),
        FormDef::new("/users/{id}/sign-out", M::POST, "/users/{id}/sign-out"),
        FormDef::new("/roles/new", M::POST, "/roles"),
        FormDef::new("/roles/{id}", M::PUT, "/roles/{id}"),
        FormDef::new("/roles/{id}/delete", M::DELETE, "/roles/{id}"),
        FormDef::new("/groups/new", M::POST, "/groups"),
        FormDef::new("/groups/{id}", M::PATCH, "/groups/{id}"),
        FormDef::new("/groups/{id}/delete", M::DELETE, "/groups/{id}"),
    ]
}

/// A workspace's memberships and group assignments, changed from the user's and the group's
/// pages as from the workspace's own: one form each, whichever page it is on (its `_back`
/// says where to return). Declared once, here, for all three pages.
fn membership_forms() -> Vec<FormDef> {
    use Method as M;
    ["add-user", "remove-user", "add-group", "remove-group"]
        .into_iter()
        .map(|action| {
            FormDef::new(
                format!("/workspaces/{{id}}/{action}"),
                M::POST,
                format!("/workspace/{{id}}/{action}"),
            )
        })
        .collect()
}

fn workspace_pages() -> Vec<PageDef> {
    vec![
        // What `GET /workspaces` answers the caller (every workspace for the Account Admin).
        PageDef::new("/workspaces", Guard::SignedIn, web::workspaces::list),
        // The switcher's search: the caller's own workspaces (as `GET /workspaces` answers
        // them) whose name contains `q`, a few at a time, each switched to by the layout's
        // form (`POST /auth/switch-workspace`).
        PageDef::new(
            "/switch-workspace",
            Guard::SignedIn,
            web::workspaces::switch,
        ),
        // `GET /workspace/{id}`'s guard: its members administer it as their role allows.
        PageDef::new(
            "/workspaces/{id}",
            Guard::PathWorkspace(perm!(Workspace, View)),
            web::workspaces::show,
        ),
    ]
}

/// The forms of the Workspaces pages (their memberships and group assignments are
/// `membership_forms`, shared with the user's and the group's pages).
fn workspace_forms() -> Vec<FormDef> {
    use Method as M;
    vec![
        FormDef::new("/workspaces/new", M::POST, "/workspace"),
        FormDef::new("/workspaces/{id}", M::PATCH, "/workspace/{id}"),
        FormDef::new("/workspaces/{id}/delete", M::DELETE, "/workspace/{id}"),
    ]
}

/// Credentials (with their sharing) and API keys, in the active workspace.
fn credential_pages() -> Vec<PageDef> {
    let (c, k) = (ResourceKind::Credential, ResourceKind::ApiKey);
    vec![
        PageDef::new(
            c.page(),
            Guard::Workspace(c.view()),
            web::items::credentials,
        ),
        // `GET /credentials/{id}/usage`'s guard: the page shows where it is used.
        PageDef::new(
            format!("{}/{{id}}", c.page()),
            Guard::WorkspaceAndViews(c.view()),
            web::items::credential,
        ),
        PageDef::new(k.page(), Guard::Workspace(k.view()), web::items::apikeys),
    ]
}

fn credential_forms() -> Vec<FormDef> {
    use Method as M;
    vec![
        FormDef::new("/credentials/new", M::POST, "/credentials"),
        FormDef::new("/credentials/{id}", M::PUT, "/credentials/{id}"),
        FormDef::new("/credentials/{id}/delete", M::DELETE, "/credentials/{id}"),
        FormDef::new(
            "/credentials/{id}/shares",
            M::PUT,
            "/credentials/{id}/shares",
        ),
        FormDef::new("/apikeys/new", M::POST, "/apikeys").show("key", "Your new API key"),
        FormDef::new("/apikeys/{id}", M::PUT, "/apikeys/{id}"),
        FormDef::new("/apikeys/{id}/delete", M::DELETE, "/apikeys/{id}"),
    ]
}

/// Export and import of the active workspace (guarded as `POST /export` and `POST /import`),
/// and the Account Admin's bulk move and copy of flows (`web::transfer`).
fn transfer_pages() -> Vec<PageDef> {
    use web::transfer as tr;
    vec![
        PageDef::new(
            "/export",
            Guard::Workspace(perm!(Workspace, Export)),
            tr::export,
        ),
        PageDef::new(
            "/import",
            Guard::Workspace(perm!(Workspace, Import)),
            tr::import,
        ),
        PageDef::new("/move-flows", Guard::AccountAdmin, tr::move_flows),
        PageDef::new("/move-flows/preview", Guard::AccountAdmin, tr::move_preview),
    ]
}

/// The export downloads the bundle; the import's preview, its result and the bulk move's and
/// copy's are pages made from the routes' answers.
fn transfer_forms() -> Vec<FormDef> {
    use Method as M;
    use web::transfer as tr;
    vec![
        FormDef::new("/export", M::POST, "/export").download("flowspace-export.json"),
        FormDef::new("/import/preview", M::POST, "/import/preview").render(tr::import_preview),
        FormDef::new("/import", M::POST, "/import").render(tr::import_report),
        FormDef::new("/move-flows/move", M::POST, "/admin/flows/move").render(tr::move_report),
        FormDef::new("/move-flows/copy", M::POST, "/admin/flows/copy").render(tr::move_report),
    ]
}

/// The home page, and the pages before sign-in. Setup is open until it is done (its handler
/// then sends the browser to sign in); the others refuse before setup (`setup_required`,
/// which the page layer answers with the setup page).
fn public_pages() -> Vec<PageDef> {
    use web::public as p;
    vec![
        PageDef::new("/", Guard::SignedIn, web::home),
        PageDef::new("/setup", Guard::Open, p::setup),
        PageDef::new("/login", Guard::Public, p::login),
        PageDef::new("/login/mfa", Guard::Public, web::mfa::code_page),
        // Open also to a member who must still set up two-factor sign-in (SPEC §9).
        PageDef::new(
            web::surface::PROFILE_PAGE,
            Guard::Enrolling,
            web::profile::show,
        ),
        PageDef::new("/register", Guard::Public, p::register),
        PageDef::new("/forgot-password", Guard::Public, p::forgot),
        PageDef::new("/reset-password", Guard::Public, p::reset),
    ]
}

/// The forms of the pages before sign-in, each posted to its own page's path.
fn public_forms() -> Vec<FormDef> {
    use Method as M;
    vec![
        FormDef::new("/setup", M::POST, "/setup"),
        FormDef::new("/login", M::POST, "/auth/login").second_step(),
        FormDef::new("/login/mfa", M::POST, "/auth/mfa/verify"),
        FormDef::new("/profile/mfa/enroll", M::POST, "/auth/mfa/totp/enroll")
            .render(web::mfa::enrolled),
        FormDef::new("/profile/mfa/activate", M::POST, "/auth/mfa/totp/activate")
            .render(web::mfa::activated),
        FormDef::new("/profile/mfa/remove", M::DELETE, "/auth/mfa/totp"),
        FormDef::new(
            "/profile/passkeys/{id}/remove",
            M::DELETE,
            "/auth/mfa/passkeys/{id}",
        ),
        FormDef::new("/register", M::POST, "/auth/register"),
        FormDef::new("/forgot-password", M::POST, "/auth/forgot-password"),
        FormDef::new("/reset-password", M::POST, "/auth/reset-password"),
    ]
}

/// Login activity (the Account Admin's, as `GET /login-activity`) and the audit log (what
/// `GET /audit-events` lets the caller read; its chain's check is the Account Admin's, as
/// `GET /audit-events/verify`).
fn log_pages() -> Vec<PageDef> {
    use web::logs::{activity, audit};
    vec![
        PageDef::new(
            "/login-activity",
            Guard::AccountAdmin,
            activity::login_activity,
        ),
        PageDef::new(
            "/login-activity.csv",
            Guard::AccountAdmin,
            activity::login_activity_csv,
        ),
        PageDef::new("/audit-log", Guard::AuditLog, audit::audit_log),
        PageDef::new("/audit-log.csv", Guard::AuditLog, audit::audit_log_csv),
        PageDef::new("/audit-log/verify", Guard::AccountAdmin, audit::verify),
    ]
}

/// Organizations (SPEC §7): the active organization's settings and members (owners and
/// admins, as `PATCH /organization` and `GET /organization/members`), its single sign-on
/// providers (owners, as the provider routes), every organization (the instance admin, as
/// `PATCH /organizations/{id}`), and the page of a signed-in user without a
/// usable organization (where the page layer sends `no_organization` and
/// `organization_suspended`).
fn organization_pages() -> Vec<PageDef> {
    use web::organizations as o;
    vec![
        PageDef::new("/organization", Guard::AccountAdmin, o::settings),
        PageDef::new("/organization/members", Guard::AccountAdmin, o::members),
        PageDef::new("/organization/sso", Guard::Owner, web::sso::providers),
        PageDef::new(
            "/organization/sso/providers/{id}",
            Guard::Owner,
            web::sso::provider,
        ),
        PageDef::new("/organizations", Guard::InstanceAdmin, o::organizations),
        PageDef::new(
            web::surface::UNAVAILABLE_PAGE,
            Guard::SignedIn,
            o::unavailable,
        ),
    ]
}

/// The forms of the organization pages (switching organization is with the layout's).
fn organization_forms() -> Vec<FormDef> {
    use Method as M;
    vec![
        FormDef::new("/organization", M::PATCH, "/organization"),
        FormDef::new(
            "/organization/members/{id}",
            M::PATCH,
            "/organization/members/{id}",
        ),
        FormDef::new(
            "/organization/members/{id}/remove",
            M::DELETE,
            "/organization/members/{id}",
        ),
        FormDef::new(
            "/organization/sso/new",
            M::POST,
            "/organization/sso/providers",
        ),
        // The provider's page: its settings, and each change of its group mappings (the
        // whole list, as the route replaces it).
        FormDef::new(
            "/organization/sso/providers/{id}",
            M::PATCH,
            "/organization/sso/providers/{id}",
        ),
        // The single sign-on page's policy: `ssoRequired` (owners only, as on the settings
        // page) and the break-glass owners.
        FormDef::new("/organization/sso/policy", M::PATCH, "/organization"),
        FormDef::new(
            "/organization/members/{id}/break-glass",
            M::PUT,
            "/organization/members/{id}/break-glass",
        ),
        FormDef::new(
            "/organization/sso/providers/{id}/test",
            M::POST,
            "/organization/sso/providers/{id}/test",
        )
        .show("summary", "Provider test"),
        FormDef::new(
            "/organization/sso/providers/{id}/delete",
            M::DELETE,
            "/organization/sso/providers/{id}",
        ),
        FormDef::new("/organizations/new", M::POST, "/organizations")
            .show("invitationLink", "Invitation link for the first owner"),
        FormDef::new("/organizations/{id}", M::PATCH, "/organizations/{id}"),
        FormDef::new(
            "/organizations/{id}/delete",
            M::DELETE,
            "/organizations/{id}",
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_stands_for_an_api_route_and_every_path_is_declared_once() {
        let table = super::super::table();
        let mut seen = std::collections::HashSet::new();
        for f in forms() {
            assert!(
                f.stands_for(&table).is_some(),
                "the form {} stands for {:?}, which is no API route",
                f.path,
                f.api
            );
            assert!(seen.insert(("POST", f.path.clone())), "{} twice", f.path);
        }
        for p in pages() {
            assert!(seen.insert(("GET", p.path.clone())), "{} twice", p.path);
        }
    }
}
