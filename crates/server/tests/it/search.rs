//! Paged and searched lists through real HTTP, on both backends (issue 16, item 3): `/users`,
//! `/workspaces`, `/roles`, `/groups`, `/invitations` and `/workspace/{id}/users` honour
//! `limit` and `cursor` (every item once, in order, then no cursor) and `q` (a name or email
//! contains it, case-insensitively; `%`, `_` and `\` match only themselves); so do the lists
//! of workspace items, credentials and API keys (names), the organization's members (names
//! and emails), the organizations (names), login activity (emails) and the audit trail
//! (actions, and the Account Admin's actors by email or name).

use flowspace_testkit::{Client, World, backends};
use serde_json::{Value, json};

/// Every item of `path` (which may hold a query already), walked `limit` at a time: the items,
/// and how many pages it took.
async fn walk(c: &Client, path: &str, limit: u32) -> (Vec<Value>, usize) {
    let sep = if path.contains('?') { '&' } else { '?' };
    let (mut items, mut pages, mut cursor) = (Vec::new(), 0, String::new());
    loop {
        let r = c
            .get(&format!("{path}{sep}limit={limit}&cursor={cursor}"))
            .await;
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        let page = r.body["items"].as_array().unwrap();
        assert!(page.len() <= limit as usize, "{path}: {}", r.body);
        items.extend(page.iter().cloned());
        pages += 1;
        match r.body["nextCursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => return (items, pages),
        }
        assert!(pages < 100, "{path}: the cursor never ends");
    }
}

/// The ids (or `id_key`) of a list's items.
fn ids(items: &[Value], id_key: &str) -> Vec<String> {
    items
        .iter()
        .map(|i| i[id_key].as_str().unwrap().to_string())
        .collect()
}

/// What `q` finds in `path`: the values of `field`, sorted.
async fn found(c: &Client, path: &str, q: &str, field: &str) -> Vec<String> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let q: String = serde_urlencoded::to_string([("q", q)]).unwrap();
    let r = c.get(&format!("{path}{sep}{q}&limit=200")).await;
    assert_eq!(r.status, 200, "{path} {q}: {}", r.body);
    let mut v: Vec<String> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let f = field.split('.').fold(i, |v, k| &v[k]);
            f.as_str().unwrap().to_string()
        })
        .collect();
    v.sort();
    v
}

/// Walking a list a page at a time gives what one big page gives, each item once.
async fn pages_like_one(c: &Client, path: &str, id_key: &str) {
    let (whole, pages) = walk(c, path, 200).await;
    assert_eq!(pages, 1, "{path}");
    let (paged, pages) = walk(c, path, 2).await;
    assert_eq!(ids(&paged, id_key), ids(&whole, id_key), "{path}");
    assert!(pages >= whole.len() / 2, "{path}: {pages} pages");
    assert!(whole.len() >= 3, "{path}: enough to page: {whole:?}");
}

#[tokio::test]
async fn users_and_members_page_and_search_in_sql_with_wildcards_escaped() {
    for b in backends() {
        let w = World::new(&b).await;
        let ws = w.workspace("Shop").await;
        for (email, name) in [
            ("percent@example.com", "Sale 50% Off"),
            ("fifty@example.com", "Sale 50 Off"),
            ("under_score@example.com", "Uma"),
            ("underxscore@example.com", "Ulla"),
            ("back@example.com", "Back\\slash"),
            ("plain@example.com", "Plain"),
        ] {
            let r = w
                .admin
                .post(
                    "/users",
                    json!({"email": email, "name": name, "password": flowspace_testkit::PASSWORD}),
                )
                .await;
            assert_eq!(r.status, 201, "{}", r.body);
            w.add(&ws, &r.id(), "Viewer").await;
        }
        let members = format!("/workspace/{ws}/users");
        for path in ["/users", members.as_str()] {
            let on = format!("{path} on {}", b.name());
            let emails = |q: &'static str| found(&w.admin, path, q, "email");
            assert_eq!(emails("%").await, ["percent@example.com"], "{on}");
            assert_eq!(emails("50%").await, ["percent@example.com"], "{on}");
            assert_eq!(emails("_").await, ["under_score@example.com"], "{on}");
            assert_eq!(emails("\\").await, ["back@example.com"], "{on}");
            assert_eq!(
                emails("sALe 50").await,
                ["fifty@example.com", "percent@example.com"],
                "case-insensitive, names: {on}"
            );
            assert_eq!(emails("PLAIN@EXAMPLE").await, ["plain@example.com"], "{on}");
            assert_eq!(
                emails("nobody-has-this").await,
                Vec::<String>::new(),
                "{on}"
            );
            assert_eq!(
                emails("  ").await,
                emails("example.com").await,
                "{on}: blank q is no filter"
            );
        }
        pages_like_one(&w.admin, "/users", "id").await;
        pages_like_one(&w.admin, &members, "userId").await;
        // A search pages too.
        let (hits, pages) = walk(&w.admin, "/users?q=score", 1).await;
        assert_eq!((hits.len(), pages), (2, 2), "{}", b.name());

        // Bad input: a clear 422 naming the parameter, never a 500.
        for (query, field) in [
            ("limit=0", "limit"),
            ("limit=201", "limit"),
            ("cursor=not-a-cursor", "cursor"),
            (&format!("q={}", "x".repeat(201)) as &str, "q"),
            ("q=a%00bc", "q"),
        ] {
            for path in [
                "/users",
                members.as_str(),
                "/groups",
                "/roles",
                "/workspaces",
                "/invitations",
            ] {
                let r = w.admin.get(&format!("{path}?{query}")).await;
                assert_eq!(
                    (r.status, r.body["error"]["field"].as_str()),
                    (422, Some(field)),
                    "{path}?{query}: {}",
                    r.body
                );
            }
        }
    }
}

#[tokio::test]
async fn workspaces_roles_groups_and_invitations_page_and_search() {
    for b in backends() {
        let w = World::new(&b).await;
        let on = b.name();
        let mut ws = Vec::new();
        for name in ["Sales 100%", "Sales 100", "R_and_D", "RandD"] {
            ws.push(w.workspace(name).await);
        }
        for name in ["Editor 100%", "Editor_1"] {
            w.role(name, &["chatflows:view"]).await;
        }
        for name in ["Team 100%", "Team 100", "Team_A", "TeamXA"] {
            let r = w.admin.post("/groups", json!({"name": name})).await;
            assert_eq!(r.status, 201, "{}", r.body);
        }
        for email in [
            "a_b@example.com",
            "axb@example.com",
            "c%d@example.com",
            "cd@example.com",
        ] {
            let r = w
                .admin
                .post(
                    "/invitations",
                    json!({"email": email, "workspaceId": ws[0], "role": "Viewer"}),
                )
                .await;
            assert_eq!(r.status, 201, "{email}: {}", r.body);
        }

        let names = |path: &'static str, q: &'static str, field: &'static str| {
            let admin = w.admin.clone();
            async move { found(&admin, path, q, field).await }
        };
        assert_eq!(
            names("/workspaces", "100%", "name").await,
            ["Sales 100%"],
            "{on}"
        );
        assert_eq!(
            names("/workspaces", "r_", "name").await,
            ["R_and_D"],
            "{on}"
        );
        assert_eq!(
            names("/workspaces", "SALES", "name").await,
            ["Sales 100", "Sales 100%"],
            "{on}"
        );
        assert_eq!(names("/roles", "%", "name").await, ["Editor 100%"], "{on}");
        assert_eq!(names("/roles", "_", "name").await, ["Editor_1"], "{on}");
        assert_eq!(names("/roles", "view", "name").await, ["Viewer"], "{on}");
        assert_eq!(names("/groups", "%", "name").await, ["Team 100%"], "{on}");
        assert_eq!(names("/groups", "_a", "name").await, ["Team_A"], "{on}");
        assert_eq!(
            names("/invitations", "%", "email").await,
            ["c%d@example.com"],
            "{on}"
        );
        assert_eq!(
            names("/invitations", "A_B", "email").await,
            ["a_b@example.com"],
            "{on}"
        );

        for (path, id) in [
            ("/workspaces", "id"),
            ("/roles", "id"),
            ("/groups", "id"),
            ("/invitations", "id"),
        ] {
            pages_like_one(&w.admin, path, id).await;
        }
        // Oldest first (the Default workspace, the built-in roles), invitations newest first.
        let (all, _) = walk(&w.admin, "/workspaces", 1).await;
        assert_eq!(all[0]["isDefault"], true, "{on}: {all:?}");
        assert_eq!(all.last().unwrap()["name"], "RandD", "{on}");
        let (all, _) = walk(&w.admin, "/invitations", 3).await;
        assert_eq!(all[0]["email"], "cd@example.com", "{on}: {all:?}");
        // A member with workspace:add-user in one workspace pages only its invitations.
        let (_, member) = w.member("inviter@example.com", &ws[1], "Admin").await;
        let r = member.get("/invitations?limit=1").await;
        assert_eq!(
            (r.status, r.body["items"].clone()),
            (200, json!([])),
            "{on}: {}",
            r.body
        );
    }
}

/// Sets the stored search key of every row of `table` back to NULL, as a database from
/// before the column was added holds it.
async fn forget_keys_of(database_url: &str, table: &str) {
    use sqlx::Connection;
    let sql = format!("UPDATE {table} SET name_key = NULL");
    if database_url.starts_with("sqlite:") {
        let mut c = sqlx::SqliteConnection::connect(database_url).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut c)
            .await
            .unwrap();
        c.close().await.unwrap();
    } else {
        let mut c = sqlx::PgConnection::connect(database_url).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut c)
            .await
            .unwrap();
        c.close().await.unwrap();
    }
}

/// Sets every user's stored search key back to NULL.
async fn forget_name_keys(database_url: &str) {
    forget_keys_of(database_url, "users").await;
}

#[tokio::test]
async fn q_folds_non_ascii_case_alike_on_both_backends() {
    for b in backends() {
        let w = World::new(&b).await;
        let ws = w.workspace("Paris").await;
        let mut ids = Vec::new();
        for (email, name) in [
            ("emile@example.com", "Émile Zola"),
            ("elodie@example.com", "ÉLODIE"),
            ("orjan@example.com", "Ørjan Øst"),
            ("ascii@example.com", "Emile Ascii"),
        ] {
            let r = w
                .admin
                .post(
                    "/users",
                    json!({"email": email, "name": name, "password": flowspace_testkit::PASSWORD}),
                )
                .await;
            assert_eq!(r.status, 201, "{}", r.body);
            w.add(&ws, &r.id(), "Viewer").await;
            ids.push(r.id());
        }
        // A renamed user is found by the new name.
        let r = w
            .admin
            .patch(&format!("/users/{}", ids[3]), json!({"name": "Ångström"}))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let members = format!("/workspace/{ws}/users");
        let check = |c: Client, path: String, on: String| async move {
            let emails = |q: &'static str| found(&c, &path, q, "email");
            assert_eq!(emails("émile").await, ["emile@example.com"], "{on}");
            assert_eq!(emails("ÉMILE").await, ["emile@example.com"], "{on}");
            assert_eq!(emails("élodie").await, ["elodie@example.com"], "{on}");
            assert_eq!(emails("øst").await, ["orjan@example.com"], "{on}");
            assert_eq!(emails("ÅNGSTRÖM").await, ["ascii@example.com"], "{on}");
            assert_eq!(
                emails("emile").await,
                ["emile@example.com"],
                "{on}: by email"
            );
        };
        for path in ["/users", members.as_str()] {
            check(
                w.admin.clone(),
                path.to_string(),
                format!("{path} on {}", b.name()),
            )
            .await;
        }
        // Rows written before the key existed get it when the server starts.
        let database_url = w.server.database_url.clone();
        forget_name_keys(&database_url).await;
        let server = w.server.restart().await;
        let admin = server
            .login("admin@example.com", flowspace_testkit::PASSWORD)
            .await;
        for path in ["/users", members.as_str()] {
            check(
                admin.clone(),
                path.to_string(),
                format!("{path} after a restart on {}", b.name()),
            )
            .await;
        }
    }
}

/// How many times `marker` occurs in a page.
fn count(body: &str, marker: &str) -> usize {
    body.matches(marker).count()
}

/// The dashboard's tables and pickers search on the server as the API does, on both backends
/// (the browser tests drive the same pages in Chromium): the Roles and Workspaces tables, a
/// workspace's members, the pending invitations, and the workspace pickers of the share
/// dialog and the invite form, which offer at most 50 workspaces and find the others by name.
#[tokio::test]
async fn dashboard_tables_and_workspace_pickers_search_on_the_server() {
    for b in backends() {
        let w = World::new(&b).await;
        let on = b.name();
        w.role("Auditor", &["auditLogs:view"]).await;
        let research = w.workspace("Research").await;
        for i in 0..55 {
            w.workspace(&format!("Team {i:02}")).await;
        }
        let zebra = w.workspace("Zebra Lab").await;
        for email in ["ann@example.com", "bob@example.com"] {
            let id = w.user(email).await;
            w.add(&research, &id, "Viewer").await;
        }
        for email in ["carol@example.com", "dave@example.com"] {
            let r = w
                .admin
                .post(
                    "/invitations",
                    json!({"email": email, "workspaceId": research, "role": "Viewer"}),
                )
                .await;
            assert_eq!(r.status, 201, "{on}: {}", r.body);
        }
        let cred = w
            .admin
            .post(
                "/credentials",
                json!({"name": "OpenAI", "credentialName": "openAIApi", "data": {"apiKey": "sk-1"}}),
            )
            .await
            .id();
        let mut page = super::dashboard::Browser::new(&w.server);
        let p = page
            .sign_in(flowspace_testkit::ADMIN_EMAIL, flowspace_testkit::PASSWORD)
            .await;
        assert_eq!(p.status, 303, "{on}: {}", p.body);
        let mut get = async |path: &str| {
            let p = page.get(path).await;
            assert_eq!(p.status, 200, "{on} {path}: {}", p.body);
            p.body
        };

        let between = |body: &str, from: &str, to: &str| {
            let start = body.find(from).unwrap();
            let end = start + body[start..].find(to).unwrap();
            body[start..end].to_string()
        };
        let roles = get("/roles?q=AUDIT").await;
        assert_eq!(count(&roles, "<tr data-name="), 1, "{on}: {roles}");
        assert!(roles.contains("data-name=\"Auditor\""), "{on}");
        assert_eq!(
            count(&get("/roles").await, "<tr data-name="),
            4,
            "{on}: 3 built-in and Auditor"
        );
        assert!(
            get("/roles?q=nothing").await.contains("id=\"no-match\""),
            "{on}"
        );

        let list = get("/workspaces?q=zebra").await;
        assert_eq!(count(&list, "<tr data-name="), 1, "{on}: {list}");
        let list = get("/workspaces?q=team").await;
        assert_eq!(count(&list, "<tr data-name="), 50, "{on}: a page of 50");
        assert!(list.contains("id=\"next-page\""), "{on}");

        let members = get(&format!("/workspaces/{research}?q=BOB@")).await;
        assert!(members.contains("data-email=\"bob@example.com\""), "{on}");
        assert!(!members.contains("data-email=\"ann@example.com\""), "{on}");

        let users = get("/users?iq=carol").await;
        let invitations = between(&users, "id=\"invitations\"", "</table>");
        assert!(invitations.contains("\"carol@example.com\""), "{on}");
        assert!(!invitations.contains("\"dave@example.com\""), "{on}");
        assert!(
            users.contains("<tr data-email=\"bob@example.com\""),
            "{on}: users stay whole"
        );

        // The invite form: at most 51 workspaces (the active one first), and more on search.
        let option = "<option value=\"";
        let form = |body: &str| between(body, "id=\"invite-workspace\"", "</select>");
        let all = form(&users);
        assert_eq!(count(&all, option), 51, "{on}");
        assert!(users.contains("id=\"invite-pick-more\""), "{on}");
        let found = form(&get("/users?wpick=ZEBRA").await);
        assert_eq!(count(&found, option), 1, "{on}: {found}");
        assert!(found.contains(&zebra), "{on}");

        // The share dialog: 50 workspaces to tick, Zebra Lab only when searched for; once
        // shared it is always ticked, whatever the search.
        let dialog = |body: &str| between(body, "id=\"share-form\"", "</form>");
        let share = dialog(&get(&format!("/credentials/{cred}")).await);
        assert_eq!(count(&share, "type=\"checkbox\""), 50, "{on}");
        assert!(
            share.contains("id=\"share-more\"") && !share.contains("Zebra Lab"),
            "{on}"
        );
        let share = dialog(&get(&format!("/credentials/{cred}?pick=zebra")).await);
        assert_eq!(count(&share, "type=\"checkbox\""), 1, "{on}: {share}");
        assert!(share.contains(&format!("value=\"{zebra}\"")), "{on}");
        let r = w
            .admin
            .put(
                &format!("/credentials/{cred}/shares"),
                json!({"workspaceIds": [zebra]}),
            )
            .await;
        assert_eq!(r.status, 200, "{on}: {}", r.body);
        let share = dialog(&get(&format!("/credentials/{cred}?pick=team+01")).await);
        assert_eq!(count(&share, "type=\"checkbox\""), 2, "{on}: {share}");
        assert!(
            share.contains(&format!("value=\"{zebra}\" checked")),
            "{on}: {share}"
        );
    }
}

/// The names an item list (`path`, in the client's workspace) answers for `q`, sorted.
async fn names_for(c: &Client, path: &str, q: &str) -> Vec<String> {
    found(c, path, q, "name").await
}

/// The names of the whole of a list, sorted.
async fn all_names(c: &Client, path: &str) -> Vec<String> {
    let (items, _) = walk(c, path, 200).await;
    let mut v: Vec<String> = items
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

/// The names the item lists are searched over.
const ITEM_NAMES: [&str; 7] = [
    "Sale 50% Off",
    "Sale 50 Off",
    "R_and_D",
    "RandD",
    "Émile Flow",
    "ÉLAN",
    "Back\\slash",
];

/// Every item list (the seven kinds through the shared handlers, credentials and API keys)
/// searches names in SQL: wildcards literal, case folded beyond ASCII alike on both
/// backends, paged within a search; another workspace's items never appear, and a search
/// neither reads nor fills the first-page cache (the whole list stays whole, and right,
/// around searches). A renamed item is found by its new name; rows whose key is missing (as
/// before the column existed) get it when the server starts.
#[tokio::test]
async fn item_credential_and_api_key_lists_search_names() {
    for b in backends() {
        let w = World::new(&b).await;
        let on = b.name();
        let other = w.workspace("Other").await;
        let here = w.admin.in_workspace(&w.default_ws);
        let there = w.admin.in_workspace(&other);
        let mut renamed = Vec::new();
        for kind in crate::resources::KINDS {
            let path = format!("/{}", kind.path);
            for name in ITEM_NAMES {
                let r = here.post(&path, kind.create_body(name)).await;
                assert_eq!(r.status, 201, "{on} {path} {name}: {}", r.body);
                if name == "RandD" {
                    renamed.push((kind, r.id()));
                }
            }
            let r = there.post(&path, kind.create_body("Sale Elsewhere")).await;
            assert_eq!(r.status, 201, "{on} {path}: {}", r.body);
        }
        let check = |c: Client, there: Client, on: String| async move {
            for kind in crate::resources::KINDS {
                let path = format!("/{}", kind.path);
                let on = format!("{path} on {on}");
                // The whole first page first: cached, where the cache is on.
                let whole = all_names(&c, &path).await;
                assert_eq!(whole.len(), ITEM_NAMES.len(), "{on}: {whole:?}");
                let names = |q: &'static str| names_for(&c, &path, q);
                assert_eq!(names("%").await, ["Sale 50% Off"], "{on}");
                assert_eq!(names("50%").await, ["Sale 50% Off"], "{on}");
                assert_eq!(names("_").await, ["R_and_D"], "{on}");
                assert_eq!(names("\\").await, ["Back\\slash"], "{on}");
                assert_eq!(
                    names("sALE 50").await,
                    ["Sale 50 Off", "Sale 50% Off"],
                    "{on}"
                );
                assert_eq!(names("ÉMILE").await, ["Émile Flow"], "{on}");
                assert_eq!(names("élan").await, ["ÉLAN"], "{on}");
                assert_eq!(names("ångström").await, ["Ångström"], "{on}");
                assert_eq!(
                    names("elsewhere").await,
                    Vec::<String>::new(),
                    "{on}: another workspace's"
                );
                assert_eq!(names("nothing").await, Vec::<String>::new(), "{on}");
                assert_eq!(names("  ").await, whole, "{on}: blank q is no filter");
                // Paging within a search.
                let (hits, pages) = walk(&c, &format!("{path}?q=sale"), 1).await;
                assert_eq!((hits.len(), pages), (2, 2), "{on}");
                // The whole list is whole again after searches.
                assert_eq!(all_names(&c, &path).await, whole, "{on}: after searches");
                // And the other workspace finds only its own.
                assert_eq!(
                    names_for(&there, &path, "SALE").await,
                    ["Sale Elsewhere"],
                    "{on}: in the other workspace"
                );
                assert_eq!(
                    names_for(&there, &path, "off").await,
                    Vec::<String>::new(),
                    "{on}: in the other workspace"
                );
            }
        };
        // Rename one of each: found by the new name, not the old one.
        for (kind, id) in &renamed {
            let path = format!("/{}/{id}", kind.path);
            let r = here.put(&path, kind.update_body("Ångström", Some(1))).await;
            assert_eq!(r.status, 200, "{on} {path}: {}", r.body);
        }
        check(here.clone(), there.clone(), on.to_string()).await;

        // Bad input: a clear 422 naming the parameter.
        for kind in crate::resources::KINDS {
            let r = here
                .get(&format!("/{}?q={}", kind.path, "x".repeat(201)))
                .await;
            assert_eq!(
                (r.status, r.body["error"]["field"].as_str()),
                (422, Some("q")),
                "{on} {}: {}",
                kind.path,
                r.body
            );
        }

        // Rows written before the key existed get it when the server starts.
        let database_url = w.server.database_url.clone();
        for table in ["items", "credentials", "api_keys"] {
            forget_keys_of(&database_url, table).await;
        }
        let server = w.server.restart().await;
        let admin = server
            .login(flowspace_testkit::ADMIN_EMAIL, flowspace_testkit::PASSWORD)
            .await;
        check(
            admin.in_workspace(&w.default_ws),
            admin.in_workspace(&other),
            format!("{on} after a restart"),
        )
        .await;
    }
}

/// The members of the active organization (`GET /organization/members`, names and emails),
/// the organizations (`GET /organizations`, names: every one for the instance admin, one's
/// own otherwise), login activity (emails) and the audit trail (actions; for the Account
/// Admin also the acting user's email or name) take `q` as the other lists do; another
/// organization's members, organizations, sign-ins and events never appear.
#[tokio::test]
async fn members_organizations_activity_and_audit_search() {
    for b in backends() {
        let w = World::new(&b).await;
        let on = b.name();
        let auditor_role = w.role("Auditor", &["auditLogs:view"]).await;
        let maker_role = w
            .role("Maker", &["chatflows:view", "chatflows:create"])
            .await;
        let mut ids = std::collections::BTreeMap::new();
        for (email, name) in [
            ("percent@example.com", "Sale 50% Off"),
            ("fifty@example.com", "Sale 50 Off"),
            ("under_score@example.com", "Uma"),
            ("underxscore@example.com", "Ulla"),
            ("emile@example.com", "Émile Zola"),
        ] {
            let r = w
                .admin
                .post(
                    "/users",
                    json!({"email": email, "name": name, "password": flowspace_testkit::PASSWORD}),
                )
                .await;
            assert_eq!(r.status, 201, "{on}: {}", r.body);
            ids.insert(email, r.id());
        }
        // Émile makes a chatflow: an event the Account Admin finds by his name.
        w.add(&w.default_ws, &ids["emile@example.com"], &maker_role)
            .await;
        let emile = w
            .server
            .login("emile@example.com", flowspace_testkit::PASSWORD)
            .await
            .in_workspace(&w.default_ws);
        let r = emile
            .post("/chatflows", json!({"name": "Made by Émile", "data": {}}))
            .await;
        assert_eq!(r.status, 201, "{on}: {}", r.body);
        for email in ["under_score@example.com", "underxscore@example.com"] {
            w.server.login(email, flowspace_testkit::PASSWORD).await;
        }
        let (_, auditor) = w
            .member("auditor@example.com", &w.default_ws, &auditor_role)
            .await;

        // Another organization, with a member named alike who signs in and makes a chatflow.
        let (_, beta) =
            crate::organizations::new_org(&w, "Beta Ørsted", "owner@beta.example").await;
        let r = beta
            .post(
                "/users",
                json!({"email": "emile@beta.example", "name": "Émile Beta", "password": flowspace_testkit::PASSWORD}),
            )
            .await;
        assert_eq!(r.status, 201, "{on}: {}", r.body);
        w.server
            .login("emile@beta.example", flowspace_testkit::PASSWORD)
            .await;
        let r = beta
            .post("/chatflows", json!({"name": "Beta flow", "data": {}}))
            .await;
        assert_eq!(r.status, 201, "{on}: {}", r.body);
        for name in ["Zeta 100%", "Zeta 100", "R_D Labs", "RxD Labs"] {
            let r = w.admin.post("/organizations", json!({"name": name})).await;
            assert_eq!(r.status, 201, "{on} {name}: {}", r.body);
        }

        // Members: names and emails; Beta's never.
        let members = |q: &'static str| found(&w.admin, "/organization/members", q, "email");
        assert_eq!(members("%").await, ["percent@example.com"], "{on}");
        assert_eq!(members("_").await, ["under_score@example.com"], "{on}");
        assert_eq!(
            members("sALE 50").await,
            ["fifty@example.com", "percent@example.com"],
            "{on}"
        );
        assert_eq!(members("ÉMILE").await, ["emile@example.com"], "{on}");
        assert_eq!(members("beta").await, Vec::<String>::new(), "{on}");
        assert_eq!(
            found(&beta, "/organization/members", "émile", "email").await,
            ["emile@beta.example"],
            "{on}: Beta's own"
        );

        // Organizations: every one for the instance admin; one's own otherwise.
        let orgs = |q: &'static str| found(&w.admin, "/organizations", q, "name");
        assert_eq!(orgs("%").await, ["Zeta 100%"], "{on}");
        assert_eq!(orgs("_").await, ["R_D Labs"], "{on}");
        assert_eq!(orgs("ZETA").await, ["Zeta 100", "Zeta 100%"], "{on}");
        assert_eq!(orgs("ørsted").await, ["Beta Ørsted"], "{on}");
        assert_eq!(orgs("ØRSTED").await, ["Beta Ørsted"], "{on}");
        assert_eq!(
            found(&beta, "/organizations", "e", "name").await,
            ["Beta Ørsted"],
            "{on}: the owner of Beta sees only Beta"
        );
        assert_eq!(
            found(&beta, "/organizations", "zeta", "name").await,
            Vec::<String>::new(),
            "{on}"
        );

        // Login activity: the email contains `q`; Beta's sign-ins never appear.
        let (all, _) = walk(&w.admin, "/login-activity", 200).await;
        let emails_of = |items: &[Value]| {
            let mut v: Vec<String> = items
                .iter()
                .filter_map(|e| e["email"].as_str().map(str::to_string))
                .collect();
            v.sort();
            v.dedup();
            v
        };
        let activity = |q: &'static str| {
            let admin = w.admin.clone();
            async move {
                let q = serde_urlencoded::to_string([("q", q)]).unwrap();
                let (items, _) = walk(&admin, &format!("/login-activity?{q}"), 200).await;
                items
            }
        };
        assert!(
            emails_of(&all).contains(&"under_score@example.com".to_string()),
            "{on}: {all:?}"
        );
        assert_eq!(
            emails_of(&activity("_").await),
            ["under_score@example.com"],
            "{on}"
        );
        assert_eq!(
            emails_of(&activity("UNDER").await),
            ["under_score@example.com", "underxscore@example.com"],
            "{on}"
        );
        assert_eq!(activity("%").await.len(), 0, "{on}");
        assert_eq!(activity("beta").await.len(), 0, "{on}: Beta's sign-ins");
        let (hits, pages) = walk(&w.admin, "/login-activity?q=under", 1).await;
        assert!(hits.len() >= 2 && pages == hits.len(), "{on}: {hits:?}");
        assert!(
            hits.iter()
                .all(|e| e["email"].as_str().unwrap().contains("under")),
            "{on}"
        );

        // The audit trail: actions, and the Account Admin's actors by email or name.
        let events = |c: &Client, q: &'static str| {
            let c = c.clone();
            async move {
                let q = serde_urlencoded::to_string([("q", q)]).unwrap();
                let (items, _) = walk(&c, &format!("/audit-events?{q}"), 200).await;
                items
            }
        };
        let by_emile = events(&w.admin, "émile ZOLA").await;
        assert!(!by_emile.is_empty(), "{on}");
        assert!(
            by_emile
                .iter()
                .all(|e| e["actorUserId"] == ids["emile@example.com"].as_str()),
            "{on}: {by_emile:?}"
        );
        let creates = events(&w.admin, "CHATFLOW.CREATE").await;
        assert_eq!(creates.len(), 1, "{on}: Beta's never: {creates:?}");
        assert_eq!(
            events(&w.admin, "beta").await.len(),
            0,
            "{on}: neither Beta's actors nor events"
        );
        assert_eq!(events(&w.admin, "%").await.len(), 0, "{on}");
        let (hits, pages) = walk(&w.admin, "/audit-events?q=user.create", 1).await;
        assert!(hits.len() >= 5 && pages == hits.len(), "{on}: {hits:?}");
        // A member reading one workspace's events searches actions only: the actors' emails
        // and names are not theirs to probe.
        assert_eq!(events(&auditor, "chatflow.create").await.len(), 1, "{on}");
        assert_eq!(events(&auditor, "émile").await.len(), 0, "{on}");
        assert_eq!(
            events(&beta, "chatflow.create").await.len(),
            1,
            "{on}: Beta's own"
        );

        for path in [
            "/organization/members",
            "/organizations",
            "/login-activity",
            "/audit-events",
        ] {
            let r = w.admin.get(&format!("{path}?q={}", "x".repeat(201))).await;
            assert_eq!(
                (r.status, r.body["error"]["field"].as_str()),
                (422, Some("q")),
                "{on} {path}: {}",
                r.body
            );
        }

        // Organizations written before the key existed get it when the server starts.
        forget_keys_of(&w.server.database_url, "organizations").await;
        let server = w.server.restart().await;
        let admin = server
            .login(flowspace_testkit::ADMIN_EMAIL, flowspace_testkit::PASSWORD)
            .await;
        assert_eq!(
            found(&admin, "/organizations", "ØRSTED", "name").await,
            ["Beta Ørsted"],
            "{on} after a restart"
        );
    }
}

/// The dashboard's other list pages search on the server as their API lists do, on both
/// backends: Members, Organizations, an item page (paged within the search, its next-page
/// link keeping `q`), Credentials, API Keys, Login Activity and the Audit Log; a `q` too long
/// is refused with a 422 page.
#[tokio::test]
async fn dashboard_pages_of_the_other_lists_search_on_the_server() {
    for b in backends() {
        let w = World::new(&b).await;
        let on = b.name();
        for (email, name) in [
            ("ann@example.com", "Ann"),
            ("emile@example.com", "Émile Zola"),
        ] {
            let r = w
                .admin
                .post(
                    "/users",
                    json!({"email": email, "name": name, "password": flowspace_testkit::PASSWORD}),
                )
                .await;
            assert_eq!(r.status, 201, "{on}: {}", r.body);
        }
        for i in 0..55 {
            let r = w
                .admin
                .post(
                    "/tools",
                    json!({"name": format!("Tool {i:02}"), "data": {}}),
                )
                .await;
            assert_eq!(r.status, 201, "{on}: {}", r.body);
        }
        let r = w
            .admin
            .post("/tools", json!({"name": "Zebra", "data": {}}))
            .await;
        assert_eq!(r.status, 201, "{on}: {}", r.body);
        for name in ["OpenAI", "Anthropic"] {
            let r = w
                .admin
                .post(
                    "/credentials",
                    json!({"name": name, "credentialName": "openAIApi", "data": {"apiKey": "sk-1"}}),
                )
                .await;
            assert_eq!(r.status, 201, "{on}: {}", r.body);
        }
        for name in ["CI deploy", "Nightly export"] {
            let r = w
                .admin
                .post(
                    "/apikeys",
                    json!({"name": name, "permissions": ["chatflows:view"]}),
                )
                .await;
            assert_eq!(r.status, 201, "{on}: {}", r.body);
        }
        let r = w
            .admin
            .post("/organizations", json!({"name": "Zeta Labs"}))
            .await;
        assert_eq!(r.status, 201, "{on}: {}", r.body);
        w.server
            .login("ann@example.com", flowspace_testkit::PASSWORD)
            .await;

        let mut page = super::dashboard::Browser::new(&w.server);
        let p = page
            .sign_in(flowspace_testkit::ADMIN_EMAIL, flowspace_testkit::PASSWORD)
            .await;
        assert_eq!(p.status, 303, "{on}: {}", p.body);
        let mut get = async |path: &str| {
            let p = page.get(path).await;
            assert_eq!(p.status, 200, "{on} {path}: {}", p.body);
            p.body
        };

        let members = get("/organization/members?q=%C3%89MILE").await;
        assert_eq!(count(&members, "<tr data-email="), 1, "{on}: {members}");
        assert!(members.contains("data-email=\"emile@example.com\""), "{on}");
        assert!(
            get("/organization/members?q=nobody")
                .await
                .contains("id=\"no-match\""),
            "{on}"
        );

        let orgs = get("/organizations?q=zeta").await;
        assert_eq!(count(&orgs, "<tr data-name="), 1, "{on}: {orgs}");
        assert!(orgs.contains("data-name=\"Zeta Labs\""), "{on}");
        assert_eq!(
            count(&get("/organizations").await, "<tr data-name="),
            2,
            "{on}"
        );

        // 55 tools contain "o" (Zebra does not): a page of 50, and the next page (the link
        // keeps q) 5 more.
        let tools = get("/tools?q=O").await;
        assert_eq!(count(&tools, "<tr data-name="), 50, "{on}");
        let start = tools.find("id=\"next-page\"").map(|i| &tools[..i]).unwrap();
        let href = start.rsplit("href=\"").next().unwrap();
        let href = href
            .split('"')
            .next()
            .unwrap()
            .replace("&#38;", "&")
            .replace("&amp;", "&");
        assert!(href.starts_with("/tools?q=O&cursor="), "{on}: {href}");
        let rest = get(&href).await;
        assert_eq!(count(&rest, "<tr data-name="), 5, "{on}: {rest}");
        assert!(!rest.contains("data-name=\"Zebra\""), "{on}");
        assert!(!rest.contains("id=\"next-page\""), "{on}");
        let zebra = get("/tools?q=zeb").await;
        assert_eq!(count(&zebra, "<tr data-name="), 1, "{on}");
        assert!(zebra.contains("data-name=\"Zebra\""), "{on}");

        let creds = get("/credentials?q=open").await;
        assert_eq!(count(&creds, "<tr data-name="), 1, "{on}: {creds}");
        assert!(creds.contains("data-name=\"OpenAI\""), "{on}");

        let keys = get("/apikeys?q=NIGHT").await;
        assert_eq!(count(&keys, "<tr data-name="), 1, "{on}: {keys}");
        assert!(keys.contains("data-name=\"Nightly export\""), "{on}");

        let activity = get("/login-activity?q=ann%40").await;
        let table = activity
            .split("id=\"login-events\"")
            .nth(1)
            .expect("a table")
            .split("</table>")
            .next()
            .unwrap()
            .to_string();
        assert!(table.contains("ann@example.com"), "{on}: {table}");
        assert!(!table.contains("admin@example.com"), "{on}: {table}");

        let audit = get("/audit-log?q=apikey.create").await;
        assert_eq!(count(&audit, "<tr data-action="), 2, "{on}: {audit}");
        assert_eq!(
            count(&audit, "<tr data-action=\"apikey.create\""),
            2,
            "{on}"
        );

        let long = "x".repeat(201);
        for path in [
            "/organization/members",
            "/organizations",
            "/tools",
            "/credentials",
            "/apikeys",
        ] {
            let p = page.get(&format!("{path}?q={long}")).await;
            assert_eq!(p.status, 422, "{on} {path}: {}", p.body);
        }
    }
}

/// Users of the organization (email, name) whose names and emails hold what a search parser
/// could take for syntax: quotes, LIKE wildcards, backslashes, FTS5 operators, non-ASCII.
const HOSTILE_USERS: [(&str, &str); 13] = [
    ("quote@example.com", "Dwayne \"The Rock\" O\"Neil"),
    ("pct@example.com", "100% Sure"),
    ("snake_case@example.com", "Snake_Case"),
    ("back@example.com", "C:\\Dir\\X"),
    ("tom@example.com", "Tom AND Jerry"),
    ("near@example.com", "NEAR(me) OR not"),
    ("star@example.com", "A*B*C ^caret col:x"),
    ("unal@example.com", "Ünal Öztürk"),
    ("zoe@example.com", "Zoë O'Brien"),
    ("party@example.com", "Party 🎉 Time"),
    ("abc@example.com", "Abc"),
    ("ab@example.com", "Ab"),
    ("dots@example.com", "d.o.t.s"),
];

/// Searches of every length and shape: 1 and 2 characters (no trigram: the walk), 3 exactly,
/// case and Unicode, quotes, wildcards, backslashes and FTS5 operators taken literally.
const HOSTILE_TERMS: [&str; 52] = [
    "a",
    "ü",
    "🎉",
    "ab",
    "Ün",
    "\"\"",
    "abc",
    "ABC",
    "  abc  ",
    "ünal",
    "ÜNAL Ö",
    "nal ö",
    "zoë",
    "ë o'",
    "o'b",
    "\"",
    "\"\"\"",
    "\"the rock\"",
    "o\"n",
    "%",
    "100%",
    "0% s",
    "_",
    "e_c",
    "_ca",
    "\\",
    "\\dir",
    "c:\\",
    "r\\x",
    "and",
    "AND J",
    "tom and",
    "near(",
    "(me)",
    "or not",
    "*",
    "a*b",
    "*c ^",
    "^ca",
    "col:",
    "y 🎉 t",
    "🎉 t",
    "example",
    "@example.com",
    "other",
    "nobody",
    "d.o",
    "t.s",
    "NOT",
    "NEAR(",
    "e*",
    "\"a\" OR \"b\"",
];

/// What the search `q` should find among `all` (the organization's users in list order): the
/// ids of those whose name or email contains it, case-insensitively, in that order.
fn brute_force(all: &[Value], q: &str) -> Vec<String> {
    let q = q.trim().to_lowercase();
    all.iter()
        .filter(|u| {
            ["email", "name"]
                .iter()
                .any(|f| u[*f].as_str().unwrap().to_lowercase().contains(&q))
        })
        .map(|u| u["id"].as_str().unwrap().to_string())
        .collect()
}

/// Runs `sql` (binding `args` as text) straight on the server's database.
async fn exec_sql(server: &flowspace_testkit::TestServer, sql: &str, args: &[&str]) {
    let store = server.store();
    if let Some(p) = store.sqlite_pool() {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for a in args {
            q = q.bind(*a);
        }
        q.execute(p).await.unwrap();
    } else {
        let p = store.postgres_pool().unwrap();
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for a in args {
            q = q.bind(*a);
        }
        q.execute(p).await.unwrap();
    }
}

/// `q` of `/users` through the trigram index (3 characters or more) or the walk (fewer):
/// always what a brute-force filter over every user finds, in list order, each match once
/// when paged 2 at a time; users of another organization never, whatever they are named;
/// and the index follows renames, email changes and deletions (SQLite's triggers).
#[tokio::test]
async fn users_search_equals_a_brute_force_filter_and_follows_every_change() {
    for b in backends() {
        let w = World::new(&b).await;
        let on = b.name();
        let mut made = std::collections::HashMap::new();
        for (email, name) in HOSTILE_USERS {
            let r = w
                .admin
                .post(
                    "/users",
                    json!({"email": email, "name": name, "password": flowspace_testkit::PASSWORD}),
                )
                .await;
            assert_eq!(r.status, 201, "{on}: {name}: {}", r.body);
            made.insert(email, r.id());
        }
        // Another organization whose users share names and words: never in this one's list.
        let (_, other) = crate::organizations::new_org(&w, "Other", "owner@other.example").await;
        for (email, name) in [
            ("unal@other.example", "Ünal Other"),
            ("tom@other.example", "Tom AND Jerry Other"),
            ("abc@other.example", "Abc Other"),
        ] {
            let r = other
                .post(
                    "/users",
                    json!({"email": email, "name": name, "password": flowspace_testkit::PASSWORD}),
                )
                .await;
            assert_eq!(r.status, 201, "{on}: {}", r.body);
        }

        let check = async |label: &str| {
            let (all, _) = walk(&w.admin, "/users", 200).await;
            for q in HOSTILE_TERMS {
                let expected = brute_force(&all, q);
                let enc = serde_urlencoded::to_string([("q", q)]).unwrap();
                let (one, _) = walk(&w.admin, &format!("/users?{enc}"), 200).await;
                assert_eq!(ids(&one, "id"), expected, "{on} {label}: q={q:?}");
                let (paged, _) = walk(&w.admin, &format!("/users?{enc}"), 2).await;
                assert_eq!(ids(&paged, "id"), expected, "{on} {label}: q={q:?} paged");
            }
        };
        check("as created").await;
        let emails = |q: &'static str| found(&w.admin, "/users", q, "email");
        assert_eq!(emails("ünal").await, ["unal@example.com"], "{on}");
        assert_eq!(emails("\"the rock\"").await, ["quote@example.com"], "{on}");
        assert_eq!(emails("AND J").await, ["tom@example.com"], "{on}");
        assert_eq!(emails("\"").await, ["quote@example.com"], "{on}");
        assert_eq!(emails("r\\x").await, ["back@example.com"], "{on}");
        assert_eq!(
            emails("abc").await,
            ["abc@example.com"],
            "{on}: 3 characters, not the other organization's Abc"
        );
        // Invited here, the other organization's Abc is shown and found by email alone: the
        // name their account has elsewhere is not this organization's to search (rule 17).
        let r = w
            .admin
            .post(
                "/invitations",
                json!({"email": "abc@other.example", "workspaceId": w.default_ws, "role": "Viewer"}),
            )
            .await;
        assert_eq!(r.status, 201, "{on}: {}", r.body);
        assert_eq!(emails("abc other").await, Vec::<String>::new(), "{on}");
        assert_eq!(emails("abc@other").await, ["abc@other.example"], "{on}");
        assert_eq!(
            found(&w.admin, "/organization/members", "abc other", "email").await,
            Vec::<String>::new(),
            "{on}"
        );
        let members = w.admin.get("/organization/members?q=abc%40other").await;
        assert_eq!(members.status, 200, "{on}: {}", members.body);
        assert_eq!(
            members.body["items"][0]["name"], "abc@other.example",
            "{on}: {}",
            members.body
        );

        // Renamed: found by the new name only.
        let r = w
            .admin
            .patch(
                &format!("/users/{}", made["zoe@example.com"]),
                json!({"name": "Quuxley Renamed"}),
            )
            .await;
        assert_eq!(r.status, 200, "{on}: {}", r.body);
        assert_eq!(emails("o'brien").await, Vec::<String>::new(), "{on}");
        assert_eq!(emails("QUUXLEY").await, ["zoe@example.com"], "{on}");
        // A changed email (no route changes one: straight in the table, as an import could).
        exec_sql(
            &w.server,
            "UPDATE users SET email = $1, email_key = $1 WHERE email_key = $2",
            &["renamed@example.net", "party@example.com"],
        )
        .await;
        assert_eq!(emails("party@").await, Vec::<String>::new(), "{on}");
        assert_eq!(emails("d@example.n").await, ["renamed@example.net"], "{on}");
        assert_eq!(
            emails("🎉 t").await,
            ["renamed@example.net"],
            "{on}: the name is still found"
        );
        // Deleted: gone (the other organization's Tom stays theirs).
        let r = w
            .admin
            .delete(&format!("/users/{}", made["tom@example.com"]))
            .await;
        assert_eq!(r.status, 204, "{on}: {}", r.body);
        assert_eq!(emails("jerry").await, Vec::<String>::new(), "{on}");
        let r = other.get("/users?q=jerry").await;
        assert_eq!(
            r.body["items"].as_array().map(Vec::len),
            Some(1),
            "{on}: {}",
            r.body
        );
        check("after the changes").await;
        if let Some(p) = w.server.store().sqlite_pool() {
            let (users, indexed, keys): (i64, i64, i64) = sqlx::query_as(
                "SELECT (SELECT COUNT(*) FROM users), (SELECT COUNT(*) FROM users_search),
                        (SELECT COUNT(*) FROM users_search_keys)",
            )
            .fetch_one(p)
            .await
            .unwrap();
            assert_eq!((indexed, keys), (users, users), "one index row per user");
        }

        // The dashboard's user pickers search the same way.
        let mut page = super::dashboard::Browser::new(&w.server);
        let p = page
            .sign_in(flowspace_testkit::ADMIN_EMAIL, flowspace_testkit::PASSWORD)
            .await;
        assert_eq!(p.status, 303, "{on}: {}", p.body);
        let picker = page
            .get(&format!("/workspaces/{}?pick=%C3%9CNAL", w.default_ws))
            .await;
        assert_eq!(picker.status, 200, "{on}");
        let start = picker.body.find("id=\"pick-select\"").expect("the picker");
        let end = start + picker.body[start..].find("</select>").unwrap();
        let options = &picker.body[start..end];
        assert_eq!(count(options, "<option value=\""), 1, "{on}: {options}");
        assert!(options.contains(&made["unal@example.com"]), "{on}");
        let group = w.admin.post("/groups", json!({"name": "Crew"})).await.id();
        let checklist = page.get(&format!("/groups/{group}?pick=near%28")).await;
        assert_eq!(checklist.status, 200, "{on}");
        assert_eq!(
            count(&checklist.body, "type=\"checkbox\" name=\"members[]\""),
            1,
            "{on}"
        );
        assert!(checklist.body.contains(&made["near@example.com"]), "{on}");
    }
}
