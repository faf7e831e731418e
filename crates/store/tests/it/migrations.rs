//! Migrations: both backends hold the same versions, and applying them again is harmless.

use crate::common::{FreshDb, backends};

#[test]
fn both_migration_folders_hold_the_same_versions() {
    let (sqlite, postgres) = flowspace_store::migration_versions();
    assert!(!sqlite.is_empty(), "no SQLite migrations embedded");
    assert_eq!(
        sqlite, postgres,
        "crates/store/migrations/sqlite and /postgres must hold the same versions"
    );
    assert!(
        sqlite.windows(2).all(|w| w[0] < w[1]),
        "versions are strictly increasing: {sqlite:?}"
    );
}

#[tokio::test]
async fn migrations_apply_twice_and_the_store_is_ready() {
    for b in backends() {
        let db = FreshDb::new(&b).await;
        let first = db.connect().await;
        first.ready().await.unwrap();
        // A second start (or a second replica) on the same database runs the migrator again.
        let second = db.connect().await;
        second.ready().await.unwrap();
        first.ready().await.unwrap();
        assert!(!second.is_setup_done().await.unwrap(), "{}", b.name());
        first.close().await;
        second.close().await;
        let third = db.connect().await;
        third.ready().await.unwrap();
        assert_eq!(
            third.backend(),
            match b {
                crate::common::Backend::Sqlite => flowspace_store::Backend::Sqlite,
                crate::common::Backend::Postgres(_) => flowspace_store::Backend::Postgres,
            }
        );
    }
}

#[tokio::test]
async fn a_url_of_no_known_backend_is_refused() {
    let r = flowspace_store::Store::connect(
        "mysql://localhost/x",
        &flowspace_store::ConnectOptions::default(),
    )
    .await;
    assert!(
        matches!(r, Err(flowspace_core::DomainError::Invalid { .. })),
        "a mysql URL must be refused as invalid"
    );
}

#[tokio::test]
async fn an_in_memory_sqlite_store_keeps_its_data_between_calls() {
    let store = flowspace_store::Store::connect(
        "sqlite::memory:",
        &flowspace_store::ConnectOptions::default(),
    )
    .await
    .unwrap();
    store.ready().await.unwrap();
    assert!(!store.is_setup_done().await.unwrap());
    store
        .setup(flowspace_store::SetupInput {
            organization_name: "Acme".into(),
            name: "Admin".into(),
            email: "a@example.com".into(),
            password_hash: "h".into(),
        })
        .await
        .unwrap();
    // One connection holds the database: what one call wrote, the next one reads.
    for _ in 0..3 {
        assert!(store.is_setup_done().await.unwrap());
        assert!(store.find_login("a@example.com").await.unwrap().is_some());
    }
}
