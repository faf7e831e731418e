//! What makes a guarded route a page or a form of the dashboard. The routes themselves, and
//! their guards, are in the table of `routes::pages`; these two layers sit outside the guard and
//! only translate between the browser and it:
//!
//! - `page` (every page and form): an access cookie that has expired is refreshed from the
//!   refresh cookie before the guard looks at the request, and the new cookies go to the
//!   browser with the answer; a refusal of the guard becomes what a browser expects (the
//!   sign-in page for 401, the setup page before setup, the "no organization" page when the
//!   caller belongs to no organization or theirs is suspended, an error page otherwise).
//! - `form` (every form): a form stands for one API route, whose guard and handler answer it.
//!   The layer turns the form into that route's request (its method, a JSON body, the CSRF
//!   token from the form's `_csrf` field into `X-CSRF-Token`), and the route's answer into a
//!   redirect with a toast, or what the form's `Answer` asks for: a page showing a new secret
//!   once, the answer as a file to save, or a page made from the answer.
//!
//! Form fields (see `parse_form`): `_csrf` (the session's CSRF token), `_back` (the page to
//! return to, a path on this site), `_next` (where to go on success instead; `{id}` is replaced
//! by the answer's `id`), `_ok` (the toast on success). The other fields make the JSON body:
//! `name` is a string, `name:json` parsed JSON (left out when empty), `name:int` a number,
//! `name:date` a day (`YYYY-MM-DD`, sent as midnight UTC, left out when empty), `name:bool` a
//! boolean (the last value wins, so a hidden `false` before a checkbox gives `false` when
//! unticked), `name:opt` a string left out when empty, `name:intnull` a number or null when
//! empty, `name:list` an array of the strings the value holds separated by commas or line
//! breaks (trimmed, empty ones dropped), and `name[]` an array of strings (an empty value
//! declares the array without adding to it). A name (before its kind) `parent.member` puts the
//! value in the object `parent`, and `list[].member` in a row of the list `list` (the fields
//! of a row, in order, make one object; a new row starts when the last one has that member
//! already). A field named `:json` alone is a JSON object whose members are the body's (a
//! whole request body, as a file or a pasted text; left out when empty).
//!
//! A form comes `application/x-www-form-urlencoded` or `multipart/form-data`; in the latter a
//! file is read as the text of the field its input names (`<input type="file" name=":json">`
//! uploads a JSON file as the body).

use super::view::Flash;
use super::{error_page_plain, flash_cookie, page_response};
use crate::api::session::{ClientInfo, session_cookies, spend_refresh};
use crate::auth::{ACCESS_COOKIE, CSRF_COOKIE, CSRF_HEADER, FormOf, REFRESH_COOKIE, cookie};
use crate::state::AppState;
use askama::Template;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

/// Largest answer of an API route a form reads back (its `id`, a secret to show, an error).
const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;

/// The layer of every page and form: the origin check of a form, the refresh, then the
/// guard, then a browser's answer to a refusal.
pub async fn page(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let here = here(req.uri());
    let is_read = matches!(*req.method(), Method::GET | Method::HEAD);
    if !is_read && cross_site(req.headers(), &state.config.app_url) {
        return refused(
            StatusCode::FORBIDDEN,
            "forms are only taken from this site",
            "/",
        );
    }
    // The dashboard is a surface of cookies: an `Authorization` header a proxy in front of it
    // adds (Basic auth) is not the browser's credential here.
    req.headers_mut().remove(header::AUTHORIZATION);
    let refreshed = refresh_if_due(&state, &mut req).await;
    let res = next.run(req).await;
    let mut res = if is_json(&res) && !res.status().is_success() {
        refusal_page(res, &here).await
    } else {
        res
    };
    if !refreshed.is_empty() {
        // The refreshed cookies first: what the route itself set (sign-out clearing them, a
        // new session) comes after, and wins.
        let own: Vec<HeaderValue> = res
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .cloned()
            .collect();
        res.headers_mut().remove(header::SET_COOKIE);
        for c in refreshed.into_iter().chain(own) {
            res.headers_mut().append(header::SET_COOKIE, c);
        }
    }
    res
}

/// What a form stands for: set by the table in `routes::pages`.
#[derive(Clone, Debug)]
pub struct FormMeta {
    /// The method of the API route the form stands for.
    pub method: Method,
    /// That route's template, under `/api/v1` (what a refusal is recorded under).
    pub route: String,
    /// Whether that route is open to anyone (sign-in, setup, registration, password reset).
    pub public: bool,
    /// The largest form taken.
    pub limit: usize,
    /// What a success becomes for the browser.
    pub answer: Answer,
    /// Cookies the form sets itself are `Secure` (APP_URL is https).
    pub secure_cookies: bool,
}

/// What the success of a form becomes for the browser (set by the table in `routes::pages`).
#[derive(Clone, Copy, Debug)]
pub enum Answer {
    /// A redirect to `_next` (or `_back`) with the toast of `_ok`.
    Redirect,
    /// `field` of the answer, shown once on a page of its own titled `title` (a new API key,
    /// an invitation link).
    Show {
        field: &'static str,
        title: &'static str,
    },
    /// The answer's body itself, as a file for the browser to save under `filename`.
    Download { filename: &'static str },
    /// A page made by `render` from what the form sent and what the route answered (a preview
    /// with the form that confirms it, a report of what was done).
    Page(Render),
    /// The sign-in form: a redirect as `Redirect`, unless the answer asks for the second step
    /// (SPEC §9): then the code page, its token in a cookie of its own.
    SecondStep,
}

/// Makes the page of a form's answer.
pub type Render = fn(&Answered<'_>) -> Response;

/// What a page made from a form's answer is made from.
pub struct Answered<'a> {
    /// The JSON body the form stood for.
    pub sent: &'a Value,
    /// The route's answer.
    pub answer: &'a Value,
    /// The session's CSRF token, for the forms of the page.
    pub csrf: &'a str,
    /// The page the form came from.
    pub back: &'a str,
}

/// The layer of every form (inside `page`, outside the guard).
pub async fn form(
    State((state, meta)): State<(AppState, FormMeta)>,
    req: Request,
    next: Next,
) -> Response {
    // (A form from another site never gets here: the `page` layer refused it.)
    let (mut parts, body) = req.into_parts();
    // The body of a guarded form is read only for a browser holding an access token this server
    // signed and that has not expired, so nobody else can make the server buffer a form; the
    // guard then decides (session still open, permissions) as for any request.
    if !meta.public && !holds_session(&state, &parts.headers) {
        return sign_in_first("/");
    }
    let Ok(bytes) = axum::body::to_bytes(body, meta.limit).await else {
        return refused(StatusCode::PAYLOAD_TOO_LARGE, "the form is too large", "/");
    };
    let fields = match multipart_boundary(&parts.headers) {
        Some(boundary) => multipart_fields(bytes, boundary).await,
        None => serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
            .map_err(|_| "the form could not be read".to_string()),
    };
    let fields = match fields {
        Ok(f) => f,
        Err(text) => return refused(StatusCode::BAD_REQUEST, &text, "/"),
    };
    let back_hint = fields
        .iter()
        .find(|(k, _)| k == "_back")
        .map(|(_, v)| v.clone())
        .filter(|b| is_local(b))
        .unwrap_or_else(|| "/".into());
    let (steer, json) = match parse_form(fields) {
        Ok(p) => p,
        Err(text) => return redirect(&back_hint, Some(Flash { ok: false, text }), Vec::new()),
    };
    parts.method = meta.method.clone();
    parts.extensions.insert(FormOf(meta.route.clone()));
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(t) = steer
        .csrf
        .as_deref()
        .and_then(|t| HeaderValue::from_str(t).ok())
    {
        parts.headers.insert(CSRF_HEADER, t);
    }
    let sent = matches!(meta.answer, Answer::Page(_)).then(|| json.clone());
    let req = Request::from_parts(parts, Body::from(json.to_string()));
    let res = next.run(req).await;
    answer(res, &steer, &meta, sent.as_ref()).await
}

/// The boundary of a `multipart/form-data` body.
fn multipart_boundary(headers: &HeaderMap) -> Option<String> {
    let ct = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    multer::parse_boundary(ct).ok()
}

/// The fields of a `multipart/form-data` body, in order; a file is the text it holds.
async fn multipart_fields(
    bytes: bytes::Bytes,
    boundary: String,
) -> Result<Vec<(String, String)>, String> {
    let stream =
        futures_util::stream::once(async move { Ok::<_, std::convert::Infallible>(bytes) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut fields = Vec::new();
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => return Ok(fields),
            Err(_) => return Err("the form could not be read".into()),
        };
        let name = field.name().unwrap_or_default().to_string();
        let data = field
            .bytes()
            .await
            .map_err(|_| "the form could not be read".to_string())?;
        let text = String::from_utf8(data.to_vec())
            .map_err(|_| format!("{name}: must be text (UTF-8)"))?;
        fields.push((name, text));
    }
}

/// The API route's answer to a form, as a browser's.
async fn answer(res: Response, steer: &Steer, meta: &FormMeta, sent: Option<&Value>) -> Response {
    let status = res.status();
    if let (true, Answer::Download { filename }) = (status.is_success(), meta.answer) {
        return download(res, filename);
    }
    let (parts, body) = res.into_parts();
    let cookies: Vec<HeaderValue> = parts
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .cloned()
        .collect();
    let bytes = axum::body::to_bytes(body, MAX_ANSWER_BYTES)
        .await
        .unwrap_or_default();
    let json: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if status.is_success() {
        match meta.answer {
            Answer::Show { field, title } => {
                let value = json[field].as_str().unwrap_or_default();
                if !value.is_empty() {
                    let page = ShownOnce {
                        title: title.into(),
                        value: value.into(),
                        back: steer.next.clone().unwrap_or(steer.back.clone()),
                    };
                    return with_cookies(page_response(page.render(), Vec::new()), cookies);
                }
            }
            Answer::Page(render) => {
                let page = render(&Answered {
                    sent: sent.unwrap_or(&Value::Null),
                    answer: &json,
                    csrf: steer.csrf.as_deref().unwrap_or_default(),
                    back: &steer.back,
                });
                return with_cookies(page, cookies);
            }
            Answer::SecondStep if json["mfaRequired"] == Value::Bool(true) => {
                let next = steer.next.clone().unwrap_or_else(|| "/".into());
                let to = format!(
                    "/login/mfa?{}",
                    serde_urlencoded::to_string([("next", next.as_str())]).unwrap_or_default()
                );
                let token = json["mfaToken"].as_str().unwrap_or_default();
                let cookie = super::mfa::token_cookie(token, meta.secure_cookies);
                return redirect(&to, None, cookie.into_iter().collect());
            }
            Answer::Redirect | Answer::Download { .. } | Answer::SecondStep => {}
        }
        let target = match &steer.next {
            Some(next) => next.replace("{id}", json["id"].as_str().unwrap_or("")),
            None => steer.back.clone(),
        };
        let flash = steer.ok.clone().map(|text| Flash { ok: true, text });
        return redirect(&target, flash, cookies);
    }
    let code = json["error"]["code"].as_str().unwrap_or("");
    let message = json["error"]["message"]
        .as_str()
        .map_or_else(|| format!("the server answered {status}"), str::to_string);
    match code {
        "csrf_failed" => with_cookies(
            refused(
                StatusCode::FORBIDDEN,
                "This form has expired or did not come from this site. Reload the page and try again.",
                &steer.back,
            ),
            cookies,
        ),
        "setup_required" => redirect("/setup", None, cookies),
        NO_ORGANIZATION | ORGANIZATION_SUSPENDED => redirect(UNAVAILABLE_PAGE, None, cookies),
        MFA_ENROLLMENT_REQUIRED => redirect(PROFILE_PAGE, None, cookies),
        _ if status == StatusCode::UNAUTHORIZED && !meta.public => {
            with_cookies(sign_in_first(&steer.back), cookies)
        }
        _ => redirect(
            &steer.back,
            Some(Flash {
                ok: false,
                text: message,
            }),
            cookies,
        ),
    }
}

/// A successful answer as a file to save: its body as it is, `attachment` under `filename`.
fn download(mut res: Response, filename: &str) -> Response {
    let value = format!(
        "attachment; filename=\"{}\"",
        filename.replace(['"', '\\'], "_")
    );
    if let Ok(v) = HeaderValue::from_str(&value) {
        res.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    res
}

/// The codes of a caller who belongs to no organization, or whose organization is suspended:
/// the dashboard answers both with the page that says so (`web::organizations::unavailable`).
const NO_ORGANIZATION: &str = "no_organization";
const ORGANIZATION_SUSPENDED: &str = "organization_suspended";
pub const UNAVAILABLE_PAGE: &str = "/no-organization";
/// The code of a member who must set up two-factor sign-in first (SPEC §9): the dashboard
/// sends them to the page where they do.
const MFA_ENROLLMENT_REQUIRED: &str = "mfa_enrollment_required";
pub const PROFILE_PAGE: &str = "/profile";

/// A refusal of the guard, as a page: the sign-in page (coming back here after) for 401, the
/// setup page before setup, the "no organization" page for a caller without a usable
/// organization, an error page otherwise.
async fn refusal_page(res: Response, here: &str) -> Response {
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), MAX_ANSWER_BYTES)
        .await
        .unwrap_or_default();
    let json: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let code = json["error"]["code"].as_str().unwrap_or("");
    if code == "setup_required" {
        return redirect("/setup", None, Vec::new());
    }
    if matches!(code, NO_ORGANIZATION | ORGANIZATION_SUSPENDED) {
        return redirect(UNAVAILABLE_PAGE, None, Vec::new());
    }
    if code == MFA_ENROLLMENT_REQUIRED {
        return redirect(PROFILE_PAGE, None, Vec::new());
    }
    if status == StatusCode::UNAUTHORIZED {
        return sign_in_first(here);
    }
    let message = json["error"]["message"]
        .as_str()
        .map_or_else(|| format!("the server answered {status}"), str::to_string);
    error_page_plain(status, &message)
}

fn is_json(res: &Response) -> bool {
    res.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// `303` to the sign-in page, which comes back to `back` after.
fn sign_in_first(back: &str) -> Response {
    let back = if is_local(back) { back } else { "/" };
    redirect(
        &format!("/login?next={}", super::encode_query(back)),
        None,
        Vec::new(),
    )
}

/// The path and query of a request.
pub fn here(uri: &axum::http::Uri) -> String {
    uri.path_and_query()
        .map_or_else(|| "/".to_string(), |p| p.as_str().to_string())
}

/// Whether the request carries an access token this server signed and that has not expired.
fn holds_session(state: &AppState, headers: &HeaderMap) -> bool {
    cookie(headers, ACCESS_COOKIE).is_some_and(|t| state.tokens.verify(&t).is_some())
}

/// Spends the refresh cookie when the access cookie is missing or expired, and rewrites the
/// request's cookies to the new ones; returns the `Set-Cookie` values for the browser. Only for
/// a request of this site (`cross_site`): two navigations another site started at once would
/// present the same refresh token twice, which ends the session as stolen; such a page shows
/// the sign-in instead.
async fn refresh_if_due(state: &AppState, req: &mut Request) -> Vec<HeaderValue> {
    let headers = req.headers();
    if holds_session(state, headers) {
        return Vec::new();
    }
    let Some(refresh) = cookie(headers, REFRESH_COOKIE) else {
        return Vec::new();
    };
    if cross_site(headers, &state.config.app_url) {
        return Vec::new();
    }
    let client = ClientInfo::of(state, headers, req.extensions());
    let Ok(tokens) = spend_refresh(state, &client, &refresh).await else {
        return Vec::new();
    };
    let mut jar: Vec<(String, String)> = req
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .map(|c| (c.name().to_string(), c.value().to_string()))
        .filter(|(n, _)| ![ACCESS_COOKIE, REFRESH_COOKIE, CSRF_COOKIE].contains(&n.as_str()))
        .collect();
    jar.push((ACCESS_COOKIE.into(), tokens.access_token.clone()));
    jar.push((REFRESH_COOKIE.into(), tokens.refresh_token.clone()));
    jar.push((CSRF_COOKIE.into(), tokens.csrf_token.clone()));
    let line = jar
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    if let Ok(v) = HeaderValue::from_str(&line) {
        req.headers_mut().insert(header::COOKIE, v);
    }
    session_cookies(state, &tokens)
}

/// The steering fields of a form.
#[derive(Debug, Default, PartialEq)]
pub struct Steer {
    pub csrf: Option<String>,
    pub back: String,
    pub next: Option<String>,
    pub ok: Option<String>,
}

/// What a field does to the body: sets its member, removes it (an empty value of a kind that
/// leaves the member out), or leaves the body as it is.
enum Slot {
    Set(Value),
    Unset,
    Keep,
}

/// Splits a form into its steering fields and the JSON body it stands for.
pub fn parse_form(fields: Vec<(String, String)>) -> Result<(Steer, Value), String> {
    let mut steer = Steer {
        back: "/".into(),
        ..Steer::default()
    };
    let mut body = Map::new();
    for (name, value) in fields {
        if let Some(key) = name.strip_prefix('_') {
            match key {
                "csrf" => steer.csrf = Some(value),
                "back" => steer.back = value,
                "next" => steer.next = Some(value),
                "ok" => steer.ok = Some(value),
                _ => return Err(format!("unknown form field {name}")),
            }
            continue;
        }
        if let Some(key) = name.strip_suffix("[]") {
            let entry = body
                .entry(key.to_string())
                .or_insert_with(|| Value::Array(Vec::new()));
            let Value::Array(items) = entry else {
                return Err(format!("{key}: given both as a list and a value"));
            };
            if !value.is_empty() {
                items.push(Value::String(value));
            }
            continue;
        }
        let (key, slot) = match name.rsplit_once(':') {
            None => (name.as_str(), Slot::Set(Value::String(value))),
            Some(("", "json")) => {
                if value.trim().is_empty() {
                    continue;
                }
                match serde_json::from_str(&value) {
                    Ok(Value::Object(members)) => body.extend(members),
                    Ok(_) => return Err("the body must be a JSON object".into()),
                    Err(e) => return Err(format!("the body: not valid JSON ({e})")),
                }
                continue;
            }
            Some((key, kind)) => (key, field_slot(key, kind, &value)?),
        };
        place(&mut body, key, slot)?;
    }
    if !is_local(&steer.back) {
        steer.back = "/".into();
    }
    if steer.next.as_deref().is_some_and(|n| !is_local(n)) {
        steer.next = None;
    }
    Ok((steer, Value::Object(body)))
}

/// What a field of `kind` (the part of its name after `:`) holding `value` does to `key`.
fn field_slot(key: &str, kind: &str, value: &str) -> Result<Slot, String> {
    Ok(match kind {
        "json" => {
            if value.trim().is_empty() {
                return Ok(Slot::Unset);
            }
            Slot::Set(
                serde_json::from_str(value).map_err(|e| format!("{key}: not valid JSON ({e})"))?,
            )
        }
        "int" => {
            if value.trim().is_empty() {
                return Ok(Slot::Keep);
            }
            let n: i64 = value
                .trim()
                .parse()
                .map_err(|_| format!("{key}: must be a whole number"))?;
            Slot::Set(Value::from(n))
        }
        "bool" => Slot::Set(Value::Bool(matches!(value, "true" | "on" | "1"))),
        "date" => {
            let day = value.trim();
            if day.is_empty() {
                return Ok(Slot::Unset);
            }
            let ok = day.len() == 10
                && day.bytes().enumerate().all(|(i, b)| {
                    if i == 4 || i == 7 {
                        b == b'-'
                    } else {
                        b.is_ascii_digit()
                    }
                });
            if !ok {
                return Err(format!("{key}: must be a date (YYYY-MM-DD)"));
            }
            Slot::Set(Value::String(format!("{day}T00:00:00Z")))
        }
        "intnull" => {
            let v = value.trim();
            if v.is_empty() {
                Slot::Set(Value::Null)
            } else {
                let n: i64 = v
                    .parse()
                    .map_err(|_| format!("{key}: must be a whole number"))?;
                Slot::Set(Value::from(n))
            }
        }
        "list" => Slot::Set(Value::Array(
            value
                .split([',', '\n', '\r'])
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(|v| Value::String(v.to_string()))
                .collect(),
        )),
        "opt" => {
            if value.trim().is_empty() {
                return Ok(Slot::Unset);
            }
            Slot::Set(Value::String(value.to_string()))
        }
        _ => return Err(format!("unknown form field kind :{kind}")),
    })
}

/// Puts a field's value where its name says: `name` a member of the body, `name.member` a
/// member of the object `name`, `name[].member` a member of the last object of the list
/// `name`, a new object starting when that one has the member already (so the fields of a
/// row, in order, make one object each).
fn place(body: &mut Map<String, Value>, key: &str, slot: Slot) -> Result<(), String> {
    if let Some((list, member)) = key.split_once("[].") {
        let entry = body
            .entry(list.to_string())
            .or_insert_with(|| Value::Array(Vec::new()));
        let Value::Array(rows) = entry else {
            return Err(format!("{list}: given both as a list and a value"));
        };
        let Slot::Set(value) = slot else {
            return Ok(());
        };
        let fresh = match rows.last() {
            None => true,
            Some(Value::Object(row)) => row.contains_key(member),
            Some(_) => return Err(format!("{list}: given both as values and as rows")),
        };
        if fresh {
            rows.push(Value::Object(Map::new()));
        }
        if let Some(Value::Object(row)) = rows.last_mut() {
            row.insert(member.to_string(), value);
        }
        return Ok(());
    }
    let (target, member) = match key.split_once('.') {
        Some((parent, member)) => {
            let entry = body
                .entry(parent.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            let Value::Object(object) = entry else {
                return Err(format!("{parent}: given both as an object and a value"));
            };
            (object, member)
        }
        None => (body, key),
    };
    match slot {
        Slot::Set(value) => {
            target.insert(member.to_string(), value);
        }
        Slot::Unset => {
            target.remove(member);
        }
        Slot::Keep => {}
    }
    Ok(())
}

/// A path on this site (so a form cannot send the browser elsewhere). Browsers drop tabs and
/// line breaks from URLs and read `\\` as `/`, so `/\t/evil.example` would be `//evil.example`:
/// any control character, space or backslash disqualifies a path.
pub fn is_local(path: &str) -> bool {
    path.starts_with('/')
        && !path.starts_with("//")
        && !path.bytes().any(|b| b == b'\\' || b <= b' ' || b == 0x7f)
}

/// Whether the form came from another site, as the browser tells it: `Sec-Fetch-Site` where it
/// sends one (HTTPS and localhost), else `Origin`, which must name this site (a form posted
/// from another page of ours carries our origin; `null` and other sites are refused). The
/// sign-in forms carry no CSRF token, so this is what stops another site signing a visitor
/// into an account of its choosing.
pub fn cross_site(headers: &HeaderMap, app_url: &str) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return !matches!(site.to_str(), Ok("same-origin" | "none"));
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return false;
    };
    let Ok(origin) = origin.to_str() else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let ours = |o: &str| {
        let authority = o
            .strip_prefix("https://")
            .or_else(|| o.strip_prefix("http://"));
        authority.is_some_and(|a| a.eq_ignore_ascii_case(host))
    };
    !(ours(origin) || origin.eq_ignore_ascii_case(app_url.trim_end_matches('/')))
}

#[derive(Template)]
#[template(path = "web/shown_once.html")]
struct ShownOnce {
    title: String,
    value: String,
    back: String,
}

#[derive(Template)]
#[template(path = "web/refused.html")]
struct Refused {
    message: String,
    back: String,
}

fn refused(status: StatusCode, message: &str, back: &str) -> Response {
    let page = Refused {
        message: message.into(),
        back: back.into(),
    };
    let mut res = page_response(page.render(), Vec::new());
    *res.status_mut() = status;
    res
}

fn with_cookies(mut res: Response, cookies: Vec<HeaderValue>) -> Response {
    for c in cookies {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res
}

/// `303 See Other` to a page of this site, with a toast and cookies to set.
pub fn redirect(to: &str, flash: Option<Flash>, cookies: Vec<HeaderValue>) -> Response {
    let to = HeaderValue::from_str(if is_local(to) { to } else { "/" })
        .unwrap_or_else(|_| HeaderValue::from_static("/"));
    let mut res = StatusCode::SEE_OTHER.into_response();
    res.headers_mut().insert(header::LOCATION, to);
    if let Some(f) = flash {
        res.headers_mut()
            .append(header::SET_COOKIE, flash_cookie(&f));
    }
    with_cookies(res, cookies)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn f(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_form_becomes_a_json_body() {
        let (steer, body) = parse_form(f(&[
            ("_back", "/chatflows"),
            ("_next", "//evil.example"),
            ("_ok", "Saved."),
            ("name", "Flow"),
            ("data:json", r#"{"a":1}"#),
            ("secret:json", "  "),
            ("version:int", "3"),
            ("enabled:bool", "false"),
            ("enabled:bool", "on"),
            ("expiresAt:opt", ""),
            ("until:date", "2027-01-31"),
            ("ids[]", ""),
            ("perms[]", "a"),
            ("perms[]", "b"),
            ("domains:list", " a.example, b.example\r\n\n c.example ,"),
            ("none:list", "  "),
            ("lifetime:intnull", ""),
            ("minutes:intnull", " 90 "),
        ]))
        .unwrap();
        assert_eq!(steer.back, "/chatflows");
        assert_eq!(steer.next, None, "an off-site target is dropped");
        assert_eq!(steer.ok.as_deref(), Some("Saved."));
        assert_eq!(
            body,
            json!({"name": "Flow", "data": {"a": 1}, "version": 3, "enabled": true,
                   "ids": [], "perms": ["a", "b"], "until": "2027-01-31T00:00:00Z",
                   "domains": ["a.example", "b.example", "c.example"], "none": [],
                   "lifetime": null, "minutes": 90})
        );
    }

    #[test]
    fn members_of_objects_and_rows_of_lists_are_named_with_dots() {
        let (_, body) = parse_form(f(&[
            ("jit.enabled:bool", "false"),
            ("jit.enabled:bool", "true"),
            ("jit.workspaceId", "w1"),
            ("jit.note:opt", ""),
            ("maps[]", ""),
            ("maps[].group", "eng"),
            ("maps[].role", "Developer"),
            ("maps[].group", "ops"),
            ("maps[].role", "Viewer"),
            ("none[]", ""),
        ]))
        .unwrap();
        assert_eq!(
            body,
            json!({"jit": {"enabled": true, "workspaceId": "w1"},
                   "maps": [{"group": "eng", "role": "Developer"},
                            {"group": "ops", "role": "Viewer"}],
                   "none": []})
        );
        let err = parse_form(f(&[("a", "x"), ("a.b", "y")])).unwrap_err();
        assert!(err.contains("both as an object and a value"), "{err}");
        let err = parse_form(f(&[("a[]", "x"), ("a[].b", "y")])).unwrap_err();
        assert!(err.contains("both as values and as rows"), "{err}");
    }

    #[test]
    fn a_field_named_json_alone_is_the_whole_body() {
        let bundle = r#"{"format": "flowspace-bundle", "items": [{"name": "a"}]}"#;
        let (steer, body) =
            parse_form(f(&[("_back", "/import"), (":json", ""), (":json", bundle)])).unwrap();
        assert_eq!(steer.back, "/import");
        assert_eq!(
            body,
            json!({"format": "flowspace-bundle", "items": [{"name": "a"}]})
        );
        assert_eq!(parse_form(f(&[(":json", " ")])).unwrap().1, json!({}));
        assert!(
            parse_form(f(&[(":json", "[1]")]))
                .unwrap_err()
                .contains("JSON object")
        );
        assert!(
            parse_form(f(&[(":json", "{nope")]))
                .unwrap_err()
                .contains("not valid JSON")
        );
    }

    #[tokio::test]
    async fn a_multipart_form_gives_its_fields_and_files_as_text() {
        let body = "--XB\r\nContent-Disposition: form-data; name=\"_back\"\r\n\r\n/import\r\n\
                    --XB\r\nContent-Disposition: form-data; name=\":json\"; filename=\"b.json\"\r\n\
                    Content-Type: application/json\r\n\r\n{\"a\": 1}\r\n--XB--\r\n";
        let fields = multipart_fields(bytes::Bytes::from(body), "XB".into())
            .await
            .unwrap();
        assert_eq!(fields, f(&[("_back", "/import"), (":json", r#"{"a": 1}"#)]));
        let mut binary =
            b"--XB\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x\"\r\n\r\n".to_vec();
        binary.extend([0xff, 0xfe, 0x00]);
        binary.extend(b"\r\n--XB--\r\n");
        let err = multipart_fields(bytes::Bytes::from(binary), "XB".into())
            .await
            .unwrap_err();
        assert!(err.contains("UTF-8"), "{err}");
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("multipart/form-data; boundary=XB"),
        );
        assert_eq!(multipart_boundary(&headers).as_deref(), Some("XB"));
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        assert_eq!(multipart_boundary(&headers), None);
    }

    #[test]
    fn a_download_is_the_answer_as_an_attachment() {
        let res = download(
            (StatusCode::OK, "{\"a\":1}").into_response(),
            "export \"x\".json",
        );
        assert_eq!(
            res.headers()[header::CONTENT_DISPOSITION],
            "attachment; filename=\"export _x_.json\""
        );
    }

    #[test]
    fn only_paths_of_this_site_are_local() {
        for ok in ["/", "/chatflows", "/register?token=a-b_c", "/x#y"] {
            assert!(is_local(ok), "{ok}");
        }
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/ /evil",
            "https://evil.example",
            "evil",
            "",
        ] {
            assert!(!is_local(bad), "{bad:?}");
        }
    }

    #[test]
    fn forms_from_other_sites_are_told_apart() {
        let h = |pairs: &[(&str, &str)]| {
            let mut m = HeaderMap::new();
            for (k, v) in pairs {
                m.insert(
                    axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    HeaderValue::from_str(v).unwrap(),
                );
            }
            m
        };
        let app = "https://flow.example.com";
        assert!(!cross_site(&h(&[("sec-fetch-site", "same-origin")]), app));
        assert!(cross_site(&h(&[("sec-fetch-site", "cross-site")]), app));
        assert!(cross_site(&h(&[("sec-fetch-site", "same-site")]), app));
        assert!(
            !cross_site(&h(&[("host", "10.0.0.5:3000")]), app),
            "no Origin: a non-browser"
        );
        let same = [
            ("host", "10.0.0.5:3000"),
            ("origin", "http://10.0.0.5:3000"),
        ];
        assert!(!cross_site(&h(&same), app));
        assert!(!cross_site(
            &h(&[("host", "internal:3000"), ("origin", app)]),
            app
        ));
        for origin in ["http://evil.example", "null", "http://10.0.0.5:3001"] {
            let other = [("host", "10.0.0.5:3000"), ("origin", origin)];
            assert!(cross_site(&h(&other), app), "{origin}");
        }
    }

    #[test]
    fn bad_forms_are_refused_with_the_field_named() {
        let with = |extra: (&str, &str)| parse_form(f(&[extra])).unwrap_err();
        assert!(with(("data:json", "{nope")).starts_with("data: not valid JSON"));
        assert!(with(("version:int", "x")).starts_with("version:"));
        assert!(with(("minutes:intnull", "soon")).starts_with("minutes:"));
        assert!(with(("until:date", "31/01/2027")).starts_with("until:"));
        assert!(with(("_method", "DELETE")).contains("unknown"));
        assert!(with(("x:weird", "1")).contains("unknown form field kind"));
    }
}
