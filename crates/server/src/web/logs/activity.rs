//! Login Activity: sign-in events filtered by day, email and outcome, paged, and as CSV.

use super::*;

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

pub(super) async fn login_activity(State(web): State<Web>, req: Request) -> Response {
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

pub(super) async fn login_activity_csv(State(web): State<Web>, req: Request) -> Response {
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
