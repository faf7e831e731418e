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
use flowspace_core::authz::AdminScope;
use flowspace_core::cursor::{MAX_LIMIT, PageRequest, Search};
use flowspace_core::ids::{ItemId, WorkspaceId};
use flowspace_core::model::Workspace;
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
    /// The "Flows of" choices: the listed workspace first, then those whose name contains
    /// `fq`, at most `MOVE_PICK_LIMIT`.
    sources: Vec<Workspace>,
    /// The source search, as typed.
    fq: String,
    /// More workspaces match `fq` than the "Flows of" choices show.
    fmore: bool,
    rows: Vec<FlowRow>,
    more: bool,
    /// The flows ticked before a target search (kept ticked).
    ticked: Vec<String>,
    /// Move or copy, as chosen before a target search.
    copy: bool,
    /// The "To workspace" choices: the target chosen before a search first, then those whose
    /// name contains `tq` (never the listed workspace), at most `MOVE_PICK_LIMIT`.
    targets: Vec<Workspace>,
    /// The target selected: the one chosen before, else the first a search found (empty:
    /// none, the placeholder is).
    target: String,
    /// The target search, as typed.
    tq: String,
    /// More workspaces match `tq` than the "To workspace" choices show.
    tmore: bool,
}

impl MovePage {
    fn is_ticked(&self, row: &FlowRow) -> bool {
        self.ticked.contains(&row.flow.id.to_string())
    }
}

/// Most workspaces each picker of the Move / copy page offers at once; the others are found
/// by searching their name (`fq`, `tq`).
pub const MOVE_PICK_LIMIT: u32 = 50;

/// What the Move / copy pages read from their query: `from` (the workspace to list), `ids`
/// (repeated), `target`, `mode` (`move` or `copy`), and the workspace searches `fq` (the
/// source's) and `tq` (the target's).
#[derive(Default)]
struct MoveQuery {
    from: Option<String>,
    ids: Vec<String>,
    target: String,
    mode: String,
    fq: String,
    tq: String,
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
                "fq" => q.fq = v,
                "tq" => q.tq = v,
                _ => {}
            }
        }
        q
    }
}

/// Workspace `id` of the Account Admin's organization, if it is one.
async fn workspace_of(
    state: &AppState,
    admin: &AdminScope,
    id: Option<WorkspaceId>,
) -> DomainResult<Option<Workspace>> {
    match id {
        Some(id) => state.store.workspace_of(admin.organization(), id).await,
        None => Ok(None),
    }
}

/// `chosen` first (when there is one), then the workspaces `found` other than it and `skip`,
/// at most `MOVE_PICK_LIMIT` of those; and whether more were found than kept.
fn offered(
    chosen: Option<Workspace>,
    found: Vec<Workspace>,
    over: bool,
    skip: Option<WorkspaceId>,
) -> (Vec<Workspace>, bool) {
    let first = chosen.as_ref().map(|w| w.id);
    let mut others: Vec<Workspace> = found
        .into_iter()
        .filter(|w| Some(w.id) != first && Some(w.id) != skip)
        .collect();
    let more = over || others.len() > MOVE_PICK_LIMIT as usize;
    others.truncate(MOVE_PICK_LIMIT as usize);
    (chosen.into_iter().chain(others).collect(), more)
}

/// `GET /move-flows?from=&fq=&tq=`: the flows of one workspace (the active one first) to
/// choose from, a target workspace and move or copy; previewed by `GET /move-flows/preview`.
/// Both workspace pickers offer a few workspaces found in SQL by name (`fq`, `tq`), never
/// every workspace of the organization; a target search keeps the flows ticked, the mode and
/// the target chosen.
pub async fn move_flows(
    State(state): State<AppState>,
    Admin(admin): Admin,
    ctx: Ctx,
    RawQuery(raw): RawQuery,
) -> Response {
    let ctx = ctx.at("/move-flows", "Move / copy flows");
    let q = MoveQuery::parse(raw.as_deref());
    let asked = q
        .from
        .as_deref()
        .and_then(|f| f.trim().parse::<WorkspaceId>().ok());
    let active = ctx.me.active_workspace.as_ref().map(|w| w.id);
    let read = async {
        let fsearch = Search::new(Some(&q.fq))?;
        let tsearch = Search::new(Some(&q.tq))?;
        // The workspace asked for, else the active one, else the first of the organization.
        let mut from = workspace_of(&state, &admin, asked).await?;
        if from.is_none() {
            from = workspace_of(&state, &admin, active).await?;
        }
        let limit = MOVE_PICK_LIMIT + 2;
        let (found, fover) = ctx.find_workspaces(&state, &fsearch, limit).await?;
        if from.is_none() {
            from = found.first().cloned();
        }
        let from_id = from.as_ref().map(|w| w.id);
        let (sources, fmore) = offered(from, found, fover, None);
        let target = q.target.trim().parse::<WorkspaceId>().ok();
        let target = workspace_of(&state, &admin, target)
            .await?
            .filter(|t| Some(t.id) != from_id);
        let (found, tover) = ctx.find_workspaces(&state, &tsearch, limit).await?;
        let (targets, tmore) = offered(target, found, tover, from_id);
        let flows = match from_id {
            Some(f) => {
                state
                    .store
                    .workspace_flows(&admin, f, FLOWS_SHOWN + 1)
                    .await?
            }
            None => Vec::new(),
        };
        Ok::<_, crate::error::ApiError>((sources, fmore, targets, tmore, flows))
    };
    let (sources, fmore, targets, tmore, mut flows) = match read.await {
        Ok(r) => r,
        Err(e) => return ctx.fail(e),
    };
    let more = flows.len() > FLOWS_SHOWN as usize;
    flows.truncate(FLOWS_SHOWN as usize);
    let from = sources.first().cloned();
    let rows = flows
        .into_iter()
        .map(|flow| FlowRow {
            workspace: from.as_ref().map(|w| w.name.clone()).unwrap_or_default(),
            flow,
        })
        .collect();
    // Selected: the target chosen before (kept only when it is one of the organization's and
    // not the source, so offered first), else the first a search found; else none (the
    // placeholder: the admin chooses).
    let chosen = targets
        .first()
        .filter(|t| !q.target.is_empty() && t.id.to_string() == q.target.trim());
    let searched = targets.first().filter(|_| !q.tq.trim().is_empty());
    let target = chosen
        .or(searched)
        .map(|t| t.id.to_string())
        .unwrap_or_default();
    let shown = ctx.flash.is_some();
    let page = MovePage {
        from: from.map(|f| f.id.to_string()).unwrap_or_default(),
        sources,
        fq: q.fq,
        fmore,
        rows,
        more,
        ticked: q.ids,
        copy: q.mode == "copy",
        targets,
        target,
        tq: q.tq,
        tmore,
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
    let target = q.target.trim().parse::<WorkspaceId>().ok();
    let target = match workspace_of(&state, &admin, target).await {
        Ok(t) => t,
        Err(e) => return ctx.fail(e),
    };
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
        // The names of the workspaces the flows are in, each read once.
        let mut names: Vec<Workspace> = Vec::new();
        for f in &flows {
            if !names.iter().any(|w| w.id == f.workspace_id) {
                match workspace_of(&state, &admin, Some(f.workspace_id)).await {
                    Ok(w) => names.extend(w),
                    Err(e) => return ctx.fail(e),
                }
            }
        }
        let name = |id: WorkspaceId| {
            names
                .iter()
                .find(|w| w.id == id)
                .map_or_else(|| id.to_string(), |w| w.name.clone())
        };
        rows = ids
            .iter()
            .filter_map(|id| flows.iter().find(|f| f.id == *id))
            .map(|flow| FlowRow {
                workspace: name(flow.workspace_id),
                flow: flow.clone(),
            })
            .collect();
    }
    let shown = ctx.flash.is_some();
    let page = MovePreviewPage {
        rows,
        copy,
        target: target
            .as_ref()
            .map(|t| t.id.to_string())
            .unwrap_or_default(),
        target_name: target.map(|t| t.name).unwrap_or_default(),
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
