//! `POST /act`: every form of the dashboard. HTML forms cannot send JSON nor use PUT, PATCH
//! or DELETE, so a form names the API request it stands for, and this handler sends that
//! request through the API's router with the browser's cookies and the form's CSRF token.
//! The route's guard and handler decide everything, exactly as for an API client: the
//! dashboard holds no rule of its own.
//!
//! Fields starting with `_` steer the request:
//! - `_method` (POST, PUT, PATCH or DELETE) and `_path` (under `/api/v1/`): the API request;
//! - `_csrf`: the session's CSRF token (a missing or wrong one is answered 403);
//! - `_back`: the page to return to (a path on this site); `_next`: where to go on success
//!   instead (`{id}` is replaced by the answer's `id`); `_ok`: the toast on success;
//! - `_show` and `_title`: a field of the answer to show once on a page of its own (a new API
//!   key, an invitation link when mail is off).
//!
//! The other fields make the JSON body: `name` is a string, `name:json` parsed JSON,
//! `name:int` a number, `name:date` a day (`YYYY-MM-DD`, sent as midnight UTC, left out when
//! empty), `name:bool` a boolean (the last value wins, so a hidden `false` before
//! a checkbox gives `false` when unticked), `name:opt` a string left out when empty, and
//! `name[]` an array of strings (an empty value declares the array without adding to it).

use super::api::Api;
use super::view::Flash;
use super::{Web, flash_cookie, page_response};
use askama::Template;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

/// The steering fields of a form.
#[derive(Debug, Default, PartialEq)]
pub struct Steer {
    pub method: String,
    pub path: String,
    pub csrf: Option<String>,
    pub back: String,
    pub next: Option<String>,
    pub ok: Option<String>,
    pub show: Option<String>,
    pub title: Option<String>,
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
                "method" => steer.method = value.to_ascii_uppercase(),
                "path" => steer.path = value,
                "csrf" => steer.csrf = Some(value),
                "back" => steer.back = value,
                "next" => steer.next = Some(value),
                "ok" => steer.ok = Some(value),
                "show" => steer.show = Some(value),
                "title" => steer.title = Some(value),
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
        let (key, value) = match name.rsplit_once(':') {
            None => (name, Value::String(value)),
            Some((key, "json")) => {
                let v = serde_json::from_str(&value)
                    .map_err(|e| format!("{key}: not valid JSON ({e})"))?;
                (key.to_string(), v)
            }
            Some((key, "int")) => {
                if value.trim().is_empty() {
                    continue;
                }
                let n: i64 = value
                    .trim()
                    .parse()
                    .map_err(|_| format!("{key}: must be a whole number"))?;
                (key.to_string(), Value::from(n))
            }
            Some((key, "bool")) => (
                key.to_string(),
                Value::Bool(matches!(value.as_str(), "true" | "on" | "1")),
            ),
            Some((key, "date")) => {
                let day = value.trim();
                if day.is_empty() {
                    body.remove(key);
                    continue;
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
                (key.to_string(), Value::String(format!("{day}T00:00:00Z")))
            }
            Some((key, "opt")) => {
                if value.trim().is_empty() {
                    body.remove(key);
                    continue;
                }
                (key.to_string(), Value::String(value))
            }
            Some((_, kind)) => return Err(format!("unknown form field kind :{kind}")),
        };
        body.insert(key, value);
    }
    if !steer.path.starts_with("/api/v1/") || steer.path.contains("..") {
        return Err("the form names no API request".into());
    }
    if !matches!(steer.method.as_str(), "POST" | "PUT" | "PATCH" | "DELETE") {
        return Err("the form names no API method".into());
    }
    if !is_local(&steer.back) {
        steer.back = "/".into();
    }
    if steer.next.as_deref().is_some_and(|n| !is_local(n)) {
        steer.next = None;
    }
    Ok((steer, Value::Object(body)))
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

pub async fn act(State(web): State<Web>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    if cross_site(&parts.headers, &web.state.config.app_url) {
        return refused(
            StatusCode::FORBIDDEN,
            "forms are only taken from this site",
            "/",
        );
    }
    let bytes = match axum::body::to_bytes(body, crate::MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(_) => return refused(StatusCode::PAYLOAD_TOO_LARGE, "the form is too large", "/"),
    };
    let fields: Vec<(String, String)> = match serde_urlencoded::from_bytes(&bytes) {
        Ok(f) => f,
        Err(_) => return refused(StatusCode::BAD_REQUEST, "the form could not be read", "/"),
    };
    let back_hint = fields
        .iter()
        .find(|(k, _)| k == "_back")
        .map(|(_, v)| v.clone())
        .filter(|b| is_local(b))
        .unwrap_or_else(|| "/".into());
    let (steer, body) = match parse_form(fields) {
        Ok(p) => p,
        Err(e) => return redirect(&back_hint, Some(Flash { ok: false, text: e }), Vec::new()),
    };
    let method = Method::from_bytes(steer.method.as_bytes()).unwrap_or(Method::POST);
    let mut api = Api::new(web.api.clone(), &parts).with_csrf(steer.csrf.clone());
    let has_body = body.as_object().is_some_and(|m| !m.is_empty()) || method != Method::DELETE;
    let answer = api
        .send(method, &steer.path, has_body.then_some(&body), None)
        .await;
    let cookies = std::mem::take(&mut api.set_cookies);
    if answer.code() == "csrf_failed" {
        return with_cookies(
            refused(
                StatusCode::FORBIDDEN,
                "This form has expired or did not come from this site. Reload the page and try again.",
                &steer.back,
            ),
            cookies,
        );
    }
    if !answer.ok() {
        let flash = Flash {
            ok: false,
            text: answer.message(),
        };
        return redirect(&steer.back, Some(flash), cookies);
    }
    if let Some(field) = &steer.show {
        let value = answer.json[field.as_str()]
            .as_str()
            .map(str::to_string)
            .unwrap_or_default();
        if !value.is_empty() {
            let page = ShownOnce {
                title: steer.title.clone().unwrap_or_else(|| "Copy it now".into()),
                value,
                back: steer.next.clone().unwrap_or(steer.back.clone()),
            };
            return with_cookies(page_response(page.render(), Vec::new()), cookies);
        }
    }
    let target = match &steer.next {
        Some(next) => next.replace("{id}", answer.json["id"].as_str().unwrap_or("")),
        None => steer.back.clone(),
    };
    let flash = steer.ok.map(|text| Flash { ok: true, text });
    redirect(&target, flash, cookies)
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

/// `303 See Other` to a page of this site, with a toast and the cookies the API set.
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
    fn a_form_becomes_the_api_request_it_names() {
        let (steer, body) = parse_form(f(&[
            ("_method", "put"),
            ("_path", "/api/v1/chatflows/1"),
            ("_back", "/chatflows"),
            ("_next", "//evil.example"),
            ("name", "Flow"),
            ("data:json", r#"{"a":1}"#),
            ("version:int", "3"),
            ("enabled:bool", "false"),
            ("enabled:bool", "on"),
            ("expiresAt:opt", ""),
            ("until:date", "2027-01-31"),
            ("ids[]", ""),
            ("perms[]", "a"),
            ("perms[]", "b"),
        ]))
        .unwrap();
        assert_eq!(steer.method, "PUT");
        assert_eq!(steer.back, "/chatflows");
        assert_eq!(steer.next, None, "an off-site target is dropped");
        assert_eq!(
            body,
            json!({"name": "Flow", "data": {"a": 1}, "version": 3, "enabled": true,
                   "ids": [], "perms": ["a", "b"], "until": "2027-01-31T00:00:00Z"})
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
        let base = [("_method", "POST"), ("_path", "/api/v1/chatflows")];
        let with = |extra: (&str, &str)| {
            let mut v = f(&base);
            v.extend(f(&[extra]));
            parse_form(v).unwrap_err()
        };
        assert!(with(("data:json", "{nope")).starts_with("data: not valid JSON"));
        assert!(with(("version:int", "x")).starts_with("version:"));
        assert!(with(("until:date", "31/01/2027")).starts_with("until:"));
        assert!(with(("_evil", "1")).contains("unknown"));
        assert!(parse_form(f(&[("_method", "GET"), ("_path", "/api/v1/x")])).is_err());
        assert!(parse_form(f(&[("_method", "POST"), ("_path", "/admin")])).is_err());
        assert!(parse_form(f(&[("_method", "POST"), ("_path", "/api/v1/../x")])).is_err());
    }
}
