//! The dashboard over real HTTP, as a browser without script would use it: cookies, forms
//! posted to the form routes, redirects. (Journeys in a real browser are in `crates/e2e`.)

use flowspace_testkit::{ADMIN_EMAIL, PASSWORD, TestServer, World, backends};
use reqwest::header::{self, HeaderMap};
use std::collections::BTreeMap;

/// A cookie-keeping client that does not follow redirects.
pub(super) struct Browser {
    base: String,
    http: reqwest::Client,
    jar: BTreeMap<String, String>,
}

pub(super) struct Page {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    pub(super) fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
    pub(super) fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_string))
            .collect()
    }
}

impl Browser {
    pub(super) fn new(server: &TestServer) -> Self {
        Self {
            base: server.base_url.clone(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            jar: BTreeMap::new(),
        }
    }

    async fn finish(&mut self, res: reqwest::Response) -> Page {
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        for c in headers.get_all(header::SET_COOKIE) {
            let c = c.to_str().unwrap();
            let (pair, attrs) = c.split_once(';').unwrap_or((c, ""));
            let (name, value) = pair.split_once('=').unwrap();
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

    /// Posts a form to `path`, with the session's CSRF token unless `csrf` is false.
    pub(super) async fn post_form(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        csrf: bool,
    ) -> Page {
        let mut form: Vec<(String, String)> = fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        if csrf && let Some(t) = self.jar.get("fs_csrf") {
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

    /// Posts a `multipart/form-data` form to `path` with the session's CSRF token: `fields`,
    /// then `files` (field name, file name, content).
    pub(super) async fn post_multipart(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        files: &[(&str, &str, &str)],
    ) -> Page {
        const BOUNDARY: &str = "flowspace-test-boundary-7d1c";
        let mut body = String::new();
        let csrf = self.jar.get("fs_csrf").cloned().unwrap_or_default();
        for (name, value) in fields.iter().copied().chain([("_csrf", csrf.as_str())]) {
            body.push_str(&format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            ));
        }
        for (name, filename, content) in files {
            body.push_str(&format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\nContent-Type: application/json\r\n\r\n{content}\r\n"
            ));
        }
        body.push_str(&format!("--{BOUNDARY}--\r\n"));
        let res = self
            .http
            .post(format!("{}{path}", self.base))
            .header(header::COOKIE, self.cookie_header())
            .header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(body)
            .send()
            .await
            .unwrap();
        self.finish(res).await
    }

    /// The toast the last answer set (`ok: …` or `err: …`), `(none)` without one.
    pub(super) fn toast(&self) -> String {
        self.jar
            .get(flowspace_server::web::view::Flash::COOKIE)
            .and_then(|v| flowspace_server::web::view::Flash::decode(v))
            .map_or_else(
                || "(none)".into(),
                |f| format!("{}: {}", if f.ok { "ok" } else { "err" }, f.text),
            )
    }

    pub(super) async fn sign_in(&mut self, email: &str, password: &str) -> Page {
        self.post_form(
            "/login",
            &[
                ("_back", "/login"),
                ("_next", "/"),
                ("email", email),
                ("password", password),
            ],
            false,
        )
        .await
    }
}

#[tokio::test]
async fn pages_lead_to_setup_then_to_sign_in() {
    let server = TestServer::start(&backends()[0]).await;
    let mut b = Browser::new(&server);
    for path in ["/", "/login", "/chatflows"] {
        let p = b.get(path).await;
        assert_eq!((p.status, p.location()), (303, "/setup"), "{path}");
    }
    let p = b.get("/setup").await;
    assert_eq!(p.status, 200);
    assert!(p.body.contains("Create organization"));
    assert!(p.body.contains(r#"action="/setup""#));
    assert_eq!(p.headers[header::REFERRER_POLICY], "same-origin");

    let p = b
        .post_form(
            "/setup",
            &[
                ("_back", "/setup"),
                ("_next", "/"),
                ("organizationName", "Acme"),
                ("name", "Ada Admin"),
                ("email", ADMIN_EMAIL),
                ("password", PASSWORD),
            ],
            false,
        )
        .await;
    assert_eq!((p.status, p.location()), (303, "/"));
    let cookies = p.set_cookies();
    for name in ["fs_access", "fs_refresh"] {
        let c = cookies.iter().find(|c| c.starts_with(name)).unwrap();
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Lax"), "{c}");
    }
    assert_eq!(b.get("/").await.location(), "/chatflows");
    assert_eq!(b.get("/setup").await.location(), "/login", "setup is once");

    let mut anon = Browser::new(&server);
    let p = anon.get("/chatflows").await;
    assert_eq!((p.status, p.location()), (303, "/login?next=%2Fchatflows"));
}

#[tokio::test]
async fn pages_carry_a_strict_content_security_policy() {
    let w = World::new(&backends()[0]).await;
    let mut b = Browser::new(&w.server);
    assert_eq!(b.sign_in(ADMIN_EMAIL, PASSWORD).await.status, 303);
    for path in ["/login", "/chatflows", "/credentials", "/apikeys", "/nope"] {
        let p = b.get(path).await;
        let csp = p.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert_eq!(p.headers[header::X_FRAME_OPTIONS], "DENY", "{path}");
        if path != "/nope" {
            // Not `no-referrer`, under which a browser sends `Origin: null` with the forms.
            assert_eq!(p.headers[header::REFERRER_POLICY], "same-origin", "{path}");
        }
        assert!(!p.body.contains("<script>"), "{path} has an inline script");
        assert!(!p.body.contains(" style=\""), "{path} has an inline style");
    }
    let css = b.get("/assets/app.css").await;
    assert_eq!(css.status, 200);
    assert!(
        css.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
}

#[tokio::test]
async fn a_form_without_the_csrf_token_is_refused_and_changes_nothing() {
    for backend in backends() {
        let w = World::new(&backend).await;
        let mut b = Browser::new(&w.server);
        b.sign_in(ADMIN_EMAIL, PASSWORD).await;
        let create = [("_back", "/chatflows"), ("name", "Forged")];
        let p = b.post_form("/chatflows/new", &create, false).await;
        assert_eq!(p.status, 403, "{}", backend.name());
        assert!(p.body.contains("Reload the page"), "{}", p.body);
        // A token from another session is no better.
        b.jar.insert("fs_csrf".into(), "0".repeat(64));
        assert_eq!(
            b.post_form("/chatflows/new", &create, true).await.status,
            403
        );
        assert_eq!(
            w.admin.get("/chatflows").await.body["items"],
            serde_json::json!([])
        );

        // The same form with the session's token goes through.
        let mut b = Browser::new(&w.server);
        b.sign_in(ADMIN_EMAIL, PASSWORD).await;
        let p = b.post_form("/chatflows/new", &create, true).await;
        assert_eq!((p.status, p.location()), (303, "/chatflows"));
        let list = w.admin.get("/chatflows").await;
        assert_eq!(list.body["items"][0]["name"], "Forged");
    }
}

#[tokio::test]
async fn a_form_from_another_site_is_refused() {
    let w = World::new(&backends()[0]).await;
    let mut b = Browser::new(&w.server);
    b.sign_in(ADMIN_EMAIL, PASSWORD).await;
    let token = b.jar["fs_csrf"].clone();
    let res = b
        .http
        .post(format!("{}/chatflows/new", b.base))
        .header(header::COOKIE, b.cookie_header())
        .header("sec-fetch-site", "cross-site")
        .form(&[("name", "x"), ("_csrf", &token)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(
        w.admin.get("/chatflows").await.body["items"],
        serde_json::json!([])
    );
}

#[tokio::test]
async fn an_expired_access_token_is_refreshed_from_the_refresh_cookie() {
    let w = World::new(&backends()[0]).await;
    let mut b = Browser::new(&w.server);
    b.sign_in(ADMIN_EMAIL, PASSWORD).await;
    let old_refresh = b.jar["fs_refresh"].clone();
    // The browser dropped the expired access cookie; a stale one is no better.
    for stale in [None, Some("eyJhbGciOiJIUzI1NiJ9.e30.invalid")] {
        match stale {
            None => b.jar.remove("fs_access"),
            Some(t) => b.jar.insert("fs_access".into(), t.into()),
        };
        let p = b.get("/chatflows").await;
        assert_eq!(p.status, 200, "refreshed transparently");
        let set = p.set_cookies();
        assert!(set.iter().any(|c| c.starts_with("fs_access=")), "{set:?}");
        assert_ne!(
            b.jar["fs_refresh"], old_refresh,
            "the refresh token rotated"
        );
    }
    // Spent refresh token: reuse ends the session, and the page sends the user to sign in.
    let mut thief = Browser::new(&w.server);
    thief.jar.insert("fs_refresh".into(), old_refresh);
    let p = thief.get("/chatflows").await;
    assert_eq!(p.status, 303);
    assert!(p.location().starts_with("/login"));
}

#[tokio::test]
async fn sign_out_ends_the_session() {
    let w = World::new(&backends()[0]).await;
    let mut b = Browser::new(&w.server);
    b.sign_in(ADMIN_EMAIL, PASSWORD).await;
    let access = b.jar["fs_access"].clone();
    let refresh = b.jar["fs_refresh"].clone();
    let p = b
        .post_form(
            "/logout",
            &[("_back", "/chatflows"), ("_next", "/login")],
            true,
        )
        .await;
    assert_eq!((p.status, p.location()), (303, "/login"));
    assert!(!b.jar.contains_key("fs_access"), "cookies cleared");
    // The old cookies, replayed, no longer open anything.
    let mut replay = Browser::new(&w.server);
    replay.jar.insert("fs_access".into(), access);
    replay.jar.insert("fs_refresh".into(), refresh);
    let p = replay.get("/chatflows").await;
    assert_eq!(p.status, 303);
    assert!(p.location().starts_with("/login"));
}

#[tokio::test]
async fn buttons_follow_permissions_and_forged_forms_are_still_refused() {
    for backend in backends() {
        let w = World::new(&backend).await;
        let ws = w.workspace("Team").await;
        w.member("viewer@acme.test", &ws, "Viewer").await;
        w.member("dev@acme.test", &ws, "Developer").await;

        let mut viewer = Browser::new(&w.server);
        viewer.sign_in("viewer@acme.test", PASSWORD).await;
        let page = viewer.get("/chatflows").await;
        assert_eq!(page.status, 200);
        assert!(!page.body.contains("Add New"), "a viewer sees no Add New");
        assert!(!page.body.contains("admin-nav"), "nor the admin section");
        let p = viewer
            .post_form(
                "/chatflows/new",
                &[("_back", "/chatflows"), ("name", "Forged")],
                true,
            )
            .await;
        assert_eq!((p.status, p.location()), (303, "/chatflows"));
        let page = viewer.get("/chatflows").await;
        assert!(
            page.body.contains("lacks the permission chatflows:create"),
            "toast says why"
        );
        assert_eq!(
            w.admin.in_workspace(&ws).get("/chatflows").await.body["items"],
            serde_json::json!([])
        );
        // The admin pages answer a member with the API's refusal, and their forms, forged,
        // are refused by the route they stand for (with a toast that says why).
        for page in ["/users", "/roles", "/roles/new", "/groups"] {
            let p = viewer.get(page).await;
            assert_eq!(p.status, 403, "{page}: {}", p.body);
            assert!(p.body.contains("Account Admin"), "{page}: {}", p.body);
        }
        let p = viewer
            .post_form(
                "/roles/new",
                &[
                    ("_back", "/chatflows"),
                    ("name", "Forged"),
                    ("permissions[]", ""),
                ],
                true,
            )
            .await;
        assert_eq!((p.status, p.location()), (303, "/chatflows"));
        let page = viewer.get("/chatflows").await;
        assert!(page.body.contains("Account Admin"), "toast says why");
        let roles = w.admin.get("/roles").await.body;
        assert!(!roles.to_string().contains("Forged"), "{roles}");

        let mut dev = Browser::new(&w.server);
        dev.sign_in("dev@acme.test", PASSWORD).await;
        let page = dev.get("/chatflows").await;
        assert!(page.body.contains("Add New"));
        assert!(!page.body.contains("admin-nav"));
        let page = dev.get("/credentials").await;
        assert!(!page.body.contains(">Share<"), "developers may not share");
    }
}

#[tokio::test]
async fn another_site_can_neither_sign_a_visitor_in_nor_redirect_them_away() {
    let w = World::new(&backends()[0]).await;
    let b = Browser::new(&w.server);
    // A plain-HTTP deployment: the browser sends Origin but no Sec-Fetch-Site.
    let res = b
        .http
        .post(format!("{}/login", b.base))
        .header(header::ORIGIN, "http://evil.example")
        .form(&[
            ("_next", "/"),
            ("email", ADMIN_EMAIL),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(
        res.headers().get(header::SET_COOKIE).is_none(),
        "no session handed out"
    );
    // Our own origin is fine.
    let res = b
        .http
        .post(format!("{}/login", b.base))
        .header(header::ORIGIN, b.base.clone())
        .form(&[
            ("_next", "/"),
            ("email", ADMIN_EMAIL),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    // Nor can its script drive the API's sign-in with a body of no content type (what a
    // `no-cors` fetch of a typeless Blob sends).
    let res = b
        .http
        .post(format!("{}/api/v1/auth/login", b.base))
        .body(format!(
            r#"{{"email":"{ADMIN_EMAIL}","password":"{PASSWORD}"}}"#
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415);

    let mut b = Browser::new(&w.server);
    b.sign_in(ADMIN_EMAIL, PASSWORD).await;
    for next in [
        "/%09/evil.example",
        "//evil.example",
        "/%5Cevil.example",
        "https://evil.example",
    ] {
        let p = b.get(&format!("/login?next={next}")).await;
        assert_eq!((p.status, p.location()), (303, "/"), "{next}");
    }
    let p = b
        .post_form(
            "/chatflows/new",
            &[
                ("_back", "/chatflows"),
                ("_next", "/\t/evil.example"),
                ("name", "x"),
            ],
            true,
        )
        .await;
    assert_eq!(
        (p.status, p.location()),
        (303, "/chatflows"),
        "an off-site _next is dropped"
    );
}

#[tokio::test]
async fn a_navigation_from_another_site_does_not_spend_the_refresh_token() {
    let w = World::new(&backends()[0]).await;
    let mut b = Browser::new(&w.server);
    b.sign_in(ADMIN_EMAIL, PASSWORD).await;
    b.jar.remove("fs_access");
    let res = b
        .http
        .get(format!("{}/chatflows", b.base))
        .header(header::COOKIE, b.cookie_header())
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "shown the sign-in, not refreshed");
    assert!(res.headers().get(header::SET_COOKIE).is_none());
    // The session is intact: the user's own next page refreshes it.
    assert_eq!(b.get("/chatflows").await.status, 200);
}

#[tokio::test]
async fn the_delete_dialog_names_the_item_and_deletes_it() {
    let w = World::new(&backends()[0]).await;
    let id = w
        .admin
        .post("/chatflows", serde_json::json!({"name": "Doomed <flow>"}))
        .await
        .id();
    let mut b = Browser::new(&w.server);
    b.sign_in(ADMIN_EMAIL, PASSWORD).await;
    let page = b.get("/chatflows").await;
    let dialog = &page.body[page.body.find(&format!("id=\"del-{id}\"")).unwrap()..];
    let dialog = &dialog[..dialog.find("</form>").unwrap()];
    assert!(dialog.contains("Delete Doomed &#60;flow&#62;?"), "{dialog}");
    let path = format!("/chatflows/{id}/delete");
    assert!(dialog.contains(&format!(r#"action="{path}""#)), "{dialog}");
    let p = b.post_form(&path, &[("_back", "/chatflows")], true).await;
    assert_eq!(p.status, 303);
    assert_eq!(w.admin.get(&format!("/chatflows/{id}")).await.status, 404);
}

#[tokio::test]
async fn bad_forms_get_a_clear_toast_and_change_nothing() {
    let w = World::new(&backends()[0]).await;
    let ws = w.workspace("Team").await;
    let mut b = Browser::new(&w.server);
    b.sign_in(ADMIN_EMAIL, PASSWORD).await;
    let cases: [(&[(&str, &str)], &str); 4] = [
        (
            &[("name", "x"), ("data:json", "{nope")],
            "data: not valid JSON",
        ),
        (
            &[("name", "x"), ("version:int", "three")],
            "version: must be a whole number",
        ),
        (
            &[("_path", "/admin/secrets"), ("name", "x")],
            "unknown form field _path",
        ),
        (&[("name", "  ")], "name: must not be empty"),
    ];
    for (fields, says) in cases {
        let mut form = vec![("_back", "/chatflows")];
        form.extend_from_slice(fields);
        let p = b.post_form("/chatflows/new", &form, true).await;
        assert_eq!((p.status, p.location()), (303, "/chatflows"), "{says}");
        let page = b.get("/chatflows").await;
        assert!(page.body.contains("toast err"), "{says}: {}", page.body);
        assert!(page.body.contains(says), "{says}");
    }
    // A path into another workspace's item is the API's 404, never its data.
    let other = w
        .admin
        .in_workspace(&ws)
        .post("/chatflows", serde_json::json!({"name": "Theirs"}))
        .await
        .id();
    let p = b.get(&format!("/chatflows/{other}")).await;
    assert_eq!(p.status, 404);
    assert!(!p.body.contains("Theirs"));
    assert_eq!(
        w.admin.get("/chatflows").await.body["items"],
        serde_json::json!([])
    );
}

/// The role of a group in a workspace, as the group's page and the workspace's page show it:
/// the held role selected; a change and a removal posted to the workspace's add-group and
/// remove-group forms (the API routes they stand for), coming back to the page they came from.
#[tokio::test]
async fn group_assignments_show_the_held_role_and_change_it_from_either_page() {
    use serde_json::json;
    let w = World::new(&backends()[0]).await;
    let ws = w.workspace("Team").await;
    let uid = w.user("g@example.com").await;
    let g = w
        .admin
        .post("/groups", json!({"name": "Readers", "members": [uid]}))
        .await;
    assert_eq!(g.status, 201, "{}", g.body);
    let gid = g.id();
    let r = w
        .admin
        .post(
            &format!("/workspace/{ws}/add-group"),
            json!({"groupId": gid, "role": "Viewer"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let roles = w.admin.get("/roles").await.body;
    let role_id = |name: &str| {
        roles["items"]
            .as_array()
            .or(roles.as_array())
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (viewer, developer) = (role_id("Viewer"), role_id("Developer"));
    let held = || async {
        let g = w.admin.get(&format!("/groups/{gid}")).await.body;
        g["workspaces"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["workspaceId"] == ws.as_str())
            .map(|a| a["roleId"].as_str().unwrap().to_string())
    };

    let mut b = Browser::new(&w.server);
    b.sign_in(ADMIN_EMAIL, PASSWORD).await;
    let (add_form, remove_form) = (
        format!("/workspaces/{ws}/add-group"),
        format!("/workspaces/{ws}/remove-group"),
    );
    let typed = (
        format!(r#"action="{add_form}""#),
        format!(r#"action="{remove_form}""#),
    );
    for (page, select, (add, remove)) in [
        (format!("/groups/{gid}"), format!("role-{ws}"), &typed),
        (format!("/workspaces/{ws}"), format!("grole-{gid}"), &typed),
    ] {
        let p = b.get(&page).await;
        assert_eq!(p.status, 200, "{page}");
        let at = p.body.find(&format!(r#"id="{select}""#)).expect(&page);
        let options = &p.body[at..at + p.body[at..].find("</select>").unwrap()];
        assert!(
            options.contains(&format!(r#"value="{viewer}" selected"#)),
            "{page}: {options}"
        );
        assert!(!options.contains(&format!(r#"value="{developer}" selected"#)));
        assert!(p.body.contains(add) && p.body.contains(remove), "{page}");
    }
    let ws_page = b.get(&format!("/workspaces/{ws}")).await.body;
    assert!(!ws_page.contains("/api/v1/") && !ws_page.contains("_path"));

    // Changed from the workspace's page, seen on the group's.
    let back = format!("/workspaces/{ws}");
    let p = b
        .post_form(
            &add_form,
            &[
                ("_back", &back),
                ("_ok", "Role changed."),
                ("groupId", &gid),
                ("role", &developer),
            ],
            true,
        )
        .await;
    assert_eq!((p.status, p.location()), (303, back.as_str()));
    assert_eq!(held().await, Some(developer.clone()));
    let p = b.get(&format!("/groups/{gid}")).await;
    assert!(p.body.contains(&format!(r#"value="{developer}" selected"#)));
    assert!(p.body.contains("Role changed."), "the toast");

    // Without the CSRF token the removal is refused and changes nothing.
    let group_page = format!("/groups/{gid}");
    let remove = [("_back", group_page.as_str()), ("groupId", gid.as_str())];
    let p = b.post_form(&remove_form, &remove, false).await;
    assert_eq!(p.status, 403);
    assert_eq!(held().await, Some(developer.clone()));
    // Removed from the group's page.
    let p = b.post_form(&remove_form, &remove, true).await;
    assert_eq!((p.status, p.location()), (303, group_page.as_str()));
    assert_eq!(held().await, None);
    let p = b.get(&group_page).await;
    assert!(p.body.contains(r#"id="no-workspaces""#), "{}", p.body);
    // And assigned again from there, with a role chosen per workspace.
    let p = b
        .post_form(
            &add_form,
            &[("_back", &group_page), ("groupId", &gid), ("role", &viewer)],
            true,
        )
        .await;
    assert_eq!(p.status, 303);
    assert_eq!(held().await, Some(viewer.clone()));
}

/// The value of the first `name="…"` input or the text of the element after `marker`.
fn attr_after<'a>(body: &'a str, marker: &str, attr: &str) -> &'a str {
    let at = body.find(marker).unwrap_or_else(|| panic!("no {marker}"));
    let rest = &body[at..];
    let start = rest.find(&format!(r#"{attr}=""#)).unwrap() + attr.len() + 2;
    &rest[start..start + rest[start..].find('"').unwrap()]
}

/// Users, roles and groups managed through their pages' forms, each the API route it stands
/// for: the invitation link shown once (no mail), resent and revoked; a role created on the
/// grid (views implied), saved and deleted; a group made, given members and deleted; a user's
/// status and memberships changed from their page.
#[tokio::test]
async fn people_are_managed_through_the_forms_of_their_pages() {
    use serde_json::json;
    for backend in backends() {
        let w = World::new(&backend).await;
        let ws = w.workspace("Team").await;
        let uid = w.user("carol@acme.test").await;
        let mut b = Browser::new(&w.server);
        b.sign_in(ADMIN_EMAIL, PASSWORD).await;

        // Invite: without mail the link is shown once; the list shows the invitation.
        let users = b.get("/users").await;
        assert_eq!(users.status, 200, "{}", users.body);
        assert!(users.body.contains(r#"action="/invitations/new""#));
        assert!(!users.body.contains("/api/v1/") && !users.body.contains("_method"));
        let invite = [
            ("_back", "/users"),
            ("_ok", "Invitation sent"),
            ("email", "dan@acme.test"),
            ("workspaceId", ws.as_str()),
            ("role", "Viewer"),
        ];
        let p = b.post_form("/invitations/new", &invite, true).await;
        assert_eq!(p.status, 200, "{}", p.body);
        assert!(p.body.contains("Invitation link"), "{}", p.body);
        let link = attr_after(&p.body, r#"id="shown-value""#, "value").to_string();
        assert!(link.contains("/register?token="), "{link}");
        let open = w.admin.get("/invitations").await.body;
        let inv = open["items"][0]["id"].as_str().unwrap().to_string();
        let users = b.get("/users").await;
        assert!(users.body.contains(r#"data-email="dan@acme.test""#));
        let resend = format!("/users/invitations/{inv}/resend");
        assert!(users.body.contains(&format!(r#"action="{resend}""#)));
        let p = b.post_form(&resend, &[("_back", "/users")], true).await;
        assert_eq!(p.status, 200);
        let again = attr_after(&p.body, r#"id="shown-value""#, "value");
        assert!(
            again.contains("/register?token=") && again != link,
            "a new link"
        );
        let revoke = format!("/users/invitations/{inv}/revoke");
        assert!(users.body.contains(&format!(r#"action="{revoke}""#)));
        let p = b
            .post_form(&revoke, &[("_back", "/users"), ("_ok", "Revoked.")], true)
            .await;
        assert_eq!((p.status, p.location()), (303, "/users"));
        assert_eq!(
            w.admin.get("/invitations").await.body["items"],
            json!([]),
            "revoked"
        );
        assert!(b.get("/users").await.body.contains("Revoked."));

        // A role on the grid: ticking create grants view too; saved; deleted.
        let grid = b.get("/roles/new").await;
        assert_eq!(grid.status, 200);
        assert!(
            grid.body
                .contains(r#"value="auditLogs:view" aria-label="Audit Logs: view""#)
        );
        assert!(grid.body.contains(r#"action="/roles/new""#));
        let form = [
            ("_back", "/roles/new"),
            ("_next", "/roles"),
            ("name", "Tool smith"),
            ("description:opt", ""),
            ("permissions[]", ""),
            ("permissions[]", "tools:create"),
        ];
        let p = b.post_form("/roles/new", &form, true).await;
        assert_eq!((p.status, p.location()), (303, "/roles"), "{}", p.body);
        let role = w.admin.get("/roles").await.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == "Tool smith")
            .cloned()
            .unwrap();
        assert_eq!(role["permissions"], json!(["tools:view", "tools:create"]));
        let rid = role["id"].as_str().unwrap().to_string();
        let page = b.get(&format!("/roles/{rid}")).await;
        assert!(
            page.body
                .contains(r#"value="tools:create" aria-label="Tools: create" checked"#)
        );
        let save = [
            ("_back", "/roles"),
            ("name", "Tool smith"),
            ("permissions[]", ""),
            ("permissions[]", "variables:view"),
        ];
        let p = b.post_form(&format!("/roles/{rid}"), &save, true).await;
        assert_eq!(p.status, 303);
        let role = w.admin.get(&format!("/roles/{rid}")).await.body;
        assert_eq!(role["permissions"], json!(["variables:view"]));
        let roles = b.get("/roles").await;
        let delete = format!("/roles/{rid}/delete");
        assert!(roles.body.contains(&format!(r#"action="{delete}""#)));
        let p = b.post_form(&delete, &[("_back", "/roles")], true).await;
        assert_eq!(p.status, 303);
        assert_eq!(w.admin.get(&format!("/roles/{rid}")).await.status, 404);
        // A built-in role is shown read-only, with no form to save it.
        let viewer = b.get("/roles").await;
        let vid = attr_after(&viewer.body, r#"data-name="Viewer""#, "href")
            .trim_start_matches("/roles/")
            .to_string();
        let page = b.get(&format!("/roles/{vid}")).await;
        assert!(page.body.contains(r#"id="builtin-note""#));
        assert!(!page.body.contains(">Save<"), "no Save for a built-in role");

        // A group: created (to its own page), given a member, deleted.
        let p = b
            .post_form(
                "/groups/new",
                &[
                    ("_back", "/groups"),
                    ("_next", "/groups/{id}"),
                    ("name", "Ops"),
                    ("description:opt", ""),
                ],
                true,
            )
            .await;
        assert_eq!(p.status, 303, "{}", p.body);
        let gpage = p.location().to_string();
        let gid = gpage.trim_start_matches("/groups/").to_string();
        assert_eq!(w.admin.get(&gpage).await.status, 200, "{gpage}");
        let page = b.get(&gpage).await;
        assert!(
            page.body.contains(&format!(r#"value="{uid}""#)),
            "carol is a choice"
        );
        let p = b
            .post_form(
                &gpage,
                &[
                    ("_back", &gpage),
                    ("members[]", ""),
                    ("members[]", &uid),
                    ("name", "Ops"),
                    ("description", "On call"),
                ],
                true,
            )
            .await;
        assert_eq!(p.status, 303);
        let g = w.admin.get(&gpage).await.body;
        assert_eq!(g["members"][0]["userId"], uid.as_str());
        assert_eq!(g["description"], "On call");
        let p = b
            .post_form(
                &format!("{gpage}/delete"),
                &[("_back", &gpage), ("_next", "/groups")],
                true,
            )
            .await;
        assert_eq!((p.status, p.location()), (303, "/groups"));
        assert_eq!(w.admin.get(&format!("/groups/{gid}")).await.status, 404);

        // A user: disabled from their page; added to a workspace, role changed, unlinked.
        let upage = format!("/users/{uid}");
        let page = b.get(&upage).await;
        assert_eq!(page.status, 200);
        let add = format!("/workspaces/{ws}/add-user");
        assert!(
            page.body.contains(&format!(r#"action="{add}""#)),
            "Team is addable"
        );
        let p = b
            .post_form(&upage, &[("_back", &upage), ("status", "disabled")], true)
            .await;
        assert_eq!(p.status, 303);
        let u = w.admin.get(&upage).await.body;
        assert_eq!(u["status"], "disabled");
        let p = b
            .post_form(
                &add,
                &[("_back", &upage), ("userId", &uid), ("role", "Viewer")],
                true,
            )
            .await;
        assert_eq!((p.status, p.location()), (303, upage.as_str()));
        let page = b.get(&upage).await;
        assert!(
            page.body.contains(&format!(r#"id="role-{ws}""#)),
            "a direct membership"
        );
        let remove = format!("/workspaces/{ws}/remove-user");
        assert!(page.body.contains(&format!(r#"action="{remove}""#)));
        let p = b
            .post_form(
                &add,
                &[("_back", &upage), ("userId", &uid), ("role", "Developer")],
                true,
            )
            .await;
        assert_eq!(p.status, 303);
        let u = w.admin.get(&upage).await.body;
        assert_eq!(u["workspaces"][0]["roleName"], "Developer");
        let p = b
            .post_form(&remove, &[("_back", &upage), ("userId", &uid)], true)
            .await;
        assert_eq!(p.status, 303);
        let u = w.admin.get(&upage).await.body;
        assert_eq!(u["workspaces"], json!([]), "{}", backend.name());

        // Through a group as well as directly: the page says so, and the membership of their
        // own can still be changed; through the group alone it cannot (no role form, no
        // unlink), and the workspace can be added directly.
        let g = w
            .admin
            .post("/groups", json!({"name": "Night shift", "members": [uid]}))
            .await
            .id();
        let r = w
            .admin
            .post(
                &format!("/workspace/{ws}/add-group"),
                json!({"groupId": g, "role": "Viewer"}),
            )
            .await;
        assert_eq!(r.status, 200);
        w.add(&ws, &uid, "Developer").await;
        let page = b.get(&upage).await;
        assert!(
            page.body.contains("also through Night shift"),
            "{}",
            page.body
        );
        assert!(page.body.contains(&format!(r#"action="{remove}""#)));
        assert!(
            page.body.contains(&format!(r#"id="role-{ws}""#)),
            "its own role form"
        );
        assert!(
            !page.body.contains(&format!(r#"id="add-{ws}""#)),
            "not addable again"
        );
        let p = b
            .post_form(&remove, &[("_back", &upage), ("userId", &uid)], true)
            .await;
        assert_eq!(p.status, 303);
        let page = b.get(&upage).await;
        assert!(page.body.contains("(from the group)"), "{}", page.body);
        assert!(!page.body.contains(&format!(r#"id="role-{ws}""#)));
        assert!(!page.body.contains(&format!(r#"action="{remove}""#)));
        assert!(
            page.body.contains(&format!(r#"id="add-{ws}""#)),
            "addable directly"
        );
    }
}

/// Sends a `GET` with these cookies and extra headers, outside the jar: (status, Location,
/// the names of the cookies set).
async fn raw_get(
    b: &Browser,
    path: &str,
    cookies: &str,
    extra: &[(&str, &str)],
) -> (u16, String, Vec<String>) {
    let mut rb = b
        .http
        .get(format!("{}{path}", b.base))
        .header(header::COOKIE, cookies);
    for (k, v) in extra {
        rb = rb.header(*k, *v);
    }
    let res = rb.send().await.unwrap();
    let loc = res
        .headers()
        .get(header::LOCATION)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let set = res
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().split('=').next().unwrap().to_string())
        .collect();
    (res.status().as_u16(), loc, set)
}

#[tokio::test]
async fn a_basic_auth_header_of_a_proxy_does_not_hide_the_session_cookie() {
    let w = World::new(&backends()[0]).await;
    let mut b = Browser::new(&w.server);
    b.sign_in(ADMIN_EMAIL, PASSWORD).await;
    let basic = [("authorization", "Basic dXNlcjpwYXNz")];
    let (status, loc, _) = raw_get(&b, "/chatflows", &b.cookie_header(), &basic).await;
    assert_eq!(
        (status, loc.as_str()),
        (200, ""),
        "the page, not the sign-in"
    );
}

#[tokio::test]
async fn signing_out_with_an_expired_access_cookie_leaves_no_session_cookie() {
    let w = World::new(&backends()[0]).await;
    let mut b = Browser::new(&w.server);
    b.sign_in(ADMIN_EMAIL, PASSWORD).await;
    b.jar.remove("fs_access");
    let p = b
        .post_form(
            "/logout",
            &[("_back", "/chatflows"), ("_next", "/login")],
            true,
        )
        .await;
    assert_eq!((p.status, p.location()), (303, "/login"));
    for name in ["fs_access", "fs_refresh", "fs_csrf"] {
        assert!(
            !b.jar.contains_key(name),
            "{name} left: {:?}",
            p.set_cookies()
        );
    }
    // Nothing to spend at the next page: no refresh failure is recorded for it.
    let before = w.admin.get("/login-activity?limit=200").await.body["items"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(b.get("/chatflows").await.status, 303);
    let after = w.admin.get("/login-activity?limit=200").await.body["items"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(before, after);
}

#[tokio::test]
async fn a_form_from_another_site_does_not_spend_the_refresh_token() {
    let w = World::new(&backends()[0]).await;
    let mut b = Browser::new(&w.server);
    b.sign_in(ADMIN_EMAIL, PASSWORD).await;
    b.jar.remove("fs_access");
    let cookies = b.cookie_header();
    let token = b.jar["fs_csrf"].clone();
    for extra in [
        ("sec-fetch-site", "same-site"),
        ("origin", "http://evil.example"),
    ] {
        let res = b
            .http
            .post(format!("{}/chatflows/new", b.base))
            .header(header::COOKIE, &cookies)
            .header(extra.0, extra.1)
            .form(&[("name", "x"), ("_csrf", token.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "{extra:?}");
        assert!(
            res.headers().get(header::SET_COOKIE).is_none(),
            "{extra:?}: the refresh token was spent"
        );
    }
    // The browser's own next page still refreshes the session.
    let (status, _, set) = raw_get(&b, "/chatflows", &cookies, &[]).await;
    assert_eq!(status, 200);
    assert!(set.contains(&"fs_access".to_string()), "{set:?}");
    assert_eq!(
        w.admin.get("/chatflows").await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        0,
        "nothing was created"
    );
}

/// Delegated administration (issue 16, item 2): a member whose role holds
/// `workspace:add-user` (and is not the Account Admin) adds a member from the workspace's page,
/// which the sidebar links to; a member without it sees no such form, and a forged post is
/// refused by the API route's guard and recorded.
#[tokio::test]
async fn a_delegated_admin_adds_members_from_the_workspace_page_and_others_cannot() {
    use serde_json::Value;
    for backend in backends() {
        let w = World::new(&backend).await;
        let ws = w.workspace("Team").await;
        let roles = w.admin.get("/roles").await.body;
        let viewer_perms: Vec<String> = roles["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == "Viewer")
            .unwrap()["permissions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap().to_string())
            .collect();
        let mut lead_perms: Vec<&str> = viewer_perms.iter().map(String::as_str).collect();
        lead_perms.push("workspace:add-user");
        w.role("Team lead", &lead_perms).await;
        w.member("lead@acme.test", &ws, "Team lead").await;
        let (viewer_id, _) = w.member("viewer@acme.test", &ws, "Viewer").await;
        let newcomer = w.user("new@acme.test").await;
        let page_path = format!("/workspaces/{ws}");
        let members = || async {
            w.admin.get(&format!("/workspace/{ws}/users")).await.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| {
                    let id = m["userId"].as_str().unwrap().to_string();
                    (id, m["roleName"].as_str().unwrap().to_string())
                })
                .collect::<Vec<_>>()
        };

        // The delegated admin: the sidebar leads to the page, which offers adding by email
        // with the roles they may give, and nothing only the Account Admin may do.
        let mut lead = Browser::new(&w.server);
        assert_eq!(lead.sign_in("lead@acme.test", PASSWORD).await.status, 303);
        let nav = lead.get("/chatflows").await;
        assert!(
            nav.body
                .contains(&format!(r#"href="{page_path}" id="manage-workspace""#)),
            "{}",
            nav.body
        );
        let p = lead.get(&page_path).await;
        assert_eq!(p.status, 200, "{}", p.body);
        assert!(p.body.contains(r#"id="add-by-email""#), "{}", p.body);
        assert!(p.body.contains(r#"action="/invitations/new""#));
        assert!(
            p.body.contains(&format!(r#"id="role-{viewer_id}""#)),
            "a Viewer's role can be changed"
        );
        for absent in [
            r#"id="add-member""#,
            r#"id="open-delete""#,
            r#"id="edit-form""#,
            r#"id="add-group""#,
            "/remove-user",
            ">Developer<",
            "/api/v1/",
        ] {
            assert!(!p.body.contains(absent), "{absent}");
        }
        let back = page_path.as_str();
        let p = lead
            .post_form(
                "/invitations/new",
                &[
                    ("_back", back),
                    ("_ok", "Added."),
                    ("workspaceId", &ws),
                    ("email", "new@acme.test"),
                    ("role", "Viewer"),
                ],
                true,
            )
            .await;
        assert_eq!((p.status, p.location()), (303, back), "{}", p.body);
        assert!(lead.get(back).await.body.contains("Added."));
        assert!(
            members()
                .await
                .contains(&(newcomer.clone(), "Viewer".into()))
        );
        // Someone without an account is invited; without SMTP the link is shown once.
        let p = lead
            .post_form(
                "/invitations/new",
                &[
                    ("_back", back),
                    ("workspaceId", &ws),
                    ("email", "fresh@acme.test"),
                    ("role", "Viewer"),
                ],
                true,
            )
            .await;
        assert_eq!(p.status, 200, "{}", p.body);
        assert!(p.body.contains("/register?token="), "{}", p.body);
        // A role above their own is refused, even forged.
        let p = lead
            .post_form(
                &format!("/workspaces/{ws}/add-user"),
                &[
                    ("_back", back),
                    ("userId", &newcomer),
                    ("role", "Developer"),
                ],
                true,
            )
            .await;
        assert_eq!((p.status, p.location()), (303, back));
        assert!(lead.get(back).await.body.contains("toast err"));
        assert!(
            members()
                .await
                .contains(&(newcomer.clone(), "Viewer".into()))
        );

        // A Viewer sees the page without any form, and a forged one is refused and recorded.
        let mut viewer = Browser::new(&w.server);
        assert_eq!(
            viewer.sign_in("viewer@acme.test", PASSWORD).await.status,
            303
        );
        let p = viewer.get(&page_path).await;
        assert_eq!(p.status, 200, "{}", p.body);
        for absent in [
            "<form method=\"post\" action=\"/workspaces/",
            "manage-workspace",
        ] {
            assert!(!p.body.contains(absent), "{absent}: {}", p.body);
        }
        let third = w.user("third@acme.test").await;
        for (form, fields) in [
            ("add-user", vec![("userId", third.as_str())]),
            (
                "invite",
                vec![("workspaceId", ws.as_str()), ("email", "third@acme.test")],
            ),
        ] {
            let mut all = vec![("_back", back), ("role", "Viewer")];
            all.extend(fields);
            let at = if form == "invite" {
                "/invitations/new".to_string()
            } else {
                format!("/workspaces/{ws}/{form}")
            };
            let p = viewer.post_form(&at, &all, true).await;
            assert_eq!((p.status, p.location()), (303, back), "{form}");
            let page = viewer.get(back).await;
            assert!(
                page.body
                    .contains("lacks the permission workspace:add-user"),
                "{form}: {}",
                page.body
            );
            let e: Value =
                w.admin.get("/audit-events?action=access.denied").await.body["items"][0].clone();
            assert_eq!(e["actorUserId"], viewer_id.as_str(), "{form}: {e}");
            assert_eq!(e["summary"]["missingPermission"], "workspace:add-user");
            assert_eq!(e["workspaceId"], ws.as_str());
        }
        assert!(!members().await.iter().any(|(id, _)| *id == third));
    }
}

/// The value of the `name="{name}"` input that follows `after` in a page.
fn input_value<'p>(body: &'p str, after: &str, name: &str) -> &'p str {
    let from = &body[body.find(after).unwrap_or(0)..];
    let at = from.find(&format!(r#"name="{name}" value=""#)).unwrap() + name.len() + 15;
    &from[at..at + from[at..].find('"').unwrap()]
}

/// Credentials and their sharing through the forms of their pages, which stand for the API's
/// routes: create, share (and the sharing read back as the API reads it), update, delete.
#[tokio::test]
async fn credentials_are_created_shared_changed_and_deleted_through_their_forms() {
    use serde_json::json;
    for backend in backends() {
        let w = World::new(&backend).await;
        let team = w.workspace("Team").await;
        let mut b = Browser::new(&w.server);
        b.sign_in(ADMIN_EMAIL, PASSWORD).await;
        let page = b.get("/credentials").await;
        assert_eq!(page.status, 200, "{}", backend.name());
        assert!(page.body.contains(r#"action="/credentials/new""#));
        let p = b
            .post_form(
                "/credentials/new",
                &[
                    ("_back", "/credentials"),
                    ("_ok", "Created."),
                    ("name", "OpenAI"),
                    ("credentialName", "openAIApi"),
                    ("data:json", r#"{"apiKey": "sk-1"}"#),
                ],
                true,
            )
            .await;
        assert_eq!((p.status, p.location()), (303, "/credentials"));
        let list = w.admin.get("/credentials").await.body;
        let id = list["items"][0]["id"].as_str().unwrap().to_string();
        let page = b.get("/credentials").await;
        assert!(page.body.contains("OpenAI") && page.body.contains("apiKey"));
        assert!(page.body.contains("Created."), "the toast");
        assert!(!page.body.contains("sk-1"), "never the secret");

        let page = b.get(&format!("/credentials/{id}")).await;
        assert_eq!(page.status, 200);
        let share = format!(r#"action="/credentials/{id}/shares""#);
        assert!(page.body.contains(&share), "{}", page.body);
        assert!(
            page.body.contains(&format!(r#"value="{team}">"#)),
            "unticked"
        );
        let back = format!("/credentials/{id}");
        let p = b
            .post_form(
                &format!("/credentials/{id}/shares"),
                &[
                    ("_back", &back),
                    ("_ok", "Sharing saved."),
                    ("workspaceIds[]", ""),
                    ("workspaceIds[]", &team),
                ],
                true,
            )
            .await;
        assert_eq!((p.status, p.location()), (303, back.as_str()));
        let shares = w.admin.get(&format!("/credentials/{id}/shares")).await.body;
        assert_eq!(shares["workspaces"][0]["id"], team.as_str());
        let page = b.get(&back).await;
        assert!(page.body.contains(&format!(r#"value="{team}" checked"#)));
        assert!(page.body.contains("Sharing saved."));

        let version = input_value(&page.body, "edit-form", "version:int").to_string();
        let p = b
            .post_form(
                &back,
                &[
                    ("_back", &back),
                    ("_ok", "Saved."),
                    ("version:int", &version),
                    ("name", "OpenAI prod"),
                    ("credentialName", "openAIApi"),
                ],
                true,
            )
            .await;
        assert_eq!(p.status, 303);
        let c = w.admin.get(&back).await.body;
        assert_eq!(c["name"], "OpenAI prod");
        assert_eq!(c["dataKeys"], json!(["apiKey"]), "the secret is kept");
        // The same version again is a conflict, said in a toast.
        b.post_form(
            &back,
            &[("_back", &back), ("version:int", &version), ("name", "x")],
            true,
        )
        .await;
        assert!(b.get(&back).await.body.contains("toast err"));

        // Delete is confirmed on the credential's page, below where it is used.
        let page = b.get("/credentials").await;
        assert!(
            page.body
                .contains(&format!(r#"href="/credentials/{id}#delete""#))
        );
        let page = b.get(&back).await;
        let delete = format!("/credentials/{id}/delete");
        assert!(page.body.contains(&format!(r#"action="{delete}""#)));
        assert!(page.body.contains(r#"id="usage-none""#), "not used yet");
        let p = b
            .post_form(
                &delete,
                &[("_back", &back), ("_next", "/credentials")],
                true,
            )
            .await;
        assert_eq!((p.status, p.location()), (303, "/credentials"));
        assert_eq!(w.admin.get(&back).await.status, 404);
    }
}

/// What a page of credentials shows follows the API: a member without `credentials:share`
/// sees no sharing and is refused the form; another workspace's credential is not found.
#[tokio::test]
async fn credential_pages_show_no_more_than_the_api_allows() {
    use serde_json::json;
    let w = World::new(&backends()[0]).await;
    let team = w.workspace("Team").await;
    w.member("dev@acme.test", &team, "Developer").await;
    let ours = w
        .admin
        .in_workspace(&team)
        .post(
            "/credentials",
            json!({"name": "Team key", "credentialName": "x", "data": {"k": "v"}}),
        )
        .await
        .id();
    let theirs = w
        .admin
        .post(
            "/credentials",
            json!({"name": "Default key", "credentialName": "x", "data": {"k": "v"}}),
        )
        .await
        .id();
    let mut dev = Browser::new(&w.server);
    dev.sign_in("dev@acme.test", PASSWORD).await;
    let page = dev.get(&format!("/credentials/{ours}")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("edit-form"), "a developer may edit");
    assert!(!page.body.contains("share-form"), "but not share");
    let back = format!("/credentials/{ours}");
    let p = dev
        .post_form(
            &format!("/credentials/{ours}/shares"),
            &[("_back", &back), ("workspaceIds[]", &w.default_ws)],
            true,
        )
        .await;
    assert_eq!((p.status, p.location()), (303, back.as_str()));
    assert!(
        dev.get(&back)
            .await
            .body
            .contains("lacks the permission credentials:share")
    );
    let p = dev.get(&format!("/credentials/{theirs}")).await;
    assert_eq!(p.status, 404);
    assert!(!p.body.contains("Default key"));
    let p = dev
        .post_form(
            &format!("/credentials/{theirs}/delete"),
            &[("_back", "/credentials")],
            true,
        )
        .await;
    assert_eq!(p.status, 303);
    assert_eq!(
        w.admin.get(&format!("/credentials/{theirs}")).await.status,
        200
    );
}

/// An API key's create form shows the new key once; the key holds what was ticked, which the
/// page offers only from the caller's own grantable permissions; edit and delete forms follow.
#[tokio::test]
async fn api_keys_are_shown_once_edited_and_deleted_through_their_forms() {
    for backend in backends() {
        let w = World::new(&backend).await;
        let team = w.workspace("Team").await;
        w.member("dev@acme.test", &team, "Developer").await;
        let mut b = Browser::new(&w.server);
        b.sign_in("dev@acme.test", PASSWORD).await;
        let page = b.get("/apikeys").await;
        assert_eq!(page.status, 200, "{}", backend.name());
        assert!(page.body.contains(r#"value="chatflows:create""#));
        assert!(
            !page.body.contains(r#"value="credentials:share""#),
            "not the dev's"
        );
        assert!(
            !page.body.contains(r#"value="workspace:"#),
            "never to a key"
        );
        let p = b
            .post_form(
                "/apikeys/new",
                &[
                    ("_back", "/apikeys"),
                    ("_next", "/apikeys"),
                    ("permissions[]", ""),
                    ("permissions[]", "chatflows:view"),
                    ("name", "CI"),
                ],
                true,
            )
            .await;
        assert_eq!(p.status, 200, "{}", p.body);
        let at = p.body.find(r#"id="shown-value""#).unwrap();
        let key = &p.body[at..];
        let key = &key[key.find("value=\"").unwrap() + 7..];
        let key = key[..key.find('"').unwrap()].to_string();
        assert!(key.starts_with("fsk_"), "{key}");
        assert!(p.body.contains(r#"href="/apikeys""#), "Done goes back");
        let with_key = w.admin.with_token(&key);
        assert_eq!(with_key.get("/chatflows").await.status, 200);
        assert_eq!(with_key.get("/tools").await.status, 403);

        let page = b.get("/apikeys").await;
        assert!(!page.body.contains(&key), "never shown again");
        let id = w.admin.in_workspace(&team).get("/apikeys").await.body["items"][0]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let edit = format!("/apikeys/{id}");
        assert!(page.body.contains(&format!(r#"action="{edit}""#)));
        assert!(page.body.contains(r#"value="chatflows:view" checked"#));
        let version = input_value(&page.body, &format!("edit-{id}"), "version:int").to_string();
        let p = b
            .post_form(
                &edit,
                &[
                    ("_back", "/apikeys"),
                    ("_ok", "Saved CI."),
                    ("version:int", &version),
                    ("permissions[]", ""),
                    ("permissions[]", "tools:view"),
                    ("name", "CI tools"),
                ],
                true,
            )
            .await;
        assert_eq!((p.status, p.location()), (303, "/apikeys"));
        assert!(b.get("/apikeys").await.body.contains("Saved CI."));
        assert_eq!(with_key.get("/tools").await.status, 200);
        assert_eq!(with_key.get("/chatflows").await.status, 403);
        // Above the caller's own: refused by the API route the form stands for.
        let p = b
            .post_form(
                &edit,
                &[
                    ("_back", "/apikeys"),
                    (
                        "version:int",
                        &(version.parse::<i64>().unwrap() + 1).to_string(),
                    ),
                    ("permissions[]", "credentials:share"),
                    ("name", "CI tools"),
                ],
                true,
            )
            .await;
        assert_eq!(p.status, 303);
        assert!(b.get("/apikeys").await.body.contains("toast err"));

        let p = b
            .post_form(
                &format!("/apikeys/{id}/delete"),
                &[("_back", "/apikeys")],
                true,
            )
            .await;
        assert_eq!((p.status, p.location()), (303, "/apikeys"));
        assert_eq!(with_key.get("/tools").await.status, 401);
    }
}

/// The pages before sign-in: their forms post to their own paths, stand for the public API
/// routes, and keep the sign-in's `next`.
#[tokio::test]
async fn the_sign_in_form_goes_on_to_the_page_asked_for() {
    let w = World::new(&backends()[0]).await;
    let mut b = Browser::new(&w.server);
    let p = b.get("/credentials").await;
    assert_eq!(p.location(), "/login?next=%2Fcredentials");
    let p = b.get(p.location()).await;
    assert_eq!(p.status, 200);
    assert!(p.body.contains(r#"action="/login""#));
    assert_eq!(input_value(&p.body, "login-form", "_next"), "/credentials");
    for next in ["/login", "/login?next=/x"] {
        let p = b
            .get(&format!("/login?next={}", next.replace('?', "%3F")))
            .await;
        assert_eq!(input_value(&p.body, "login-form", "_next"), "/", "{next}");
    }
    let p = b
        .post_form(
            "/login",
            &[
                ("_back", "/login"),
                ("_next", "/credentials"),
                ("email", ADMIN_EMAIL),
                ("password", "wrong"),
            ],
            false,
        )
        .await;
    assert_eq!(
        (p.status, p.location()),
        (303, "/login"),
        "a wrong password stays"
    );
    assert!(
        b.get("/login")
            .await
            .body
            .contains("invalid email or password")
    );
    let p = b
        .post_form(
            "/login",
            &[
                ("_back", "/login"),
                ("_next", "/credentials"),
                ("email", ADMIN_EMAIL),
                ("password", PASSWORD),
            ],
            false,
        )
        .await;
    assert_eq!((p.status, p.location()), (303, "/credentials"));
    assert_eq!(b.get("/credentials").await.status, 200);
    // Signed in, the sign-in page goes straight on.
    assert_eq!(b.get("/login?next=/apikeys").await.location(), "/apikeys");
    for page in ["/forgot-password", "/reset-password?token=x", "/register"] {
        let p = b.get(page).await;
        assert_eq!(p.status, 200, "{page}");
    }
    let p = b.get("/register?token=nope").await;
    assert!(p.body.contains("invalid, expired or already used"));
}

/// The credential's page shows where it is used (as `GET /credentials/{id}/usage` reads it)
/// before its Share and Delete actions, each warning of what it would break; what the viewer
/// may not see is counted, never named.
#[tokio::test]
async fn a_credentials_page_shows_where_it_is_used_before_unsharing_and_deleting() {
    use serde_json::json;
    for backend in backends() {
        let on = backend.name();
        let w = World::new(&backend).await;
        let team = w.workspace("Team").await;
        let ops = w.workspace("Ops").await;
        let admin_team = w.admin.in_workspace(&team);
        let id = admin_team
            .post(
                "/credentials",
                json!({"name": "OpenAI", "credentialName": "openAIApi", "data": {"apiKey": "sk-1"}}),
            )
            .await
            .id();
        let shared = admin_team
            .put(
                &format!("/credentials/{id}/shares"),
                json!({"workspaceIds": [ops]}),
            )
            .await;
        assert_eq!(shared.status, 200, "{}", shared.body);
        let node = json!({"nodes": [{"data": {"credential": id}}]});
        let bot = admin_team
            .post("/chatflows", json!({"name": "Team bot", "data": node}))
            .await
            .id();
        let ops_bot = w
            .admin
            .in_workspace(&ops)
            .post("/chatflows", json!({"name": "Ops bot", "data": node}))
            .await;
        assert_eq!(ops_bot.status, 201, "{}", ops_bot.body);

        let mut b = Browser::new(&w.server);
        b.sign_in(ADMIN_EMAIL, PASSWORD).await;
        let switched = b
            .post_form(
                "/switch-workspace",
                &[("_back", "/credentials"), ("workspaceId", &team)],
                true,
            )
            .await;
        assert_eq!(switched.status, 303, "{on}");
        let page = b.get(&format!("/credentials/{id}")).await;
        assert_eq!(page.status, 200, "{on}: {}", page.body);
        let body = &page.body;
        let usage = body.find(r#"id="usage""#).expect("the usage card");
        let share = body.find(r#"id="open-share""#).expect("Share");
        let delete = body.find(r#"id="open-delete""#).expect("Delete");
        assert!(usage < share && usage < delete, "{on}: usage comes first");
        assert!(
            body.contains("2 items name this credential"),
            "{on}: {body}"
        );
        assert!(
            body.contains(&format!(r#"<a href="/chatflows/{bot}">Team bot</a>"#)),
            "{on}: the active workspace's flow is linked"
        );
        assert!(
            body.contains("Ops bot"),
            "{on}: the Account Admin sees Ops'"
        );
        assert!(body.contains(r#"id="share-warning""#), "{on}");
        assert!(
            body.contains("used by 1 item"),
            "{on}: the Ops share is marked"
        );
        let warning = &body[body.find(r#"id="delete-warning""#).expect("delete warning")..];
        assert!(
            warning.contains("the 2 items that name it stop working")
                && warning.contains("Team: Team bot")
                && warning.contains("Ops: Ops bot"),
            "{on}: {warning}"
        );

        // A member of Ops who may view credentials but not chatflows, reading it where it is
        // shared in: Team is named, the flows are counted.
        let role = w.role("Creds", &["credentials:view"]).await;
        w.member("ops@example.com", &ops, &role).await;
        let mut m = Browser::new(&w.server);
        m.sign_in("ops@example.com", PASSWORD).await;
        let page = m.get(&format!("/credentials/{id}")).await;
        assert_eq!(page.status, 200, "{on}: {}", page.body);
        assert!(page.body.contains(r#"id="shared-badge""#));
        assert!(page.body.contains(r#"id="usage""#));
        assert!(
            page.body.contains("1 more that you may not view"),
            "{on}: {}",
            page.body
        );
        assert!(
            !page.body.contains("Team bot") && !page.body.contains("Ops bot"),
            "{on}: no name it may not see"
        );
        assert!(
            !page.body.contains(r#"id="open-delete""#),
            "{on}: read-only here"
        );
    }
}

/// A workspace's icon is set in the create form, shown, changed and cleared in the edit form;
/// one the API refuses is refused with a toast and changes nothing.
#[tokio::test]
async fn a_workspace_icon_is_set_shown_and_cleared_through_the_forms() {
    const ROCKET: &str = "\u{1F680}";
    for backend in backends() {
        let on = backend.name();
        let w = World::new(&backend).await;
        let mut b = Browser::new(&w.server);
        b.sign_in(ADMIN_EMAIL, PASSWORD).await;
        let page = b.get("/workspaces").await;
        assert!(
            page.body.contains(r#"name="icon:opt""#),
            "{on}: the create form"
        );
        let p = b
            .post_form(
                "/workspaces/new",
                &[
                    ("_back", "/workspaces"),
                    ("_ok", "Created."),
                    ("name", "Rockets"),
                    ("description:opt", ""),
                    ("icon:opt", ROCKET),
                ],
                true,
            )
            .await;
        assert_eq!(p.status, 303, "{on}");
        let list = w.admin.get("/workspaces").await.body;
        let ws = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == "Rockets")
            .unwrap()
            .clone();
        let id = ws["id"].as_str().unwrap().to_string();
        assert_eq!(ws["icon"], ROCKET, "{on}");
        let page = b.get("/workspaces").await;
        assert!(
            page.body.contains(&format!(
                r#"<span class="ws-icon" aria-hidden="true">{ROCKET}</span>"#
            )),
            "{on}: shown in the list"
        );
        let here = format!("/workspaces/{id}");
        let page = b.get(&here).await;
        assert!(
            page.body.contains(r#"id="ws-icon""#),
            "{on}: shown on its page"
        );
        assert_eq!(input_value(&page.body, "edit-form", "icon"), ROCKET);

        // Too long: refused with a toast naming the field; nothing changes.
        let long = "x".repeat(65);
        let p = b
            .post_form(
                &here,
                &[("_back", &here), ("name", "Rockets"), ("icon", &long)],
                true,
            )
            .await;
        assert_eq!(p.status, 303, "{on}");
        let page = b.get(&here).await;
        assert!(
            page.body.contains("toast err") && page.body.contains("icon"),
            "{on}"
        );
        assert_eq!(
            w.admin.get(&format!("/workspace/{id}")).await.body["icon"],
            ROCKET
        );

        // Changed, then cleared (an empty field is no icon).
        for (sent, stored) in [
            ("ops", serde_json::json!("ops")),
            ("", serde_json::Value::Null),
        ] {
            let p = b
                .post_form(
                    &here,
                    &[("_back", &here), ("name", "Rockets"), ("icon", sent)],
                    true,
                )
                .await;
            assert_eq!(p.status, 303, "{on}");
            assert_eq!(
                w.admin.get(&format!("/workspace/{id}")).await.body["icon"],
                stored,
                "{on}: {sent:?}"
            );
        }
        assert!(!b.get(&here).await.body.contains(r#"id="ws-icon""#), "{on}");
    }
}
