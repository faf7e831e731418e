//! Login Activity and the Audit Log (SPEC §6): filtered lists paged by cursor, CSV downloads
//! of every filtered row, and the audit chain's verification.
//!
//! The filters are the page's own query (`/login-activity?from=2026-01-31&outcome=failure`),
//! kept by the pager and the download links. Days from `<input type="date">` become the API's
//! RFC 3339 bounds here: the API's `to` is inclusive and times are kept to the microsecond, so
//! the `to` day ends at its last microsecond. A filter that cannot be used (not a date, an
//! unknown actor, one the API refuses with 422) is shown above an empty table instead of
//! failing the page.

use super::api::Api;
use super::view::{Ctx, V};
use super::{Web, encode_query, error_page, finish, signed_in};
use askama::Template;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use flowspace_core::time::Timestamp;
use flowspace_store::LoginOutcome;
use serde_json::{Value, json};
use uuid::Uuid;

/// Rows per page.
const PAGE_SIZE: &str = "50";

/// Longest summary a row of the audit log shows (the whole of it is in the CSV).
const SUMMARY_CHARS: usize = 200;

pub fn routes() -> Router<Web> {
    Router::new()
        .route("/login-activity", get(login_activity))
        .route("/login-activity.csv", get(login_activity_csv))
        .route("/audit-log", get(audit_log))
        .route("/audit-log.csv", get(audit_log_csv))
}

/// The page's query as given; the last value of a repeated name wins, and a query that does
/// not parse reads as empty.
struct Params(Vec<(String, String)>);

impl Params {
    fn of(parts: &Parts) -> Self {
        Self(
            parts
                .uri
                .query()
                .and_then(|q| serde_urlencoded::from_str(q).ok())
                .unwrap_or_default(),
        )
    }

    fn get(&self, name: &str) -> String {
        self.0
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    }
}

/// `path?name=value&...` with the pairs whose value is not empty, each value percent-encoded.
fn href<S: AsRef<str>>(path: &str, pairs: &[(&str, S)]) -> String {
    let query: Vec<String> = pairs
        .iter()
        .filter(|(_, v)| !v.as_ref().is_empty())
        .map(|(n, v)| format!("{n}={}", encode_query(v.as_ref())))
        .collect();
    if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", query.join("&"))
    }
}

/// A day of `<input type="date">` (`YYYY-MM-DD`) as an RFC 3339 bound of the API: its first
/// microsecond, or with `end` its last. Empty is no bound.
fn day_bound(label: &str, day: &str, end: bool) -> Result<Option<String>, String> {
    if day.is_empty() {
        return Ok(None);
    }
    let shaped = day.len() == 10
        && day.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    let time = if end {
        "T23:59:59.999999Z"
    } else {
        "T00:00:00Z"
    };
    let bound = format!("{day}{time}");
    if shaped && Timestamp::parse_rfc3339(&bound).is_some() {
        Ok(Some(bound))
    } else {
        Err(format!(
            "{label}: “{day}” is not a date. Give a day as YYYY-MM-DD (from 1970 on)."
        ))
    }
}

/// The API's `from` and `to` for two days, or what is wrong with them.
fn day_range(from: &str, to: &str) -> Result<Vec<(&'static str, String)>, String> {
    let from = day_bound("From", from, false)?;
    let to = day_bound("To", to, true)?;
    if let (Some(f), Some(t)) = (&from, &to)
        && f > t
    {
        return Err("From is after To: no event can match. Swap the two days.".into());
    }
    let mut q = Vec::new();
    q.extend(from.map(|f| ("from", f)));
    q.extend(to.map(|t| ("to", t)));
    Ok(q)
}

/// A timestamp of the API as `2026-01-31 12:00:05` (UTC).
fn when(at: &str) -> String {
    match (at.get(..10), at.get(11..19)) {
        (Some(day), Some(time)) => format!("{day} {time}"),
        _ => "—".into(),
    }
}

/// The first characters of an id, for a table cell (the whole id goes in its title).
fn short_id(id: &str) -> String {
    id.chars().take(8).collect()
}

/// What a list read gave: its rows and the next page's cursor, or the message of a filter the
/// API refused (422).
enum Read {
    Rows(Vec<V>, String),
    Refused(String),
}

/// Reads one filtered page, or answers the error page of a failed read.
async fn read_page(api: &mut Api, path: &str) -> Result<Read, (StatusCode, String)> {
    let answer = api.get(path).await;
    if answer.status == StatusCode::UNPROCESSABLE_ENTITY {
        return Ok(Read::Refused(answer.message()));
    }
    if !answer.ok() {
        return Err((answer.status, answer.message()));
    }
    let list = V(answer.json);
    Ok(Read::Rows(list.items(), list.s("nextCursor")))
}

/// Sends a CSV export's bytes as a download, or the error page of a failed read.
async fn download(mut api: Api, ctx: Ctx, path: &str, filename: &str) -> Response {
    let answer = api.send(Method::GET, path, None, Some("text/csv")).await;
    if !answer.ok() {
        return error_page(api, Some(ctx), answer.status, &answer.message());
    }
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    let mut res = (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        answer.bytes,
    )
        .into_response();
    for c in api.set_cookies {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res
}

// ---------------------------------------------------------------------------------------------
// Login Activity

/// One choice of the outcome filter.
pub struct Choice {
    pub value: &'static str,
    pub label: &'static str,
}

fn outcome_label(outcome: LoginOutcome) -> &'static str {
    match outcome {
        LoginOutcome::Success => "Success",
        LoginOutcome::Failure => "Failure",
        LoginOutcome::Logout => "Logout",
        LoginOutcome::RefreshReuse => "Refresh token reused",
        LoginOutcome::RefreshFailure => "Refresh failed",
        LoginOutcome::PasswordReset => "Password reset",
    }
}

/// The badge of an outcome: green for a sign-in, red for what went wrong, blue otherwise.
fn outcome_badge(outcome: Option<LoginOutcome>) -> &'static str {
    match outcome {
        Some(LoginOutcome::Success) => "ok",
        Some(LoginOutcome::Failure | LoginOutcome::RefreshReuse | LoginOutcome::RefreshFailure) => {
            "bad"
        }
        Some(LoginOutcome::Logout | LoginOutcome::PasswordReset) | None => "info",
    }
}

/// A failed sign-in's reason code in words (an unknown code as it is).
fn reason_label(reason: &str) -> String {
    match reason {
        "unknown_email" => "Unknown email".into(),
        "wrong_password" => "Wrong password".into(),
        "disabled" => "Account disabled".into(),
        "locked_out" => "Locked out after too many failures".into(),
        "unfinished" => "Unfinished (counted as a failure)".into(),
        other => other.replace('_', " "),
    }
}

/// The filters of the Login Activity page, as typed.
struct ActivityFilter {
    from: String,
    to: String,
    email: String,
    outcome: String,
}

impl ActivityFilter {
    fn read(p: &Params) -> Self {
        Self {
            from: p.get("from"),
            to: p.get("to"),
            email: p.get("email"),
            outcome: p.get("outcome"),
        }
    }

    /// The page's own query for these filters.
    fn pairs(&self) -> [(&'static str, &str); 4] {
        [
            ("from", &self.from),
            ("to", &self.to),
            ("email", &self.email),
            ("outcome", &self.outcome),
        ]
    }

    fn any(&self) -> bool {
        self.pairs().iter().any(|(_, v)| !v.is_empty())
    }

    /// The API's query for these filters, or what is wrong with them.
    fn api_query(&self) -> Result<Vec<(&'static str, String)>, String> {
        let mut q = day_range(&self.from, &self.to)?;
        q.push(("email", self.email.clone()));
        q.push(("outcome", self.outcome.clone()));
        Ok(q)
    }
}

/// One row of the Login Activity table.
pub struct ActivityRow {
    pub at: String,
    /// The outcome's code (`refresh_failure`).
    pub code: String,
    pub when: String,
    pub email: String,
    pub outcome: String,
    pub badge: &'static str,
    pub reason: String,
    pub ip: String,
    pub user_agent: String,
}

impl ActivityRow {
    fn of(v: &V) -> Self {
        let code = v.s("outcome");
        let outcome = LoginOutcome::parse(&code);
        let reason = v.s("reason");
        Self {
            at: v.s("createdAt"),
            when: when(&v.s("createdAt")),
            email: v.s("email"),
            outcome: outcome.map_or_else(|| code.replace('_', " "), |o| outcome_label(o).into()),
            badge: outcome_badge(outcome),
            code,
            reason: if reason.is_empty() {
                reason
            } else {
                reason_label(&reason)
            },
            ip: v.s("ip"),
            user_agent: v.s("userAgent"),
        }
    }
}

#[derive(Template)]
#[template(path = "web/login_activity.html")]
struct ActivityPage {
    ctx: Ctx,
    from: String,
    to: String,
    email: String,
    outcome: String,
    outcomes: Vec<Choice>,
    filtered: bool,
    warning: String,
    rows: Vec<ActivityRow>,
    next_href: String,
    first_href: String,
    csv_href: String,
}

async fn login_activity(State(web): State<Web>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let (mut api, ctx) = match signed_in(&web, &parts, "/login-activity", "Login Activity").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let p = Params::of(&parts);
    let f = ActivityFilter::read(&p);
    let cursor = p.get("cursor");
    let (mut rows, mut next, mut warning) = (Vec::new(), String::new(), String::new());
    match f.api_query() {
        Err(w) => warning = w,
        Ok(mut q) => {
            q.push(("limit", PAGE_SIZE.into()));
            q.push(("cursor", cursor.clone()));
            match read_page(&mut api, &href("/api/v1/login-activity", &q)).await {
                Ok(Read::Rows(items, n)) => {
                    rows = items.iter().map(ActivityRow::of).collect();
                    next = n;
                }
                Ok(Read::Refused(m)) => warning = m,
                Err((status, m)) => return error_page(api, Some(ctx), status, &m),
            }
        }
    }
    let pairs = f.pairs();
    let mut next_pairs = pairs.to_vec();
    next_pairs.push(("cursor", &next));
    let page = ActivityPage {
        ctx,
        outcomes: LoginOutcome::ALL
            .iter()
            .map(|o| Choice {
                value: o.as_str(),
                label: outcome_label(*o),
            })
            .collect(),
        filtered: f.any(),
        warning,
        rows,
        next_href: if next.is_empty() {
            String::new()
        } else {
            href("/login-activity", &next_pairs)
        },
        first_href: if cursor.is_empty() {
            String::new()
        } else {
            href("/login-activity", &pairs)
        },
        csv_href: href("/login-activity.csv", &pairs),
        from: f.from,
        to: f.to,
        email: f.email,
        outcome: f.outcome,
    };
    finish(api, page.render())
}

async fn login_activity_csv(State(web): State<Web>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let (api, ctx) = match signed_in(&web, &parts, "/login-activity", "Login Activity").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let f = ActivityFilter::read(&Params::of(&parts));
    match f.api_query() {
        Ok(q) => {
            let path = href("/api/v1/login-activity", &q);
            download(api, ctx, &path, "login-activity.csv").await
        }
        Err(w) => error_page(api, Some(ctx), StatusCode::UNPROCESSABLE_ENTITY, &w),
    }
}

// ---------------------------------------------------------------------------------------------
// Audit Log

/// The filters of the Audit Log page, as typed.
struct AuditFilter {
    workspace: String,
    actor: String,
    action: String,
    from: String,
    to: String,
}

impl AuditFilter {
    fn read(p: &Params) -> Self {
        Self {
            workspace: p.get("workspace"),
            actor: p.get("actor"),
            action: p.get("action"),
            from: p.get("from"),
            to: p.get("to"),
        }
    }

    /// The page's own query for these filters.
    fn pairs(&self) -> [(&'static str, &str); 5] {
        [
            ("workspace", &self.workspace),
            ("actor", &self.actor),
            ("action", &self.action),
            ("from", &self.from),
            ("to", &self.to),
        ]
    }

    fn any(&self) -> bool {
        self.pairs().iter().any(|(_, v)| !v.is_empty())
    }

    /// The API's query for these filters, or what is wrong with them. The actor may be given
    /// as a user's id, email or name (`users`: the organization's users, when the caller may
    /// list them).
    fn api_query(&self, users: &[V]) -> Result<Vec<(&'static str, String)>, String> {
        let mut q = day_range(&self.from, &self.to)?;
        q.push(("workspaceId", self.workspace.clone()));
        q.push(("actor", actor_id(&self.actor, users)?));
        q.push(("action", self.action.clone()));
        Ok(q)
    }
}

/// The id the API filters by for what was typed as the actor.
fn actor_id(typed: &str, users: &[V]) -> Result<String, String> {
    if typed.is_empty() || typed.parse::<Uuid>().is_ok() {
        return Ok(typed.to_string());
    }
    let found = users
        .iter()
        .find(|u| u.s("email").eq_ignore_ascii_case(typed))
        .or_else(|| {
            users
                .iter()
                .find(|u| u.s("name").eq_ignore_ascii_case(typed))
        });
    match found {
        Some(u) => Ok(u.s("id")),
        None if users.is_empty() => Err(format!(
            "Actor: “{typed}” is not an id. Give the id of a user or an API key."
        )),
        None => Err(format!(
            "Actor: no user has the email or name “{typed}”. Give a user's email, name or id, or an API key's id."
        )),
    }
}

/// A value of an audit summary in words: `from → to` for a change, lists and text bare.
fn fact(v: &Value) -> String {
    match v {
        Value::Null => "none".into(),
        Value::String(s) => s.clone(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(fact).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(m) if m.len() == 2 && m.contains_key("from") && m.contains_key("to") => {
            format!("{} → {}", fact(&m["from"]), fact(&m["to"]))
        }
        other => other.to_string(),
    }
}

/// A name a summary gives under `key`: the text, or for a change the new text.
fn named(summary: &V, key: &str) -> Option<String> {
    match summary.0.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Object(change)) => change
            .get("to")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        _ => None,
    }
}

/// An audit summary in one line (`name: Support bot, version: 2`), cut to `SUMMARY_CHARS`.
fn summary_line(v: &Value) -> String {
    let line = match v {
        // Keys sorted: the order a JSON map keeps depends on serde_json's features and on the
        // database (jsonb reorders), and the line must read the same everywhere.
        Value::Object(m) => {
            let mut facts: Vec<_> = m.iter().collect();
            facts.sort_by(|a, b| a.0.cmp(b.0));
            facts
                .into_iter()
                .map(|(k, v)| format!("{k}: {}", fact(v)))
                .collect::<Vec<_>>()
                .join(", ")
        }
        Value::Null => String::new(),
        other => fact(other),
    };
    if line.chars().count() > SUMMARY_CHARS {
        let cut: String = line.chars().take(SUMMARY_CHARS - 1).collect();
        format!("{cut}…")
    } else {
        line
    }
}

/// One row of the Audit Log table.
pub struct AuditLine {
    pub at: String,
    pub when: String,
    pub action: String,
    /// The user (for an API key: the user who created it), by email when known.
    pub actor: String,
    /// The actor's full id(s), for the cell's title.
    pub actor_id: String,
    pub by_api_key: bool,
    pub workspace: String,
    pub workspace_id: String,
    pub target_kind: String,
    pub target: String,
    pub target_id: String,
    pub summary: String,
    pub summary_json: String,
    pub ip: String,
}

impl AuditLine {
    fn of(v: &V, users: &[V], workspaces: &[V]) -> Self {
        let user_id = v.s("actorUserId");
        let key_id = v.s("actorApiKeyId");
        let user = users.iter().find(|u| u.s("id") == user_id);
        let actor = match user {
            Some(u) => u.s("email"),
            None if user_id.is_empty() => "—".into(),
            None => format!("user {}", short_id(&user_id)),
        };
        let workspace_id = v.s("workspaceId");
        let workspace = if workspace_id.is_empty() {
            "—".into()
        } else {
            workspaces
                .iter()
                .find(|w| w.s("id") == workspace_id)
                .map_or_else(
                    || format!("workspace {}", short_id(&workspace_id)),
                    |w| w.s("name"),
                )
        };
        let summary = v.get("summary");
        let target_id = v.s("targetId");
        // The target by a name the reader knows (a user by email, as in the actor column),
        // else the start of its id.
        let known = |id: &str| {
            let user = users.iter().find(|u| !id.is_empty() && u.s("id") == id);
            let workspace = workspaces
                .iter()
                .find(|w| !id.is_empty() && w.s("id") == id);
            user.map(|u| u.s("email"))
                .or_else(|| workspace.map(|w| w.s("name")))
        };
        let kind = v.s("targetKind");
        let target = match kind.as_str() {
            "user" => known(&target_id).or_else(|| named(&summary, "email")),
            "organization" => named(&summary, "organization"),
            "route" => named(&summary, "route"),
            _ => named(&summary, "name").or_else(|| known(&target_id)),
        }
        .unwrap_or_else(|| short_id(&target_id));
        Self {
            at: v.s("createdAt"),
            when: when(&v.s("createdAt")),
            action: v.s("action"),
            actor,
            actor_id: [user_id, key_id.clone()]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" / "),
            by_api_key: !key_id.is_empty(),
            workspace,
            workspace_id,
            target_kind: kind,
            target,
            target_id,
            summary: summary_line(&summary.0),
            summary_json: match &summary.0 {
                Value::Null => String::new(),
                s => s.to_string(),
            },
            ip: v.s("ip"),
        }
    }
}

/// The result of `GET /audit-events/verify`, in words.
pub struct ChainReport {
    pub valid: bool,
    pub headline: String,
    pub detail: String,
}

impl ChainReport {
    fn of(v: &V) -> Self {
        let checked = v.n("checked");
        let events = if checked == 1 { "event" } else { "events" };
        let broken = v.s("firstBrokenEventId");
        if v.b("valid") {
            Self {
                valid: true,
                headline: "The audit chain is intact.".into(),
                detail: format!(
                    "{checked} {events} checked: each one is linked to the one before it, \
                     and none was changed or removed."
                ),
            }
        } else if !broken.is_empty() {
            Self {
                valid: false,
                headline: "The audit chain is broken.".into(),
                detail: format!(
                    "The first event that does not hold is {broken} ({checked} {events} \
                     checked): it was changed or written outside \
                     Flowspace, or an event before it was removed."
                ),
            }
        } else {
            Self {
                valid: false,
                headline: "The audit chain is cut short.".into(),
                detail: format!(
                    "{checked} {events} checked, each linked to the one before it, but the \
                     chain no longer reaches its newest event: events at its end were removed."
                ),
            }
        }
    }
}

#[derive(Template)]
#[template(path = "web/audit_log.html")]
struct AuditPage {
    ctx: Ctx,
    workspace: String,
    actor: String,
    action: String,
    from: String,
    to: String,
    /// The people the actor field suggests.
    users: Vec<V>,
    filtered: bool,
    warning: String,
    chain: Option<ChainReport>,
    rows: Vec<AuditLine>,
    next_href: String,
    first_href: String,
    csv_href: String,
    /// The filters, for the verify form's hidden fields.
    kept: Vec<(&'static str, String)>,
}

/// The people the actor field knows and the table names: the organization's users for the
/// Account Admin (who alone may list them); for a member, the active workspace's members when
/// their role lets them see those (without, actors show as ids: the log stays readable).
async fn users(api: &mut Api, ctx: &Ctx) -> Result<Vec<V>, (StatusCode, String)> {
    if ctx.is_admin() {
        let answer = api.get("/api/v1/users").await;
        if !answer.ok() {
            return Err((answer.status, answer.message()));
        }
        return Ok(V(answer.json).items());
    }
    let active = ctx.active_id();
    if active.is_empty() {
        return Ok(Vec::new());
    }
    let answer = api
        .get(&format!(
            "/api/v1/workspace/{}/users",
            encode_query(&active)
        ))
        .await;
    if !answer.ok() {
        return Ok(Vec::new());
    }
    Ok(V(answer.json)
        .items()
        .iter()
        .map(|m| V(json!({"id": m.s("userId"), "email": m.s("email"), "name": m.s("name")})))
        .collect())
}

async fn audit_log(State(web): State<Web>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let (mut api, ctx) = match signed_in(&web, &parts, "/audit-log", "Audit Log").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let p = Params::of(&parts);
    let f = AuditFilter::read(&p);
    let cursor = p.get("cursor");
    let users = match users(&mut api, &ctx).await {
        Ok(u) => u,
        Err((status, m)) => return error_page(api, Some(ctx), status, &m),
    };
    let chain = if p.get("verify").is_empty() {
        None
    } else {
        let answer = api.get("/api/v1/audit-events/verify").await;
        if !answer.ok() {
            return error_page(api, Some(ctx), answer.status, &answer.message());
        }
        Some(ChainReport::of(&V(answer.json)))
    };
    let (mut rows, mut next, mut warning) = (Vec::new(), String::new(), String::new());
    match f.api_query(&users) {
        Err(w) => warning = w,
        Ok(mut q) => {
            q.push(("limit", PAGE_SIZE.into()));
            q.push(("cursor", cursor.clone()));
            match read_page(&mut api, &href("/api/v1/audit-events", &q)).await {
                Ok(Read::Rows(items, n)) => {
                    rows = items
                        .iter()
                        .map(|v| AuditLine::of(v, &users, &ctx.workspaces))
                        .collect();
                    next = n;
                }
                Ok(Read::Refused(m)) => warning = m,
                Err((status, m)) => return error_page(api, Some(ctx), status, &m),
            }
        }
    }
    let pairs = f.pairs();
    let mut next_pairs = pairs.to_vec();
    next_pairs.push(("cursor", &next));
    let page = AuditPage {
        ctx,
        users,
        filtered: f.any(),
        warning,
        chain,
        rows,
        next_href: if next.is_empty() {
            String::new()
        } else {
            href("/audit-log", &next_pairs)
        },
        first_href: if cursor.is_empty() {
            String::new()
        } else {
            href("/audit-log", &pairs)
        },
        csv_href: href("/audit-log.csv", &pairs),
        kept: pairs
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(n, v)| (*n, v.to_string()))
            .collect(),
        workspace: f.workspace,
        actor: f.actor,
        action: f.action,
        from: f.from,
        to: f.to,
    };
    finish(api, page.render())
}

async fn audit_log_csv(State(web): State<Web>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let (mut api, ctx) = match signed_in(&web, &parts, "/audit-log", "Audit Log").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let f = AuditFilter::read(&Params::of(&parts));
    let users = match users(&mut api, &ctx).await {
        Ok(u) => u,
        Err((status, m)) => return error_page(api, Some(ctx), status, &m),
    };
    match f.api_query(&users) {
        Ok(q) => {
            let path = href("/api/v1/audit-events", &q);
            download(api, ctx, &path, "audit-log.csv").await
        }
        Err(w) => error_page(api, Some(ctx), StatusCode::UNPROCESSABLE_ENTITY, &w),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_become_inclusive_bounds() {
        assert_eq!(
            day_range("2026-01-30", "2026-01-31").unwrap(),
            vec![
                ("from", "2026-01-30T00:00:00Z".to_string()),
                ("to", "2026-01-31T23:59:59.999999Z".to_string()),
            ]
        );
        assert_eq!(day_range("", "").unwrap(), vec![]);
        assert!(day_range("2026-01-31", "2026-01-31").is_ok());
        for bad in [
            "yesterday",
            "2026-02-30",
            "2026-1-5",
            "1960-01-01",
            "2026-01-31T00:00:00Z",
        ] {
            let e = day_range(bad, "").unwrap_err();
            assert!(e.starts_with("From:"), "{bad}: {e}");
        }
        assert!(day_range("", "31/01/2026").unwrap_err().starts_with("To:"));
        assert!(
            day_range("2026-02-01", "2026-01-31")
                .unwrap_err()
                .contains("after")
        );
    }

    #[test]
    fn links_keep_only_given_filters_encoded() {
        assert_eq!(href("/x", &[("a", ""), ("b", "")]), "/x");
        assert_eq!(
            href("/x", &[("email", "a+b@x.io"), ("to", ""), ("q", "a&b=c d")]),
            "/x?email=a%2Bb%40x.io&q=a%26b%3Dc+d"
        );
    }

    #[test]
    fn outcomes_are_coloured() {
        assert_eq!(outcome_badge(LoginOutcome::parse("success")), "ok");
        for bad in ["failure", "refresh_reuse", "refresh_failure"] {
            assert_eq!(outcome_badge(LoginOutcome::parse(bad)), "bad");
        }
        assert_eq!(outcome_badge(LoginOutcome::parse("logout")), "info");
        assert_eq!(outcome_badge(None), "info");
    }

    #[test]
    fn actors_are_found_by_email_name_or_id() {
        let id = "7f1b0c1e-2f4b-4c39-9a57-8d1c1d7a3b10";
        let users = vec![V(json!({"id": id, "email": "Ann@x.io", "name": "Ann Lee"}))];
        assert_eq!(actor_id("ann@x.io", &users).unwrap(), id);
        assert_eq!(actor_id("ann lee", &users).unwrap(), id);
        assert_eq!(actor_id(id, &[]).unwrap(), id);
        assert_eq!(actor_id("", &[]).unwrap(), "");
        assert!(
            actor_id("bob@x.io", &users)
                .unwrap_err()
                .contains("no user")
        );
        assert!(actor_id("bob", &[]).unwrap_err().contains("not an id"));
    }

    #[test]
    fn summaries_read_as_facts() {
        let s = json!({"name": {"from": "a", "to": "b"}, "version": 2, "fields": ["k1", "k2"], "x": null});
        assert_eq!(
            summary_line(&s),
            "fields: [k1, k2], name: a → b, version: 2, x: none"
        );
        assert_eq!(summary_line(&json!({})), "");
        assert_eq!(summary_line(&Value::Null), "");
        let long = summary_line(&json!({"d": "é".repeat(500)}));
        assert_eq!(long.chars().count(), SUMMARY_CHARS);
        assert!(long.ends_with('…'));
    }

    #[test]
    fn audit_rows_name_people_places_and_targets() {
        let ann = "7f1b0c1e-2f4b-4c39-9a57-8d1c1d7a3b10";
        let ws = "0b6a9f52-93c5-4a57-a4d4-6a3b6f2b8e01";
        let users = vec![V(json!({"id": ann, "email": "ann@x.io", "name": "Ann"}))];
        let workspaces = vec![V(json!({"id": ws, "name": "Research"}))];
        let row = |e: Value| AuditLine::of(&V(e), &users, &workspaces);
        let update = row(json!({
            "actorUserId": ann, "actorApiKeyId": null, "workspaceId": ws,
            "action": "chatflow.update", "targetKind": "chatflow", "targetId": "01a20909-6539",
            "summary": {"name": {"from": "a", "to": "b"}}, "createdAt": "2026-11-23T15:32:25.183753Z",
        }));
        assert_eq!(update.actor, "ann@x.io");
        assert_eq!(update.workspace, "Research");
        assert_eq!(update.target, "b");
        assert_eq!(update.when, "2026-11-23 15:32:25");
        assert!(!update.by_api_key);
        let setup = row(json!({
            "actorUserId": ann, "action": "organization.setup", "targetKind": "organization",
            "targetId": "01a20908-abde", "summary": {"email": "ann@x.io", "organization": "Acme"},
        }));
        assert_eq!(setup.target, "Acme");
        assert_eq!(setup.workspace, "—");
        let by_key = row(json!({
            "actorUserId": "5e0d2c55-0000-4000-8000-000000000000",
            "actorApiKeyId": "9c7e1a00-0000-4000-8000-000000000000",
            "workspaceId": "11111111-0000-4000-8000-000000000000",
            "targetKind": "user", "targetId": ann, "summary": {},
        }));
        assert!(by_key.by_api_key);
        assert_eq!(by_key.actor, "user 5e0d2c55");
        assert_eq!(by_key.workspace, "workspace 11111111");
        assert_eq!(by_key.target, "ann@x.io");
        assert_eq!(by_key.summary, "");
        let denied = row(json!({"targetKind": "route", "summary": {"route": "/api/v1/users"}}));
        assert_eq!(denied.target, "/api/v1/users");
    }

    #[test]
    fn chain_reports_say_what_happened() {
        let ok = ChainReport::of(&V(
            json!({"valid": true, "checked": 12, "firstBrokenEventId": null}),
        ));
        assert!(ok.valid && ok.detail.starts_with("12 events checked"));
        let id = "7f1b0c1e-2f4b-4c39-9a57-8d1c1d7a3b10";
        let broken = ChainReport::of(&V(
            json!({"valid": false, "checked": 3, "firstBrokenEventId": id}),
        ));
        assert!(!broken.valid && broken.detail.contains(id));
        let cut = ChainReport::of(&V(
            json!({"valid": false, "checked": 1, "firstBrokenEventId": null}),
        ));
        assert!(cut.headline.contains("cut short") && cut.detail.starts_with("1 event checked"));
    }
}
