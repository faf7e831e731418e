//! The active workspace's resource pages: the seven item kinds (list, create, edit, delete,
//! duplicate for flows), Credentials (with sharing) and API Keys.

use super::page::{Ctx, Pretty, Text, When, finish};
use crate::auth::{Scope, Views};
use crate::extract::Id;
use crate::state::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use flowspace_core::cursor::{PageRequest, Search};
use flowspace_core::ids::{ItemId, WorkspaceId};
use flowspace_core::model::{ApiKey, Credential, CredentialUsage, Item, Workspace, WorkspaceRef};
use flowspace_core::permissions::Permission;
use flowspace_core::resource::ResourceKind;
use flowspace_core::{DomainError, authz, perm};
use serde::Deserialize;

/// `?q=&cursor=` of the lists of items, credentials and API keys: the name contains `q`.
#[derive(Deserialize, Default)]
pub struct PageQuery {
    #[serde(default)]
    cursor: Option<String>,
    #[serde(default)]
    q: Option<String>,
}

/// One page (`limit` long) of a list, from the query's cursor on, and its search.
fn page_of(q: &PageQuery, limit: u32) -> Result<(Search, PageRequest), DomainError> {
    let page = PageRequest::new(Some(limit), q.cursor.as_deref().filter(|c| !c.is_empty()))?;
    Ok((Search::new(q.q.as_deref())?, page))
}

/// The link to the next page of the list at `path` searched by the query's `q` (empty on the
/// last page).
fn next_link(path: &str, q: &PageQuery, next: Option<flowspace_core::cursor::Cursor>) -> String {
    let cursor = next.map(|c| c.encode());
    super::page::next_page(path, q.q.as_deref().unwrap_or(""), cursor.as_deref())
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
    /// The list page (`/chatflows`), where its search form sends `q`.
    pub page: &'static str,
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
            page: kind.page(),
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
    /// The search typed (`q`), as typed.
    q: String,
    /// The next page's link (empty on the last page).
    next: String,
}

/// `GET /{kind}`: a page of the active workspace's items of a kind, those whose name contains
/// `q` (as the API's list searches).
pub async fn list(
    State(state): State<AppState>,
    Scope(scope): Scope,
    ctx: Ctx,
    Query(q): Query<PageQuery>,
    kind: ResourceKind,
) -> Response {
    let ctx = ctx.at(kind.page(), kind.resource().title());
    let (search, page) = match page_of(&q, 50) {
        Ok(p) => p,
        Err(e) => return ctx.fail(e),
    };
    let list = match state.store.search_items(&scope, kind, &search, page).await {
        Ok(l) => l,
        Err(e) => return ctx.fail(e),
    };
    let shown = ctx.flash.is_some();
    let page = ListPage {
        kind: Kind::new(kind, |p| ctx.can(p)),
        ctx,
        rows: list.items,
        next: next_link(kind.page(), &q, list.next),
        q: q.q.unwrap_or_default(),
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
    ctx: Ctx,
    kind: Kind,
    /// Whether the caller may share a credential of this workspace.
    can_share: bool,
    rows: Vec<Credential>,
    /// The search typed (`q`), as typed.
    q: String,
    /// The next page's link (empty on the last page).
    next: String,
}

/// `GET /credentials`: a page of the credentials of the active workspace and of those shared
/// into it (never their secrets), those whose name contains `q`.
pub async fn credentials(
    State(state): State<AppState>,
    Scope(scope): Scope,
    ctx: Ctx,
    Query(q): Query<PageQuery>,
) -> Response {
    let kind = ResourceKind::Credential;
    let ctx = ctx.at(kind.page(), kind.resource().title());
    let (search, page) = match page_of(&q, 50) {
        Ok(p) => p,
        Err(e) => return ctx.fail(e),
    };
    let list = match state.store.list_credentials(&scope, &search, page).await {
        Ok(l) => l,
        Err(e) => return ctx.fail(e),
    };
    let shown = ctx.flash.is_some();
    let page = CredentialsPage {
        kind: Kind::new(kind, |p| ctx.can(p)),
        can_share: ctx.can(perm!(Credentials, Share)),
        ctx,
        rows: list.items,
        next: next_link(kind.page(), &q, list.next),
        q: q.q.unwrap_or_default(),
    };
    finish(shown, page.render())
}

#[derive(Template)]
#[template(path = "web/credential.html")]
struct CredentialPage {
    ctx: Ctx,
    kind: Kind,
    item: Credential,
    can_share: bool,
    /// The workspaces it is shared with (ticked), then the others the share dialog's search
    /// found.
    targets: Vec<(WorkspaceRef, bool)>,
    /// The share dialog's search, as typed.
    pick: String,
    /// Whether more workspaces match than the share dialog offers.
    more: bool,
    /// Where it is used, shown before unsharing and deleting.
    usage: CredentialUsage,
    /// The active workspace: its items are one click away.
    active: WorkspaceId,
}

impl CredentialPage {
    /// How many items that name the credential a share target holds (what unsharing breaks).
    fn uses_in(&self, workspace: &WorkspaceRef) -> usize {
        self.usage
            .workspaces
            .iter()
            .filter(|w| w.id == workspace.id)
            .map(|w| w.items.len() + w.hidden_items as usize)
            .sum()
    }
    /// How many items name it in workspaces that are not named to the caller.
    fn hidden_elsewhere(&self) -> usize {
        let named: u32 = self.usage.workspaces.iter().map(|w| w.hidden_items).sum();
        self.usage.hidden_items.saturating_sub(named) as usize
    }
    /// How many items name the credential in all (named or counted).
    fn uses(&self) -> usize {
        self.usage
            .workspaces
            .iter()
            .map(|w| w.items.len())
            .sum::<usize>()
            + self.usage.hidden_items as usize
    }
}

/// `GET /credentials/{id}`: one credential, editable with `:update`; its sharing (read as
/// `GET /credentials/{id}/shares` reads it) with `:share`, when this workspace owns it; where
/// it is used (read as `GET /credentials/{id}/usage` reads it), shown before unsharing and
/// deleting.
pub async fn credential(
    State(state): State<AppState>,
    Scope(scope): Scope,
    Views(views): Views,
    ctx: Ctx,
    Id(id): Id<ItemId>,
    Query(query): Query<super::workspaces::PickQuery>,
) -> Response {
    let kind = ResourceKind::Credential;
    let pick = query.pick.unwrap_or_default();
    let item = match state.store.get_credential(&scope, id).await {
        Ok(c) => c,
        Err(e) => return ctx.at(kind.page(), kind.resource().title()).fail(e),
    };
    let ctx = ctx.at(kind.page(), &item.name);
    let usage = match state.store.credential_usage(&scope, &views, id).await {
        Ok(u) => u,
        Err(e) => return ctx.fail(e),
    };
    let can_share = !item.shared && ctx.can(perm!(Credentials, Share));
    // The share dialog ticks every workspace it is shared with, and offers the others that
    // `pick` finds, a few at a time (never every workspace of the organization).
    let (mut targets, mut more) = (Vec::new(), false);
    if can_share {
        let read = async {
            let search = Search::new(Some(&pick))?;
            let shared = state.store.credential_shares(&scope, id).await?;
            let all = ctx.all_workspaces(&state).await?;
            Ok::<_, crate::error::ApiError>((search, shared, all))
        };
        let (search, shared, all) = match read.await {
            Ok(r) => r,
            Err(e) => return ctx.fail(e),
        };
        let is_shared = |w: &Workspace| shared.iter().any(|s| s.id == w.id);
        let target = |w: &Workspace| WorkspaceRef {
            id: w.id,
            name: w.name.clone(),
        };
        targets = all
            .iter()
            .filter(|w| is_shared(w))
            .map(|w| (target(w), true))
            .collect();
        let others = |w: &Workspace| w.id == item.workspace_id || is_shared(w);
        let (found, over) = super::workspaces::pick_workspaces(&all, &search, others);
        targets.extend(found.into_iter().map(|w| (target(w), false)));
        more = over;
    }
    let shown = ctx.flash.is_some();
    let page = CredentialPage {
        kind: Kind::new(kind, |p| ctx.can(p)),
        ctx,
        item,
        can_share,
        targets,
        pick,
        more,
        usage,
        active: scope.workspace(),
    };
    finish(shown, page.render())
}

/// The permissions of one resource that the caller may give a key.
pub struct Grant {
    pub resource: &'static str,
    pub permissions: Vec<Permission>,
}

/// The permissions the caller may give a key, grouped by resource: their own in this
/// workspace that a key may carry at all.
fn key_permissions(ctx: &Ctx) -> Vec<Grant> {
    let mut groups: Vec<Grant> = Vec::new();
    let grantable = ctx
        .permissions
        .iter()
        .filter(|p| authz::grantable_to_api_key(*p));
    for p in grantable {
        let resource = p.resource().as_str();
        match groups.iter_mut().find(|g| g.resource == resource) {
            Some(g) => g.permissions.push(p),
            None => groups.push(Grant {
                resource,
                permissions: vec![p],
            }),
        }
    }
    groups
}

#[derive(Template)]
#[template(path = "web/apikeys.html")]
struct ApiKeysPage {
    ctx: Ctx,
    kind: Kind,
    rows: Vec<ApiKey>,
    grants: Vec<Grant>,
    /// The search typed (`q`), as typed.
    q: String,
    /// The next page's link (empty on the last page).
    next: String,
}

impl ApiKeysPage {
    /// The day a key expires, as a date field shows it (`YYYY-MM-DD`; empty for never).
    fn expiry_day(&self, key: &ApiKey) -> String {
        key.expires_at
            .map(|t| t.to_string().chars().take(10).collect())
            .unwrap_or_default()
    }
    /// Whether `key` holds `p` (its box in the edit form is ticked).
    fn holds(&self, key: &ApiKey, p: &Permission) -> bool {
        key.permissions.contains(*p)
    }
    /// The permissions of a key that the caller may not give (saving the key drops them).
    fn beyond_caller(&self, key: &ApiKey) -> String {
        key.permissions
            .missing_from(self.ctx.permissions)
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// `GET /apikeys`: the active workspace's API keys (never the keys themselves), those whose
/// name contains `q`.
pub async fn apikeys(
    State(state): State<AppState>,
    Scope(scope): Scope,
    ctx: Ctx,
    Query(q): Query<PageQuery>,
) -> Response {
    let kind = ResourceKind::ApiKey;
    let ctx = ctx.at(kind.page(), kind.resource().title());
    let (search, page) = match page_of(&q, 200) {
        Ok(p) => p,
        Err(e) => return ctx.fail(e),
    };
    let list = match state.store.list_api_keys(&scope, &search, page).await {
        Ok(l) => l,
        Err(e) => return ctx.fail(e),
    };
    let shown = ctx.flash.is_some();
    let page = ApiKeysPage {
        kind: Kind::new(kind, |p| ctx.can(p)),
        grants: key_permissions(&ctx),
        ctx,
        rows: list.items,
        next: next_link(kind.page(), &q, list.next),
        q: q.q.unwrap_or_default(),
    };
    finish(shown, page.render())
}
