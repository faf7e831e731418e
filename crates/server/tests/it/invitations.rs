//! Invitations (rule 9), password reset (rule 16) and `PATCH /auth/me`, with real email: the
//! server talks SMTP to the test sink of `flowspace_testkit::smtp`.

use flowspace_testkit::smtp::{SmtpSink, token_of};
use flowspace_testkit::{Backend, Client, PASSWORD, TestServer, World, backends};
use serde_json::{Value, json};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);
const REGISTER: &str = "http://localhost:3000/register?token=";
const RESET: &str = "http://localhost:3000/reset-password?token=";
const NEW_PASSWORD: &str = "a brand new passphrase";

/// A set-up organization whose server sends mail to `smtp_port` (or has no SMTP).
async fn world(b: &Backend, smtp_port: Option<u16>) -> World {
    let server = match smtp_port {
        Some(port) => {
            TestServer::start_with(b, |c| {
                c.smtp_host = Some("127.0.0.1".into());
                c.smtp_port = Some(port);
                c.smtp_secure = Some("none".into());
                c.sender_email = Some("flowspace@example.com".into());
            })
            .await
        }
        None => TestServer::start(b).await,
    };
    let admin = server.setup().await;
    let default_ws = admin.get("/auth/me").await.body["activeWorkspace"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    World {
        server,
        admin,
        default_ws,
    }
}

/// A port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Makes every row of `table` expired, straight in the database.
async fn expire_all(server: &TestServer, table: &str) {
    let store = server.store();
    if let Some(p) = store.sqlite_pool() {
        let sql = format!("UPDATE {table} SET expires_at = 1");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(p)
            .await
            .unwrap();
    } else {
        let sql = format!("UPDATE {table} SET expires_at = now() - interval '1 hour'");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(store.postgres_pool().unwrap())
            .await
            .unwrap();
    }
}

async fn invite(c: &Client, email: &str, ws: &str, role: &str) -> flowspace_testkit::Resp {
    c.post(
        "/invitations",
        json!({"email": email, "workspaceId": ws, "role": role}),
    )
    .await
}

fn link_of(r: &flowspace_testkit::Resp) -> String {
    let link = r.body["link"]
        .as_str()
        .unwrap_or_else(|| panic!("no link in {}", r.body))
        .to_string();
    assert!(link.starts_with(REGISTER), "{link}");
    token_of(&link).unwrap()
}

async fn register(s: &TestServer, token: &str, name: &str) -> flowspace_testkit::Resp {
    s.client()
        .post(
            "/auth/register",
            json!({"token": token, "name": name, "password": PASSWORD}),
        )
        .await
}

fn open_ids(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["email"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn invitation_email_link_signs_the_user_up_into_the_workspace() {
    for b in backends() {
        let sink = SmtpSink::start().await;
        let w = world(&b, Some(sink.port)).await;
        let s = &w.server;
        let ws = w.workspace("Team").await;
        let r = invite(&w.admin, "New.Person@example.com", &ws, "Developer").await;
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(r.body["status"], "invited");
        assert_eq!(r.body["mail"]["sent"], true, "{}", r.body);
        assert!(r.body.get("link").is_none(), "no link when mail is sent");

        let msg = sink.next_message(WAIT).await;
        assert_eq!(msg.to, vec!["New.Person@example.com".to_string()]);
        assert_eq!(msg.from, "flowspace@example.com");
        assert!(msg.subject().contains("Team"), "{}", msg.subject());
        let text = msg.text_link(REGISTER).expect("link in the text part");
        let html = msg.html_link(REGISTER).expect("link in the HTML part");
        assert_eq!(text, html);
        let token = token_of(&text).unwrap();

        let anon = s.client();
        let preview = anon.get(&format!("/invitations/{token}")).await;
        assert_eq!(preview.status, 200, "{}", preview.body);
        assert_eq!(preview.body["email"], "New.Person@example.com");
        assert_eq!(preview.body["workspaceName"], "Team");
        assert_eq!(preview.body["organizationName"], "Acme");
        assert_eq!(preview.body["roleName"], "Developer");
        let list = w.admin.get("/invitations").await;
        assert_eq!(open_ids(&list.body), vec!["New.Person@example.com"]);
        assert_eq!(list.body["items"][0]["status"], "pending");

        // A weak password is refused and spends nothing.
        let weak = anon
            .post(
                "/auth/register",
                json!({"token": token, "name": "New", "password": "password1"}),
            )
            .await;
        assert_eq!(weak.status, 422, "{}", weak.body);
        assert_eq!(anon.get(&format!("/invitations/{token}")).await.status, 200);

        let signed = register(s, &token, "New Person").await;
        assert_eq!(signed.status, 201, "{} on {}", signed.body, b.name());
        assert!(signed.headers.get("set-cookie").is_some());
        let c = anon.with_token(signed.body["accessToken"].as_str().unwrap());
        let me = c.get("/auth/me").await;
        assert_eq!(me.body["user"]["status"], "active");
        assert_eq!(me.body["user"]["name"], "New Person");
        assert_eq!(me.body["activeWorkspace"]["id"], ws.as_str());
        assert_eq!(me.body["activeWorkspace"]["role"], "Developer");
        assert_eq!(me.body["assignedWorkspaces"].as_array().unwrap().len(), 1);
        // What Developer allows works; what it lacks is refused, naming the permission.
        assert_eq!(
            c.post("/chatflows", json!({"name": "flow"})).await.status,
            201
        );
        let denied = invite(&c, "x@example.com", &ws, "Viewer").await;
        assert_eq!(denied.status, 403, "{}", denied.body);
        assert_eq!(
            denied.body["error"]["missingPermission"],
            "workspace:add-user"
        );

        // The link is spent.
        let again = register(s, &token, "Someone Else").await;
        assert_eq!(
            (again.status, again.code()),
            (404, "invitation_invalid"),
            "{}",
            again.body
        );
        assert_eq!(anon.get(&format!("/invitations/{token}")).await.status, 404);
        assert_eq!(c.get("/auth/me").await.body["user"]["name"], "New Person");
        assert!(open_ids(&w.admin.get("/invitations").await.body).is_empty());
        s.login("new.person@example.com", PASSWORD).await;
        // A tampered token is no token.
        // (its last character replaced by another: the same one would be the token itself)
        let last = if token.ends_with('A') { 'B' } else { 'A' };
        let tampered = format!("{}{last}", &token[..token.len() - 1]);
        assert_eq!(
            anon.get(&format!("/invitations/{tampered}")).await.status,
            404
        );
    }
}

#[tokio::test]
async fn expired_revoked_and_resent_invitations() {
    for b in backends() {
        let w = world(&b, None).await;
        let s = &w.server;
        let ws = w.workspace("Team").await;
        let anon = s.client();

        // Expired: 410, and nothing changes.
        let r = invite(&w.admin, "late@example.com", &ws, "Viewer").await;
        assert_eq!(r.status, 201, "{}", r.body);
        let old = link_of(&r);
        let id = r.body["invitation"]["id"].as_str().unwrap().to_string();
        expire_all(s, "invitations").await;
        let g = anon.get(&format!("/invitations/{old}")).await;
        assert_eq!((g.status, g.code()), (410, "invitation_expired"));
        let reg = register(s, &old, "Late").await;
        assert_eq!((reg.status, reg.code()), (410, "invitation_expired"));
        assert_eq!(
            w.admin.get("/invitations").await.body["items"][0]["status"],
            "expired"
        );

        // Resend: a new token; the old one is dead, the new one works.
        let re = w
            .admin
            .post(&format!("/invitations/{id}/resend"), json!({}))
            .await;
        assert_eq!(re.status, 200, "{}", re.body);
        let new = link_of(&re);
        assert_ne!(new, old);
        assert_eq!(anon.get(&format!("/invitations/{old}")).await.status, 404);
        assert_eq!(anon.get(&format!("/invitations/{new}")).await.status, 200);
        let ok = register(s, &new, "Late").await;
        assert_eq!(ok.status, 201, "{}", ok.body);
        // Nothing left to resend.
        let gone = w
            .admin
            .post(&format!("/invitations/{id}/resend"), json!({}))
            .await;
        assert_eq!(gone.status, 404);

        // Revoked: the link stops working and the list forgets it.
        let r = invite(&w.admin, "nope@example.com", &ws, "Viewer").await;
        let token = link_of(&r);
        let id = r.body["invitation"]["id"].as_str().unwrap().to_string();
        assert_eq!(
            w.admin.delete(&format!("/invitations/{id}")).await.status,
            204
        );
        let g = anon.get(&format!("/invitations/{token}")).await;
        assert_eq!((g.status, g.code()), (404, "invitation_invalid"));
        assert_eq!(register(s, &token, "Nope").await.status, 404);
        assert!(open_ids(&w.admin.get("/invitations").await.body).is_empty());
        assert_eq!(
            w.admin.delete(&format!("/invitations/{id}")).await.status,
            404
        );
        let login = anon
            .post(
                "/auth/login",
                json!({"email": "nope@example.com", "password": PASSWORD}),
            )
            .await;
        assert_eq!(login.status, 401);

        // Audit events for each step, in the same transactions.
        let events = s
            .store()
            .audit_events(flowspace_core_org(&w.admin).await, 100)
            .await
            .unwrap();
        let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
        for a in [
            "invitation.create",
            "invitation.resend",
            "invitation.accept",
            "invitation.revoke",
        ] {
            assert!(actions.contains(&a), "{a} in {actions:?}");
        }
    }
}

async fn flowspace_core_org(admin: &Client) -> flowspace_core::ids::OrganizationId {
    admin.get("/auth/me").await.body["organization"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn nobody_invites_above_their_own_permissions() {
    for b in backends() {
        let w = world(&b, None).await;
        let ws = w.workspace("Team").await;
        let inviter = w
            .role(
                "Inviter",
                &["workspace:add-user", "workspace:view", "chatflows:view"],
            )
            .await;
        let limited = w.role("Limited", &["chatflows:view"]).await;
        let (_, m) = w.member("inviter@example.com", &ws, &inviter).await;

        let r = invite(&m, "a@example.com", &ws, "Admin").await;
        assert_eq!(r.status, 403, "{}", r.body);
        assert!(
            r.body["error"]["missingPermission"].is_string(),
            "{}",
            r.body
        );
        assert_eq!(invite(&m, "a@example.com", &ws, "Viewer").await.status, 403);
        let ok = invite(&m, "a@example.com", &ws, &limited).await;
        assert_eq!(ok.status, 201, "{}", ok.body);
        // Not a member of Default: that workspace does not exist for them.
        assert_eq!(
            invite(&m, "b@example.com", &w.default_ws, "Viewer")
                .await
                .status,
            404
        );
        // The admin's invitation into Default is not theirs to see or revoke.
        let other = invite(&w.admin, "c@example.com", &w.default_ws, "Admin").await;
        assert_eq!(other.status, 201);
        assert_eq!(
            open_ids(&m.get("/invitations").await.body),
            vec!["a@example.com"]
        );
        let other_id = other.body["invitation"]["id"].as_str().unwrap();
        assert_eq!(
            m.delete(&format!("/invitations/{other_id}")).await.status,
            404
        );
        let mut all = open_ids(&w.admin.get("/invitations").await.body);
        all.sort();
        assert_eq!(all, vec!["a@example.com", "c@example.com"]);

        // A member without workspace:add-user cannot invite at all.
        let (_, v) = w.member("viewer@example.com", &ws, "Viewer").await;
        let r = invite(&v, "d@example.com", &ws, &limited).await;
        assert_eq!(r.status, 403);
        assert_eq!(r.body["error"]["missingPermission"], "workspace:add-user");
        assert!(open_ids(&v.get("/invitations").await.body).is_empty());
    }
}

#[tokio::test]
async fn inviting_an_active_user_adds_them_at_once_and_emails_them() {
    for b in backends() {
        let sink = SmtpSink::start().await;
        let w = world(&b, Some(sink.port)).await;
        let ws = w.workspace("Team").await;
        w.user("old@example.com").await;
        let r = invite(&w.admin, "OLD@example.com", &ws, "Viewer").await;
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(r.body["status"], "added");
        assert_eq!(r.body["mail"]["sent"], true);
        let msg = sink.next_message(WAIT).await;
        assert_eq!(msg.to, vec!["old@example.com".to_string()]);
        assert!(msg.subject().contains("added"), "{}", msg.subject());
        assert!(msg.text().unwrap().contains("Team"));
        assert!(msg.html().unwrap().contains("Team"));

        let c = w.server.login("old@example.com", PASSWORD).await;
        let me = c.get("/auth/me").await;
        let wss: Vec<&str> = me.body["assignedWorkspaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["workspaceId"].as_str().unwrap())
            .collect();
        assert_eq!(wss, vec![ws.as_str()]);
        assert!(open_ids(&w.admin.get("/invitations").await.body).is_empty());
        let again = invite(&w.admin, "old@example.com", &ws, "Viewer").await;
        assert_eq!((again.status, again.code()), (409, "already_member"));
    }
}

#[tokio::test]
async fn mail_server_down_keeps_the_invitation_and_resend_delivers_it() {
    for b in backends() {
        let port = closed_port();
        let w = world(&b, Some(port)).await;
        let ws = w.workspace("Team").await;
        let r = invite(&w.admin, "wait@example.com", &ws, "Viewer").await;
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(r.body["mail"]["sent"], false);
        assert!(
            !r.body["mail"]["error"].as_str().unwrap().is_empty(),
            "{}",
            r.body
        );
        assert!(r.body.get("link").is_none());
        let id = r.body["invitation"]["id"].as_str().unwrap().to_string();
        assert_eq!(
            open_ids(&w.admin.get("/invitations").await.body),
            vec!["wait@example.com"]
        );

        let sink = SmtpSink::start_on(port).await;
        let re = w
            .admin
            .post(&format!("/invitations/{id}/resend"), json!({}))
            .await;
        assert_eq!(re.status, 200, "{}", re.body);
        assert_eq!(re.body["mail"]["sent"], true, "{}", re.body);
        let msg = sink.next_message(WAIT).await;
        let token = token_of(&msg.text_link(REGISTER).unwrap()).unwrap();
        assert_eq!(register(&w.server, &token, "Waited").await.status, 201);
    }
}

#[tokio::test]
async fn without_smtp_the_answer_carries_a_working_link() {
    for b in backends() {
        let w = world(&b, None).await;
        let r = invite(&w.admin, "link@example.com", &w.default_ws, "Viewer").await;
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(r.body["mail"]["sent"], false);
        let token = link_of(&r);
        let signed = register(&w.server, &token, "Linked").await;
        assert_eq!(signed.status, 201, "{}", signed.body);
        let c = w
            .server
            .client()
            .with_token(signed.body["accessToken"].as_str().unwrap());
        assert_eq!(
            c.get("/auth/me").await.body["activeWorkspace"]["id"],
            w.default_ws.as_str()
        );
        assert_eq!(c.get("/chatflows").await.status, 200);
        assert_eq!(
            c.post("/chatflows", json!({"name": "no"})).await.status,
            403
        );
    }
}

#[tokio::test]
async fn password_reset_end_to_end() {
    for b in backends() {
        let sink = SmtpSink::start().await;
        let w = world(&b, Some(sink.port)).await;
        let s = &w.server;
        w.user("reset@example.com").await;
        let anon = s.client();
        let login = anon
            .post(
                "/auth/login",
                json!({"email": "reset@example.com", "password": PASSWORD}),
            )
            .await;
        assert_eq!(login.status, 200);
        let old = anon.with_token(login.body["accessToken"].as_str().unwrap());
        let old_refresh = login.body["refreshToken"].as_str().unwrap().to_string();

        // Unknown emails answer the same, and get nothing.
        let r = anon
            .post(
                "/auth/forgot-password",
                json!({"email": "nobody@example.com"}),
            )
            .await;
        assert_eq!(r.status, 202);
        assert!(
            sink.try_next_message(Duration::from_millis(700))
                .await
                .is_none()
        );

        let r = anon
            .post(
                "/auth/forgot-password",
                json!({"email": "Reset@Example.com"}),
            )
            .await;
        assert_eq!(r.status, 202);
        let msg = sink.next_message(WAIT).await;
        assert_eq!(msg.to, vec!["reset@example.com".to_string()]);
        let link = msg.text_link(RESET).expect("link in text");
        assert_eq!(msg.html_link(RESET).as_deref(), Some(link.as_str()));
        let token = token_of(&link).unwrap();
        // Someone locks the account out with wrong passwords; a completed reset lifts the lock
        // (the new password works below).
        let mut last = 0;
        for _ in 0..6 {
            last = anon
                .post(
                    "/auth/login",
                    json!({"email": "reset@example.com", "password": "wrong guess 123"}),
                )
                .await
                .status;
        }
        assert_eq!(last, 429, "the account is locked before the reset");

        let weak = anon
            .post(
                "/auth/reset-password",
                json!({"token": token, "password": "password1"}),
            )
            .await;
        assert_eq!(weak.status, 422, "{}", weak.body);
        assert_eq!(old.get("/auth/me").await.status, 200, "nothing changed");

        let ok = anon
            .post(
                "/auth/reset-password",
                json!({"token": token, "password": NEW_PASSWORD}),
            )
            .await;
        assert_eq!(ok.status, 204, "{}", ok.body);
        let logged = w
            .admin
            .get("/login-activity?outcome=password_reset&email=reset@example.com")
            .await;
        assert_eq!(
            logged.body["items"].as_array().map(Vec::len),
            Some(1),
            "a completed reset is in the login activity: {}",
            logged.body
        );
        let audited = w
            .admin
            .get("/audit-events?action=user.password-reset")
            .await;
        assert_eq!(
            audited.body["items"].as_array().map(Vec::len),
            Some(1),
            "a reset is an audit event: {}",
            audited.body
        );
        // Every session ended: access and refresh tokens alike.
        assert_eq!(old.get("/auth/me").await.status, 401);
        let refresh = anon
            .post("/auth/refresh", json!({"refreshToken": old_refresh}))
            .await;
        assert_eq!(refresh.status, 401);
        let bad = anon
            .post(
                "/auth/login",
                json!({"email": "reset@example.com", "password": PASSWORD}),
            )
            .await;
        assert_eq!(bad.status, 401);
        s.login("reset@example.com", NEW_PASSWORD).await;
        // Single use.
        let again = anon
            .post(
                "/auth/reset-password",
                json!({"token": token, "password": "yet another passphrase"}),
            )
            .await;
        assert_eq!(again.status, 404, "{}", again.body);

        // An expired token is refused.
        anon.post(
            "/auth/forgot-password",
            json!({"email": "reset@example.com"}),
        )
        .await;
        let msg = sink.next_message(WAIT).await;
        let token = token_of(&msg.text_link(RESET).unwrap()).unwrap();
        expire_all(s, "password_resets").await;
        let late = anon
            .post(
                "/auth/reset-password",
                json!({"token": token, "password": "yet another passphrase"}),
            )
            .await;
        assert_eq!((late.status, late.code()), (410, "reset_token_expired"));
        s.login("reset@example.com", NEW_PASSWORD).await;
    }
}

#[tokio::test]
async fn patch_me_changes_name_and_password() {
    for b in backends() {
        let w = world(&b, None).await;
        w.user("me@example.com").await;
        let c = w.server.login("me@example.com", PASSWORD).await;
        let other = w.server.login("me@example.com", PASSWORD).await;
        let r = c.patch("/auth/me", json!({"name": "Pat"})).await;
        assert_eq!((r.status, r.body["name"].as_str()), (200, Some("Pat")));
        assert_eq!(c.get("/auth/me").await.body["user"]["name"], "Pat");
        assert_eq!(c.patch("/auth/me", json!({"name": ""})).await.status, 422);

        let wrong = c
            .patch(
                "/auth/me",
                json!({"password": NEW_PASSWORD, "currentPassword": "not it at all"}),
            )
            .await;
        assert_eq!(wrong.status, 401, "{}", wrong.body);
        let missing = c.patch("/auth/me", json!({"password": NEW_PASSWORD})).await;
        assert_eq!(missing.status, 401);
        let weak = c
            .patch(
                "/auth/me",
                json!({"password": "password1", "currentPassword": PASSWORD}),
            )
            .await;
        assert_eq!(weak.status, 422);
        w.server.login("me@example.com", PASSWORD).await;

        let ok = c
            .patch(
                "/auth/me",
                json!({"password": NEW_PASSWORD, "currentPassword": PASSWORD}),
            )
            .await;
        assert_eq!(ok.status, 200, "{}", ok.body);
        assert_eq!(c.get("/auth/me").await.status, 200, "this session stays");
        assert_eq!(
            other.get("/auth/me").await.status,
            401,
            "other sessions end"
        );
        w.server.login("me@example.com", NEW_PASSWORD).await;
        let old = w
            .server
            .client()
            .post(
                "/auth/login",
                json!({"email": "me@example.com", "password": PASSWORD}),
            )
            .await;
        assert_eq!(old.status, 401);
        let audited = w.admin.get("/audit-events?action=user.update-self").await;
        assert!(
            audited.body["items"]
                .as_array()
                .is_some_and(|a| !a.is_empty()),
            "a profile change is an audit event: {}",
            audited.body
        );
    }
}

#[tokio::test]
async fn public_account_routes_are_rate_limited_per_ip_and_resets_are_logged() {
    for b in backends() {
        let s = TestServer::start(&b).await;
        let admin = s.setup().await;
        let anon = s.client();
        let limit = flowspace_server::api::ip_limits::RESET_REQUESTS_PER_HOUR;
        for i in 0..limit {
            let r = anon
                .post(
                    "/auth/forgot-password",
                    json!({"email": format!("u{i}@example.com")}),
                )
                .await;
            assert_eq!(r.status, 202, "request {i}: {}", r.body);
        }
        let r = anon
            .post(
                "/auth/forgot-password",
                json!({"email": "one-more@example.com"}),
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (429, "too_many_requests"),
            "{}",
            r.body
        );
        let retry: i64 = r
            .headers
            .get("retry-after")
            .unwrap()
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(retry > 0 && retry <= 3600, "{retry}");
        // The limit counts in the database: a second replica refuses too (PostgreSQL shares it;
        // on SQLite the replica opens the same file).
        let r2 = s.replica().await;
        let r = r2
            .client()
            .post("/auth/forgot-password", json!({"email": "x@example.com"}))
            .await;
        assert_eq!(r.status, 429, "{}", b.name());

        // A completed reset is a login-activity event.
        let token = "not-a-real-token";
        assert_eq!(
            anon.post(
                "/auth/reset-password",
                json!({"token": token, "password": PASSWORD})
            )
            .await
            .status,
            404
        );
        let none = admin.get("/login-activity?outcome=password_reset").await;
        assert_eq!(none.status, 200, "{}", none.body);
        assert!(
            none.body["items"].as_array().unwrap().is_empty(),
            "a refused reset is no reset"
        );
    }
}

#[tokio::test]
async fn an_invitation_stands_only_while_its_inviter_may_still_invite() {
    for b in backends() {
        let w = world(&b, None).await;
        let ws = w.workspace("Team").await;
        let inviter = w
            .role(
                "Inviter",
                &["workspace:add-user", "workspace:view", "chatflows:view"],
            )
            .await;
        let limited = w.role("Limited", &["chatflows:view"]).await;
        let (inviter_id, m) = w.member("inviter@example.com", &ws, &inviter).await;
        let r = invite(&m, "late@example.com", &ws, &limited).await;
        assert_eq!(r.status, 201, "{}", r.body);
        let token = token_of(r.body["link"].as_str().unwrap()).unwrap();
        assert_eq!(
            w.server
                .client()
                .get(&format!("/invitations/{token}"))
                .await
                .status,
            200
        );
        // The inviter is unlinked: what they issued no longer opens the door.
        let removed = w
            .admin
            .post(
                &format!("/workspace/{ws}/remove-user"),
                json!({"userId": inviter_id}),
            )
            .await;
        assert_eq!(removed.status, 204, "{}", removed.body);
        let anon = w.server.client();
        assert_eq!(
            anon.get(&format!("/invitations/{token}")).await.code(),
            "invitation_invalid"
        );
        let r = anon
            .post(
                "/auth/register",
                json!({"token": token, "name": "Late", "password": PASSWORD}),
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (404, "invitation_invalid"),
            "{}",
            r.body
        );
        assert_eq!(
            w.server
                .client()
                .post(
                    "/auth/login",
                    json!({"email": "late@example.com", "password": PASSWORD})
                )
                .await
                .status,
            401,
            "no account was activated"
        );
    }
}

/// `GET /invitations/lookup?token=` reads what `GET /invitations/{token}` read, which still
/// answers (deprecated); `lookup` is a path of its own, never taken for a token or an id; a
/// token that cannot be one is a 422 naming `token`.
#[tokio::test]
async fn the_public_lookup_takes_the_token_in_the_query() {
    for b in backends() {
        let on = b.name();
        let w = world(&b, None).await;
        let ws = w.workspace("Team").await;
        let anon = w.server.client();
        let r = invite(&w.admin, "look@example.com", &ws, "Viewer").await;
        assert_eq!(r.status, 201, "{}", r.body);
        let token = link_of(&r);
        let id = r.body["invitation"]["id"].as_str().unwrap().to_string();

        let new = anon
            .get(&format!("/invitations/lookup?token={token}"))
            .await;
        assert_eq!(new.status, 200, "{on}: {}", new.body);
        assert_eq!(new.body["email"], "look@example.com");
        assert_eq!(new.body["workspaceName"], "Team");
        assert_eq!(new.body["roleName"], "Viewer");
        let old = anon.get(&format!("/invitations/{token}")).await;
        assert_eq!(
            (old.status, &old.body),
            (200, &new.body),
            "{on}: the old path"
        );

        // Not a token: 422 naming it (the static segment is matched, not `/invitations/{id}`,
        // which would take "lookup" for an unknown token: 404).
        for query in ["", "?token=", "?token=%20", "?token=a%2Fb", "?token=%C3%A9"] {
            let r = anon.get(&format!("/invitations/lookup{query}")).await;
            assert_eq!(
                (r.status, r.body["error"]["field"].as_str()),
                (422, Some("token")),
                "{on}: {query}: {}",
                r.body
            );
        }
        let long = "a".repeat(flowspace_core::invite::MAX_TOKEN_CHARS + 1);
        let r = anon.get(&format!("/invitations/lookup?token={long}")).await;
        assert_eq!(r.status, 422, "{on}: {}", r.body);
        // A token of the right shape that matches nothing: 404, as before.
        // (its last character replaced by another: the same one would be the token itself)
        let last = if token.ends_with('A') { 'B' } else { 'A' };
        let tampered = format!("{}{last}", &token[..token.len() - 1]);
        let r = anon
            .get(&format!("/invitations/lookup?token={tampered}"))
            .await;
        assert_eq!((r.status, r.code()), (404, "invitation_invalid"), "{on}");

        // The routes that take an invitation's id are not shadowed, nor do they take
        // "lookup" for one.
        let r = w.admin.delete("/invitations/lookup").await;
        assert!(
            r.status == 404 || r.status == 405,
            "{on}: DELETE /invitations/lookup: {} {}",
            r.status,
            r.body
        );
        let r = w.admin.post("/invitations/lookup/resend", json!({})).await;
        assert_eq!(r.status, 404, "{on}: {}", r.body);
        assert_eq!(
            anon.get(&format!("/invitations/lookup?token={token}"))
                .await
                .status,
            200,
            "{on}: nothing above touched the invitation"
        );
        assert_eq!(
            w.admin.delete(&format!("/invitations/{id}")).await.status,
            204
        );
        let r = anon
            .get(&format!("/invitations/lookup?token={token}"))
            .await;
        assert_eq!((r.status, r.code()), (404, "invitation_invalid"), "{on}");

        // The document marks the old path deprecated and documents the new one's query.
        let doc = anon.get("/openapi.json").await.body;
        assert_eq!(
            doc["paths"]["/api/v1/invitations/{id}"]["get"]["deprecated"],
            true
        );
        let lookup = &doc["paths"]["/api/v1/invitations/lookup"]["get"];
        assert!(
            lookup.get("deprecated").is_none_or(|d| d == false),
            "{lookup}"
        );
        assert_eq!(lookup["parameters"][0]["name"], "token");
        assert_eq!(lookup["parameters"][0]["in"], "query");
    }
}
