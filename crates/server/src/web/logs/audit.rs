//! The Audit Log: events filtered by workspace, actor, action, day and search (`q`), paged, as
//! CSV, and the chain's verification (the Account Admin's, as `GET /audit-events/verify`).

use super::{Links, Unusable, day_range, given, invalid, page_at, short_id, when};
use crate::api::audit::{AuditEventView, AuditQuery, ChainVerification, audit_csv, verify_chain};
use crate::api::csv_download;
use crate::auth::{Admin, Audit, Caller};
use crate::extract::ApiQuery;
use crate::state::AppState;
use crate::web::page::{Ctx, finish};
use askama::Template;
use axum::extract::State;
use axum::response::Response;
use flowspace_core::authz::{self, AuditScope};
use flowspace_core::model::Workspace;
use flowspace_core::perm;
use flowspace_store::AuditFilter;
use serde_json::Value;
use uuid::Uuid;

/// Longest summary a row of the audit log shows (the whole of it is in the CSV).
const SUMMARY_CHARS: usize = 200;

/// Someone the actor field suggests and the table names.
pub struct Person {
    pub id: Uuid,
    pub email: String,
    pub name: String,
}

/// The people the actor field knows and the table names, as the API would show them to the
/// caller: the organization's users for the Account Admin (`GET /users`); for a member, the
/// active workspace's members when their role lets them see those (`GET
/// /workspace/{id}/users`, `workspace:view`). Without, actors show as ids: the log stays
/// readable. `flowspace_core::authz` decides, as the guards of those routes do.
async fn people(state: &AppState, caller: &Caller) -> Result<Vec<Person>, Unusable> {
    if let Ok(admin) = authz::authorize_account_admin(&caller.facts) {
        let users = state.store.list_users(&admin).await?;
        return Ok(users
            .into_iter()
            .map(|u| Person {
                id: u.user.id.0,
                email: u.user.email,
                name: u.user.name,
            })
            .collect());
    }
    let Ok(scope) = authz::authorize(&caller.facts, perm!(Workspace, View)) else {
        return Ok(Vec::new());
    };
    Ok(state
        .store
        .members(&scope)
        .await
        .map(|members| {
            members
                .into_iter()
                .map(|m| Person {
                    id: m.user_id.0,
                    email: m.email,
                    name: m.name,
                })
                .collect()
        })
        .unwrap_or_default())
}

/// The page's filters as typed (for the form and the links); the workspace is the Account
/// Admin's filter, which the guard made part of the scope.
fn pairs<'q>(q: &'q AuditQuery, workspace: &'q str) -> [(&'static str, &'q str); 6] {
    [
        ("workspaceId", workspace),
        ("actor", given(&q.actor)),
        ("action", given(&q.action)),
        ("from", given(&q.from)),
        ("to", given(&q.to)),
        ("q", given(&q.q)),
    ]
}

/// The store's filter for the page's query: the actor as an id (it may be typed as a user's
/// email or name), its days as the API's bounds.
fn filter(q: &AuditQuery, people: &[Person]) -> Result<AuditFilter, Unusable> {
    let (from, to) = day_range(given(&q.from), given(&q.to)).map_err(Unusable::Warning)?;
    let actor = actor_id(given(&q.actor), people).map_err(Unusable::Warning)?;
    let api = AuditQuery {
        from,
        to,
        actor: Some(actor),
        ..q.clone()
    };
    Ok(api.filter()?)
}

/// The id the API filters by for what was typed as the actor.
fn actor_id(typed: &str, people: &[Person]) -> Result<String, String> {
    if typed.is_empty() || typed.parse::<Uuid>().is_ok() {
        return Ok(typed.to_string());
    }
    let found = people
        .iter()
        .find(|u| u.email.eq_ignore_ascii_case(typed))
        .or_else(|| people.iter().find(|u| u.name.eq_ignore_ascii_case(typed)));
    match found {
        Some(u) => Ok(u.id.to_string()),
        None if people.is_empty() => Err(format!(
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
fn named(summary: &Value, key: &str) -> Option<String> {
    match summary.get(key) {
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
    fn of(v: AuditEventView, people: &[Person], workspaces: &[Workspace]) -> Self {
        let ids = |id: Option<Uuid>| id.map(|i| i.to_string()).unwrap_or_default();
        let user_id = ids(v.actor_user_id);
        let key_id = ids(v.actor_api_key_id);
        let person = |id: Option<Uuid>| id.and_then(|id| people.iter().find(|u| u.id == id));
        let place = |id: Option<Uuid>| id.and_then(|id| workspaces.iter().find(|w| w.id.0 == id));
        let actor = match person(v.actor_user_id) {
            Some(u) => u.email.clone(),
            None if user_id.is_empty() => "—".into(),
            None => format!("user {}", short_id(&user_id)),
        };
        let workspace_id = ids(v.workspace_id);
        let workspace = match (v.workspace_id, place(v.workspace_id)) {
            (None, _) => "—".into(),
            (Some(_), Some(w)) => w.name.clone(),
            (Some(_), None) => format!("workspace {}", short_id(&workspace_id)),
        };
        let summary = v.summary;
        let target_id = ids(v.target_id);
        // The target by a name the reader knows (a user by email, as in the actor column),
        // else the start of its id.
        let known = |id: Option<Uuid>| {
            person(id)
                .map(|u| u.email.clone())
                .or_else(|| place(id).map(|w| w.name.clone()))
        };
        let target = match v.target_kind.as_str() {
            "user" => known(v.target_id).or_else(|| named(&summary, "email")),
            "organization" => named(&summary, "organization"),
            "route" => named(&summary, "route"),
            _ => named(&summary, "name").or_else(|| known(v.target_id)),
        }
        .unwrap_or_else(|| short_id(&target_id));
        Self {
            at: v.created_at.to_string(),
            when: when(v.created_at),
            action: v.action,
            actor,
            actor_id: [user_id, key_id.clone()]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" / "),
            by_api_key: !key_id.is_empty(),
            workspace,
            workspace_id,
            target_kind: v.target_kind,
            target,
            target_id,
            summary: summary_line(&summary),
            summary_json: match &summary {
                Value::Null => String::new(),
                s => s.to_string(),
            },
            ip: v.ip.unwrap_or_default(),
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
    fn of(v: &ChainVerification) -> Self {
        let checked = v.checked;
        let events = if checked == 1 { "event" } else { "events" };
        if v.valid {
            Self {
                valid: true,
                headline: "The audit chain is intact.".into(),
                detail: format!(
                    "{checked} {events} checked: each one is linked to the one before it, \
                     and none was changed or removed."
                ),
            }
        } else if let Some(broken) = v.first_broken_event_id {
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
struct AuditPage<'q> {
    ctx: Ctx,
    /// The Account Admin's workspace filter (empty: all).
    workspace: &'q str,
    actor: &'q str,
    action: &'q str,
    from: &'q str,
    to: &'q str,
    /// The search (`q`), as typed.
    search: &'q str,
    /// What the search matches: the action, and (the Account Admin's) the actor's email or
    /// name.
    search_people: bool,
    /// The people the actor field suggests.
    people: Vec<Person>,
    /// The workspaces the Account Admin's filter offers, and that rows are named by.
    workspaces: Vec<Workspace>,
    filtered: bool,
    warning: String,
    rows: Vec<AuditLine>,
    next_href: String,
    first_href: String,
    csv_href: String,
}

/// One page of the events of `scope` the query selects, and the next page's cursor.
async fn read(
    state: &AppState,
    scope: &AuditScope,
    q: &AuditQuery,
    people: &[Person],
    workspaces: &[Workspace],
) -> Result<(Vec<AuditLine>, String), Unusable> {
    let filter = filter(q, people)?;
    let page = page_at(given(&q.cursor))?;
    let page = state.store.list_audit_events(scope, &filter, page).await?;
    Ok((
        page.items
            .into_iter()
            .map(|r| AuditLine::of(AuditEventView::from(r), people, workspaces))
            .collect(),
        page.next.map(|c| c.encode()).unwrap_or_default(),
    ))
}

/// The workspace filter to keep in links: the Account Admin's choice (a member's scope is
/// always their active workspace, which they do not choose here).
fn chosen_workspace(ctx: &Ctx, scope: &AuditScope) -> String {
    match scope.workspace() {
        Some(w) if ctx.is_admin() => w.to_string(),
        _ => String::new(),
    }
}

/// `GET /audit-log`: the audit events the caller may read (`Guard::AuditLog`).
pub async fn audit_log(
    State(state): State<AppState>,
    Audit(scope): Audit,
    caller: Caller,
    ctx: Ctx,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Response {
    let ctx = ctx.at("/audit-log", "Audit Log");
    let people = match people(&state, &caller).await {
        Ok(p) => p,
        Err(Unusable::Warning(w)) => return ctx.fail(invalid(w)),
        Err(Unusable::Fail(e)) => return ctx.fail(e),
    };
    let workspaces = match ctx.all_workspaces(&state).await {
        Ok(w) => w,
        Err(e) => return ctx.fail(e),
    };
    let (rows, next, warning) = match read(&state, &scope, &q, &people, &workspaces).await {
        Ok((rows, next)) => (rows, next, String::new()),
        Err(Unusable::Warning(w)) => (Vec::new(), String::new(), w),
        Err(Unusable::Fail(e)) => return ctx.fail(e),
    };
    let workspace = chosen_workspace(&ctx, &scope);
    let pairs = pairs(&q, &workspace);
    let cursor = given(&q.cursor);
    let links = Links::new("/audit-log", &pairs, cursor, &next);
    let shown = ctx.flash.is_some();
    let page = AuditPage {
        ctx,
        people,
        workspaces,
        filtered: pairs.iter().any(|(_, v)| !v.is_empty()),
        warning,
        rows,
        next_href: links.next,
        first_href: links.first,
        csv_href: links.csv,
        workspace: pairs[0].1,
        actor: pairs[1].1,
        action: pairs[2].1,
        from: pairs[3].1,
        to: pairs[4].1,
        search: pairs[5].1,
        search_people: scope.knows_people(),
    };
    finish(shown, page.render())
}

/// `GET /audit-log.csv`: every event of the scope the filters select, as the API exports them.
pub async fn audit_log_csv(
    State(state): State<AppState>,
    Audit(scope): Audit,
    caller: Caller,
    ctx: Ctx,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Response {
    let ctx = ctx.at("/audit-log", "Audit Log");
    let filter = match people(&state, &caller).await.and_then(|p| filter(&q, &p)) {
        Ok(f) => f,
        Err(Unusable::Warning(w)) => return ctx.fail(invalid(w)),
        Err(Unusable::Fail(e)) => return ctx.fail(e),
    };
    match audit_csv(&state, &scope, &filter).await {
        Ok(csv) => csv_download("audit-log.csv", csv),
        Err(e) => ctx.fail(e),
    }
}

#[derive(Template)]
#[template(path = "web/audit_chain.html")]
struct ChainPage {
    ctx: Ctx,
    chain: ChainReport,
}

/// `GET /audit-log/verify`: the Account Admin's check of the organization's audit chain.
pub async fn verify(State(state): State<AppState>, Admin(admin): Admin, ctx: Ctx) -> Response {
    let ctx = ctx.at("/audit-log", "Audit chain");
    match verify_chain(&state, &admin).await {
        Ok(v) => {
            let shown = ctx.flash.is_some();
            let page = ChainPage {
                ctx,
                chain: ChainReport::of(&v),
            };
            finish(shown, page.render())
        }
        Err(e) => ctx.fail(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flowspace_core::ids::{OrganizationId, WorkspaceId};
    use flowspace_core::time::Timestamp;
    use serde_json::json;

    fn id(s: &str) -> Uuid {
        s.parse().unwrap()
    }

    fn person(i: &str, email: &str, name: &str) -> Person {
        Person {
            id: id(i),
            email: email.into(),
            name: name.into(),
        }
    }

    fn event(kind: &str, summary: Value) -> AuditEventView {
        AuditEventView {
            id: Uuid::nil(),
            seq: Some(1),
            workspace_id: None,
            actor_type: "user",
            actor_user_id: None,
            actor_api_key_id: None,
            action: "x.y".into(),
            target_kind: kind.into(),
            target_id: None,
            summary,
            ip: None,
            created_at: Timestamp::parse_rfc3339("2026-11-23T15:32:25.183753Z").unwrap(),
        }
    }

    #[test]
    fn actors_are_found_by_email_name_or_id() {
        let ann = "7f1b0c1e-2f4b-4c39-9a57-8d1c1d7a3b10";
        let people = vec![person(ann, "Ann@x.io", "Ann Lee")];
        assert_eq!(actor_id("ann@x.io", &people).unwrap(), ann);
        assert_eq!(actor_id("ann lee", &people).unwrap(), ann);
        assert_eq!(actor_id(ann, &[]).unwrap(), ann);
        assert_eq!(actor_id("", &[]).unwrap(), "");
        assert!(
            actor_id("bob@x.io", &people)
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
        let people = vec![person(ann, "ann@x.io", "Ann")];
        let now = Timestamp::parse_rfc3339("2026-11-23T15:32:25Z").unwrap();
        let workspaces = vec![Workspace {
            id: WorkspaceId(id(ws)),
            organization_id: OrganizationId(Uuid::nil()),
            name: "Research".into(),
            description: None,
            color: None,
            icon: None,
            is_default: false,
            member_count: 1,
            created_at: now,
            updated_at: now,
        }];
        let row = |e: AuditEventView| AuditLine::of(e, &people, &workspaces);
        let update = row(AuditEventView {
            actor_user_id: Some(id(ann)),
            workspace_id: Some(id(ws)),
            action: "chatflow.update".into(),
            target_id: Some(id("01a20909-6539-7000-8000-000000000000")),
            ..event("chatflow", json!({"name": {"from": "a", "to": "b"}}))
        });
        assert_eq!(update.actor, "ann@x.io");
        assert_eq!(update.workspace, "Research");
        assert_eq!(update.target, "b");
        assert_eq!(update.when, "2026-11-23 15:32:25");
        assert!(!update.by_api_key);
        let setup = row(AuditEventView {
            actor_user_id: Some(id(ann)),
            target_id: Some(id("01a20908-abde-7000-8000-000000000000")),
            ..event(
                "organization",
                json!({"email": "ann@x.io", "organization": "Acme"}),
            )
        });
        assert_eq!(setup.target, "Acme");
        assert_eq!(setup.workspace, "—");
        let by_key = row(AuditEventView {
            actor_user_id: Some(id("5e0d2c55-0000-4000-8000-000000000000")),
            actor_api_key_id: Some(id("9c7e1a00-0000-4000-8000-000000000000")),
            workspace_id: Some(id("11111111-0000-4000-8000-000000000000")),
            target_id: Some(id(ann)),
            ..event("user", json!({}))
        });
        assert!(by_key.by_api_key);
        assert_eq!(by_key.actor, "user 5e0d2c55");
        assert_eq!(by_key.workspace, "workspace 11111111");
        assert_eq!(by_key.target, "ann@x.io");
        assert_eq!(by_key.summary, "");
        let denied = row(event("route", json!({"route": "/api/v1/users"})));
        assert_eq!(denied.target, "/api/v1/users");
    }

    #[test]
    fn chain_reports_say_what_happened() {
        let ok = ChainReport::of(&ChainVerification {
            valid: true,
            checked: 12,
            first_broken_event_id: None,
        });
        assert!(ok.valid && ok.detail.starts_with("12 events checked"));
        let broken_id = id("7f1b0c1e-2f4b-4c39-9a57-8d1c1d7a3b10");
        let broken = ChainReport::of(&ChainVerification {
            valid: false,
            checked: 3,
            first_broken_event_id: Some(broken_id),
        });
        assert!(!broken.valid && broken.detail.contains(&broken_id.to_string()));
        let cut = ChainReport::of(&ChainVerification {
            valid: false,
            checked: 1,
            first_broken_event_id: None,
        });
        assert!(cut.headline.contains("cut short") && cut.detail.starts_with("1 event checked"));
    }
}
