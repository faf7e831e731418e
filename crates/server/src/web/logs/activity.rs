//! Login Activity: sign-in events filtered by day, email, outcome and search (`q`: the email
//! contains), paged, and as CSV.

use super::{Links, Unusable, day_range, given, invalid, page_at, when};
use crate::api::activity::{ActivityParams, activity_csv};
use crate::api::csv_download;
use crate::auth::Admin;
use crate::extract::ApiQuery;
use crate::state::AppState;
use crate::web::page::{Ctx, finish};
use askama::Template;
use axum::extract::State;
use axum::response::Response;
use flowspace_core::authz::AdminScope;
use flowspace_store::{LoginEvent, LoginEventFilter, LoginOutcome};

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
        LoginOutcome::MfaRequired => "Second step asked",
        LoginOutcome::MfaFailure => "Second step failed",
    }
}

/// The badge of an outcome: green for a sign-in, red for what went wrong, blue otherwise.
fn outcome_badge(outcome: Option<LoginOutcome>) -> &'static str {
    match outcome {
        Some(LoginOutcome::Success) => "ok",
        Some(
            LoginOutcome::Failure
            | LoginOutcome::RefreshReuse
            | LoginOutcome::RefreshFailure
            | LoginOutcome::MfaFailure,
        ) => "bad",
        Some(LoginOutcome::Logout | LoginOutcome::PasswordReset | LoginOutcome::MfaRequired)
        | None => "info",
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

/// The page's filters as typed (for the form and the links).
fn pairs(q: &ActivityParams) -> [(&'static str, &str); 5] {
    [
        ("from", given(&q.from)),
        ("to", given(&q.to)),
        ("email", given(&q.email)),
        ("outcome", given(&q.outcome)),
        ("q", given(&q.q)),
    ]
}

/// The store's filter for the page's query: its days as the API's bounds.
fn filter(q: &ActivityParams) -> Result<LoginEventFilter, Unusable> {
    let (from, to) = day_range(given(&q.from), given(&q.to)).map_err(Unusable::Warning)?;
    let api = ActivityParams {
        from,
        to,
        ..q.clone()
    };
    Ok(api.filter()?)
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
    /// How: `Password`, or `SSO (provider)`; empty for events that are not sign-ins.
    pub method: String,
}

impl ActivityRow {
    fn of(e: LoginEvent) -> Self {
        let outcome = LoginOutcome::parse(&e.outcome);
        Self {
            at: e.created_at.to_string(),
            when: when(e.created_at),
            email: e.email.unwrap_or_default(),
            outcome: outcome
                .map_or_else(|| e.outcome.replace('_', " "), |o| outcome_label(o).into()),
            badge: outcome_badge(outcome),
            code: e.outcome,
            reason: e.reason.as_deref().map(reason_label).unwrap_or_default(),
            ip: e.ip.unwrap_or_default(),
            user_agent: e.user_agent.unwrap_or_default(),
            method: match (e.method.as_deref(), e.provider.as_deref()) {
                (Some("oidc"), Some(p)) => format!("SSO ({p})"),
                (Some("oidc"), None) => "SSO".into(),
                (Some("password"), _) => "Password".into(),
                (Some(m), _) => m.to_string(),
                (None, _) => String::new(),
            },
        }
    }
}

#[derive(Template)]
#[template(path = "web/login_activity.html")]
struct ActivityPage<'q> {
    ctx: Ctx,
    from: &'q str,
    to: &'q str,
    email: &'q str,
    outcome: &'q str,
    /// The search (`q`: the email contains), as typed.
    search: &'q str,
    outcomes: Vec<Choice>,
    filtered: bool,
    warning: String,
    rows: Vec<ActivityRow>,
    next_href: String,
    first_href: String,
    csv_href: String,
}

/// One page of the events the query selects, and the next page's cursor.
async fn read(
    state: &AppState,
    admin: &AdminScope,
    q: &ActivityParams,
) -> Result<(Vec<ActivityRow>, String), Unusable> {
    let filter = filter(q)?;
    let page = page_at(given(&q.cursor))?;
    let page = state.store.login_events(admin, &filter, page).await?;
    Ok((
        page.items.into_iter().map(ActivityRow::of).collect(),
        page.next.map(|c| c.encode()).unwrap_or_default(),
    ))
}

/// `GET /login-activity`: the Account Admin's page of sign-in events.
pub async fn login_activity(
    State(state): State<AppState>,
    Admin(admin): Admin,
    ctx: Ctx,
    ApiQuery(q): ApiQuery<ActivityParams>,
) -> Response {
    let ctx = ctx.at("/login-activity", "Login Activity");
    let (rows, next, warning) = match read(&state, &admin, &q).await {
        Ok((rows, next)) => (rows, next, String::new()),
        Err(Unusable::Warning(w)) => (Vec::new(), String::new(), w),
        Err(Unusable::Fail(e)) => return ctx.fail(e),
    };
    let pairs = pairs(&q);
    let cursor = given(&q.cursor);
    let links = Links::new("/login-activity", &pairs, cursor, &next);
    let shown = ctx.flash.is_some();
    let page = ActivityPage {
        ctx,
        outcomes: LoginOutcome::ALL
            .iter()
            .map(|o| Choice {
                value: o.as_str(),
                label: outcome_label(*o),
            })
            .collect(),
        filtered: pairs.iter().any(|(_, v)| !v.is_empty()),
        warning,
        rows,
        next_href: links.next,
        first_href: links.first,
        csv_href: links.csv,
        from: pairs[0].1,
        to: pairs[1].1,
        email: pairs[2].1,
        outcome: pairs[3].1,
        search: pairs[4].1,
    };
    finish(shown, page.render())
}

/// `GET /login-activity.csv`: every event the filters select, as the API exports them.
pub async fn login_activity_csv(
    State(state): State<AppState>,
    Admin(admin): Admin,
    ctx: Ctx,
    ApiQuery(q): ApiQuery<ActivityParams>,
) -> Response {
    let ctx = ctx.at("/login-activity", "Login Activity");
    let filter = match filter(&q) {
        Ok(f) => f,
        Err(Unusable::Warning(w)) => return ctx.fail(invalid(w)),
        Err(Unusable::Fail(e)) => return ctx.fail(e),
    };
    match activity_csv(&state, &admin, &filter).await {
        Ok(csv) => csv_download("login-activity.csv", csv),
        Err(e) => ctx.fail(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_are_coloured() {
        assert_eq!(outcome_badge(LoginOutcome::parse("success")), "ok");
        for bad in ["failure", "refresh_reuse", "refresh_failure"] {
            assert_eq!(outcome_badge(LoginOutcome::parse(bad)), "bad");
        }
        assert_eq!(outcome_badge(LoginOutcome::parse("logout")), "info");
        assert_eq!(outcome_badge(None), "info");
    }
}
