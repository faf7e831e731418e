//! The caller's own sessions and the Account Admin's sign-out through real HTTP, on both
//! backends (issue 16, item 4): the list (device from the user agent, address, current),
//! ending one (another user's is not found), ending all but this one, and signing a user out
//! everywhere without disabling them — each taking effect at once, also on another replica.

use flowspace_testkit::{Client, PASSWORD, TestServer, World, backends};
use reqwest::Method;
use serde_json::{Value, json};

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";

/// Signs in with `user_agent`: the client and its refresh token.
async fn sign_in(s: &TestServer, email: &str, user_agent: &str) -> (Client, String) {
    let r = s
        .client()
        .send(
            Method::POST,
            "/auth/login",
            Some(json!({"email": email, "password": PASSWORD})),
            &[("user-agent", user_agent)],
        )
        .await;
    assert_eq!(r.status, 200, "login {email}: {}", r.body);
    (
        s.client()
            .with_token(r.body["accessToken"].as_str().unwrap()),
        r.body["refreshToken"].as_str().unwrap().to_string(),
    )
}

async fn sessions(c: &Client) -> Vec<Value> {
    let r = c.get("/auth/sessions").await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["items"].as_array().unwrap().clone()
}

/// The id of the caller's current session.
async fn current(c: &Client) -> String {
    let list = sessions(c).await;
    let mine: Vec<&Value> = list.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(mine.len(), 1, "exactly one current session: {list:?}");
    mine[0]["id"].as_str().unwrap().to_string()
}

async fn works(c: &Client) -> bool {
    let r = c.get("/auth/me").await;
    assert!(r.status == 200 || r.status == 401, "{}", r.body);
    r.status == 200
}

async fn refreshes(s: &TestServer, token: &str) -> u16 {
    s.client()
        .post("/auth/refresh", json!({"refreshToken": token}))
        .await
        .status
}

#[tokio::test]
async fn the_list_shows_each_open_session_of_the_caller_alone() {
    for b in backends() {
        let w = World::new(&b).await;
        w.user("ann@example.com").await;
        let (laptop, _) = sign_in(&w.server, "ann@example.com", FIREFOX).await;
        let (phone, _) = sign_in(&w.server, "ann@example.com", IPHONE).await;
        let (_ended, _) = sign_in(&w.server, "ann@example.com", "curl/8.5.0").await;
        assert_eq!(_ended.post("/auth/logout", json!({})).await.status, 204);

        let list = sessions(&laptop).await;
        assert_eq!(list.len(), 2, "the ended session is not listed: {list:?}");
        let by_device = |d: &str| list.iter().find(|s| s["device"] == d).cloned();
        let fx = by_device("Firefox on Linux").expect("the laptop");
        let ios = by_device("Safari on iOS").expect("the phone");
        assert_eq!(fx["current"], true, "{fx}");
        assert_eq!(ios["current"], false, "{ios}");
        assert_eq!(fx["userAgent"], FIREFOX);
        assert_eq!(fx["ip"], "127.0.0.1");
        assert!(
            fx["createdAt"].is_string() && fx["lastSeenAt"].is_string(),
            "{fx}"
        );
        // The phone sees the same two, itself current.
        assert_eq!(current(&phone).await, ios["id"].as_str().unwrap());

        // Nobody else's sessions are in anyone's list.
        let admin_list = sessions(&w.admin).await;
        assert!(
            admin_list
                .iter()
                .all(|s| s["id"] != fx["id"] && s["id"] != ios["id"]),
            "{admin_list:?}"
        );
        // An API key is not a signed-in user.
        let key = w
            .admin
            .in_workspace(&w.default_ws)
            .post(
                "/apikeys",
                json!({"name": "k", "permissions": ["chatflows:view"]}),
            )
            .await;
        let key = w
            .server
            .client()
            .with_token(key.body["key"].as_str().unwrap());
        assert_eq!(key.get("/auth/sessions").await.status, 403, "{}", b.name());
    }
}

#[tokio::test]
async fn ending_one_session_stops_it_at_once_on_every_replica() {
    for b in backends() {
        let w = World::new(&b).await;
        w.user("ann@example.com").await;
        w.user("bob@example.com").await;
        let (laptop, _) = sign_in(&w.server, "ann@example.com", FIREFOX).await;
        let (phone, phone_refresh) = sign_in(&w.server, "ann@example.com", IPHONE).await;
        let (bob, _) = sign_in(&w.server, "bob@example.com", FIREFOX).await;
        let replica = w.server.replica().await;
        let on_replica = |c: &Client| replica.client().with_token(c.token.as_deref().unwrap());
        // The replica has the phone's session cached as open before it ends.
        assert!(works(&on_replica(&phone)).await);

        let phone_id = current(&phone).await;
        let bob_id = current(&bob).await;
        // Another user's session, an unknown one and a malformed id are all "not found", and
        // nothing ends.
        for id in [
            bob_id.as_str(),
            &uuid::Uuid::new_v4().to_string(),
            "not-a-session",
        ] {
            let r = laptop.delete(&format!("/auth/sessions/{id}")).await;
            assert_eq!((r.status, r.code()), (404, "not_found"), "{id}: {}", r.body);
        }
        assert!(works(&bob).await);

        let r = laptop.delete(&format!("/auth/sessions/{phone_id}")).await;
        assert_eq!(r.status, 204, "{}", r.body);
        assert!(!works(&phone).await, "the ended session's token is refused");
        assert!(
            !works(&on_replica(&phone)).await,
            "and on the other replica, on the next request"
        );
        assert_eq!(refreshes(&w.server, &phone_refresh).await, 401);
        assert!(works(&laptop).await && works(&on_replica(&laptop)).await);
        assert_eq!(sessions(&laptop).await.len(), 1);
        // Ended twice: not found the second time.
        let r = laptop.delete(&format!("/auth/sessions/{phone_id}")).await;
        assert_eq!(r.status, 404, "{}", r.body);
        // Ending one's own current session is signing out.
        let me = current(&laptop).await;
        assert_eq!(
            laptop.delete(&format!("/auth/sessions/{me}")).await.status,
            204
        );
        assert!(!works(&laptop).await, "{}", b.name());
    }
}

#[tokio::test]
async fn signing_out_everywhere_else_keeps_this_session_only() {
    for b in backends() {
        let w = World::new(&b).await;
        w.user("ann@example.com").await;
        let (laptop, laptop_refresh) = sign_in(&w.server, "ann@example.com", FIREFOX).await;
        let (phone, phone_refresh) = sign_in(&w.server, "ann@example.com", IPHONE).await;
        let (tablet, _) = sign_in(&w.server, "ann@example.com", "curl/8.5.0").await;
        let replica = w.server.replica().await;
        let tablet_there = replica
            .client()
            .with_token(tablet.token.as_deref().unwrap());
        assert!(works(&tablet_there).await);

        let r = laptop.post("/auth/sessions/revoke-others", json!({})).await;
        assert_eq!(
            (r.status, r.body.clone()),
            (200, json!({"revoked": 2})),
            "{}",
            b.name()
        );
        assert!(!works(&phone).await && !works(&tablet).await);
        assert!(
            !works(&tablet_there).await,
            "refused on the other replica too"
        );
        assert_eq!(refreshes(&w.server, &phone_refresh).await, 401);
        assert!(works(&laptop).await);
        assert_eq!(refreshes(&w.server, &laptop_refresh).await, 200);
        assert_eq!(sessions(&laptop).await.len(), 1);
        // Nothing left to end.
        let r = laptop.post("/auth/sessions/revoke-others", json!({})).await;
        assert_eq!(r.body, json!({"revoked": 0}));
        // The Account Admin's own sessions were not touched.
        assert!(works(&w.admin).await);
    }
}

#[tokio::test]
async fn the_account_admin_signs_a_user_out_everywhere_without_disabling_them() {
    for b in backends() {
        let w = World::new(&b).await;
        let ann = w.user("ann@example.com").await;
        let (laptop, _) = sign_in(&w.server, "ann@example.com", FIREFOX).await;
        let (phone, phone_refresh) = sign_in(&w.server, "ann@example.com", IPHONE).await;
        let replica = w.server.replica().await;
        let phone_there = replica.client().with_token(phone.token.as_deref().unwrap());
        assert!(works(&phone_there).await);

        // A member is not the Account Admin; nobody signs out an unknown user.
        let r = laptop
            .post(&format!("/users/{ann}/sign-out"), json!({}))
            .await;
        assert_eq!(r.status, 403, "{}", r.body);
        let unknown = uuid::Uuid::new_v4();
        let r = w
            .admin
            .post(&format!("/users/{unknown}/sign-out"), json!({}))
            .await;
        assert_eq!(r.status, 404, "{}", r.body);

        let r = w
            .admin
            .post(&format!("/users/{ann}/sign-out"), json!({}))
            .await;
        assert_eq!(
            (r.status, r.body.clone()),
            (200, json!({"revoked": 2})),
            "{}",
            r.body
        );
        assert!(!works(&laptop).await && !works(&phone).await);
        assert!(
            !works(&phone_there).await,
            "refused on the other replica too"
        );
        assert_eq!(refreshes(&w.server, &phone_refresh).await, 401);
        // Still active: they sign in again.
        let r = w.admin.get(&format!("/users/{ann}")).await;
        assert_eq!(r.body["status"], "active", "{}", r.body);
        let (again, _) = sign_in(&w.server, "ann@example.com", FIREFOX).await;
        assert!(works(&again).await);
        // Audited, with how many sessions ended.
        let r = w.admin.get("/audit-events?action=user.sign-out").await;
        assert_eq!(r.status, 200, "{}", r.body);
        let ev = &r.body["items"][0];
        assert_eq!(ev["targetId"], ann.as_str(), "{ev}");
        assert_eq!(ev["summary"]["sessions"], 2, "{ev}");
        assert_eq!(ev["summary"]["email"], "ann@example.com", "{ev}");

        // An admin of the organization signs out members, never an owner.
        let r = w
            .admin
            .patch(
                &format!("/organization/members/{ann}"),
                json!({"role": "admin"}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let (ann_admin, _) = sign_in(&w.server, "ann@example.com", FIREFOX).await;
        let owner = w.admin.get("/auth/me").await.body["user"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let r = ann_admin
            .post(&format!("/users/{owner}/sign-out"), json!({}))
            .await;
        assert_eq!(r.status, 403, "{}", r.body);
        assert!(works(&w.admin).await, "{}", b.name());
    }
}
