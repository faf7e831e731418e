//! The route table: every route of the API, with the guard that authorizes it and what the
//! OpenAPI document says of it. The router and `/api/v1/openapi.json` are both built from this
//! table, so a route cannot exist without a guard, nor without a description.

mod accounts;
mod groups;
mod logs;
mod mfa;
mod organizations;
pub mod pages;
mod sso;

use crate::api::{self, SearchParams, resources as res};
use crate::auth::{Guard, Scope};
use crate::extract::{ApiJson, ApiQuery, Id};
use crate::openapi::{Body, body, list, update};
use crate::state::AppState;
use axum::extract::State;
use axum::handler::Handler;
use axum::http::{HeaderMap, Method};
use axum::routing::{MethodFilter, MethodRouter, on};
use flowspace_core::ids::ItemId;
use flowspace_core::model::{
    ApiKey, Credential, Item, Member, Role, UserDetail, Workspace as WorkspaceModel,
};
use flowspace_core::perm;
use flowspace_core::resource::ResourceKind;

/// A query parameter a route reads: its name, its description, and its schema.
pub type QueryParam = (
    &'static str,
    &'static str,
    fn() -> utoipa::openapi::schema::Schema,
);

/// One route of the API.
pub struct RouteDef {
    pub method: Method,
    /// The path under `/api/v1`, with `{id}` for the path parameter.
    pub path: String,
    pub guard: Guard,
    pub summary: String,
    pub tag: &'static str,
    pub request: Option<Body>,
    /// The success status and body (`None` for an empty body).
    pub response: (u16, Option<Body>),
    /// Takes `limit` and `cursor`.
    pub paginated: bool,
    /// `q` and what it searches, when the list is searched (the OpenAPI parameter's text).
    pub searched: Option<&'static str>,
    /// A body limit other than the default 2 MiB.
    pub body_limit: Option<usize>,
    /// Failure statuses beyond those its shape implies (see `openapi::error_statuses`).
    pub may: Vec<(u16, &'static str)>,
    /// Query parameters it reads besides `limit` and `cursor`: name and description (each a
    /// string, required).
    pub query: Vec<QueryParam>,
    /// Still answers, but is to go: the document marks it deprecated.
    pub deprecated: bool,
    pub(crate) handler: MethodRouter<AppState>,
    /// The same handler answering `POST`: what a dashboard form standing for this route runs
    /// (HTML forms send nothing but `GET` and `POST`).
    pub(crate) as_form: MethodRouter<AppState>,
}

impl RouteDef {
    pub(crate) fn new<H, T>(
        method: Method,
        path: impl Into<String>,
        guard: Guard,
        handler: H,
    ) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let filter = MethodFilter::try_from(method.clone()).unwrap_or(MethodFilter::GET);
        Self {
            method,
            path: path.into(),
            guard,
            summary: String::new(),
            tag: "",
            request: None,
            response: (200, None),
            paginated: false,
            searched: None,
            body_limit: None,
            may: Vec::new(),
            query: Vec::new(),
            deprecated: false,
            as_form: on(MethodFilter::POST, handler.clone()),
            handler: on(filter, handler),
        }
    }
    pub(crate) fn doc(mut self, tag: &'static str, summary: impl Into<String>) -> Self {
        self.tag = tag;
        self.summary = summary.into();
        self
    }
    pub(crate) fn req(mut self, b: Body) -> Self {
        self.request = Some(b);
        self
    }
    pub(crate) fn ok(mut self, status: u16, b: Body) -> Self {
        self.response = (status, Some(b));
        self
    }
    pub(crate) fn empty(mut self, status: u16) -> Self {
        self.response = (status, None);
        self
    }
    pub(crate) fn paged(mut self) -> Self {
        self.paginated = true;
        self
    }
    /// Paged, and filtered by `q` (a name or email contains it: the lists of people).
    pub(crate) fn searched(mut self) -> Self {
        self.paginated = true;
        self.searched_by("Only those whose name or email contains this, case-insensitively")
    }
    /// Filtered by `q`, as `what` says (paged or not, as said apart).
    pub(crate) fn searched_by(mut self, what: &'static str) -> Self {
        self.searched = Some(what);
        self
    }
    /// May also fail with `status`, for the reason given.
    pub(crate) fn may(mut self, status: u16, why: &'static str) -> Self {
        self.may.push((status, why));
        self
    }
    /// Reads the (required) query parameter `name`, of the schema `schema` makes.
    pub(crate) fn query(
        mut self,
        name: &'static str,
        description: &'static str,
        schema: fn() -> utoipa::openapi::schema::Schema,
    ) -> Self {
        self.query.push((name, description, schema));
        self
    }
    pub(crate) fn deprecated(mut self) -> Self {
        self.deprecated = true;
        self
    }
    pub(crate) fn limit(mut self, bytes: usize) -> Self {
        self.body_limit = Some(bytes);
        self
    }
}

/// A route for operators rather than users: outside `/api/v1` and the OpenAPI document, and
/// behind a guard that no user credential passes.
pub struct OperatorRouteDef {
    pub method: Method,
    /// The path from the server root.
    pub path: &'static str,
    pub guard: Guard,
    pub(crate) handler: MethodRouter<AppState>,
}

/// Every operator route: `GET /metrics` (Prometheus text format) behind `Guard::MetricsToken`.
/// Mounted where `metrics::Placement` says: on the main listener, on METRICS_ADDR's, or
/// nowhere.
pub fn operator_routes() -> Vec<OperatorRouteDef> {
    vec![OperatorRouteDef {
        method: Method::GET,
        path: "/metrics",
        guard: Guard::MetricsToken,
        handler: axum::routing::get(crate::metrics::scrape),
    }]
}

/// Why a deletion that reads `If-Match` may answer 422.
const IF_MATCH: &str = "If-Match is not a version number";

/// Why a route that hashes a password may answer 503.
pub(crate) const BUSY: &str = "Too many sign-ins or password hashes are waiting (see Retry-After)";

/// Every route, in the order the OpenAPI document lists them.
pub fn table() -> Vec<RouteDef> {
    use Guard::*;
    use Method as M;
    let mut t = vec![
        RouteDef::new(M::GET, "/ping", Open, api::health::ping)
            .doc("health", "Liveness")
            .ok(200, body::<api::health::Pong>()),
        RouteDef::new(M::GET, "/health/ready", Open, api::health::ready)
            .doc("health", "Readiness: the database answers and migrations are applied")
            .ok(200, body::<api::health::Pong>()),
        RouteDef::new(M::GET, "/setup", Open, api::setup::status)
            .doc("setup", "Whether first-run setup is still required")
            .ok(200, body::<api::setup::SetupStatus>()),
        RouteDef::new(M::POST, "/setup", Open, api::setup::setup)
            .doc("setup", "Create the organization, its Account Admin and the Default workspace (once), and sign in")
            .req(body::<api::setup::SetupRequest>())
            .ok(201, body::<api::session::LoginResponse>())
            .may(409, "Setup was already done")
            .may(503, BUSY),
        RouteDef::new(M::POST, "/auth/login", Public, api::session::login)
            .doc("auth", "Sign in with email and password (also sets the dashboard's cookies); an account with two-factor sign-in gets `{mfaRequired, mfaToken}` and no session (see POST /auth/mfa/verify)")
            .req(body::<api::session::LoginRequest>())
            .ok(200, body::<api::session::LoginAnswer>())
            .may(401, "Wrong email or password, or the account is not active")
            .may(403, "The organization requires single sign-on (sso_required names the provider's startUrl)")
            .may(429, "Too many failed sign-ins for this email or address (see Retry-After)")
            .may(503, BUSY),
        RouteDef::new(M::POST, "/auth/refresh", Public, api::session::refresh)
            .doc("auth", "Spend a refresh token (body or cookie) for a new pair; reuse ends the session")
            .req(body::<api::session::RefreshRequest>())
            .ok(200, body::<api::session::RefreshResponse>())
            .may(401, "The refresh token is unknown, expired, or was already used"),
        RouteDef::new(M::POST, "/auth/logout", Enrolling, api::session::logout)
            .doc("auth", "End the session")
            .empty(204),
        RouteDef::new(M::GET, "/auth/me", Enrolling, api::session::me)
            .doc("auth", "The caller, their workspaces and their permissions in the active one")
            .ok(200, body::<api::session::Me>()),
        RouteDef::new(M::POST, "/auth/switch-workspace", SignedIn, api::session::switch_workspace)
            .doc("auth", "Make another workspace the active one")
            .req(body::<api::session::SwitchRequest>())
            .ok(200, body::<api::session::Me>()),
        RouteDef::new(M::GET, "/workspaces", SignedIn, api::workspaces::list)
            .doc("workspaces", "The caller's workspaces (all of them for the Account Admin), with member counts, oldest first; q searches names")
            .ok(200, list::<WorkspaceModel>())
            .paged()
            .searched_by(NAME_SEARCH),
        RouteDef::new(M::POST, "/workspace", AccountAdmin, api::workspaces::create)
            .doc("workspaces", "Create a workspace")
            .req(body::<api::workspaces::CreateWorkspace>())
            .ok(201, body::<WorkspaceModel>()),
        RouteDef::new(M::GET, "/workspace/{id}", PathWorkspace(perm!(Workspace, View)), api::workspaces::get)
            .doc("workspaces", "Read a workspace")
            .ok(200, body::<WorkspaceModel>()),
        RouteDef::new(M::PATCH, "/workspace/{id}", PathWorkspace(perm!(Workspace, Update)), api::workspaces::update)
            .doc("workspaces", "Rename or describe a workspace")
            .req(body::<api::workspaces::UpdateWorkspace>())
            .ok(200, body::<WorkspaceModel>()),
        RouteDef::new(M::DELETE, "/workspace/{id}", AccountAdmin, api::workspaces::delete)
            .doc("workspaces", "Delete a workspace and everything in it (not Default; not while other members remain)")
            .empty(204),
        RouteDef::new(M::GET, "/workspace/{id}/users", PathWorkspace(perm!(Workspace, View)), api::workspaces::members)
            .doc("workspaces", "Members with role and status, in the order they were added; q searches names and emails")
            .ok(200, list::<Member>())
            .searched(),
        RouteDef::new(M::POST, "/workspace/{id}/add-user", PathWorkspace(perm!(Workspace, AddUser)), api::workspaces::add_user)
            .doc("workspaces", "Add a member with a role, or change a member's role")
            .req(body::<api::workspaces::AddUser>())
            .ok(200, body::<Member>()),
        RouteDef::new(M::POST, "/workspace/{id}/remove-user", PathWorkspace(perm!(Workspace, UnlinkUser)), api::workspaces::remove_user)
            .doc("workspaces", "Unlink a member")
            .req(body::<api::UserIdInput>())
            .empty(204),
        RouteDef::new(M::GET, "/permissions", SignedIn, api::roles::permissions)
            .doc("roles", "The permission catalogue")
            .ok(200, body::<api::roles::Catalogue>()),
        RouteDef::new(M::GET, "/roles", OrgMember, api::roles::list)
            .doc("roles", "The organization's roles, oldest (the built-in ones) first; q searches names")
            .ok(200, list::<Role>())
            .paged()
            .searched_by(NAME_SEARCH),
        RouteDef::new(M::POST, "/roles", AccountAdmin, api::roles::create)
            .doc("roles", "Create a custom role")
            .req(body::<api::roles::RoleInput>())
            .ok(201, body::<Role>()),
        RouteDef::new(M::GET, "/roles/{id}", OrgMember, api::roles::get)
            .doc("roles", "Read a role")
            .ok(200, body::<Role>()),
        RouteDef::new(M::PUT, "/roles/{id}", AccountAdmin, api::roles::update)
            .doc("roles", "Replace a custom role's name, description and permissions")
            .req(body::<api::roles::RoleInput>())
            .ok(200, body::<Role>()),
        RouteDef::new(M::DELETE, "/roles/{id}", AccountAdmin, api::roles::delete)
            .doc("roles", "Delete a custom role nobody holds")
            .empty(204),
        RouteDef::new(M::GET, "/users", AccountAdmin, api::users::list)
            .doc("users", "The organization's users with status, workspaces and roles, active workspace, last login, in the order they joined the organization; q searches names and emails")
            .ok(200, list::<UserDetail>())
            .searched(),
        RouteDef::new(M::POST, "/users", AccountAdmin, api::users::create)
            .doc("users", "Create an active user with a password")
            .req(body::<api::users::CreateUser>())
            .ok(201, body::<UserDetail>())
            .may(503, BUSY),
        RouteDef::new(M::GET, "/users/{id}", AccountAdmin, api::users::get)
            .doc("users", "Read a user")
            .ok(200, body::<UserDetail>()),
        RouteDef::new(M::PATCH, "/users/{id}", AccountAdmin, api::users::patch)
            .doc("users", "Change a user's name or status")
            .req(body::<api::users::PatchUser>())
            .ok(200, body::<UserDetail>()),
        RouteDef::new(M::DELETE, "/users/{id}", AccountAdmin, api::users::delete)
            .doc("users", "Delete a user (their items stay)")
            .empty(204),
    ];
    for kind in ResourceKind::PLAIN {
        t.extend(item_routes(kind));
    }
    t.extend(credential_routes());
    t.extend(api_key_routes());
    t.extend(transfer_routes());
    t.extend(accounts::invitations());
    t.extend(groups::groups());
    t.extend(logs::activity());
    t.extend(logs::audit());
    t.extend(organizations::organizations());
    t.extend(mfa::mfa());
    t.extend(sso::sso());
    t
}

fn transfer_routes() -> Vec<RouteDef> {
    use crate::api::transfer as tr;
    use Guard::*;
    use Method as M;
    vec![
        RouteDef::new(M::GET, "/credentials/{id}/shares", Workspace(perm!(Credentials, View)), tr::get_shares)
            .doc("credentials", "The workspaces a credential of the active workspace is shared with")
            .ok(200, body::<tr::Shares>()),
        RouteDef::new(M::PUT, "/credentials/{id}/shares", Workspace(perm!(Credentials, Share)), tr::put_shares)
            .doc("credentials", "Replace the set of workspaces (of the same organization) a credential is shared with")
            .req(body::<tr::SharesInput>())
            .ok(200, body::<tr::Shares>()),
        RouteDef::new(M::GET, "/credentials/{id}/usage", WorkspaceAndViews(perm!(Credentials, View)), tr::usage)
            .doc("credentials", "Where a credential of (or shared into) the active workspace is used: the workspaces it reaches and their chatflows, agentflows, assistants and document stores whose data name its id; only what the caller may view is named, the rest counted")
            .ok(200, body::<flowspace_core::model::CredentialUsage>()),
        RouteDef::new(M::POST, "/credentials/{id}/resolve", Workspace(perm!(Credentials, View)), tr::resolve)
            .doc("credentials", "The decrypted data of a credential owned by or shared into the active workspace (audited)")
            .ok(200, body::<tr::ResolvedCredential>()),
        RouteDef::new(M::POST, "/export", Workspace(perm!(Workspace, Export)), tr::export)
            .doc("transfer", "Export chosen items (or all) of the active workspace as a bundle; never credential secrets")
            .req(body::<tr::ExportRequest>())
            .ok(200, body::<flowspace_core::transfer::Bundle>()),
        RouteDef::new(M::POST, "/import/preview", Workspace(perm!(Workspace, Import)), tr::import_preview)
            .doc("transfer", "What importing a bundle (or Flowise's own export file, `{\"format\": \"flowise\", \"data\": <ExportData.json>}`) into the active workspace would create, which names clash and what is left out, checked as the import checks it; nothing is written")
            .req(body::<tr::ImportInput>())
            .ok(200, body::<tr::ImportPreview>())
            .limit(tr::MAX_IMPORT_BYTES),
        RouteDef::new(M::POST, "/import", Workspace(perm!(Workspace, Import)), tr::import)
            .doc("transfer", "Import a bundle (or Flowise's own export file, `{\"format\": \"flowise\", \"data\": <ExportData.json>}`) into the active workspace in one transaction (new ids, references rewritten)")
            .req(body::<tr::ImportInput>())
            .ok(201, body::<tr::ImportReport>())
            .limit(tr::MAX_IMPORT_BYTES),
        RouteDef::new(M::POST, "/admin/flows/move", AccountAdmin, tr::move_flows)
            .doc("transfer", "Move chatflows and agentflows to another workspace, keeping ids and versions (all or nothing)")
            .req(body::<tr::BulkRequest>())
            .ok(200, body::<tr::BulkReport>()),
        RouteDef::new(M::POST, "/admin/flows/copy", AccountAdmin, tr::copy_flows)
            .doc("transfer", "Copy chatflows and agentflows to another workspace under new ids (all or nothing)")
            .req(body::<tr::BulkRequest>())
            .ok(200, body::<tr::BulkReport>()),
    ]
}

type Q = ApiQuery<SearchParams>;

/// The `q` of the lists of workspace items, credentials and API keys.
const NAME_SEARCH: &str = "Only those whose name contains this, case-insensitively";
type S = State<AppState>;

fn item_routes(kind: ResourceKind) -> Vec<RouteDef> {
    use Method as M;
    let (base, one) = (
        format!("/{}", kind.path()),
        format!("/{}/{{id}}", kind.path()),
    );
    let label = kind.label();
    let mut v = vec![
        RouteDef::new(
            M::GET,
            &base,
            Guard::Workspace(kind.view()),
            move |State(s): S, Scope(sc): Scope, ApiQuery(q): Q| res::list_items(s, kind, sc, q),
        )
        .doc(
            kind.path(),
            format!("List the {label}s of the active workspace; q searches names"),
        )
        .ok(200, list::<Item>())
        .paged()
        .searched_by(NAME_SEARCH),
        RouteDef::new(
            M::POST,
            &base,
            Guard::Workspace(kind.create()),
            move |State(s): S, Scope(sc): Scope, ApiJson(b): ApiJson<res::ItemInput>| {
                res::create_item(s, kind, sc, b)
            },
        )
        .doc(kind.path(), format!("Create a {label}"))
        .req(res::item_body(kind, false))
        .ok(201, body::<Item>()),
        RouteDef::new(
            M::GET,
            &one,
            Guard::Workspace(kind.view()),
            move |State(s): S, Scope(sc): Scope, Id(id): Id<ItemId>| res::get_item(s, kind, sc, id),
        )
        .doc(kind.path(), format!("Read a {label}"))
        .ok(200, body::<Item>()),
        RouteDef::new(
            M::PUT,
            &one,
            Guard::Workspace(kind.update()),
            move |State(s): S,
                  Scope(sc): Scope,
                  Id(id): Id<ItemId>,
                  h: HeaderMap,
                  ApiJson(b): ApiJson<res::ItemInput>| {
                res::update_item(s, kind, sc, id, h, b)
            },
        )
        .doc(
            kind.path(),
            format!("Update a {label} (send the version read, or If-Match)"),
        )
        .req(res::item_body(kind, true))
        .ok(200, body::<Item>()),
        RouteDef::new(
            M::DELETE,
            &one,
            Guard::Workspace(kind.delete()),
            move |State(s): S, Scope(sc): Scope, Id(id): Id<ItemId>, h: HeaderMap| {
                res::delete_item(s, kind, sc, id, h)
            },
        )
        .doc(kind.path(), format!("Delete a {label}"))
        .empty(204)
        .may(422, IF_MATCH),
    ];
    if let Some(duplicate) = kind.duplicate() {
        v.push(
            RouteDef::new(
                M::POST,
                format!("/{}/{{id}}/duplicate", kind.path()),
                Guard::Workspace(duplicate),
                move |State(s): S, Scope(sc): Scope, Id(id): Id<ItemId>| {
                    res::duplicate_item(s, kind, sc, id)
                },
            )
            .doc(kind.path(), format!("Copy a {label} in the same workspace"))
            .ok(201, body::<Item>()),
        );
    }
    v
}

fn credential_routes() -> Vec<RouteDef> {
    use Method as M;
    let k = ResourceKind::Credential;
    vec![
        RouteDef::new(M::GET, "/credentials", Guard::Workspace(k.view()), |State(s): S, Scope(sc): Scope, ApiQuery(q): Q| {
            res::list_credentials(s, sc, q)
        })
        .doc("credentials", "List the credentials of the active workspace and those shared into it (never their secrets); q searches names")
        .ok(200, list::<Credential>())
        .paged()
        .searched_by(NAME_SEARCH),
        RouteDef::new(M::POST, "/credentials", Guard::Workspace(k.create()), |State(s): S, Scope(sc): Scope, ApiJson(b): ApiJson<res::NewCredentialInput>| {
            res::create_credential(s, sc, b)
        })
        .doc("credentials", "Create a credential; its data is encrypted at rest")
        .req(body::<res::NewCredentialInput>())
        .ok(201, body::<Credential>()),
        RouteDef::new(M::GET, "/credentials/{id}", Guard::Workspace(k.view()), |State(s): S, Scope(sc): Scope, Id(id): Id<ItemId>| {
            res::get_credential(s, sc, id)
        })
        .doc("credentials", "Read a credential (field names only)")
        .ok(200, body::<Credential>()),
        RouteDef::new(
            M::PUT,
            "/credentials/{id}",
            Guard::Workspace(k.update()),
            |State(s): S, Scope(sc): Scope, Id(id): Id<ItemId>, h: HeaderMap, ApiJson(b): ApiJson<res::CredentialInput>| {
                res::update_credential(s, sc, id, h, b)
            },
        )
        .doc("credentials", "Update a credential owned by the active workspace")
        .req(update::<res::CredentialInput>())
        .ok(200, body::<Credential>()),
        RouteDef::new(M::DELETE, "/credentials/{id}", Guard::Workspace(k.delete()), move |State(s): S, Scope(sc): Scope, Id(id): Id<ItemId>, h: HeaderMap| {
            res::delete_item(s, k, sc, id, h)
        })
        .doc("credentials", "Delete a credential owned by the active workspace")
        .empty(204)
        .may(422, IF_MATCH),
    ]
}

fn api_key_routes() -> Vec<RouteDef> {
    use Method as M;
    let k = ResourceKind::ApiKey;
    vec![
        RouteDef::new(
            M::GET,
            "/apikeys",
            Guard::Workspace(k.view()),
            |State(s): S, Scope(sc): Scope, ApiQuery(q): Q| res::list_api_keys(s, sc, q),
        )
        .doc(
            "apikeys",
            "List the active workspace's API keys; q searches names",
        )
        .ok(200, list::<ApiKey>())
        .paged()
        .searched_by(NAME_SEARCH),
        RouteDef::new(
            M::POST,
            "/apikeys",
            Guard::Workspace(k.create()),
            |State(s): S, Scope(sc): Scope, ApiJson(b): ApiJson<res::ApiKeyInput>| {
                res::create_api_key(s, sc, b)
            },
        )
        .doc(
            "apikeys",
            "Create an API key; the key is in the answer, once",
        )
        .req(body::<res::ApiKeyInput>())
        .ok(201, body::<res::ApiKeyCreated>()),
        RouteDef::new(
            M::GET,
            "/apikeys/{id}",
            Guard::Workspace(k.view()),
            |State(s): S, Scope(sc): Scope, Id(id): Id<ItemId>| res::get_api_key(s, sc, id),
        )
        .doc("apikeys", "Read an API key (never the key)")
        .ok(200, body::<ApiKey>()),
        RouteDef::new(
            M::PUT,
            "/apikeys/{id}",
            Guard::Workspace(k.update()),
            |State(s): S,
             Scope(sc): Scope,
             Id(id): Id<ItemId>,
             h: HeaderMap,
             ApiJson(b): ApiJson<res::ApiKeyInput>| {
                res::update_api_key(s, sc, id, h, b)
            },
        )
        .doc(
            "apikeys",
            "Update an API key's name, permissions and expiry",
        )
        .req(update::<res::ApiKeyInput>())
        .ok(200, body::<ApiKey>()),
        RouteDef::new(
            M::DELETE,
            "/apikeys/{id}",
            Guard::Workspace(k.delete()),
            move |State(s): S, Scope(sc): Scope, Id(id): Id<ItemId>, h: HeaderMap| {
                res::delete_item(s, k, sc, id, h)
            },
        )
        .doc("apikeys", "Delete an API key: it stops working at once")
        .empty(204)
        .may(422, IF_MATCH),
    ]
}
