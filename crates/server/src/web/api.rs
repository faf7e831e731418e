//! The dashboard's only way to read or change anything: a request through the API's own
//! router, carrying the browser's cookies (and, for writes, the CSRF token from the form).
//! The guard of the route answers exactly as it would to the browser calling the API itself,
//! so a page can never show or do more than its user may.
//!
//! An access token that has expired is refreshed once from the refresh cookie, and the new
//! cookies are both used for the rest of the page and passed on to the browser.

use crate::auth::{ACCESS_COOKIE, CSRF_COOKIE, CSRF_HEADER, REFRESH_COOKIE};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header};
use serde_json::Value;
use std::net::SocketAddr;
use tower::ServiceExt;

/// Largest API answer a page reads (lists are paged; CSV exports are the biggest).
const MAX_ANSWER_BYTES: usize = 64 * 1024 * 1024;

/// Requests whose 401 is about the credentials they carry, not about an expired session.
const SIGN_IN_PATHS: [&str; 5] = [
    "/api/v1/auth/refresh",
    "/api/v1/auth/login",
    "/api/v1/auth/register",
    "/api/v1/auth/reset-password",
    "/api/v1/setup",
];

/// An API answer.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub bytes: Bytes,
    /// The body as JSON (`Null` when empty or not JSON).
    pub json: Value,
}

impl Answer {
    pub fn ok(&self) -> bool {
        self.status.is_success()
    }
    /// The error code of an error answer.
    pub fn code(&self) -> &str {
        self.json["error"]["code"].as_str().unwrap_or("")
    }
    /// The error message of an error answer, fit to show.
    pub fn message(&self) -> String {
        self.json["error"]["message"].as_str().map_or_else(
            || format!("the server answered {}", self.status),
            str::to_string,
        )
    }
}

/// A browser's session as the API sees it, for the length of one dashboard request.
pub struct Api {
    router: Router,
    jar: Vec<(String, String)>,
    forward: HeaderMap,
    connect: Option<ConnectInfo<SocketAddr>>,
    csrf: Option<String>,
    /// Whether the refresh token may be spent. Not for a page another site navigated to: two
    /// such navigations at once would present the same refresh token twice, which ends the
    /// session as stolen; that page shows the sign-in instead.
    may_refresh: bool,
    refreshed: bool,
    /// `Set-Cookie` values the browser must get with the page.
    pub set_cookies: Vec<HeaderValue>,
}

impl Api {
    pub fn new(router: Router, parts: &Parts) -> Self {
        let jar = parts
            .headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(cookie::Cookie::split_parse)
            .filter_map(Result::ok)
            .map(|c| (c.name().to_string(), c.value().to_string()))
            .collect();
        let mut forward = HeaderMap::new();
        for name in [
            header::USER_AGENT,
            header::HeaderName::from_static("x-forwarded-for"),
        ] {
            for v in parts.headers.get_all(&name) {
                forward.append(name.clone(), v.clone());
            }
        }
        Self {
            router,
            jar,
            forward,
            connect: parts.extensions.get::<ConnectInfo<SocketAddr>>().cloned(),
            csrf: None,
            may_refresh: parts
                .headers
                .get("sec-fetch-site")
                .is_none_or(|v| v.as_bytes() != b"cross-site"),
            refreshed: false,
            set_cookies: Vec::new(),
        }
    }

    /// The CSRF token to send with writes (the form's hidden field).
    pub fn with_csrf(mut self, token: Option<String>) -> Self {
        self.csrf = token;
        self
    }

    /// A cookie as the browser will hold it after this request.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.jar
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn signed_in(&self) -> bool {
        self.cookie(ACCESS_COOKIE).is_some() || self.cookie(REFRESH_COOKIE).is_some()
    }

    /// The CSRF token of the session (what the pages put in their forms).
    pub fn csrf_token(&self) -> String {
        self.cookie(CSRF_COOKIE).unwrap_or_default().to_string()
    }

    pub async fn get(&mut self, path: &str) -> Answer {
        self.send(Method::GET, path, None, None).await
    }

    /// Sends a request to the API; `path` starts with `/api/v1/`.
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        accept: Option<&str>,
    ) -> Answer {
        let bytes = body.map(|b| Bytes::from(b.to_string()));
        let answer = self.once(&method, path, bytes.clone(), accept).await;
        if answer.status == StatusCode::UNAUTHORIZED
            && self.may_refresh
            && !self.refreshed
            && !SIGN_IN_PATHS.contains(&path)
            && self.cookie(REFRESH_COOKIE).is_some()
        {
            self.refreshed = true;
            let refresh = self
                .once(&Method::POST, "/api/v1/auth/refresh", None, None)
                .await;
            if refresh.ok() {
                return self.once(&method, path, bytes, accept).await;
            }
        }
        answer
    }

    async fn once(
        &mut self,
        method: &Method,
        path: &str,
        body: Option<Bytes>,
        accept: Option<&str>,
    ) -> Answer {
        let mut req = Request::builder().method(method.clone()).uri(path);
        if let Some(h) = req.headers_mut() {
            h.extend(self.forward.clone());
            if !self.jar.is_empty() {
                let cookies = self
                    .jar
                    .iter()
                    .map(|(n, v)| format!("{n}={v}"))
                    .collect::<Vec<_>>()
                    .join("; ");
                if let Ok(v) = HeaderValue::from_str(&cookies) {
                    h.insert(header::COOKIE, v);
                }
            }
            if let Some(t) = self
                .csrf
                .as_deref()
                .and_then(|t| HeaderValue::from_str(t).ok())
            {
                h.insert(CSRF_HEADER, t);
            }
            if body.is_some() {
                h.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
            }
            if let Some(a) = accept.and_then(|a| HeaderValue::from_str(a).ok()) {
                h.insert(header::ACCEPT, a);
            }
        }
        let req = req.body(body.map_or_else(Body::empty, Body::from));
        let mut req = match req {
            Ok(r) => r,
            Err(e) => return internal(&e.to_string()),
        };
        if let Some(c) = self.connect {
            req.extensions_mut().insert(c);
        }
        let res = match self.router.clone().oneshot(req).await {
            Ok(r) => r,
            Err(e) => match e {},
        };
        let (parts, body) = res.into_parts();
        self.absorb(&parts.headers);
        let bytes = match axum::body::to_bytes(body, MAX_ANSWER_BYTES).await {
            Ok(b) => b,
            Err(e) => return internal(&e.to_string()),
        };
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer {
            status: parts.status,
            headers: parts.headers,
            bytes,
            json,
        }
    }

    /// Takes the cookies an answer sets: into the jar for the next requests, and on to the
    /// browser.
    fn absorb(&mut self, headers: &HeaderMap) {
        for v in headers.get_all(header::SET_COOKIE) {
            let Some(c) = v
                .to_str()
                .ok()
                .and_then(|s| cookie::Cookie::parse(s.to_string()).ok())
            else {
                continue;
            };
            self.jar.retain(|(n, _)| n != c.name());
            let removed = c.max_age().is_some_and(|a| a.is_zero()) || c.value().is_empty();
            if !removed {
                self.jar.push((c.name().to_string(), c.value().to_string()));
            }
            self.set_cookies.push(v.clone());
        }
    }
}

fn internal(detail: &str) -> Answer {
    tracing::error!(error = %detail, "dashboard request to the API failed");
    Answer {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        headers: HeaderMap::new(),
        bytes: Bytes::new(),
        json: serde_json::json!({"error": {"code": "internal", "message": "internal server error"}}),
    }
}
