//! `page_users` searched: the trigram index (SQLite FTS5 `users_search`, PostgreSQL `pg_trgm`)
//! only narrows, so every search answers what the `LIKE` over every member answers, in the
//! same order and pages, whether few users match (read from the index's candidates) or more
//! than SQLite's candidate bound (the walk in join order).

use crate::common::{Org, backends};
use flowspace_core::cursor::{PageRequest, Search};
use flowspace_core::model::UserDetail;
use flowspace_core::time::Timestamp;

/// Members of the organization straight in the tables (the triggers index them): `n` users
/// `bulk00000@example.com` ... named "Bulk User 00000" ..., joined three at a time (ties
/// in the join time, which the user id breaks); and 30 users "Bulk Outsider" of no
/// organization, whom the index finds and the organization never shows.
async fn fill(o: &Org, n: i64) {
    let now = Timestamp::now().micros();
    if let Some(p) = o.store.sqlite_pool() {
        for sql in [
            "INSERT INTO users (id, email, email_key, name, name_key, status, created_at, updated_at)
             WITH RECURSIVE g(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM g WHERE n + 1 < $1)
             SELECT randomblob(16), printf('Bulk%05d@Example.com', n), printf('bulk%05d@example.com', n),
                    printf('Bulk User %05d', n), printf('bulk user %05d', n), 'active', $2, $2 FROM g
             WHERE $3 IS NOT NULL",
            "INSERT INTO org_members (organization_id, user_id, role, status, created_at, updated_at)
             SELECT $3, id, 'member', 'active', $2 + CAST(substr(email_key, 5, 5) AS INTEGER) / 3, $2
             FROM users WHERE email_key LIKE 'bulk%' AND $1 > 0",
            "INSERT INTO users (id, email, email_key, name, name_key, status, created_at, updated_at)
             WITH RECURSIVE g(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM g WHERE n + 1 < 30)
             SELECT randomblob(16), printf('out%02d@example.org', n), printf('out%02d@example.org', n),
                    'Bulk Outsider', 'bulk outsider', 'active', $2, $2 FROM g
             WHERE $1 > 0 AND $3 IS NOT NULL",
        ] {
            sqlx::query(sql)
                .bind(n)
                .bind(now)
                .bind(o.org.0)
                .execute(p)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
    } else {
        let p = o.store.postgres_pool().expect("a pool");
        for sql in [
            "INSERT INTO users (id, email, email_key, name, name_key, status, created_at, updated_at)
             SELECT gen_random_uuid(), format('Bulk%s@Example.com', lpad(g::text, 5, '0')),
                    format('bulk%s@example.com', lpad(g::text, 5, '0')),
                    format('Bulk User %s', lpad(g::text, 5, '0')), format('bulk user %s', lpad(g::text, 5, '0')),
                    'active', to_timestamp($2 / 1e6), to_timestamp($2 / 1e6)
             FROM generate_series(0, $1 - 1) g WHERE $3::uuid IS NOT NULL",
            "INSERT INTO org_members (organization_id, user_id, role, status, created_at, updated_at)
             SELECT $3, id, 'member', 'active',
                    to_timestamp($2 / 1e6) + (substr(email_key, 5, 5)::int / 3) * interval '1 microsecond',
                    to_timestamp($2 / 1e6)
             FROM users WHERE email_key LIKE 'bulk%' AND $1 > 0",
            "INSERT INTO users (id, email, email_key, name, name_key, status, created_at, updated_at)
             SELECT gen_random_uuid(), format('out%s@example.org', lpad(g::text, 2, '0')),
                    format('out%s@example.org', lpad(g::text, 2, '0')), 'Bulk Outsider', 'bulk outsider',
                    'active', to_timestamp($2 / 1e6), to_timestamp($2 / 1e6)
             FROM generate_series(0, 29) g WHERE $1 > 0 AND $3::uuid IS NOT NULL",
        ] {
            sqlx::query(sql)
                .bind(n)
                .bind(now)
                .bind(o.org.0)
                .execute(p)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
    }
}

/// Every page of `search`, `limit` at a time: the users in order.
async fn walk(o: &Org, search: &Search, limit: u32) -> Vec<UserDetail> {
    let admin = o.admin_scope().await;
    let (mut out, mut after) = (Vec::new(), None);
    loop {
        let page = o
            .store
            .page_users(&admin, search, PageRequest { limit, after })
            .await
            .unwrap_or_else(|e| panic!("{}: {search:?}: {e}", o.name()));
        assert!(page.items.len() <= limit as usize);
        out.extend(page.items);
        match page.next {
            Some(c) => after = Some(c),
            None => return out,
        }
    }
}

#[tokio::test]
async fn a_searched_page_of_users_is_the_like_over_every_member_however_many_match() {
    for b in backends() {
        let o = Org::new(&b).await;
        // More than SQLite's candidate bound (2,000) match "bulk".
        fill(&o, 2100).await;
        let all = walk(&o, &Search::default(), 200).await;
        assert_eq!(all.len(), 2101, "{}: the Account Admin and 2,100", o.name());
        for (q, want) in [
            ("bulk", 2100),
            ("BULK USER 0004", 10),
            ("bulk00042@", 1),
            ("user 02099", 1),
            ("2099", 1),
            ("ulk", 2100),
            ("bu", 2100),
            ("7", 2100 - 1539),
            ("outsider", 0),
            ("example.org", 0),
            ("nobody-has-this", 0),
        ] {
            let search = Search::new(Some(q)).unwrap();
            let expected: Vec<_> = all
                .iter()
                .filter(|u| search.matches(&[&u.user.email, &u.user.name]))
                .map(|u| u.user.id)
                .collect();
            for limit in [7, 200] {
                let got: Vec<_> = walk(&o, &search, limit)
                    .await
                    .iter()
                    .map(|u| u.user.id)
                    .collect();
                assert_eq!(
                    got.len(),
                    expected.len(),
                    "{} q={q:?} limit={limit}",
                    o.name()
                );
                assert!(got == expected, "{} q={q:?} limit={limit}: order", o.name());
            }
            if q != "7" {
                assert_eq!(expected.len(), want, "{} q={q:?}", o.name());
            }
        }
        if let Some(p) = o.store.sqlite_pool() {
            let counts: (i64, i64, i64) = sqlx::query_as(
                "SELECT (SELECT COUNT(*) FROM users), (SELECT COUNT(*) FROM users_search),
                        (SELECT COUNT(*) FROM users_search_keys)",
            )
            .fetch_one(p)
            .await
            .unwrap();
            assert_eq!(counts, (2131, 2131, 2131), "one index row per user");
        }
    }
}

#[tokio::test]
async fn a_page_of_users_reads_its_workspace_memberships_in_one_query_per_page() {
    for b in backends() {
        let o = Org::new(&b).await;
        let ws = o.workspace("Zeta").await;
        let (u1, _) = o.user("one@example.com").await;
        let (u2, _) = o.user("two@example.com").await;
        let admin = o.admin_scope().await;
        let viewer = o
            .store
            .list_roles(&admin)
            .await
            .unwrap()
            .into_iter()
            .find(|r| r.name == "Viewer")
            .unwrap();
        let scope = o.scope(ws, "workspace:add-user").await;
        o.store.add_member(&scope, u1, viewer.id).await.unwrap();
        let page = o
            .store
            .page_users(
                &admin,
                &Search::default(),
                PageRequest {
                    limit: 50,
                    after: None,
                },
            )
            .await
            .unwrap();
        let spaces = |id| {
            page.items
                .iter()
                .find(|u| u.user.id == id)
                .map(|u| {
                    u.workspaces
                        .iter()
                        .map(|w| w.workspace_name.clone())
                        .collect::<Vec<_>>()
                })
                .unwrap()
        };
        assert_eq!(spaces(o.admin), ["Default", "Zeta"], "{}", o.name());
        assert_eq!(spaces(u1), ["Zeta"], "{}", o.name());
        assert_eq!(spaces(u2), Vec::<String>::new(), "{}", o.name());
        let detail = o.store.user_detail(&admin, o.admin).await.unwrap();
        let one = page.items.iter().find(|u| u.user.id == o.admin).unwrap();
        assert_eq!(
            detail.active_workspace_id,
            one.active_workspace_id,
            "{}: the same active workspace as one user's detail",
            o.name()
        );
    }
}

/// The search keys of rows from before the key columns (NULL) are filled when the store
/// connects, in batches (1,000 rows each): 2,131 users, across three batches, all filled with
/// their name lower-cased, and the search finds them again.
#[tokio::test]
async fn keys_missing_from_older_rows_are_filled_in_batches_at_connect() {
    for b in backends() {
        let o = Org::new(&b).await;
        fill(&o, 2100).await;
        o.exec(
            "UPDATE users SET name_key = NULL WHERE id <> $1",
            &[o.admin.0],
        )
        .await;
        let missing = "SELECT COUNT(*) FROM users WHERE name_key IS NULL AND id <> $1";
        assert_eq!(o.count(missing, o.admin.0).await, 2130, "{}", o.name());
        let store = o.db.connect().await;
        assert_eq!(
            crate::common::count(&store, missing, o.admin.0).await,
            0,
            "{}: every key filled",
            o.name()
        );
        let wrong = "SELECT COUNT(*) FROM users WHERE name_key <> LOWER(name) AND id <> $1";
        assert_eq!(
            crate::common::count(&store, wrong, o.admin.0).await,
            0,
            "{}",
            o.name()
        );
        let found = store
            .page_users(
                &o.admin_scope().await,
                &Search::new(Some("BULK USER 02099")).unwrap(),
                PageRequest {
                    limit: 50,
                    after: None,
                },
            )
            .await
            .unwrap();
        assert_eq!(found.items.len(), 1, "{}", o.name());
    }
}
