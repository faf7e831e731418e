//! Rule 1: setup happens once.

use crate::common::{ADMIN_EMAIL, FreshDb, backends, conflict_code, count};
use flowspace_store::SetupInput;

#[tokio::test]
async fn setup_once_then_a_second_setup_is_a_conflict() {
    for b in backends() {
        let db = FreshDb::new(&b).await;
        let store = db.connect().await;
        assert!(!store.is_setup_done().await.unwrap(), "{}", b.name());
        let first = store
            .setup(SetupInput {
                organization_name: "Acme".into(),
                name: "Admin".into(),
                email: ADMIN_EMAIL.into(),
                password_hash: "h".into(),
            })
            .await
            .unwrap();
        assert!(store.is_setup_done().await.unwrap(), "{}", b.name());

        let again = store
            .setup(SetupInput {
                organization_name: "Other".into(),
                name: "Other".into(),
                email: "other@example.com".into(),
                password_hash: "h".into(),
            })
            .await;
        assert_eq!(conflict_code(&again), Some("setup_done"), "{}", b.name());

        // The refused setup left nothing behind: it was one transaction.
        assert!(
            store
                .find_login("other@example.com")
                .await
                .unwrap()
                .is_none()
        );
        let session = store
            .create_session(
                first.user,
                Some(first.workspace),
                None,
                None,
                false,
                &flowspace_store::StoredRefresh {
                    hash: vec![7; 32],
                    expires_at: flowspace_core::time::Timestamp::now().plus_seconds(60),
                },
            )
            .await
            .unwrap();
        let facts = store
            .session_facts(session, first.user, None)
            .await
            .unwrap()
            .unwrap()
            .caller;
        let admin = flowspace_core::authz::authorize_account_admin(&facts).unwrap();
        let org = store.organization(admin.org()).await.unwrap();
        assert_eq!(org.name, "Acme");
        assert_eq!(admin.role(), flowspace_core::model::OrgRole::Owner);
        assert!(
            facts.is_instance_admin,
            "whoever sets up is the instance admin"
        );
        let roles = store.list_roles(&admin).await.unwrap();
        let names: Vec<&str> = roles.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names.len(), 3, "{}: {names:?}", b.name());
        for n in ["Admin", "Developer", "Viewer"] {
            assert!(names.contains(&n), "{}: {names:?}", b.name());
        }
        let ws = store
            .list_workspaces(first.organization, first.user, true)
            .await
            .unwrap();
        assert_eq!(ws.len(), 1, "{}", b.name());
        assert!(ws[0].is_default);
        assert_eq!(ws[0].id, first.workspace);
        assert_eq!(ws[0].member_count, 1);

        assert_eq!(
            count(
                &store,
                "SELECT COUNT(*) FROM organizations WHERE id <> $1",
                first.organization.0
            )
            .await,
            0,
            "{}: the refused setup's organization row was rolled back",
            b.name()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_setups_make_one_organization_and_refuse_the_rest() {
    for b in backends() {
        let db = FreshDb::new(&b).await;
        let store = db.connect().await;
        let mut runs = tokio::task::JoinSet::new();
        for i in 0..8 {
            let store = store.clone();
            runs.spawn(async move {
                store
                    .setup(SetupInput {
                        organization_name: format!("Org {i}"),
                        name: "Admin".into(),
                        email: format!("admin{i}@example.com"),
                        password_hash: "h".into(),
                    })
                    .await
            });
        }
        let mut done = 0;
        while let Some(r) = runs.join_next().await {
            let r = r.unwrap();
            if r.is_ok() {
                done += 1;
            } else {
                assert_eq!(conflict_code(&r), Some("setup_done"), "{}", b.name());
            }
        }
        assert_eq!(done, 1, "{}", b.name());
        assert_eq!(
            count(
                &store,
                "SELECT COUNT(*) FROM organizations WHERE id <> $1",
                uuid::Uuid::nil()
            )
            .await,
            1,
            "{}: the refused setups left nothing behind",
            b.name()
        );
    }
}
