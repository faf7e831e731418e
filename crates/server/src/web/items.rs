//! The active workspace's resource pages: the seven item kinds (list, create, edit, delete,
//! duplicate for flows), Credentials (with sharing) and API Keys.

use super::view::{Ctx, V};
use super::{Web, encode_query, error_page, finish, signed_in};
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use flowspace_core::authz;
use flowspace_core::permissions::Permission;
use flowspace_core::resource::ResourceKind;
use serde::Deserialize;

pub fn routes() -> Router<Web> {
    let mut r = Router::new()
        .route("/credentials", get(credentials))
        .route("/credentials/{id}", get(credential))
        .route("/apikeys", get(apikeys));
    for kind in ResourceKind::PLAIN {
        r = r
            .route(
                &format!("/{}", kind.path()),
                get(move |s: State<Web>, q: Query<PageQuery>, req: Request| list(s, q, req, kind)),
            )
            .route(
                &format!("/{}/{{id}}", kind.path()),
                get(move |s: State<Web>, p: Path<String>, req: Request| edit(s, p, req, kind)),
            );
    }
    r
}

#[derive(Deserialize, Default)]
pub struct PageQuery {
    #[serde(default)]
    cursor: String,
}

/// One page (50) of a kind's list, from `cursor` on.
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
    fn new(kind: ResourceKind, ctx: &Ctx) -> Self {
        Self {
            path: kind.path(),
            label: kind.label(),
            title: kind.resource().title(),
            is_flow: kind.is_flow(),
            data_template: data_template(kind),
            can_create: ctx.can(&kind.create().to_string()),
            can_update: ctx.can(&kind.update().to_string()),
            can_delete: ctx.can(&kind.delete().to_string()),
            can_duplicate: kind.duplicate().is_some_and(|p| ctx.can(&p.to_string())),
        }
    }
}

#[derive(Template)]
#[template(path = "web/items.html")]
struct ListPage {
    ctx: Ctx,
    kind: Kind,
    rows: Vec<V>,
    next: String,
}

async fn list(
    State(web): State<Web>,
    Query(q): Query<PageQuery>,
    req: Request,
    kind: ResourceKind,
) -> Response {
    let (parts, _) = req.into_parts();
    let section = format!("/{}", kind.path());
    let (mut api, ctx) = match signed_in(&web, &parts, &section, kind.resource().title()).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let answer = api.get(&list_path(kind, &q.cursor)).await;
    if !answer.ok() {
        return error_page(api, Some(ctx), answer.status, &answer.message());
    }
    let list = V(answer.json);
    let page = ListPage {
        kind: Kind::new(kind, &ctx),
        ctx,
        rows: list.items(),
        next: list.s("nextCursor"),
    };
    finish(api, page.render())
}

#[derive(Template)]
#[template(path = "web/item.html")]
struct EditPage {
    ctx: Ctx,
    kind: Kind,
    item: V,
}

async fn edit(
    State(web): State<Web>,
    Path(id): Path<String>,
    req: Request,
    kind: ResourceKind,
) -> Response {
    let (parts, _) = req.into_parts();
    let section = format!("/{}", kind.path());
    let (mut api, mut ctx) = match signed_in(&web, &parts, &section, kind.resource().title()).await
    {
        Ok(s) => s,
        Err(r) => return r,
    };
    let answer = api
        .get(&format!("/api/v1/{}/{}", kind.path(), encode_query(&id)))
        .await;
    if !answer.ok() {
        return error_page(api, Some(ctx), answer.status, &answer.message());
    }
    let item = V(answer.json);
    ctx.title = item.s("name");
    let page = EditPage {
        kind: Kind::new(kind, &ctx),
        ctx,
        item,
    };
    finish(api, page.render())
}

#[derive(Template)]
#[template(path = "web/credentials.html")]
struct CredentialsPage {
    ctx: Ctx,
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
        .get(&list_path(ResourceKind::Credential, &q.cursor))
        .await;
    if !answer.ok() {
        return error_page(api, Some(ctx), answer.status, &answer.message());
    }
    let list = V(answer.json);
    let page = CredentialsPage {
        kind: Kind::new(ResourceKind::Credential, &ctx),
        ctx,
        rows: list.items(),
        next: list.s("nextCursor"),
    };
    finish(api, page.render())
}

#[derive(Template)]
#[template(path = "web/credential.html")]
struct CredentialPage {
    ctx: Ctx,
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
        kind: Kind::new(ResourceKind::Credential, &ctx),
        ctx,
        item,
        can_share,
        targets,
    };
    finish(api, page.render())
}

/// The permissions an API key may be given, grouped by resource: the user's own in the
/// workspace, without `workspace:*`.
/// The permissions the caller may give a key, grouped by resource: their own in this
/// workspace that a key may carry at all.
fn key_permissions(ctx: &Ctx) -> Vec<(String, Vec<String>)> {
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
    ctx: Ctx,
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
        kind: Kind::new(ResourceKind::ApiKey, &ctx),
        grants: key_permissions(&ctx),
        ctx,
        rows: V(answer.json).items(),
    };
    finish(api, page.render())
}
