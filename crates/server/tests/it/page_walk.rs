//! Walks every page and every form of the dashboard (`flowspace_server::routes::pages`), as
//! `route_walk` walks the API, from the tables themselves: a page or form added later is
//! walked without editing this file, and one the walk cannot build a request for fails it.
//!
//! - A page: before setup, `303 /setup`; anonymous, `303 /login?next=<the page>`; a member
//!   whose role holds nothing, the 403 page naming the permission the guard needs (for the
//!   Account Admin's pages, any member gets 403); the right caller, 200.
//! - A form: anonymous, `303` to the sign-in page, and nothing changes (no audit event); a
//!   signed-in member lacking the permission of the API route it stands for, the redirect
//!   back with an error toast naming it, and an `access.denied` event recorded under that API route,
//!   and nothing else; the right caller, the success redirect with the form's toast (or the
//!   page showing a field of the answer once).
//!
//! A path's `{id}` is a real object of the kind the path names, made for the call: found by
//! the first segment of the API route's path for a form (`FormDef::stands_for`), of the page's
//! own path for a page (see `Walk::object`). A form's fields are those of the API route's
//! request (`Walk::fields`); a form whose route needs fields the walk does not know fails with
//! what the server said.

use super::route_walk::{empty_role, invite};
use flowspace_core::resource::ResourceKind;
use flowspace_server::auth::Guard;
use flowspace_server::routes::pages::{forms, pages};
use flowspace_server::routes::{RouteDef, table};
use flowspace_server::web::surface::Answer;
use flowspace_server::web::view::Flash;
use flowspace_testkit::{ADMIN_EMAIL, Client, PASSWORD, TestServer, World, backends};
use reqwest::Method;
use reqwest::header::{self, HeaderMap};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A cookie-keeping browser without script that does not follow redirects.
pub(super) struct Browser {
    base: String,
    http: reqwest::Client,
    jar: BTreeMap<String, String>,
}

pub(super) struct Page {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
    pub flash: Option<Flash>,
}

impl Page {
    fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
    fn toast(&self) -> String {
        self.flash.as_ref().map_or_else(
            || "(none)".into(),
            |f| format!("{}: {}", if f.ok { "ok" } else { "err" }, f.text),
        )
    }
}

impl Browser {
    fn new(base: &str) -> Self {
        Self {
            base: base.to_string(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            jar: BTreeMap::new(),
        }
    }

    /// Signed in as `email` (through the API, which sets the dashboard's cookies), acting in
    /// `ws`.
    pub(super) async fn signed_in(base: &str, email: &str, ws: &str) -> Self {
        let mut b = Self::new(base);
        let res = b
            .http
            .post(format!("{base}/api/v1/auth/login"))
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        let p = b.finish(res).await;
        assert_eq!(p.status, 200, "sign in {email}: {}", p.body);
        let res = b
            .http
            .post(format!("{base}/api/v1/auth/switch-workspace"))
            .header(header::COOKIE, b.cookie_header())
            .header(
                "x-csrf-token",
                b.jar.get("fs_csrf").cloned().unwrap_or_default(),
            )
            .json(&json!({ "workspaceId": ws }))
            .send()
            .await
            .unwrap();
        let p = b.finish(res).await;
        assert_eq!(p.status, 200, "switch {email} to {ws}: {}", p.body);
        b
    }

    async fn finish(&mut self, res: reqwest::Response) -> Page {
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let mut flash = None;
        for c in headers.get_all(header::SET_COOKIE) {
            let c = c.to_str().unwrap();
            let (pair, attrs) = c.split_once(';').unwrap_or((c, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if name == Flash::COOKIE && !value.is_empty() {
                flash = Flash::decode(value);
            }
            if value.is_empty() || attrs.contains("Max-Age=0") {
                self.jar.remove(name);
            } else {
                self.jar.insert(name.into(), value.into());
            }
        }
        Page {
            status,
            headers,
            body: res.text().await.unwrap(),
            flash,
        }
    }

    fn cookie_header(&self) -> String {
        self.jar
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub(super) async fn get(&mut self, path: &str) -> Page {
        let res = self
            .http
            .get(format!("{}{path}", self.base))
            .header(header::COOKIE, self.cookie_header())
            .send()
            .await
            .unwrap();
        self.finish(res).await
    }

    /// Posts a form with the session's CSRF token (if any), coming back to `BACK`.
    async fn post_form(&mut self, path: &str, fields: &[(String, String)]) -> Page {
        let mut form = vec![
            ("_back".to_string(), BACK.to_string()),
            ("_ok".to_string(), OK.to_string()),
        ];
        form.extend(fields.iter().cloned());
        if let Some(t) = self.jar.get("fs_csrf") {
            form.push(("_csrf".into(), t.clone()));
        }
        let res = self
            .http
            .post(format!("{}{path}", self.base))
            .header(header::COOKIE, self.cookie_header())
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(&form).unwrap())
            .send()
            .await
            .unwrap();
        self.finish(res).await
    }
}

/// Where every walked form comes back to, and the toast it asks for on success.
const BACK: &str = "/walked";
const OK: &str = "Walked.";

/// A query-string value, percent-encoded (as the sign-in redirect's `next`).
fn encoded(s: &str) -> String {
    serde_urlencoded::to_string([("", s)])
        .unwrap()
        .trim_start_matches('=')
        .to_string()
}

/// The first segment of a path (`chatflows` of `/chatflows/{id}/delete`).
fn first_segment(path: &str) -> &str {
    path.trim_start_matches('/').split('/').next().unwrap_or("")
}

/// The plain item kind whose API path segment is `seg`.
fn item_kind(seg: &str) -> Option<ResourceKind> {
    ResourceKind::PLAIN.into_iter().find(|k| k.path() == seg)
}

fn pair(k: &str, v: impl Into<String>) -> (String, String) {
    (k.to_string(), v.into())
}

/// What the walk works in: a workspace `ws` where `member` holds the Admin role and `nobody` a
/// role without permissions, and a second workspace `other`.
struct Walk<'w> {
    w: &'w World,
    base: String,
    ws: String,
    other: String,
    /// The organization of `ws`.
    org: String,
    skip: Option<&'static str>,
    n: AtomicUsize,
    /// The session of `ENROLLER` that walks the two-factor forms (enrol, activate, remove):
    /// one session, since a sign-in after activation would need a code.
    enroller: tokio::sync::Mutex<Option<Browser>>,
    /// `ENROLLER`'s authenticator app, once the walk has enrolled it.
    app: tokio::sync::Mutex<Option<crate::mfa::Authenticator>>,
    /// `ENROLLER`'s passkey device and a session of theirs, once the walk has registered it.
    device: tokio::sync::Mutex<Option<(crate::passkeys::Device, Client)>>,
}

/// The member who walks the two-factor forms.
const ENROLLER: &str = "enroller@example.com";

impl Walk<'_> {
    fn next(&self) -> usize {
        self.n.fetch_add(1, Ordering::Relaxed)
    }

    async fn member(&self) -> Browser {
        Browser::signed_in(&self.base, "member@example.com", &self.ws).await
    }
    async fn nobody(&self) -> Browser {
        Browser::signed_in(&self.base, "nobody@example.com", &self.ws).await
    }
    async fn admin(&self) -> Browser {
        Browser::signed_in(&self.base, ADMIN_EMAIL, &self.ws).await
    }

    /// A new user of the organization (in no workspace): their id.
    async fn user(&self) -> String {
        self.w
            .user(&format!("walk-user-{}@example.com", self.next()))
            .await
    }

    /// A new object of the kind the API path segment `seg` names, made in `ws` by the Account
    /// Admin: its id; `fresh_workspace` asks for a new workspace rather than `ws` (one the
    /// walk may delete). `None`: the walk knows no such kind.
    async fn object(&self, seg: &str, fresh_workspace: bool) -> Option<String> {
        let n = self.next();
        let admin = self.w.admin.in_workspace(&self.ws);
        let made = |r: flowspace_testkit::Resp| {
            assert!(r.status == 201 || r.status == 200, "{seg}: {}", r.body);
            r.id()
        };
        Some(match seg {
            "workspace" | "workspaces" if fresh_workspace => {
                self.w.workspace(&format!("Walk {n}")).await
            }
            "workspace" | "workspaces" => self.ws.clone(),
            "invitations" => invite(self.w, &self.ws).await,
            "users" => self.user().await,
            // `/auth/sessions/{id}`: a session of the member (the right caller of those forms).
            "auth" => {
                let c = self.w.server.login("member@example.com", PASSWORD).await;
                let r = c.get("/auth/sessions").await;
                assert_eq!(r.status, 200, "{}", r.body);
                r.body["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|s| s["current"] == true)
                    .unwrap()["id"]
                    .as_str()
                    .unwrap()
                    .to_string()
            }
            // `/auth/mfa/passkeys/{id}`: a passkey of `ENROLLER`, the right caller of the
            // two-factor forms, registered through the API (the walk has turned their
            // authenticator app off by then), whose device proves it for its removal.
            "passkey" => {
                let c = self.w.server.login(ENROLLER, PASSWORD).await;
                let mut device = crate::passkeys::Device::new();
                let id =
                    crate::passkeys::add_passkey(&c, &mut device, &format!("Walk key {n}")).await;
                *self.device.lock().await = Some((device, c));
                id
            }
            // A single sign-on provider of the organization (its issuer does not answer).
            "sso" => made(
                self.w
                    .admin
                    .post(
                        "/organization/sso/providers",
                        json!({"displayName": format!("Walk IdP {n}"), "issuer": "http://127.0.0.1:9",
                               "clientId": "walk", "clientSecret": "walk-secret"}),
                    )
                    .await,
            ),
            // `/organization/members/{id}`: a member of the organization.
            "organization" => self.user().await,
            // A further organization, its first owner the Account Admin (the instance admin).
            "organizations" => made(
                self.w
                    .admin
                    .post(
                        "/organizations",
                        json!({"name": format!("Walk org {n}"), "ownerEmail": ADMIN_EMAIL}),
                    )
                    .await,
            ),
            "roles" => {
                self.w
                    .role(&format!("Walk role {n}"), &["chatflows:view"])
                    .await
            }
            "groups" => made(
                admin
                    .post("/groups", json!({"name": format!("Walk group {n}")}))
                    .await,
            ),
            "credentials" => made(
                admin
                    .post(
                        "/credentials",
                        json!({"name": format!("Walk {n}"), "credentialName": "openAIApi", "data": {"apiKey": "sk-walk"}}),
                    )
                    .await,
            ),
            "apikeys" => made(
                admin
                    .post(
                        "/apikeys",
                        json!({"name": format!("Walk {n}"), "permissions": ["chatflows:view"]}),
                    )
                    .await,
            ),
            _ => {
                let kind = item_kind(seg)?;
                made(
                    admin
                        .post(
                            &format!("/{}", kind.path()),
                            json!({"name": format!("Walk {n}"), "data": item_data(kind)}),
                        )
                        .await,
                )
            }
        })
    }

    /// `path` with its `{...}` parameters filled by objects of the kind `seg` names.
    async fn concrete(&self, path: &str, seg: &str, fresh_workspace: bool) -> String {
        let mut out = Vec::new();
        for part in path.split('/') {
            if part.starts_with('{') && part.ends_with('}') {
                // `/organization/sso/providers/{id}`: a provider, not a member.
                let kind = if path.contains("/sso/providers/") {
                    "sso"
                } else if path.contains("/passkeys/") {
                    "passkey"
                } else {
                    seg
                };
                let id = self.object(kind, fresh_workspace).await;
                out.push(id.unwrap_or_else(|| {
                    panic!(
                        "{path}: the walk has no fixture for objects under /{seg}: add one to \
                         Walk::object in tests/it/page_walk.rs"
                    )
                }));
            } else {
                out.push(part.to_string());
            }
        }
        out.join("/")
    }

    /// The API segment whose objects fill a page's `{id}`: the page's first segment, or its
    /// singular or plural (`/workspaces/{id}` shows a `/workspace/{id}`).
    fn page_segment(path: &str) -> String {
        let seg = first_segment(path);
        let known = |s: &str| {
            matches!(
                s,
                "workspace"
                    | "invitations"
                    | "users"
                    | "roles"
                    | "groups"
                    | "credentials"
                    | "apikeys"
            ) || item_kind(s).is_some()
        };
        [
            seg.to_string(),
            seg.trim_end_matches('s').to_string(),
            format!("{seg}s"),
        ]
        .into_iter()
        .find(|s| known(s))
        .unwrap_or_else(|| seg.to_string())
    }

    /// The form fields of a request `api` takes (beyond its path): what the walk knows of the
    /// API's request types, by route.
    async fn fields(&self, api: &RouteDef) -> Vec<(String, String)> {
        let n = self.next();
        let name = format!("Walked {n}");
        let seg = first_segment(&api.path);
        let tail = api
            .path
            .trim_start_matches('/')
            .split_once('/')
            .map(|(_, t)| t);
        let m = &api.method;
        let mut f = match (seg, tail) {
            ("credentials", None) => vec![
                pair("name", name),
                pair("credentialName", "openAIApi"),
                pair("data:json", r#"{"apiKey": "sk-walk"}"#),
            ],
            ("credentials", Some("{id}")) => vec![pair("name", name), pair("version:int", "1")],
            ("credentials", Some("{id}/shares")) => vec![pair("workspaceIds[]", &self.other)],
            ("apikeys", None) => vec![pair("name", name), pair("permissions[]", "chatflows:view")],
            ("apikeys", Some("{id}")) => vec![
                pair("name", name),
                pair("permissions[]", "chatflows:view"),
                pair("version:int", "1"),
            ],
            (s, None) if *m == Method::POST && item_kind(s).is_some() => vec![
                pair("name", name),
                pair("data:json", item_data(item_kind(s).unwrap()).to_string()),
            ],
            (s, Some("{id}")) if *m == Method::PUT && item_kind(s).is_some() => vec![
                pair("name", name),
                pair("data:json", item_data(item_kind(s).unwrap()).to_string()),
                pair("version:int", "1"),
            ],
            ("workspace", None) | ("workspace", Some("{id}")) if *m != Method::DELETE => {
                vec![pair("name", name)]
            }
            ("workspace", Some("{id}/add-user")) => {
                vec![pair("userId", self.user().await), pair("role", "Viewer")]
            }
            ("workspace", Some("{id}/remove-user")) => {
                let user = self.user().await;
                self.w.add(&self.ws, &user, "Viewer").await;
                vec![pair("userId", user)]
            }
            ("workspace", Some("{id}/add-group")) => vec![
                pair("groupId", self.object("groups", false).await.unwrap()),
                pair("role", "Viewer"),
            ],
            ("workspace", Some("{id}/remove-group")) => {
                let group = self.object("groups", false).await.unwrap();
                let r = self
                    .w
                    .admin
                    .post(
                        &format!("/workspace/{}/add-group", self.ws),
                        json!({"groupId": group, "role": "Viewer"}),
                    )
                    .await;
                assert_eq!(r.status, 200, "add-group: {}", r.body);
                vec![pair("groupId", group)]
            }
            ("roles", _) if *m != Method::DELETE => vec![
                pair("name", format!("Walked role {n}")),
                pair("permissions[]", "chatflows:view"),
            ],
            ("users", None) => vec![
                pair("email", format!("walked-{n}@example.com")),
                pair("name", name),
                pair("password", PASSWORD),
            ],
            ("users", Some("{id}")) | ("groups", _) if *m != Method::DELETE => {
                vec![pair("name", name)]
            }
            ("invitations", None) => vec![
                pair("email", format!("walk-invited-{n}@example.com")),
                pair("role", "Viewer"),
            ],
            ("export", None) => vec![pair("kinds[]", "chatflows")],
            ("import", None) | ("import", Some("preview")) => {
                let bundle = json!({"format": "flowspace-bundle", "version": 1, "items": [
                    {"kind": "chatflows", "id": uuid::Uuid::new_v4().to_string(), "name": name, "data": {}}
                ]});
                vec![pair(":json", bundle.to_string())]
            }
            ("admin", Some("flows/move")) | ("admin", Some("flows/copy")) => vec![
                pair("ids[]", self.object("chatflows", false).await.unwrap()),
                pair("targetWorkspaceId", &self.other),
            ],
            ("auth", Some("me")) => vec![pair("name", name)],
            ("auth", Some("mfa/totp/enroll")) => vec![pair("password", PASSWORD)],
            ("auth", Some("mfa/passkeys/{id}")) => {
                let mut held = self.device.lock().await;
                let (device, c) = held.as_mut().expect("the passkey registered first");
                let answer = crate::passkeys::confirm(c, device).await;
                vec![
                    pair("password", PASSWORD),
                    pair("passkey:json", answer.to_string()),
                ]
            }
            ("auth", Some("mfa/totp/activate")) => {
                // Enrolled again through the API (replacing what the form enrolled, which is
                // not on yet), so the walk holds the secret an app would.
                let c = self.w.server.login(ENROLLER, PASSWORD).await;
                let r = c
                    .post("/auth/mfa/totp/enroll", json!({"password": PASSWORD}))
                    .await;
                assert_eq!(r.status, 201, "{}", r.body);
                let mut app =
                    crate::mfa::Authenticator::from_uri(r.body["otpauthUri"].as_str().unwrap());
                let code = app.code().await;
                *self.app.lock().await = Some(app);
                vec![pair("code", code)]
            }
            ("auth", Some("mfa/totp")) if *m == Method::DELETE => {
                let mut app = self.app.lock().await;
                let code = app.as_mut().expect("activated first").code().await;
                vec![pair("password", PASSWORD), pair("code:opt", code)]
            }
            ("auth", Some("switch-workspace")) => vec![pair("workspaceId", &self.ws)],
            ("auth", Some("switch-organization")) => vec![pair("organizationId", &self.org)],
            ("organization", None) => vec![
                pair("allowedEmailDomains:list", ""),
                pair("minPasswordLength:int", "8"),
                pair("sessionLifetimeMinutes:intnull", ""),
            ],
            ("organization", Some("sso/providers")) => vec![
                pair("displayName", format!("Walked IdP {n}")),
                pair("issuer", "https://idp.example.com"),
                pair("clientId", "walked"),
                pair("clientSecret", "walked-secret"),
            ],
            ("organization", Some("sso/providers/{id}")) if *m == Method::PATCH => vec![
                pair("displayName", format!("Walked IdP {n}")),
                pair("allowedDomains:list", "example.com"),
            ],
            ("organization", Some("members/{id}")) if *m == Method::PATCH => {
                vec![pair("role", "admin")]
            }
            ("organization", Some("members/{id}/break-glass")) => {
                vec![pair("breakGlass:bool", "false")]
            }
            ("organizations", None) => vec![
                pair("name", format!("Walked org {n}")),
                pair("ownerEmail", format!("walk-owner-{n}@example.com")),
            ],
            ("organizations", Some("{id}")) if *m == Method::PATCH => {
                vec![pair("status", "suspended")]
            }
            _ => Vec::new(),
        };
        if let Guard::BodyWorkspace(_) = api.guard
            && !f.iter().any(|(k, _)| k == "workspaceId")
        {
            f.push(pair("workspaceId", &self.ws));
        }
        f
    }

    /// The id of the newest audit event, as a mark to read what a request recorded.
    async fn mark(&self) -> String {
        let r = self.w.admin.get("/audit-events?limit=1").await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["items"][0]["id"].as_str().unwrap_or("").to_string()
    }

    /// The audit events recorded since `mark`, newest first.
    async fn since(&self, mark: &str) -> Vec<Value> {
        let r = self.w.admin.get("/audit-events?limit=200").await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .take_while(|e| e["id"] != mark)
            .cloned()
            .collect()
    }
}

/// What an item of `kind` holds: a variable needs its type and value.
fn item_data(kind: ResourceKind) -> Value {
    match kind {
        ResourceKind::Variable => json!({"type": "static", "value": "walked"}),
        _ => json!({"nodes": [], "edges": []}),
    }
}

#[test]
fn every_form_stands_for_an_api_route_and_names_its_parameter() {
    let t = table();
    for f in forms() {
        let api = f
            .stands_for(&t)
            .unwrap_or_else(|| panic!("{} stands for no API route {:?}", f.path, f.api));
        assert!(
            f.path.starts_with('/') && !f.path.starts_with("/api/"),
            "{}",
            f.path
        );
        // A path parameter is the API route's `{id}`.
        for part in f.path.split('/').filter(|p| p.starts_with('{')) {
            assert!(
                api.path.contains(part),
                "{}: {part} is not in {}",
                f.path,
                api.path
            );
        }
    }
    for p in pages() {
        assert!(
            p.path.starts_with('/') && !p.path.starts_with("/api/"),
            "{}",
            p.path
        );
    }
}

#[tokio::test]
async fn every_page_sends_the_unknown_to_setup_before_setup() {
    for b in backends() {
        let server = TestServer::start(&b).await;
        let mut anon = Browser::new(&server.base_url);
        for def in pages() {
            if def.guard == Guard::Open {
                continue;
            }
            let path = def.path.replace("{id}", &uuid::Uuid::new_v4().to_string());
            let p = anon.get(&path).await;
            assert_eq!(
                (p.status, p.location()),
                (303, "/setup"),
                "{path} on {}",
                b.name()
            );
        }
    }
}

#[tokio::test]
async fn every_page_and_form_refuses_whoever_it_should() {
    let t = table();
    for b in backends() {
        let w = World::new(&b).await;
        let ws = w.workspace("Walk").await;
        let other = w.workspace("Elsewhere").await;
        let (role, skip) = empty_role(&w).await;
        w.member("nobody@example.com", &ws, &role).await;
        let (member, _) = w.member("member@example.com", &ws, "Admin").await;
        w.member(ENROLLER, &ws, "Viewer").await;
        let org = w.admin.get("/auth/me").await.body["activeOrganization"]
            .as_str()
            .unwrap()
            .to_string();
        // A credential is shared only into workspaces its sharer belongs to.
        w.add(&other, &member, "Viewer").await;
        let walk = Walk {
            w: &w,
            base: w.server.base_url.clone(),
            ws: ws.clone(),
            other,
            org,
            skip,
            n: AtomicUsize::new(0),
            enroller: tokio::sync::Mutex::new(None),
            device: tokio::sync::Mutex::new(None),
            app: tokio::sync::Mutex::new(None),
        };
        let on = b.name();

        let all_pages = pages();
        let mut walked = 0;
        for def in &all_pages {
            let seg = Walk::page_segment(&def.path);
            let path = walk.concrete(&def.path, &seg, false).await;
            let what = format!("page {path} ({:?}) on {on}", def.guard);
            walk_page(&walk, def.guard, &path, &what).await;
            walked += 1;
        }
        assert_eq!(walked, all_pages.len());

        let all_forms = forms();
        let mut walked = 0;
        for form in &all_forms {
            let api = form
                .stands_for(&t)
                .unwrap_or_else(|| panic!("{} stands for no API route", form.path));
            let seg = first_segment(&api.path);
            let fresh = seg.starts_with("workspace") && api.method == Method::DELETE;
            let path = walk.concrete(&form.path, seg, fresh).await;
            let what = format!(
                "form {path} for {} {} ({:?}) on {on}",
                api.method, api.path, api.guard
            );
            let route = format!("/api/v1{}", api.path);
            let shows = !matches!(form.answer, Answer::Redirect);
            walk_form(&walk, api, shows, &route, &path, &what).await;
            walked += 1;
        }
        assert_eq!(walked, all_forms.len());

        // Nothing the walk refused changed the workspace's membership.
        let members = w.admin.get(&format!("/workspace/{ws}/users")).await;
        let emails: Vec<&str> = members.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|m| m["email"].as_str())
            .collect();
        for who in ["member@example.com", "nobody@example.com"] {
            assert!(emails.contains(&who), "{who} is still a member: {emails:?}");
        }
    }
}

/// A page: anonymous to the sign-in page, the empty role refused naming the permission, the
/// right caller served.
async fn walk_page(walk: &Walk<'_>, guard: Guard, path: &str, what: &str) {
    let mut anon = Browser::new(&walk.base);
    let p = anon.get(path).await;
    if guard.is_public() {
        // Setup, once done, sends everyone to the sign-in; so does the code page of a second
        // step when no sign-in is waiting for one.
        let to_sign_in = p.status == 303 && p.location() == "/login";
        assert!(
            p.status == 200 || (matches!(path, "/setup" | "/login/mfa") && to_sign_in),
            "anonymous: {what}: {} {}",
            p.status,
            p.body
        );
        return;
    }
    assert_eq!(
        (p.status, p.location()),
        (303, format!("/login?next={}", encoded(path)).as_str()),
        "anonymous: {what}"
    );
    let refused = |p: &Page, who: &str, names: Option<&str>| {
        assert_eq!(p.status, 403, "{who}: {what}: {}", p.body);
        assert!(
            p.body.contains("<html"),
            "{who}: {what}: a page: {}",
            p.body
        );
        if let Some(perm) = names {
            assert!(
                p.body.contains(perm),
                "{who}: {what}: names {perm}: {}",
                p.body
            );
        }
    };
    let right = match guard {
        // No page or form is an operator route (`route_walk` checks the tables).
        Guard::Open | Guard::Public | Guard::MetricsToken => unreachable!(),
        // The Account Admin's, the owners' and the instance admin's pages: any member else is
        // refused (the Account Admin set up: an owner and the instance admin).
        Guard::AccountAdmin | Guard::Owner | Guard::InstanceAdmin | Guard::OrgCreator => {
            for (who, mut b) in [
                ("Admin-role member", walk.member().await),
                ("empty role", walk.nobody().await),
            ] {
                refused(&b.get(path).await, who, None);
            }
            walk.admin().await
        }
        Guard::Workspace(p)
        | Guard::WorkspaceAndViews(p)
        | Guard::PathWorkspace(p)
        | Guard::BodyWorkspace(p)
        | Guard::InvitationWorkspace(p) => {
            let perm = p.to_string();
            if walk.skip != Some(perm.as_str()) {
                refused(
                    &walk.nobody().await.get(path).await,
                    "empty role",
                    Some(&perm),
                );
            }
            walk.member().await
        }
        Guard::AuditLog => {
            if walk.skip != Some("auditLogs:view") {
                let p = walk.nobody().await.get(path).await;
                refused(&p, "empty role", Some("auditLogs:view"));
            }
            walk.member().await
        }
        // No permission to lack: the empty role is served too.
        Guard::SignedIn | Guard::Enrolling | Guard::OrgMember | Guard::EachWorkspace(_) => {
            let p = walk.nobody().await.get(path).await;
            assert!(served(&p), "empty role: {what}: {} {}", p.status, p.body);
            walk.member().await
        }
    };
    let mut right = right;
    let p = right.get(path).await;
    assert!(
        served(&p),
        "the right caller: {what}: {} {}",
        p.status,
        p.body
    );
}

/// A page served: 200, or (the home page) a redirect to another page of the dashboard that is
/// not the sign-in.
fn served(p: &Page) -> bool {
    let to = p
        .headers
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    p.status == 200 || (p.status == 303 && to.starts_with('/') && !to.starts_with("/login"))
}

/// A form: anonymous to the sign-in page and nothing changes, a member lacking the permission
/// refused with a toast and an `access.denied` event, the right caller's form done.
async fn walk_form(
    walk: &Walk<'_>,
    api: &RouteDef,
    shows: bool,
    route: &str,
    path: &str,
    what: &str,
) {
    let fields = walk.fields(api).await;
    if api.guard.is_public() {
        // Anyone may send it: the walk only sees it answered as a form.
        let p = Browser::new(&walk.base).post_form(path, &fields).await;
        assert!(p.status < 500, "anonymous: {what}: {} {}", p.status, p.body);
        return;
    }
    let mark = walk.mark().await;
    let p = Browser::new(&walk.base).post_form(path, &fields).await;
    assert_eq!(p.status, 303, "anonymous: {what}: {}", p.body);
    assert!(
        p.location().starts_with("/login?next="),
        "anonymous: {what}: {}",
        p.location()
    );
    assert_eq!(
        walk.since(&mark).await,
        Vec::<Value>::new(),
        "anonymous: {what}"
    );

    // Who lacks what the route needs, and the permission the refusal names (`None`: the
    // Account Admin's).
    let lacking = match api.guard {
        // No page or form is an operator route (`route_walk` checks the tables).
        Guard::Open | Guard::Public | Guard::MetricsToken => unreachable!(),
        Guard::AccountAdmin | Guard::Owner | Guard::InstanceAdmin | Guard::OrgCreator => {
            Some(("Admin-role member", walk.member().await, None))
        }
        Guard::Workspace(p)
        | Guard::WorkspaceAndViews(p)
        | Guard::PathWorkspace(p)
        | Guard::BodyWorkspace(p)
        | Guard::InvitationWorkspace(p) => {
            let perm = p.to_string();
            if walk.skip == Some(perm.as_str()) {
                None
            } else {
                Some(("empty role", walk.nobody().await, Some(perm)))
            }
        }
        Guard::AuditLog => (walk.skip != Some("auditLogs:view")).then_some((
            "empty role",
            walk.nobody().await,
            Some("auditLogs:view".to_string()),
        )),
        // Nothing to lack but a session (a list over workspaces is empty for the empty role)
        // or membership.
        Guard::SignedIn | Guard::Enrolling | Guard::OrgMember | Guard::EachWorkspace(_) => None,
    };
    if let Some((who, mut b, perm)) = lacking {
        let mark = walk.mark().await;
        let p = b.post_form(path, &fields).await;
        let refused_page = p.status == 403 && p.body.contains("<html");
        let toast =
            p.status == 303 && p.location() == BACK && p.flash.as_ref().is_some_and(|f| !f.ok);
        assert!(
            refused_page || toast,
            "{who}: {what}: {} {} toast {}",
            p.status,
            p.location(),
            p.toast()
        );
        if let Some(perm) = &perm {
            let said = if toast { p.toast() } else { p.body.clone() };
            assert!(
                said.contains(perm.as_str()),
                "{who}: {what}: names {perm}: {said}"
            );
        }
        let events = walk.since(&mark).await;
        // Every guard that can refuse a member records the refusal (the owners', the instance
        // admin's and the organization creator's too, naming that standing); nothing else is
        // recorded.
        let required_role = match api.guard {
            Guard::Owner => Some("owner"),
            Guard::InstanceAdmin => Some("instance-admin"),
            Guard::OrgCreator => Some("organization-creator"),
            _ => None,
        };
        let recorded = required_role.is_some()
            || matches!(
                api.guard,
                Guard::AccountAdmin
                    | Guard::Workspace(_)
                    | Guard::PathWorkspace(_)
                    | Guard::BodyWorkspace(_)
                    | Guard::InvitationWorkspace(_)
                    | Guard::AuditLog
            );
        assert!(
            (!recorded || !events.is_empty())
                && events.iter().all(|e| e["action"] == "access.denied"),
            "{who}: {what}: only the refusal is recorded: {events:?}"
        );
        if events.is_empty() {
            return walk_form_right(walk, api, shows, path, &fields, what).await;
        }
        let denial = &events[0]["summary"];
        assert_eq!(denial["route"], route, "{who}: {what}: {denial}");
        match (&perm, required_role) {
            (Some(perm), _) => assert_eq!(denial["missingPermission"], perm.as_str(), "{what}"),
            (None, Some(role)) => assert_eq!(denial["requiredRole"], role, "{what}: {denial}"),
            (None, None) => assert_eq!(denial["accountAdminRequired"], true, "{what}: {denial}"),
        }
    }

    walk_form_right(walk, api, shows, path, &fields, what).await;
}

/// The right caller's form done: the Account Admin (also owner and instance admin) for the
/// routes of the Account Admin, owners, the instance admin and creators of organizations,
/// else the member whose role holds every permission (a fresh session: one of the forms is
/// sign-out).
async fn walk_form_right(
    walk: &Walk<'_>,
    api: &RouteDef,
    shows: bool,
    path: &str,
    fields: &[(String, String)],
    what: &str,
) {
    let p = if api.path.starts_with("/auth/mfa/") {
        let mut enroller = walk.enroller.lock().await;
        if enroller.is_none() {
            *enroller = Some(Browser::signed_in(&walk.base, ENROLLER, &walk.ws).await);
        }
        let right = enroller.as_mut().expect("signed in");
        right.post_form(path, fields).await
    } else {
        let mut right = match api.guard {
            Guard::AccountAdmin | Guard::Owner | Guard::InstanceAdmin | Guard::OrgCreator => {
                walk.admin().await
            }
            _ => walk.member().await,
        };
        right.post_form(path, fields).await
    };
    if shows {
        assert_eq!(p.status, 200, "the right caller: {what}: {}", p.body);
    } else {
        assert_eq!(
            (p.status, p.location(), p.toast()),
            (303, BACK, format!("ok: {OK}")),
            "the right caller: {what} (if the route needs fields the walk does not send, add \
             them to Walk::fields in tests/it/page_walk.rs)"
        );
    }
}
