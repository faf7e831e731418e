//! Moving items between workspaces from the dashboard (rule 12): the active workspace's
//! **Export** (choose kinds and items, download the bundle) and **Import** (upload a bundle,
//! preview what it creates and which names clash, confirm, see what was created), and the
//! Account Admin's **Move / copy flows** (choose flows and a target, preview, confirm, see every
//! id moved or copied).
//!
//! The pages read through the store in the scope their guard handed out, as `POST /export`
//! and `GET /admin/...` would; their forms are the API routes themselves (`routes::pages`): the
//! export's answer is downloaded as it is, and the preview and the reports are pages made from
//! the routes' typed answers (`web::surface::Answer::Page`).

use super::page::{Ctx, finish};
use super::page_response;
use super::surface::Answered;
use crate::api::transfer::{BulkReport, ImportPreview, ImportReport};
use crate::auth::{Admin, Scope};
use crate::state::AppState;
use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use flowspace_core::DomainResult;
use flowspace_core::cursor::{MAX_LIMIT, PageRequest};
use flowspace_core::ids::{ItemId, WorkspaceId};
use flowspace_core::resource::ResourceKind;
use flowspace_core::transfer;
use flowspace_store::{FlowRef, TransferStatus};
use serde::de::DeserializeOwned;

/// One item offered for export.
struct Choice {
    id: String,
    name: String,
}

/// A kind offered for export, with its newest items.
struct KindChoice {
    path: &'static str,
    title: &'static str,
    items: Vec<Choice>,
    /// More items than shown: ticking none exports all of them.
    more: bool,
}

#[derive(Template)]
#[template(path = "web/export.html")]
struct ExportPage {
    ctx: Ctx,
    kinds: Vec<KindChoice>,
}

/// `GET /export`: the kinds the caller may export (as `POST /export` allows them), each with
/// its newest items to choose from.
pub async fn export(State(state): State<AppState>, Scope(scope): Scope, ctx: Ctx) -> Response {
    let ctx = ctx.at("/export", "Export");
    let read = async {
        let mut kinds = Vec::new();
        for kind in transfer::exportable_by(&scope) {
            let page = PageRequest::new(Some(MAX_LIMIT), None)?;
            let (items, more) = if kind == ResourceKind::Credential {
                // An export holds the credentials the workspace owns, not those shared into it.
                let list = state
                    .store
                    .list_credentials(&scope, &Default::default(), page)
                    .await?;
                let more = list.next.is_some();
                let items = list
                    .items
                    .into_iter()
                    .filter(|c| !c.shared)
                    .map(|c| Choice {
                        id: c.id.to_string(),
                        name: c.name,
                    })
                    .collect();
                (items, more)
            } else {
                let list = state.store.list_items(&scope, kind, page).await?;
                let more = list.next.is_some();
                let items = list
                    .items
                    .into_iter()
                    .map(|i| Choice {
                        id: i.id.to_string(),
                        name: i.name,
                    })
                    .collect();
                (items, more)
            };
            kinds.push(KindChoice {
                path: kind.path(),
                title: kind.resource().title(),
                items,
                more,
            });
        }
        DomainResult::Ok(kinds)
    };
    let kinds = match read.await {
        Ok(k) => k,
        Err(e) => return ctx.fail(e),
    };
    let shown = ctx.flash.is_some();
    finish(shown, ExportPage { ctx, kinds }.render())
}

#[derive(Template)]
#[template(path = "web/import.html")]
struct ImportPage {
    ctx: Ctx,
}

/// `GET /import`: upload (or paste) a bundle to preview.
pub async fn import(ctx: Ctx) -> Response {
    let ctx = ctx.at("/import", "Import");
    let shown = ctx.flash.is_some();
    finish(shown, ImportPage { ctx }.render())
}

/// The typed answer of a route, or the error page saying it could not be read.
fn typed<T: DeserializeOwned>(a: &Answered<'_>) -> Result<T, Response> {
    serde_json::from_value(a.answer.clone()).map_err(|e| {
        tracing::error!(error = %e, "a form's answer does not read as its route's type");
        super::error_page_plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The answer could not be shown.",
        )
    })
}

/// The dashboard page of the kind whose path name is `kind`.
fn kind_page(kind: &str) -> &'static str {
    transfer::exportable_kind(kind).map_or("/", ResourceKind::page)
}

#[derive(Template)]
#[template(path = "web/import_preview.html")]
struct PreviewPage {
    preview: ImportPreview,
    /// The bundle, to send again with the confirmation.
    bundle: String,
    clashes: usize,
    csrf: String,
    back: String,
}

/// The answer of `POST /import/preview`: what the import creates and which names clash, and
/// the form that imports the same bundle.
pub fn import_preview(a: &Answered<'_>) -> Response {
    let preview: ImportPreview = match typed(a) {
        Ok(p) => p,
        Err(res) => return res,
    };
    let page = PreviewPage {
        clashes: preview.entries.iter().filter(|e| e.renamed).count(),
        preview,
        bundle: a.sent.to_string(),
        csrf: a.csrf.to_string(),
        back: a.back.to_string(),
    };
    page_response(page.render(), Vec::new())
}

#[derive(Template)]
#[template(path = "web/import_report.html")]
struct ImportReportPage {
    report: ImportReport,
    back: String,
}

impl ImportReportPage {
    fn href(&self, kind: &str, id: &ItemId) -> String {
        format!("{}/{id}", kind_page(kind))
    }
}

/// The answer of `POST /import`: every item created, with its new id and name.
pub fn import_report(a: &Answered<'_>) -> Response {
    let report: ImportReport = match typed(a) {
        Ok(r) => r,
        Err(res) => return res,
    };
    let page = ImportReportPage {
        report,
        back: a.back.to_string(),
    };
    page_response(page.render(), Vec::new())
}

/// A flow as the Move / copy pages show it.
struct FlowRow {
    flow: FlowRef,
    workspace: String,
}

impl FlowRow {
    fn kind(&self) -> &'static str {
        self.flow.kind.label()
    }
}

/// Most flows the chooser lists from one workspace.
const FLOWS_SHOWN: u32 = 1_000;

#[derive(Template)]
#[template(path = "web/move_flows.html")]
struct MovePage {
    ctx: Ctx,
    /// The workspace whose flows are listed.
    from: String,
    rows: Vec<FlowRow>,
    more: bool,
}

/// What the Move / copy pages read from their query: `from` (the workspace to list), `ids`
/// (repeated), `target`, `mode` (`move` or `copy`).
#[derive(Default)]
struct MoveQuery {
    from: Option<String>,
    ids: Vec<String>,
    target: String,
    mode: String,
}

impl MoveQuery {
    fn parse(raw: Option<&str>) -> Self {
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_str(raw.unwrap_or("")).unwrap_or_default();
        let mut q = Self::default();
        for (k, v) in pairs {
            match k.as_str() {
                "from" => q.from = Some(v),
                "ids" => q.ids.push(v),
                "target" => q.target = v,
                "mode" => q.mode = v,
                _ => {}
            }
        }
        q
    }
}

/// The name of workspace `id` among `ctx`'s (the Account Admin's: all of them).
fn workspace_name(ctx: &Ctx, id: WorkspaceId) -> String {
    ctx.workspaces
        .iter()
        .find(|w| w.id == id)
        .map_or_else(|| id.to_string(), |w| w.name.clone())
}

/// `GET /move-flows?from=`: the flows of one workspace (the active one first) to choose from,
/// a target workspace and move or copy; previewed by `GET /move-flows/preview`.
pub async fn move_flows(
    State(state): State<AppState>,
    Admin(admin): Admin,
    ctx: Ctx,
    RawQuery(raw): RawQuery,
) -> Response {
    let ctx = ctx.at("/move-flows", "Move / copy flows");
    let q = MoveQuery::parse(raw.as_deref());
    let from = q
        .from
        .and_then(|f| f.trim().parse::<WorkspaceId>().ok())
        .filter(|f| ctx.workspaces.iter().any(|w| w.id == *f))
        .or_else(|| {
            ctx.workspaces
                .iter()
                .find(|w| w.id.to_string() == ctx.active_id())
                .map(|w| w.id)
        })
        .or_else(|| ctx.workspaces.first().map(|w| w.id));
    let flows = match from {
        Some(f) => {
            state
                .store
                .workspace_flows(&admin, f, FLOWS_SHOWN + 1)
                .await
        }
        None => Ok(Vec::new()),
    };
    let mut flows = match flows {
        Ok(f) => f,
        Err(e) => return ctx.fail(e),
    };
    let more = flows.len() > FLOWS_SHOWN as usize;
    flows.truncate(FLOWS_SHOWN as usize);
    let rows = flows
        .into_iter()
        .map(|flow| FlowRow {
            workspace: workspace_name(&ctx, flow.workspace_id),
            flow,
        })
        .collect();
    let shown = ctx.flash.is_some();
    let page = MovePage {
        from: from.map(|f| f.to_string()).unwrap_or_default(),
        rows,
        more,
        ctx,
    };
    finish(shown, page.render())
}

#[derive(Template)]
#[template(path = "web/move_preview.html")]
struct MovePreviewPage {
    ctx: Ctx,
    rows: Vec<FlowRow>,
    copy: bool,
    target: String,
    target_name: String,
    /// What the preview cannot go on with (no flow chosen, a flow gone, no target).
    problem: String,
}

impl MovePreviewPage {
    /// Whether a flow is in the target already (a move leaves it where it is).
    fn already_there(&self, row: &FlowRow) -> bool {
        row.flow.workspace_id.to_string() == self.target
    }
}

/// `GET /move-flows/preview?ids=&target=&mode=`: the chosen flows, where each is and where it
/// goes, and the form that moves or copies them (`POST /admin/flows/move` or `copy`).
pub async fn move_preview(
    State(state): State<AppState>,
    Admin(admin): Admin,
    ctx: Ctx,
    RawQuery(raw): RawQuery,
) -> Response {
    let ctx = ctx.at("/move-flows", "Move / copy flows: preview");
    let q = MoveQuery::parse(raw.as_deref());
    let copy = q.mode == "copy";
    let target = q
        .target
        .trim()
        .parse::<WorkspaceId>()
        .ok()
        .filter(|t| ctx.workspaces.iter().any(|w| w.id == *t));
    let mut ids: Vec<ItemId> = q.ids.iter().filter_map(|i| i.trim().parse().ok()).collect();
    let parsed = ids.len();
    let mut seen = std::collections::HashSet::new();
    ids.retain(|id| seen.insert(*id));
    let mut problem = String::new();
    let mut rows = Vec::new();
    if ids.is_empty() || parsed != q.ids.len() {
        problem = "Choose at least one flow.".into();
    } else if ids.len() > crate::api::transfer::MAX_BULK {
        problem = format!(
            "Choose at most {} flows at once.",
            crate::api::transfer::MAX_BULK
        );
    } else if target.is_none() {
        problem = "Choose the workspace to move or copy them to.".into();
    } else {
        let flows = match state.store.flows_by_id(&admin, &ids).await {
            Ok(f) => f,
            Err(e) => return ctx.fail(e),
        };
        if flows.len() != ids.len() {
            problem = "A flow chosen is no longer there: choose again.".into();
        }
        rows = ids
            .iter()
            .filter_map(|id| flows.iter().find(|f| f.id == *id))
            .map(|flow| FlowRow {
                workspace: workspace_name(&ctx, flow.workspace_id),
                flow: flow.clone(),
            })
            .collect();
    }
    let shown = ctx.flash.is_some();
    let page = MovePreviewPage {
        rows,
        copy,
        target: target.map(|t| t.to_string()).unwrap_or_default(),
        target_name: target.map(|t| workspace_name(&ctx, t)).unwrap_or_default(),
        problem,
        ctx,
    };
    finish(shown, page.render())
}

#[derive(Template)]
#[template(path = "web/move_report.html")]
struct MoveReportPage {
    report: BulkReport,
    copied: bool,
}

/// The answer of `POST /admin/flows/move` or `copy`: every flow, with its id (and its copy's).
pub fn move_report(a: &Answered<'_>) -> Response {
    let report: BulkReport = match typed(a) {
        Ok(r) => r,
        Err(res) => return res,
    };
    let page = MoveReportPage {
        copied: report
            .results
            .iter()
            .any(|r| r.status == TransferStatus::Copied),
        report,
    };
    page_response(page.render(), Vec::new())
}
