//! The active workspace's resource pages: the seven item kinds (list, create, edit, delete,
//! duplicate for flows), Credentials (with sharing) and API Keys.

use super::page::{Ctx, Pretty, Text, When, finish};
use super::view::{self, V};
use super::{Web, encode_query, error_page, signed_in};
use crate::auth::Scope;
use crate::extract::Id;
use crate::state::AppState;
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use flowspace_core::DomainError;
use flowspace_core::authz;
use flowspace_core::cursor::PageRequest;
use flowspace_core::ids::ItemId;
use flowspace_core::model::Item;
use flowspace_core::permissions::Permission;
use flowspace_core::resource::ResourceKind;
use serde::Deserialize;

pub fn routes() -> Router<Web> {
    Router::new()
        .route("/credentials", get(credentials))
        .route("/credentials/{id}", get(credential))
        .route("/apikeys", get(apikeys))
}

#[derive(Deserialize, Default)]
pub struct PageQuery {
    #[serde(default)]
    cursor: Option<String>,
}

/// One page (50) of a list, from the query's cursor on.
fn page_of(q: &PageQuery) -> Result<PageRequest, DomainError> {
    PageRequest::new(Some(50), q.cursor.as_deref().filter(|c| !c.is_empty()))
}

/// One page (50) of a kind's list, from `cursor` on (for the pages still reading the API).
fn list_path(kind: ResourceKind, cursor: &str) -> String {
    let mut path = format!("/api/v1/{}?limit=50", kind.path());
    if !cursor.is_empty() {
        path.push_str(&format!("&cursor={}", encode_query(cursor)));
    }
    path
}

/// What the create dialog's JSON editor starts with.
fn data_template(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::Variable => "{\n  \"type\": \"static\",\n  \"value\": \"\"\n}",
        ResourceKind::Chatflow | ResourceKind::Agentflow => {
            "{\n  \"nodes\": [],\n  \"edges\": []\n}"
        }
        _ => "{}",
    }
}

/// What the pages of one kind need to know.
pub struct Kind {
    pub path: &'static str,
    pub label: &'static str,
    pub title: &'static str,
    pub is_flow: bool,
    pub data_template: &'static str,
    pub can_create: bool,
    pub can_update: bool,
    pub can_delete: bool,
    pub can_duplicate: bool,
}

impl Kind {
    /// The kind as a caller who holds the permissions `can` says sees it.
    fn new(kind: ResourceKind, can: impl Fn(Permission) -> bool) -> Self {
        Self {
            path: kind.path(),
            label: kind.label(),
            title: kind.resource().title(),
            is_flow: kind.is_flow(),
            data_template: data_template(kind),
            can_create: can(kind.create()),
            can_update: can(kind.update()),
            can_delete: can(kind.delete()),
            can_duplicate: kind.duplicate().is_some_and(&can),
        }
    }
}

#[derive(Template)]
#[template(path = "web/items.html")]
struct ListPage {
    ctx: Ctx,
    kind: Kind,
    rows: Vec<Item>,
    next: String,
}

/// `GET /{kind}`: a page of the active workspace's items of a kind.
pub async fn list(
    State(state): State<AppState>,
    Scope(scope): Scope,
    ctx: Ctx,
    Query(q): Query<PageQuery>,
    kind: ResourceKind,
) -> Response {
    let ctx = ctx.at(kind.page(), kind.resource().title());
    let page = match page_of(&q) {
        Ok(p) => p,
        Err(e) => return ctx.fail(e),
    };
    let list = match state.store.list_items(&scope, kind, page).await {
        Ok(l) => l,
        Err(e) => return ctx.fail(e),
    };
    let shown = ctx.flash.is_some();
    let page = ListPage {
        kind: Kind::new(kind, |p| ctx.can(p)),
        ctx,
        rows: list.items,
        next: list.next.map(|c| c.encode()).unwrap_or_default(),
    };
    finish(shown, page.render())
}

#[derive(Template)]
#[template(path = "web/item.html")]
struct EditPage {
    ctx: Ctx,
    kind: Kind,
    item: Item,
}

/// `GET /{kind}/{id}`: one item, editable with `:update`.
pub async fn edit(
    State(state): State<AppState>,
    Scope(scope): Scope,
    ctx: Ctx,
    Id(id): Id<ItemId>,
    kind: ResourceKind,
) -> Response {
    let item = match state.store.get_item(&scope, kind, id).await {
        Ok(i) => i,
        Err(e) => return ctx.at(kind.page(), kind.resource().title()).fail(e),
    };
    let ctx = ctx.at(kind.page(), &item.name);
    let shown = ctx.flash.is_some();
    let page = EditPage {
        kind: Kind::new(kind, |p| ctx.can(p)),
        ctx,
        item,
    };
    finish(shown, page.render())
}

#[derive(Template)]
#[template(path = "web/credentials.html")]
struct CredentialsPage {
    ctx: view::Ctx,
    kind: Kind,
    rows: Vec<V>,
    next: String,
}

async fn credentials(State(web): State<Web>, Query(q): Query<PageQuery>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let (mut api, ctx) = match signed_in(&web, &parts, "/credentials", "Credentials").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let answer = api
        .get(&list_path(
            ResourceKind::Credential,
            q.cursor.as_deref().unwrap_or(""),
        ))
        .await;
    if !answer.ok() {
        return error_page(api, Some(ctx), answer.status, &answer.message());
    }
    let list = V(answer.json);
    let page = CredentialsPage {
        kind: Kind::new(ResourceKind::Credential, |p| ctx.can(&p.to_string())),
        ctx,
        rows: list.items(),
        next: list.s("nextCursor"),
    };
    super::finish(api, page.render())
}

#[derive(Template)]
#[template(path = "web/credential.html")]
struct CredentialPage {
    ctx: view::Ctx,
    kind: Kind,
    item: V,
    can_share: bool,
    /// The workspaces it may be shared with, and whether it is.
    targets: Vec<(V, bool)>,
}

async fn credential(State(web): State<Web>, Path(id): Path<String>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let (mut api, mut ctx) = match signed_in(&web, &parts, "/credentials", "Credentials").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let id = encode_query(&id);
    let answer = api.get(&format!("/api/v1/credentials/{id}")).await;
    if !answer.ok() {
        return error_page(api, Some(ctx), answer.status, &answer.message());
    }
    let item = V(answer.json);
    ctx.title = item.s("name");
    let can_share = !item.b("shared") && ctx.can("credentials:share");
    let mut targets = Vec::new();
    if can_share {
        let shares = api.get(&format!("/api/v1/credentials/{id}/shares")).await;
        if !shares.ok() {
            return error_page(api, Some(ctx), shares.status, &shares.message());
        }
        let shared: Vec<String> = V(shares.json).items().iter().map(|w| w.s("id")).collect();
        let own = item.s("workspaceId");
        targets = ctx
            .workspaces
            .iter()
            .filter(|w| w.s("id") != own)
            .map(|w| (w.clone(), shared.contains(&w.s("id"))))
            .collect();
    }
    let page = CredentialPage {
        kind: Kind::new(ResourceKind::Credential, |p| ctx.can(&p.to_string())),
        ctx,
        item,
        can_share,
        targets,
    };
    super::finish(api, page.render())
}

/// The permissions the caller may give a key, grouped by resource: their own in this
/// workspace that a key may carry at all.
fn key_permissions(ctx: &view::Ctx) -> Vec<(String, Vec<String>)> {
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    let own = ctx.me.strs("permissions");
    let grantable = own
        .iter()
        .filter_map(|p| p.parse::<Permission>().ok())
        .filter(|p| authz::grantable_to_api_key(*p));
    for p in grantable {
        let resource = p.resource().as_str();
        match groups.iter_mut().find(|(r, _)| r == resource) {
            Some((_, ps)) => ps.push(p.to_string()),
            None => groups.push((resource.to_string(), vec![p.to_string()])),
        }
    }
    groups
}

#[derive(Template)]
#[template(path = "web/apikeys.html")]
struct ApiKeysPage {
    ctx: view::Ctx,
    kind: Kind,
    rows: Vec<V>,
    grants: Vec<(String, Vec<String>)>,
}

async fn apikeys(State(web): State<Web>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let (mut api, ctx) = match signed_in(&web, &parts, "/apikeys", "API Keys").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let answer = api.get("/api/v1/apikeys?limit=200").await;
    if !answer.ok() {
        return error_page(api, Some(ctx), answer.status, &answer.message());
    }
    if ctx.active_id().is_empty() {
        return error_page(api, Some(ctx), StatusCode::NOT_FOUND, "no active workspace");
    }
    let page = ApiKeysPage {
        kind: Kind::new(ResourceKind::ApiKey, |p| ctx.can(&p.to_string())),
        grants: key_permissions(&ctx),
        ctx,
        rows: V(answer.json).items(),
    };
    super::finish(api, page.render())
}
