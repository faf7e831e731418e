//! Sign-in and sessions through real HTTP (rules 3, 7, 10, 15; SPEC §4 auth rows): login,
//! cookies and CSRF, refresh rotation and reuse detection, logout, disabling, legacy bcrypt
//! hashes, the active workspace, and tokens surviving a restart.

use flowspace_testkit::{ADMIN_EMAIL, Client, PASSWORD, Resp, TestServer, World, backends};
use reqwest::Method;
use serde_json::{Value, json};

/// Every `Set-Cookie` line of an answer.
fn set_cookies(r: &Resp) -> Vec<String> {
    r.headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect()
}

/// The `Set-Cookie` line of cookie `name`.
fn cookie_line(r: &Resp, name: &str) -> String {
    set_cookies(r)
        .into_iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie in {:?}", set_cookies(r)))
}

/// The value of cookie `name` set by an answer.
fn cookie_value(r: &Resp, name: &str) -> String {
    let line = cookie_line(r, name);
    let first = line.split(';').next().unwrap();
    first.split_once('=').unwrap().1.to_string()
}

/// The attributes of a `Set-Cookie` line, lower-cased, without the name=value pair.
fn attributes(line: &str) -> Vec<String> {
    line.split(';')
        .skip(1)
        .map(|a| a.trim().to_ascii_lowercase())
        .collect()
}

async fn login(s: &TestServer, email: &str, password: &str) -> Resp {
    s.client()
        .post("/auth/login", json!({"email": email, "password": password}))
        .await
}

/// Signs in and answers the whole login answer (tokens, cookies).
async fn login_ok(s: &TestServer, email: &str) -> Resp {
    let r = login(s, email, PASSWORD).await;
    assert_eq!(r.status, 200, "login {email}: {}", r.body);
    r
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("no {key} in {v}"))
}

async fn refresh(s: &TestServer, token: &str) -> Resp {
    s.client()
        .post("/auth/refresh", json!({"refreshToken": token}))
        .await
}

/// Runs one statement with one text parameter on whichever backend the server uses.
async fn exec(s: &TestServer, sql: &str, a: &str, b: &str) {
    let affected = if let Some(pool) = s.store().sqlite_pool() {
        sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
            .bind(a)
            .bind(b)
            .execute(pool)
            .await
            .unwrap()
            .rows_affected()
    } else {
        let pool = s.store().postgres_pool().unwrap();
        sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
            .bind(a)
            .bind(b)
            .execute(pool)
            .await
            .unwrap()
            .rows_affected()
    };
    assert_eq!(affected, 1, "{sql}");
}

async fn stored_hash(s: &TestServer, email: &str) -> String {
    let sql = "SELECT password_hash FROM users WHERE email_key = $1";
    let row: (String,) = if let Some(pool) = s.store().sqlite_pool() {
        sqlx::query_as(sql)
            .bind(email)
            .fetch_one(pool)
            .await
            .unwrap()
    } else {
        let pool = s.store().postgres_pool().unwrap();
        sqlx::query_as(sql)
            .bind(email)
            .fetch_one(pool)
            .await
            .unwrap()
    };
    row.0
}

#[tokio::test]
async fn login_compares_email_case_insensitively_and_failures_look_alike() {
    for b in backends() {
        let w = World::new(&b).await;
        let s = &w.server;
        w.user("Carol.Mixed@Example.com").await;
        let invited = w.user("ivy@example.com").await;
        let disabled = w.user("dan@example.com").await;

        for email in [
            "carol.mixed@example.com",
            "CAROL.MIXED@EXAMPLE.COM",
            "Carol.Mixed@Example.com",
        ] {
            let r = login_ok(s, email).await;
            assert_eq!(
                r.body["user"]["email"].as_str().unwrap().to_lowercase(),
                "carol.mixed@example.com",
                "{}",
                b.name()
            );
            assert!(!str_of(&r.body, "accessToken").is_empty());
            assert!(!str_of(&r.body, "refreshToken").is_empty());
            assert!(r.body["expiresIn"].as_i64().unwrap() > 0);
        }
        login_ok(s, "Admin@Example.COM").await;

        let unknown = login(s, "nobody@example.com", PASSWORD).await;
        let wrong = login(s, "carol.mixed@example.com", "not the password at all").await;
        let wrong_other_case = login(s, "CAROL.MIXED@example.com", "still not it, sorry").await;
        assert_eq!(unknown.status, 401, "{}: {}", b.name(), unknown.body);
        assert_eq!(unknown.code(), "invalid_credentials");
        for r in [&wrong, &wrong_other_case] {
            assert_eq!(r.status, unknown.status, "{}", b.name());
            assert_eq!(
                r.body, unknown.body,
                "same body for unknown email and wrong password"
            );
            assert!(set_cookies(r).is_empty(), "a failed login sets no cookie");
        }

        // An invited user (no sign-up yet) cannot sign in, even with the right password,
        // and is told nothing more than an unknown email would be.
        exec(
            s,
            "UPDATE users SET status = $1 WHERE email_key = $2",
            "invited",
            "ivy@example.com",
        )
        .await;
        let r = login(s, "ivy@example.com", PASSWORD).await;
        assert_eq!((r.status, &r.body), (401, &unknown.body), "{}", b.name());
        let _ = invited;

        // A disabled user cannot sign in; with a wrong password they look like anyone else.
        let p = w
            .admin
            .patch(&format!("/users/{disabled}"), json!({"status": "disabled"}))
            .await;
        assert_eq!(p.status, 200, "{}", p.body);
        let r = login(s, "dan@example.com", PASSWORD).await;
        assert_eq!(r.status, 401, "{}: {}", b.name(), r.body);
        assert!(r.body.get("accessToken").is_none());
        assert!(set_cookies(&r).is_empty());
        let r = login(s, "dan@example.com", "wrong password again").await;
        assert_eq!((r.status, &r.body), (401, &unknown.body));
    }
}

#[tokio::test]
async fn login_sets_http_only_lax_cookies_and_secure_only_behind_https() {
    for b in backends() {
        for https in [false, true] {
            let s = if https {
                TestServer::start_with(&b, |c| c.app_url = "https://x.example".into()).await
            } else {
                TestServer::start(&b).await
            };
            s.setup().await;
            let r = login_ok(&s, ADMIN_EMAIL).await;
            let ctx = format!("{} https={https}", b.name());

            let access = cookie_line(&r, "fs_access");
            let refresh = cookie_line(&r, "fs_refresh");
            let csrf = cookie_line(&r, "fs_csrf");
            assert_eq!(
                cookie_value(&r, "fs_access"),
                str_of(&r.body, "accessToken")
            );
            assert_eq!(
                cookie_value(&r, "fs_refresh"),
                str_of(&r.body, "refreshToken")
            );
            assert_eq!(cookie_value(&r, "fs_csrf"), str_of(&r.body, "csrfToken"));
            for line in [&access, &refresh] {
                let a = attributes(line);
                assert!(a.contains(&"httponly".to_string()), "{ctx}: {line}");
                assert!(a.contains(&"samesite=lax".to_string()), "{ctx}: {line}");
                assert!(a.contains(&"path=/".to_string()), "{ctx}: {line}");
                assert_eq!(a.contains(&"secure".to_string()), https, "{ctx}: {line}");
            }
            let a = attributes(&csrf);
            assert!(
                !a.contains(&"httponly".to_string()),
                "{ctx}: the CSRF cookie is readable by the page's script: {csrf}"
            );
            assert!(a.contains(&"samesite=lax".to_string()), "{ctx}: {csrf}");
            assert_eq!(a.contains(&"secure".to_string()), https, "{ctx}: {csrf}");
        }
    }
}

#[tokio::test]
async fn refresh_rotates_and_a_reused_token_ends_the_session() {
    for b in backends() {
        let w = World::new(&b).await;
        let s = &w.server;
        let first = login_ok(s, ADMIN_EMAIL).await;
        let access1 = str_of(&first.body, "accessToken").to_string();
        let refresh1 = str_of(&first.body, "refreshToken").to_string();

        let second = refresh(s, &refresh1).await;
        assert_eq!(second.status, 200, "{}: {}", b.name(), second.body);
        let access2 = str_of(&second.body, "accessToken").to_string();
        let refresh2 = str_of(&second.body, "refreshToken").to_string();
        assert_ne!(refresh2, refresh1, "a new refresh token");
        assert!(second.body["expiresIn"].as_i64().unwrap() > 0);
        assert_eq!(cookie_value(&second, "fs_refresh"), refresh2);
        let c2 = s.client().with_token(&access2);
        assert_eq!(c2.get("/auth/me").await.status, 200);
        // Before any reuse, the older access token of the same session still works.
        assert_eq!(
            s.client().with_token(&access1).get("/auth/me").await.status,
            200
        );

        // Another session of the same user, which the reuse must not touch.
        let other = login_ok(s, ADMIN_EMAIL).await;
        let other_client = s.client().with_token(str_of(&other.body, "accessToken"));

        // The spent token again: refused as reused, and the whole session is revoked.
        let reused = refresh(s, &refresh1).await;
        assert_eq!(
            (reused.status, reused.code()),
            (401, "refresh_token_reused"),
            "{}: {}",
            b.name(),
            reused.body
        );
        let r = c2.get("/auth/me").await;
        assert_eq!(
            r.status,
            401,
            "{}: access token of a revoked session",
            b.name()
        );
        assert_eq!(
            s.client()
                .with_token(&access1)
                .get("/chatflows")
                .await
                .status,
            401
        );
        let r = refresh(s, &refresh2).await;
        assert_eq!(
            r.status,
            401,
            "{}: newest refresh token of a revoked session",
            b.name()
        );
        assert_ne!(r.code(), "", "an error body");
        // Reused again: still refused.
        assert_eq!(refresh(s, &refresh1).await.status, 401);

        assert_eq!(other_client.get("/auth/me").await.status, 200);
        let r = refresh(s, str_of(&other.body, "refreshToken")).await;
        assert_eq!(
            r.status,
            200,
            "{}: other session untouched: {}",
            b.name(),
            r.body
        );

        // Garbage and missing tokens.
        let r = refresh(s, "not-a-token").await;
        assert_eq!(r.status, 401);
        let r = s.client().post("/auth/refresh", json!({})).await;
        assert!(r.status == 401 || r.status == 422, "{}", r.status);
    }
}

#[tokio::test]
async fn refresh_with_the_refresh_cookie() {
    for b in backends() {
        let w = World::new(&b).await;
        let s = &w.server;
        let first = login_ok(s, ADMIN_EMAIL).await;
        let refresh1 = cookie_value(&first, "fs_refresh");
        let anon = s.client();
        let cookie = format!("fs_refresh={refresh1}");

        let r = anon
            .send(Method::POST, "/auth/refresh", None, &[("cookie", &cookie)])
            .await;
        assert_eq!(r.status, 200, "{}: {}", b.name(), r.body);
        let refresh2 = cookie_value(&r, "fs_refresh");
        assert_ne!(refresh2, refresh1);
        assert_eq!(refresh2, str_of(&r.body, "refreshToken"));
        let access2 = cookie_value(&r, "fs_access");
        let me = anon
            .send(
                Method::GET,
                "/auth/me",
                None,
                &[("cookie", &format!("fs_access={access2}"))],
            )
            .await;
        assert_eq!(me.status, 200, "{}: {}", b.name(), me.body);
        assert_eq!(me.body["user"]["email"], ADMIN_EMAIL);

        // The spent cookie again is reuse.
        let r = anon
            .send(Method::POST, "/auth/refresh", None, &[("cookie", &cookie)])
            .await;
        assert_eq!((r.status, r.code()), (401, "refresh_token_reused"));
        let r = anon
            .send(
                Method::POST,
                "/auth/refresh",
                None,
                &[("cookie", &format!("fs_refresh={refresh2}"))],
            )
            .await;
        assert_eq!(r.status, 401, "{}", b.name());
    }
}

#[tokio::test]
async fn logout_ends_only_that_session() {
    for b in backends() {
        let w = World::new(&b).await;
        let s = &w.server;
        let ws = w.workspace("Team").await;
        w.member("lou@example.com", &ws, "Developer").await;
        let one = login_ok(s, "lou@example.com").await;
        let two = login_ok(s, "lou@example.com").await;
        let c1 = s.client().with_token(str_of(&one.body, "accessToken"));
        let c2 = s.client().with_token(str_of(&two.body, "accessToken"));
        assert_eq!(c1.get("/chatflows").await.status, 200);

        let r = c1.post("/auth/logout", json!({})).await;
        assert!(
            r.status == 204 || r.status == 200,
            "{}: {}",
            b.name(),
            r.body
        );
        // The dashboard's cookies are cleared.
        for name in ["fs_access", "fs_refresh", "fs_csrf"] {
            assert_eq!(cookie_value(&r, name), "", "{name}");
        }

        assert_eq!(c1.get("/auth/me").await.status, 401, "{}", b.name());
        assert_eq!(c1.get("/chatflows").await.status, 401);
        let r = refresh(s, str_of(&one.body, "refreshToken")).await;
        assert_eq!(r.status, 401, "{}: {}", b.name(), r.body);

        assert_eq!(c2.get("/chatflows").await.status, 200, "{}", b.name());
        let r = refresh(s, str_of(&two.body, "refreshToken")).await;
        assert_eq!(r.status, 200, "{}: {}", b.name(), r.body);
        // Logging out without a session is refused.
        assert_eq!(s.client().post("/auth/logout", json!({})).await.status, 401);
    }
}

#[tokio::test]
async fn cookie_authentication_needs_the_csrf_token_for_writes() {
    for b in backends() {
        let w = World::new(&b).await;
        let s = &w.server;
        let r = login_ok(s, ADMIN_EMAIL).await;
        let access = cookie_value(&r, "fs_access");
        let csrf = cookie_value(&r, "fs_csrf");
        assert_eq!(csrf, str_of(&r.body, "csrfToken"));
        let anon: Client = s.client();
        let cookies = format!("fs_access={access}; fs_csrf={csrf}");
        let body = Some(json!({"name": "via cookie"}));

        let g = anon
            .send(Method::GET, "/chatflows", None, &[("cookie", &cookies)])
            .await;
        assert_eq!(g.status, 200, "{}: {}", b.name(), g.body);
        let me = anon
            .send(Method::GET, "/auth/me", None, &[("cookie", &cookies)])
            .await;
        assert_eq!(me.body["user"]["email"], ADMIN_EMAIL);

        let r = anon
            .send(
                Method::POST,
                "/chatflows",
                body.clone(),
                &[("cookie", &cookies)],
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (403, "csrf_failed"),
            "{}: {}",
            b.name(),
            r.body
        );
        let r = anon
            .send(
                Method::POST,
                "/chatflows",
                body.clone(),
                &[("cookie", &cookies), ("x-csrf-token", "wrong")],
            )
            .await;
        assert_eq!((r.status, r.code()), (403, "csrf_failed"));
        // Another session's CSRF token does not fit this one.
        let other = login_ok(s, ADMIN_EMAIL).await;
        let other_csrf = str_of(&other.body, "csrfToken");
        assert_ne!(other_csrf, csrf);
        let r = anon
            .send(
                Method::POST,
                "/chatflows",
                body.clone(),
                &[("cookie", &cookies), ("x-csrf-token", other_csrf)],
            )
            .await;
        assert_eq!((r.status, r.code()), (403, "csrf_failed"));
        assert_eq!(
            w.admin.get("/chatflows").await.body["items"]
                .as_array()
                .unwrap()
                .len(),
            0,
            "refused writes changed nothing"
        );

        let r = anon
            .send(
                Method::POST,
                "/chatflows",
                body.clone(),
                &[("cookie", &cookies), ("x-csrf-token", &csrf)],
            )
            .await;
        assert_eq!(r.status, 201, "{}: {}", b.name(), r.body);
        let id = r.id();
        let r = anon
            .send(
                Method::DELETE,
                &format!("/chatflows/{id}"),
                None,
                &[("cookie", &cookies)],
            )
            .await;
        assert_eq!((r.status, r.code()), (403, "csrf_failed"));
        assert_eq!(w.admin.get(&format!("/chatflows/{id}")).await.status, 200);

        // A bearer token needs no CSRF token.
        let r = w.admin.post("/chatflows", json!({"name": "bearer"})).await;
        assert_eq!(r.status, 201);

        // Logging out through the cookie needs the token too.
        let r = anon
            .send(Method::POST, "/auth/logout", None, &[("cookie", &cookies)])
            .await;
        assert_eq!((r.status, r.code()), (403, "csrf_failed"));
        let r = anon
            .send(
                Method::POST,
                "/auth/logout",
                None,
                &[("cookie", &cookies), ("x-csrf-token", &csrf)],
            )
            .await;
        assert_eq!(r.status, 204, "{}: {}", b.name(), r.body);
        let g = anon
            .send(Method::GET, "/chatflows", None, &[("cookie", &cookies)])
            .await;
        assert_eq!(g.status, 401);
    }
}

#[tokio::test]
async fn disabling_a_user_ends_their_sessions_and_keys_at_once() {
    for b in backends() {
        let w = World::new(&b).await;
        let s = &w.server;
        let ws = w.workspace("Team").await;
        let (id, dev) = w.member("dora@example.com", &ws, "Developer").await;
        let refresh_token =
            str_of(&login_ok(s, "dora@example.com").await.body, "refreshToken").to_string();
        let key = dev
            .post(
                "/apikeys",
                json!({"name": "ci", "permissions": ["chatflows:view"]}),
            )
            .await;
        assert_eq!(key.status, 201, "{}: {}", b.name(), key.body);
        let key = str_of(&key.body, "key").to_string();
        let by_key = s.client().with_token(&key);
        assert_eq!(by_key.get("/chatflows").await.status, 200);
        assert_eq!(dev.get("/chatflows").await.status, 200);

        let r = w
            .admin
            .patch(&format!("/users/{id}"), json!({"status": "disabled"}))
            .await;
        assert_eq!(r.status, 200, "{}: {}", b.name(), r.body);
        assert_eq!(r.body["status"], "disabled", "{}", r.body);

        assert_eq!(dev.get("/chatflows").await.status, 401, "{}", b.name());
        assert_eq!(dev.get("/auth/me").await.status, 401);
        assert_eq!(
            by_key.get("/chatflows").await.status,
            401,
            "{}: API key",
            b.name()
        );
        assert_eq!(refresh(s, &refresh_token).await.status, 401);
        assert_eq!(login(s, "dora@example.com", PASSWORD).await.status, 401);

        // Enabled again: a new login works, the old sessions stay ended.
        let r = w
            .admin
            .patch(&format!("/users/{id}"), json!({"status": "active"}))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(dev.get("/chatflows").await.status, 401, "{}", b.name());
        let again = s
            .login("dora@example.com", PASSWORD)
            .await
            .in_workspace(&ws);
        assert_eq!(again.get("/chatflows").await.status, 200);

        // The Account Admin cannot be disabled.
        let me = w.admin.get("/auth/me").await;
        let admin_id = str_of(&me.body["user"], "id").to_string();
        let r = w
            .admin
            .patch(&format!("/users/{admin_id}"), json!({"status": "disabled"}))
            .await;
        assert_eq!(r.status, 409, "{}", r.body);
        assert_eq!(w.admin.get("/auth/me").await.status, 200);
    }
}

#[tokio::test]
async fn a_legacy_bcrypt_hash_signs_in_and_is_upgraded_to_argon2id() {
    for b in backends() {
        let w = World::new(&b).await;
        let s = &w.server;
        w.user("legacy@example.com").await;
        let old_password = "an old flowise password";
        let hash = bcrypt::hash(old_password, 4).unwrap();
        exec(
            s,
            "UPDATE users SET password_hash = $1 WHERE email_key = $2",
            &hash,
            "legacy@example.com",
        )
        .await;
        assert!(stored_hash(s, "legacy@example.com").await.starts_with("$2"));

        let r = login(s, "legacy@example.com", "not the old password").await;
        assert_eq!(r.status, 401, "{}", b.name());
        assert!(
            stored_hash(s, "legacy@example.com").await.starts_with("$2"),
            "a failed login upgrades nothing"
        );

        let r = login(s, "Legacy@Example.com", old_password).await;
        assert_eq!(r.status, 200, "{}: {}", b.name(), r.body);
        let upgraded = stored_hash(s, "legacy@example.com").await;
        assert!(
            upgraded.starts_with("$argon2id$"),
            "{}: {upgraded}",
            b.name()
        );

        // The upgraded hash still takes the same password, and only it.
        assert_eq!(
            login(s, "legacy@example.com", old_password).await.status,
            200
        );
        assert_eq!(login(s, "legacy@example.com", PASSWORD).await.status, 401);
        assert_eq!(
            stored_hash(s, "legacy@example.com").await,
            upgraded,
            "no rehash loop"
        );
    }
}

#[tokio::test]
async fn me_and_switching_the_active_workspace() {
    for b in backends() {
        let w = World::new(&b).await;
        let s = &w.server;
        let viewer_ws = w.workspace("Viewing").await;
        let dev_ws = w.workspace("Building").await;
        let foreign_ws = w.workspace("Elsewhere").await;
        let (id, _) = w.member("mia@example.com", &viewer_ws, "Viewer").await;
        w.add(&dev_ws, &id, "Developer").await;
        let mia = s.login("mia@example.com", PASSWORD).await;

        let me = mia.get("/auth/me").await;
        assert_eq!(me.status, 200, "{}: {}", b.name(), me.body);
        assert_eq!(me.body["isAccountAdmin"], false);
        assert_eq!(me.body["user"]["email"], "mia@example.com");
        let assigned: Vec<&str> = me.body["assignedWorkspaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["workspaceId"].as_str().unwrap())
            .collect();
        assert_eq!(assigned.len(), 2, "{}", me.body);
        assert!(assigned.contains(&viewer_ws.as_str()) && assigned.contains(&dev_ws.as_str()));
        assert!(!assigned.contains(&foreign_ws.as_str()));

        let to_viewer = mia
            .post("/auth/switch-workspace", json!({"workspaceId": viewer_ws}))
            .await;
        assert_eq!(to_viewer.status, 200, "{}: {}", b.name(), to_viewer.body);
        assert_eq!(to_viewer.body["activeWorkspace"]["id"], viewer_ws.as_str());
        assert_eq!(to_viewer.body["activeWorkspace"]["name"], "Viewing");
        assert_eq!(to_viewer.body["activeWorkspace"]["role"], "Viewer");
        let perms = |r: &Resp| -> Vec<String> {
            r.body["permissions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_str().unwrap().to_string())
                .collect()
        };
        let p = perms(&to_viewer);
        assert!(p.contains(&"chatflows:view".to_string()));
        assert!(!p.contains(&"chatflows:create".to_string()), "{p:?}");
        assert_eq!(
            mia.post("/chatflows", json!({"name": "x"})).await.status,
            403,
            "{}",
            b.name()
        );

        let to_dev = mia
            .post("/auth/switch-workspace", json!({"workspaceId": dev_ws}))
            .await;
        assert_eq!(to_dev.status, 200, "{}", to_dev.body);
        assert_eq!(to_dev.body["activeWorkspace"]["id"], dev_ws.as_str());
        assert_eq!(to_dev.body["activeWorkspace"]["role"], "Developer");
        assert!(perms(&to_dev).contains(&"chatflows:create".to_string()));
        // The session remembers it, and so does the next login.
        let me = mia.get("/auth/me").await;
        assert_eq!(me.body["activeWorkspace"]["id"], dev_ws.as_str());
        let created = mia.post("/chatflows", json!({"name": "in dev"})).await;
        assert_eq!(created.status, 201, "{}", created.body);
        assert_eq!(created.body["workspaceId"], dev_ws.as_str());
        let again = s.login("mia@example.com", PASSWORD).await;
        assert_eq!(
            again.get("/auth/me").await.body["activeWorkspace"]["id"],
            dev_ws.as_str(),
            "{}: a new login lands in the last workspace",
            b.name()
        );

        // Not a member, not a workspace, not an id: all 404, and nothing changes.
        let random = uuid_like();
        for target in [
            json!(foreign_ws),
            json!(random),
            json!("garbage"),
            json!(""),
        ] {
            let r = mia
                .post("/auth/switch-workspace", json!({"workspaceId": target}))
                .await;
            assert_eq!(r.status, 404, "{}: {target}: {}", b.name(), r.body);
        }
        let me = mia.get("/auth/me").await;
        assert_eq!(me.body["activeWorkspace"]["id"], dev_ws.as_str());

        // The header of a workspace the caller is not in: 404, like a missing one.
        let foreign = mia.in_workspace(&foreign_ws);
        assert_eq!(foreign.get("/chatflows").await.status, 404, "{}", b.name());
        assert_eq!(foreign.get("/auth/me").await.status, 404);
        assert_eq!(
            mia.in_workspace(&random).get("/chatflows").await.status,
            404
        );
        assert_eq!(mia.in_workspace("junk").get("/chatflows").await.status, 404);
        // The header of one they are in acts there for this request only.
        let r = mia.in_workspace(&viewer_ws).get("/auth/me").await;
        assert_eq!(r.body["activeWorkspace"]["id"], viewer_ws.as_str());
        assert_eq!(
            mia.in_workspace(&viewer_ws)
                .post("/chatflows", json!({"name": "no"}))
                .await
                .status,
            403
        );
        assert_eq!(
            mia.get("/auth/me").await.body["activeWorkspace"]["id"],
            dev_ws.as_str()
        );

        // The Account Admin may switch to any workspace of the organization.
        let r = w
            .admin
            .post("/auth/switch-workspace", json!({"workspaceId": foreign_ws}))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["isAccountAdmin"], true);
        assert_eq!(r.body["activeWorkspace"]["id"], foreign_ws.as_str());
        assert!(perms(&r).contains(&"workspace:add-user".to_string()));
    }
}

/// A well-formed id that names nothing.
fn uuid_like() -> String {
    "0f0e0d0c-0b0a-4908-8706-050403020100".to_string()
}

#[tokio::test]
async fn data_and_tokens_survive_a_restart() {
    for b in backends() {
        let w = World::new(&b).await;
        let ws = w.workspace("Kept").await;
        let (_, kim) = w.member("kim@example.com", &ws, "Developer").await;
        let login = login_ok(&w.server, "kim@example.com").await;
        let refresh_token = str_of(&login.body, "refreshToken").to_string();
        let flow = kim.post("/chatflows", json!({"name": "durable"})).await;
        assert_eq!(flow.status, 201, "{}", flow.body);
        let flow = flow.id();
        let admin_token = w.admin.token.clone().unwrap();
        let kim_token = kim.token.clone().unwrap();

        let server = w.server.restart().await;
        let admin = server.client().with_token(&admin_token);
        let kim = server.client().with_token(&kim_token).in_workspace(&ws);
        let me = admin.get("/auth/me").await;
        assert_eq!(me.status, 200, "{}: {}", b.name(), me.body);
        assert_eq!(me.body["isAccountAdmin"], true);
        let r = kim.get(&format!("/chatflows/{flow}")).await;
        assert_eq!(r.status, 200, "{}: {}", b.name(), r.body);
        assert_eq!(r.body["name"], "durable");
        let r = refresh(&server, &refresh_token).await;
        assert_eq!(
            r.status,
            200,
            "{}: refresh after restart: {}",
            b.name(),
            r.body
        );
        assert_eq!(
            server.client().get("/setup").await.body["setupRequired"],
            false
        );
        login_ok(&server, "kim@example.com").await;
    }
}

#[tokio::test]
async fn a_user_removed_from_their_last_workspace_sees_only_their_profile() {
    for b in backends() {
        let w = World::new(&b).await;
        let ws = w.workspace("Only").await;
        let (id, rae) = w.member("rae@example.com", &ws, "Developer").await;
        let plain = w.server.client().with_token(rae.token.as_deref().unwrap());
        assert_eq!(plain.get("/chatflows").await.status, 200, "{}", b.name());

        let r = w
            .admin
            .post(
                &format!("/workspace/{ws}/remove-user"),
                json!({"userId": id}),
            )
            .await;
        assert!(r.status == 204 || r.status == 200, "{}", r.body);

        let me = plain.get("/auth/me").await;
        assert_eq!(me.status, 200, "{}: {}", b.name(), me.body);
        assert!(me.body["activeWorkspace"].is_null(), "{}", me.body);
        assert_eq!(me.body["assignedWorkspaces"].as_array().unwrap().len(), 0);
        assert_eq!(me.body["permissions"].as_array().unwrap().len(), 0);

        let r = plain.get("/chatflows").await;
        assert_eq!(r.status, 403, "{}: {}", b.name(), r.body);
        assert_eq!(r.body["error"]["missingPermission"], "chatflows:view");
        assert_eq!(
            rae.get("/chatflows").await.status,
            404,
            "the header of a former workspace"
        );
        let r = plain
            .post("/auth/switch-workspace", json!({"workspaceId": ws}))
            .await;
        assert_eq!(r.status, 404, "{}", r.body);

        // A fresh login still works and lands nowhere.
        let again = w.server.login("rae@example.com", PASSWORD).await;
        let me = again.get("/auth/me").await;
        assert!(me.body["activeWorkspace"].is_null(), "{}", me.body);

        // Added again, they act there at once.
        w.add(&ws, &id, "Viewer").await;
        let me = plain.get("/auth/me").await;
        assert_eq!(me.body["activeWorkspace"]["id"], ws.as_str(), "{}", me.body);
        assert_eq!(plain.get("/chatflows").await.status, 200);
    }
}

#[tokio::test]
async fn concurrent_refreshes_with_one_token_have_one_winner() {
    for b in backends() {
        let w = World::new(&b).await;
        let s = &w.server;
        let first = login_ok(s, ADMIN_EMAIL).await;
        let token = str_of(&first.body, "refreshToken").to_string();
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let c = s.client();
            let t = token.clone();
            set.spawn(async move { c.post("/auth/refresh", json!({"refreshToken": t})).await });
        }
        let mut won = Vec::new();
        let mut lost = 0;
        while let Some(r) = set.join_next().await {
            let r = r.unwrap();
            match r.status {
                200 => won.push(r),
                401 => {
                    assert_eq!(r.code(), "refresh_token_reused", "{}", r.body);
                    lost += 1;
                }
                other => panic!("{}: unexpected {other}: {}", b.name(), r.body),
            }
        }
        assert_eq!((won.len(), lost), (1, 7), "{}", b.name());
        // The losers were reuse: the session is over, the winner's pair included.
        let winner = &won[0].body;
        assert_eq!(refresh(s, str_of(winner, "refreshToken")).await.status, 401);
        let c = s.client().with_token(str_of(winner, "accessToken"));
        assert_eq!(c.get("/auth/me").await.status, 401, "{}", b.name());
    }
}

#[tokio::test]
async fn sessions_are_shared_by_replicas() {
    for b in backends() {
        let w = World::new(&b).await;
        let a = &w.server;
        let replica = a.replica().await;
        let one = login_ok(a, ADMIN_EMAIL).await;
        let on_b = replica
            .client()
            .with_token(str_of(&one.body, "accessToken"));
        assert_eq!(on_b.get("/auth/me").await.status, 200, "{}", b.name());

        // Rotated on B, reused on A: revoked for both.
        let r = refresh(&replica, str_of(&one.body, "refreshToken")).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let next = str_of(&r.body, "accessToken").to_string();
        let r = refresh(a, str_of(&one.body, "refreshToken")).await;
        assert_eq!(r.code(), "refresh_token_reused", "{}", b.name());
        assert_eq!(
            a.client().with_token(&next).get("/auth/me").await.status,
            401
        );
        assert_eq!(
            replica
                .client()
                .with_token(&next)
                .get("/auth/me")
                .await
                .status,
            401
        );

        // Logged out on A: refused on B at once.
        let two = login_ok(a, ADMIN_EMAIL).await;
        let token = str_of(&two.body, "accessToken");
        assert_eq!(
            replica
                .client()
                .with_token(token)
                .get("/chatflows")
                .await
                .status,
            200
        );
        let r = a
            .client()
            .with_token(token)
            .post("/auth/logout", json!({}))
            .await;
        assert_eq!(r.status, 204);
        assert_eq!(
            replica
                .client()
                .with_token(token)
                .get("/chatflows")
                .await
                .status,
            401,
            "{}",
            b.name()
        );
    }
}

#[tokio::test]
async fn forged_foreign_and_expired_tokens_are_refused() {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    for b in backends() {
        let w = World::new(&b).await;
        let s = &w.server;
        let token = w.admin.token.clone().unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3, "a JWT");

        // The payload changed (a later expiry), signature kept.
        let mut claims: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        claims["exp"] = json!(claims["exp"].as_i64().unwrap() + 3600);
        let forged_payload = URL_SAFE_NO_PAD.encode(claims.to_string());
        let forged = format!("{}.{forged_payload}.{}", parts[0], parts[2]);
        // `alg: none`.
        let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let unsigned = format!("{none_header}.{}.", parts[1]);
        // A token of another installation (other secrets).
        let other = TestServer::start(&b).await;
        let foreign = other.setup().await.token.unwrap();
        for (what, t) in [
            ("forged", forged.as_str()),
            ("unsigned", unsigned.as_str()),
            ("foreign", foreign.as_str()),
            ("garbage", "garbage"),
        ] {
            let r = s.client().with_token(t).get("/auth/me").await;
            assert_eq!(r.status, 401, "{}: {what}: {}", b.name(), r.body);
            let r = s
                .client()
                .send(
                    Method::GET,
                    "/auth/me",
                    None,
                    &[("cookie", &format!("fs_access={t}"))],
                )
                .await;
            assert_eq!(r.status, 401, "{}: {what} as a cookie", b.name());
        }
        assert_eq!(w.admin.get("/auth/me").await.status, 200);

        // A refresh token past its lifetime is refused, and is not mistaken for reuse.
        let short = TestServer::start_with(&b, |c| c.jwt_refresh_token_expiry_in_minutes = 0).await;
        short.setup().await;
        let r = login_ok(&short, ADMIN_EMAIL).await;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let r = refresh(&short, str_of(&r.body, "refreshToken")).await;
        assert_eq!(r.status, 401, "{}: {}", b.name(), r.body);
        assert_ne!(r.code(), "refresh_token_reused");
    }
}

#[tokio::test]
async fn a_deleted_user_is_signed_out_at_once() {
    for b in backends() {
        let w = World::new(&b).await;
        let ws = w.workspace("Team").await;
        let (id, ed) = w.member("ed@example.com", &ws, "Developer").await;
        let refresh_token = str_of(
            &login_ok(&w.server, "ed@example.com").await.body,
            "refreshToken",
        )
        .to_string();
        assert_eq!(ed.get("/chatflows").await.status, 200);
        let r = w.admin.delete(&format!("/users/{id}")).await;
        assert_eq!(r.status, 204, "{}", r.body);
        assert_eq!(ed.get("/chatflows").await.status, 401, "{}", b.name());
        assert_eq!(ed.get("/auth/me").await.status, 401);
        assert_eq!(refresh(&w.server, &refresh_token).await.status, 401);
        let r = login(&w.server, "ed@example.com", PASSWORD).await;
        assert_eq!(r.code(), "invalid_credentials", "{}", b.name());
    }
}
